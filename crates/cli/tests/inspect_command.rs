//! `meshroute inspect rules` with the real binary, on the policy engine's golden inputs.

use std::process::Command;

fn testdata(case: &str) -> String {
    format!("{}/../policy/tests/testdata/{case}.input.yaml", env!("CARGO_MANIFEST_DIR"))
}

fn inspect(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_meshroute")).arg("inspect").arg("rules").args(args).output().expect("runs")
}

#[test]
fn prints_policies_in_priority_order_with_merged_rules_as_json() {
    let out = inspect(&["-f", &testdata("priority-order"), "--dataplane", "default/client-1", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let names: Vec<&str> =
        view["policies"].as_array().expect("list").iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names.last(), Some(&"z-kind"));
    let d_name = view["outbounds"].as_array().expect("list").iter().find(|o| o["service"] == "d-name").expect("d-name");
    assert_eq!(
        d_name["rule"]["origins"],
        serde_json::json!(["kri_mtcpr_default___the-tcp-route-1_", "kri_mtcpr_default___the-tcp-route_"])
    );
    assert_eq!(d_name["splits"], serde_json::json!([{"cluster": "win", "weight": 1}]));
}

#[test]
fn prints_yaml_by_default_and_shadow_policies_on_request() {
    let out = inspect(&["-f", &testdata("shadow-policy"), "--dataplane", "client-1"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("policies: []") && text.contains("cluster: backend\n"), "{text}");
    let out = inspect(&["-f", &testdata("shadow-policy"), "--dataplane", "client-1", "--shadow"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("name: try-v2") && text.contains("cluster: backend-v2"), "{text}");
}

#[test]
fn unknown_dataplane_and_unreadable_files_fail_clearly() {
    let out = inspect(&["-f", &testdata("shadow-policy"), "--dataplane", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Dataplane \"nobody\""));
    let out = inspect(&["-f", "/nonexistent.yaml", "--dataplane", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = inspect(&["-f", &testdata("seed-08-http-and-tcp-same-destination"), "--dataplane", "frontend-1"]);
    assert_eq!(out.status.code(), Some(1), "the name exists in two meshes");
    assert!(String::from_utf8_lossy(&out.stderr).contains("name it as MESH/frontend-1"));
}
