//! Bad input never panics: 10,000 generated cases of random text, mutated seed documents and
//! well-formed documents with wrong types everywhere go through parsing, validation and both writers;
//! adversarial inputs (alias bombs, deep nesting, huge scalars) are refused or read within bounds.

use std::time::{Duration, Instant};

use model::{Format, parse_resources, to_format, validate};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Everything a user's text can reach: parse, validate, write in both forms.
fn exercise(text: &str) {
    let Ok(docs) = parse_resources(text) else {
        return;
    };
    for doc in docs.into_iter().flatten() {
        let _ = validate(&doc.resource);
        for format in [Format::Universal, Format::Kubernetes] {
            let value = to_format(&doc.resource, format);
            let _ = model::format::to_yaml_documents(&[value]);
        }
    }
}

const SEEDS: &[&str] = &[
    include_str!("../../../../shared/examples/seeds/01-split-legacy.universal.yaml"),
    include_str!("../../../../shared/examples/seeds/02-split-legacy.kubernetes.yaml"),
    include_str!("../../../../shared/examples/seeds/05-split-meshservice.universal.yaml"),
    include_str!("../../../../shared/examples/seeds/06-redirect-meshservice.kubernetes.yaml"),
    include_str!("../../../../shared/examples/seeds/07-gateway.universal.yaml"),
    include_str!("../../../../shared/examples/seeds/08-http-and-tcp-same-destination.universal.yaml"),
];

const TOKENS: &[&str] = &[
    ":",
    "-",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "&a ",
    "*a",
    "<<: *a",
    "!!str ",
    "!!binary ",
    "? ",
    "|",
    ">",
    "'",
    "\"",
    "\n",
    "  ",
    "#",
    "---\n",
    "...\n",
    "null",
    "~",
    "true",
    "-1",
    "1e999",
    "0x1F",
    ".nan",
    "\t",
    "kind: ",
    "weight: ",
    "targetRef: ",
    "rules: []",
    "\u{0}",
    "\u{feff}",
    "é",
];

/// A seed text with a handful of edits: deletions, insertions of YAML tokens, duplicated lines.
fn mutated_seed() -> impl Strategy<Value = String> {
    let edit = (any::<prop::sample::Index>(), 0usize..4, prop::sample::select(TOKENS), 0usize..20);
    (prop::sample::select(SEEDS), prop::collection::vec(edit, 1..8)).prop_map(|(seed, edits)| {
        let mut chars: Vec<char> = seed.chars().collect();
        for (at, op, token, len) in edits {
            let i = at.index(chars.len() + 1);
            match op {
                0 => {
                    let end = (i + len).min(chars.len());
                    chars.drain(i..end);
                }
                1 | 2 => {
                    for (k, c) in token.chars().enumerate() {
                        chars.insert(i + k, c);
                    }
                }
                _ => {
                    let line: Vec<char> = chars[i..].iter().take_while(|c| **c != '\n').copied().collect();
                    let pos = i.min(chars.len());
                    for (k, c) in line.iter().chain(['\n'].iter()).enumerate() {
                        chars.insert(pos + k, *c);
                    }
                }
            }
        }
        chars.into_iter().collect()
    })
}

/// Any JSON-like value, to put where the schema expects something else.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-zA-Z0-9 _./*:-]{0,12}".prop_map(Value::from),
        prop::sample::select(&["Mesh", "MeshService", "MeshServiceSubset", "Dataplane", "MeshGateway", "TCP"][..])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(
                    &[
                        "kind",
                        "name",
                        "tags",
                        "to",
                        "targetRef",
                        "rules",
                        "default",
                        "backendRefs",
                        "weight",
                        "port",
                        "networking",
                        "inbound",
                        "address",
                        "labels",
                        "sectionName",
                        "x"
                    ][..]
                ),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

/// A document of a real kind whose spec is random: wrong types in every position.
fn random_document() -> impl Strategy<Value = String> {
    let kinds = model::Kind::ALL.iter().map(|k| k.wire_name()).collect::<Vec<_>>();
    (prop::sample::select(kinds), any_value(), any_value(), any::<bool>()).prop_map(|(kind, spec, extra, k8s)| {
        let doc = if k8s {
            json!({"apiVersion": "kuma.io/v1alpha1", "kind": kind, "metadata": {"name": "x", "labels": extra}, "spec": spec})
        } else {
            json!({"type": kind, "name": "x", "spec": spec, "networking": extra, "conf": extra})
        };
        doc.to_string()
    })
}

fn any_input() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => mutated_seed(),
        3 => random_document(),
        1 => ".{0,200}",
        1 => prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_input_panics_and_each_is_handled_quickly(text in any_input()) {
        let started = Instant::now();
        exercise(&text);
        prop_assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    }
}

/// Peak resident memory of this test process, from the kernel.
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok());
    kb.unwrap_or(0) * 1024
}

fn assert_bounded(name: &str, text: &str) {
    let started = Instant::now();
    exercise(text);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{name}: took {took:?}");
    assert!(peak_rss_bytes() < 1 << 30, "{name}: peak memory {} bytes", peak_rss_bytes());
}

#[test]
fn alias_bomb_is_refused_within_bounds() {
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = (b'a' + u8::try_from(i - 1).expect("small")) as char;
        let cur = (b'a' + u8::try_from(i).expect("small")) as char;
        text.push_str(&format!(
            "{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    assert!(parse_resources(&text).is_err(), "a billion-laughs document must be refused");
    assert_bounded("alias bomb", &text);
}

#[test]
fn deep_nesting_is_refused() {
    let text = format!("type: MeshTCPRoute\nname: r\nspec: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse_resources(&text).is_err());
    assert_bounded("deep flow nesting", &text);
    let block: String = (0..10_000).map(|i| format!("{}k:\n", " ".repeat(i % 2000))).collect();
    assert_bounded("deep block nesting", &block);
}

#[test]
fn huge_scalars_are_read_without_blowing_up() {
    let big = "a".repeat(8 << 20);
    let text = format!("type: MeshTCPRoute\nname: {big}\nspec: {{}}\n");
    let docs = parse_resources(&text).expect("an 8 MiB name is still YAML");
    let report = validate(&docs[0].as_ref().expect("parses").resource);
    assert_eq!(report.errors.iter().next().map(|v| v.message.as_str()), Some("value length must less or equal 253"));
    assert_bounded("huge scalar", &text);
    assert_bounded(
        "huge number",
        &format!(
            "type: MeshTCPRoute\nname: r\nspec: {{to: [{{targetRef: {{kind: MeshService, name: b}}, rules: [{{default: {{backendRefs: [{{kind: MeshService, name: a, weight: {}}}]}}}}]}}]}}\n",
            "9".repeat(100_000)
        ),
    );
}

#[test]
fn many_documents_are_bounded() {
    let text = "type: Mesh\nname: m\n---\n".repeat(5_000);
    assert_bounded("many documents", &text);
}
