//! `meshroute demo` shows the 90/10 split, then follows the change to 50/50, and stops what it started.

use std::process::Command;

/// The v1 share of the last "last N connections" line of `text`.
fn last_v1_share(text: &str) -> Option<f64> {
    let line = text.split(['\r', '\n']).rfind(|l| l.contains("last") && l.contains("connections"))?;
    let numbers: Vec<f64> =
        line.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect();
    // "last T connections: v1 A (P%)  v2 B (Q%)" → [T, 1, A, P, 2, B, Q]
    let (total, v1) = (numbers.first()?, numbers.get(2)?);
    Some(100.0 * v1 / total)
}

#[test]
fn demo_shows_the_split_follow_the_change() {
    let out = Command::new(env!("CARGO_BIN_EXE_meshroute"))
        .args(["demo", "--duration", "16", "--switch-after", "8"])
        .output()
        .expect("demo runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let (before, after) = text.split_once("changed demo-canary to 50/50").expect("the change is announced");
    let v1_before = last_v1_share(before).expect("a split line before the change");
    let v1_after = last_v1_share(after).expect("a split line after the change");
    assert!((v1_before - 90.0).abs() <= 10.0, "90/10 observed: {v1_before:.0}% v1\n{text}");
    assert!((v1_after - 50.0).abs() <= 12.0, "50/50 observed: {v1_after:.0}% v1\n{text}");
    assert!(text.contains("demo: stopping"));
}
