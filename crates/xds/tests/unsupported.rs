//! What is not implemented yet is left out by the plan, with a warning, instead of being sent half-done.

use policy::plan::ProxyPlan;
use policy::{MeshSnapshot, PlanOptions, plan_proxy};
use xds::generate;

fn generate_for(text: &str) -> (ProxyPlan, xds::ResourceSet) {
    let resources: Vec<model::Resource> =
        model::parse_resources(text).expect("yaml").into_iter().map(|d| d.expect("valid").resource).collect();
    let snap = MeshSnapshot::build("default", resources);
    let plan = plan_proxy(&snap, "client", PlanOptions::default()).expect("plan");
    let set = generate(&plan).expect("generate");
    (plan, set)
}

const CLIENT: &str = "type: Dataplane\nmesh: default\nname: client\nnetworking:\n  address: 127.0.0.1\n  inbound: [{port: 8080, tags: {kuma.io/service: client}}]\n  outbound: [{port: 10001, tags: {kuma.io/service: backend}}]\n---\ntype: Dataplane\nmesh: default\nname: backend\nnetworking:\n  address: 127.0.0.2\n  inbound: [{port: 7000, tags: {kuma.io/service: backend, kuma.io/protocol: tcp}}]\n";

#[test]
fn an_mtls_mesh_gets_no_plaintext_config() {
    let (plan, set) = generate_for(&format!(
        "type: Mesh\nname: default\nmtls:\n  enabledBackend: ca-1\n  backends: [{{name: ca-1, type: builtin}}]\n---\n{CLIENT}"
    ));
    assert!(set.listeners.is_empty() && set.clusters.is_empty() && set.endpoints.is_empty());
    assert_eq!(plan.warnings[0].code, policy::warning::WarningCode::MtlsNotImplemented, "{:?}", plan.warnings);
    assert!(plan.warnings[0].message.contains("mTLS enabled, which meshroute does not implement yet"));
}

#[test]
fn cross_mesh_backends_are_left_out_and_the_rest_keeps_working() {
    let (plan, set) = generate_for(&format!(
        "{CLIENT}---\ntype: MeshTCPRoute\nname: r\nmesh: default\nspec:\n  to:\n  - targetRef: {{kind: MeshService, name: backend}}\n    rules: [{{default: {{backendRefs: [{{kind: MeshServiceSubset, name: backend, tags: {{kuma.io/mesh: other}}, weight: 50}}, {{kind: MeshService, name: backend, weight: 50}}]}}}}]\n"
    ));
    let unsupported = plan.warnings.iter().find(|w| w.code == policy::warning::WarningCode::UnsupportedBackend);
    assert!(unsupported.is_some_and(|w| w.message.contains("cross-mesh traffic")), "{:?}", plan.warnings);
    assert!(set.clusters.iter().all(|c| !c.name.ends_with("_other")));
    assert!(set.listeners.iter().any(|l| l.name == "outbound:127.0.0.1:10001"), "listener kept");
    let config =
        set.extension_configs.iter().find(|c| c.name == "outbound:127.0.0.1:10001/tcp_proxy").expect("tcp_proxy");
    let json = config.to_json().expect("json").to_string();
    assert!(json.contains("\"cluster\":\"backend\""), "only the local backend remains: {json}");
}
