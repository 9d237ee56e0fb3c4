//! Data-driven golden tests: `testdata/<case>.input.yaml` (a mesh's resources) → `<case>.golden.yaml`,
//! the plan and the MeshTCPRoute rules of every Dataplane in the input. A new case is a new file.
//! `UPDATE_GOLDEN=1` rewrites the goldens; a missing golden fails with that hint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use model::{Kind, Resource};
use policy::{MeshSnapshot, PlanOptions, inspect, plan_proxy_detailed};
use serde_json::{Value, json};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata")
}

fn read_resources(path: &Path) -> Vec<Resource> {
    let text = std::fs::read_to_string(path).expect("readable input");
    let docs = model::parse_resources(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    docs.into_iter().map(|d| d.unwrap_or_else(|e| panic!("{}: {e}", path.display())).resource).collect()
}

/// The golden document of a case: every Dataplane's plan and rules, meshes in name order.
fn render_case(resources: &[Resource]) -> Value {
    let mut meshes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in resources.iter().filter(|r| r.kind() == Kind::Dataplane) {
        meshes.entry(r.meta.mesh.clone()).or_default().push(r.meta.name.clone());
    }
    let mut proxies = Vec::new();
    let mut snapshot_warnings = Vec::new();
    for (mesh, mut names) in meshes {
        let snapshot = MeshSnapshot::build(&mesh, resources.iter().cloned());
        snapshot_warnings.extend(snapshot.warnings.iter().cloned());
        names.sort();
        for name in names {
            let planned = plan_proxy_detailed(&snapshot, &name, PlanOptions::default()).expect("plannable");
            let view = inspect::rules_view(&snapshot, &planned);
            proxies.push(json!({
                "dataplane": format!("{mesh}/{name}"),
                "plan": planned.plan,
                "rules": view["rules"][0],
            }));
        }
    }
    let mut doc = json!({ "proxies": proxies });
    if !snapshot_warnings.is_empty() {
        doc["snapshotWarnings"] = json!(snapshot_warnings);
    }
    doc
}

#[test]
fn golden_cases() {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(testdata())
        .expect("testdata")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".input.yaml"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 15, "expected the golden cases, found {}", inputs.len());
    let mut failures = Vec::new();
    for input in &inputs {
        let resources = read_resources(input);
        let rendered = model::format::to_yaml_documents(&[render_case(&resources)]);
        // The same resources in another order plan the same.
        let mut reversed = resources.clone();
        reversed.reverse();
        let again = model::format::to_yaml_documents(&[render_case(&reversed)]);
        assert_eq!(rendered, again, "{}: the plan depends on input order", input.display());

        let golden = PathBuf::from(input.to_string_lossy().replace(".input.yaml", ".golden.yaml"));
        if let Err(e) = testkit::golden::check_golden(&golden, &rendered) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden case(s) differ (UPDATE_GOLDEN=1 rewrites them):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
