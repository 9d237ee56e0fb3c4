//! The documentation's MeshTCPRoute examples (`../shared/examples/seeds`): every one parses, validates
//! without errors and round-trips through both forms, YAML and JSON.

use std::path::PathBuf;

use model::format::to_yaml_documents;
use model::{Format, Resource, parse_resources, to_format, validate};

fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/examples/seeds")
}

fn parse_all(text: &str) -> Vec<Resource> {
    let docs = parse_resources(text).expect("valid YAML");
    docs.into_iter().map(|d| d.expect("every document parses").resource).collect()
}

fn seed_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(seeds_dir())
        .expect("../shared/examples/seeds exists")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 8, "expected the 8 seed examples, found {}", files.len());
    files
}

#[test]
fn every_seed_validates_without_errors() {
    for file in seed_files() {
        let resources = parse_all(&std::fs::read_to_string(&file).expect("readable"));
        assert!(!resources.is_empty(), "{}", file.display());
        for r in &resources {
            let report = validate(r);
            assert!(report.is_valid(), "{}: {}: {}", file.display(), r.meta.name, report.errors);
        }
    }
}

#[test]
fn every_seed_round_trips_in_both_forms() {
    for file in seed_files() {
        let original = parse_all(&std::fs::read_to_string(&file).expect("readable"));
        for format in [Format::Universal, Format::Kubernetes] {
            let values: Vec<_> = original.iter().map(|r| to_format(r, format)).collect();
            let yaml = to_yaml_documents(&values);
            let again = parse_all(&yaml);
            assert_eq!(again, original, "{} via {format:?} YAML:\n{yaml}", file.display());
            // The canonical text is a fixed point: writing what was read gives the same bytes.
            let rewritten: Vec<_> = again.iter().map(|r| to_format(r, format)).collect();
            assert_eq!(to_yaml_documents(&rewritten), yaml, "{} {format:?} is canonical", file.display());
            for value in &values {
                let json = serde_json::to_string(value).expect("json");
                let from_json = parse_all(&json);
                assert_eq!(from_json.len(), 1);
                assert!(original.contains(&from_json[0]), "{} via {format:?} JSON: {json}", file.display());
            }
        }
    }
}

#[test]
fn kubernetes_seed_maps_to_the_core_model() {
    let text = std::fs::read_to_string(seeds_dir().join("02-split-legacy.kubernetes.yaml")).expect("seed 02");
    let r = &parse_all(&text)[0];
    assert_eq!(r.meta.name, "tcp-route-1.kong-mesh-system");
    assert_eq!(r.meta.mesh, "default");
    assert_eq!(r.display_name(), "tcp-route-1");
    assert_eq!(r.namespace(), "kong-mesh-system");
    assert_eq!(r.kri(""), "kri_mtcpr_default__kong-mesh-system_tcp-route-1_");
    let back = to_format(r, Format::Kubernetes);
    assert_eq!(back["metadata"]["name"], "tcp-route-1");
    assert_eq!(back["metadata"]["namespace"], "kong-mesh-system");
    assert_eq!(back["metadata"]["labels"]["kuma.io/mesh"], "default");
}

#[test]
fn weights_are_defaulted_in_the_canonical_form() {
    let text = std::fs::read_to_string(seeds_dir().join("03-redirect-legacy.universal.yaml")).expect("seed 03");
    let r = &parse_all(&text)[0];
    let universal = to_format(r, Format::Universal);
    assert_eq!(universal["spec"]["to"][0]["rules"][0]["default"]["backendRefs"][0]["weight"], 1);
}
