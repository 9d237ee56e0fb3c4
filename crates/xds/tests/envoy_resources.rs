//! The Envoy resources of every policy golden case (`crates/policy/tests/testdata/*.input.yaml`):
//! compared with `tests/golden/<case>.yaml`, byte-stable across runs, and accepted by real Envoy
//! (`envoy --mode validate`, the resources as static resources).

use std::path::{Path, PathBuf};

use model::{Kind, Resource};
use policy::{MeshSnapshot, PlanOptions, plan_proxy};
use serde_json::{Value, json};
use xds::{ResourceSet, generate};

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policy/tests/testdata");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("policy testdata")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".input.yaml"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 15, "expected the policy golden cases");
    inputs
}

fn case_name(input: &Path) -> String {
    input.file_name().and_then(|f| f.to_str()).unwrap_or_default().trim_end_matches(".input.yaml").to_owned()
}

/// Every Dataplane of a case with its generated resources, in mesh/name order.
fn generate_case(input: &Path) -> Vec<(String, ResourceSet)> {
    let text = std::fs::read_to_string(input).expect("readable");
    let resources: Vec<Resource> =
        model::parse_resources(&text).expect("yaml").into_iter().map(|d| d.expect("valid").resource).collect();
    let mut dataplanes: Vec<(String, String)> = resources
        .iter()
        .filter(|r| r.kind() == Kind::Dataplane)
        .map(|r| (r.meta.mesh.clone(), r.meta.name.clone()))
        .collect();
    dataplanes.sort();
    dataplanes
        .into_iter()
        .map(|(mesh, name)| {
            let snapshot = MeshSnapshot::build(&mesh, resources.iter().cloned());
            let plan = plan_proxy(&snapshot, &name, PlanOptions::default()).expect("plan");
            (format!("{mesh}/{name}"), generate(&plan).expect("generate"))
        })
        .collect()
}

#[test]
fn resources_match_goldens_and_are_byte_stable() {
    let mut failures = Vec::new();
    for input in cases() {
        let proxies = generate_case(&input);
        // Generating again (new hash maps, new seeds) gives the same bytes and versions.
        let again = generate_case(&input);
        assert_eq!(proxies, again, "{}: generation is not byte-stable", input.display());
        let docs: Vec<Value> = proxies
            .iter()
            .map(|(dp, set)| {
                let mut v = set.to_json().expect("renders");
                v["dataplane"] = json!(dp);
                v["version"] = json!(set.version());
                v
            })
            .collect();
        let text = model::format::to_yaml_documents(&[json!({ "proxies": docs })]);
        let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{}.yaml", case_name(&input)));
        if let Err(e) = testkit::golden::check_golden(&golden, &text) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden(s) differ (UPDATE_GOLDEN=1 rewrites):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A bootstrap holding a proxy's resources as static resources; EDS clusters and ECDS filters point at an
/// ADS cluster that validation never contacts, and every ClusterLoadAssignment and extension config is
/// checked inside a static resource of its own.
fn bootstrap(set: &ResourceSet) -> Value {
    let rendered = set.to_json().expect("renders");
    let mut clusters = rendered["clusters"].as_array().cloned().unwrap_or_default();
    for (i, cla) in rendered["endpoints"].as_array().into_iter().flatten().enumerate() {
        let name = format!("cla-check-{i}");
        let mut cla = cla.clone();
        cla["clusterName"] = json!(name);
        clusters.push(json!({"name": name, "type": "STATIC", "loadAssignment": cla}));
    }
    clusters.push(json!({
        "name": "ads_cluster", "type": "STATIC",
        "typedExtensionProtocolOptions": {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "explicitHttpConfig": {"http2ProtocolOptions": {}}}},
        "loadAssignment": {"clusterName": "ads_cluster", "endpoints": [{"lbEndpoints": [{"endpoint": {"address": {"socketAddress": {"address": "127.0.0.1", "portValue": 5678}}}}]}]}
    }));
    // Each extension config is checked as the inline config of a listener of its own.
    let mut listeners = rendered["listeners"].as_array().cloned().unwrap_or_default();
    for (i, config) in rendered["extensionConfigs"].as_array().into_iter().flatten().enumerate() {
        listeners.push(json!({
            "name": format!("ecds-check-{i}"),
            "address": {"socketAddress": {"address": "127.0.0.1", "portValue": 20000 + i}},
            "filterChains": [{"filters": [{"name": "envoy.filters.network.tcp_proxy", "typedConfig": config["typedConfig"]}]}],
        }));
    }
    json!({
        "node": {"id": "validate.proxy", "cluster": "validate"},
        "dynamicResources": {"adsConfig": {"apiType": "GRPC", "transportApiVersion": "V3",
            "grpcServices": [{"envoyGrpc": {"clusterName": "ads_cluster"}}]}},
        "staticResources": {"listeners": listeners, "clusters": clusters},
    })
}

#[test]
fn real_envoy_accepts_every_case() {
    let dir = std::env::temp_dir().join(format!("meshroute-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut jobs = Vec::new();
    for input in cases() {
        for (dp, set) in generate_case(&input) {
            let file = dir.join(format!("{}-{}.json", case_name(&input), dp.replace('/', "_")));
            std::fs::write(&file, bootstrap(&set).to_string()).expect("write bootstrap");
            jobs.push((format!("{} {dp}", case_name(&input)), file));
        }
    }
    // Two at a time: this machine has two cores.
    let results: Vec<(String, Result<(), String>)> = std::thread::scope(|scope| {
        let (left, right) = jobs.split_at(jobs.len() / 2);
        let handles: Vec<_> = [left, right]
            .into_iter()
            .map(|half| {
                scope.spawn(move || {
                    half.iter().map(|(n, f)| (n.clone(), testkit::envoy::validate(f))).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("validation thread")).collect()
    });
    std::fs::remove_dir_all(&dir).ok();
    let rejected: Vec<String> = results.into_iter().filter_map(|(n, r)| r.err().map(|e| format!("{n}: {e}"))).collect();
    assert!(rejected.is_empty(), "Envoy rejected:\n{}", rejected.join("\n"));
}
