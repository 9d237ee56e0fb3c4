//! Table tests of validation, read from `testdata/validation/*.yaml` (a new case is a new list entry).
//!
//! Each case is `{name, input, errors, warnings?, layer?, role?}`. `layer: go` runs Kuma's Go-validator
//! layer alone on a MeshTCPRoute spec written at the top level (type/mesh/name ignored), as Kuma's own
//! validator tests do; otherwise the input is a whole document run through every layer. Violations compare
//! as sets of `path: message`.

use std::collections::BTreeSet;
use std::path::Path;

use model::validate::{PolicyRole, validate_spec};
use model::{Kind, Spec, validate};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    layer: Option<String>,
    #[serde(default)]
    role: Option<String>,
    input: String,
    errors: Vec<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

fn role(name: Option<&str>) -> PolicyRole {
    match name {
        None | Some("system") => PolicyRole::System,
        Some("producer") => PolicyRole::Producer,
        Some("consumer") => PolicyRole::Consumer,
        Some("workload-owner") => PolicyRole::WorkloadOwner,
        Some(other) => panic!("unknown role {other}"),
    }
}

/// The reference harness: the YAML decoded straight into the spec, envelope keys ignored.
fn go_layer(case: &Case) -> (BTreeSet<String>, Vec<String>) {
    let docs = model::node::parse_documents(&case.input).expect("case input is YAML");
    let mut json = docs.first().map(model::node::Node::to_json).unwrap_or_default();
    if let Some(obj) = json.as_object_mut() {
        for key in ["type", "mesh", "name"] {
            obj.remove(key);
        }
    }
    let spec = Spec::from_json(Kind::MeshTcpRoute, json).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let errors = validate_spec(&spec, role(case.role.as_deref())).into_iter().map(|v| v.to_string()).collect();
    (errors, Vec::new())
}

fn all_layers(case: &Case) -> (BTreeSet<String>, Vec<String>) {
    let docs = model::parse_resources(&case.input).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    assert_eq!(docs.len(), 1, "{}: one document per case", case.name);
    let parsed = docs.into_iter().next().and_then(Result::ok).unwrap_or_else(|| panic!("{}: parses", case.name));
    let report = validate(&parsed.resource);
    (report.errors.into_iter().map(|v| v.to_string()).collect(), report.warnings)
}

#[test]
fn validation_cases_match_expected_violations() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/validation");
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("testdata").map(|e| e.expect("entry").path()).collect();
    files.sort();
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        let cases: Vec<Case> = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for case in cases {
            let (errors, warnings) = match case.layer.as_deref() {
                Some("go") => go_layer(&case),
                None => all_layers(&case),
                Some(other) => panic!("{}: unknown layer {other}", case.name),
            };
            let expected: BTreeSet<String> = case.errors.iter().cloned().collect();
            if errors != expected || warnings != case.warnings {
                failures.push(format!(
                    "{} / {}\n  expected errors: {expected:#?}\n  got errors: {errors:#?}\n  expected warnings: {:?}\n  got warnings: {warnings:?}",
                    file.file_name().and_then(|f| f.to_str()).unwrap_or_default(),
                    case.name,
                    case.warnings
                ));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{} of {checked} cases failed:\n{}", failures.len(), failures.join("\n"));
    assert!(checked >= 60, "expected the full table, found {checked} cases");
}
