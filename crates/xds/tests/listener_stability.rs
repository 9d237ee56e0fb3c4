//! Traffic shifts change extension configs (ECDS), never listeners: a listener's bytes and version stay
//! the same across weight changes, a redirect, a backend dropped and the policy deleted.

use policy::{MeshSnapshot, PlanOptions, plan_proxy};
use xds::{ResourceSet, generate};

const MESH: &str = "type: Dataplane\nmesh: default\nname: client\nnetworking:\n  address: 127.0.0.1\n  inbound: [{port: 8080, tags: {kuma.io/service: client}}]\n  outbound: [{port: 10001, tags: {kuma.io/service: blue}}]\n---\ntype: Dataplane\nmesh: default\nname: servers\nnetworking:\n  address: 127.0.0.2\n  inbound:\n  - {port: 7001, tags: {kuma.io/service: blue, kuma.io/protocol: tcp}}\n  - {port: 7002, tags: {kuma.io/service: green, kuma.io/protocol: tcp}}\n";

fn generate_with(route: Option<&str>) -> ResourceSet {
    let text = match route {
        Some(r) => format!("{MESH}---\n{r}"),
        None => MESH.to_owned(),
    };
    let resources: Vec<model::Resource> =
        model::parse_resources(&text).expect("yaml").into_iter().map(|d| d.expect("valid").resource).collect();
    let snap = MeshSnapshot::build("default", resources);
    generate(&plan_proxy(&snap, "client", PlanOptions::default()).expect("plan")).expect("generate")
}

fn split(blue: u32, green: u32) -> String {
    format!(
        "type: MeshTCPRoute\nname: r\nmesh: default\nspec:\n  to:\n  - targetRef: {{kind: MeshService, name: blue}}\n    rules: [{{default: {{backendRefs: [{{kind: MeshService, name: blue, weight: {blue}}}, {{kind: MeshService, name: green, weight: {green}}}]}}}}]\n"
    )
}

#[test]
fn listeners_are_byte_identical_across_traffic_shifts() {
    let redirect = "type: MeshTCPRoute\nname: r\nmesh: default\nspec:\n  to:\n  - targetRef: {kind: MeshService, name: blue}\n    rules: [{default: {backendRefs: [{kind: MeshService, name: green}]}}]\n";
    let sets = [
        generate_with(Some(&split(90, 10))),
        generate_with(Some(&split(50, 50))),
        generate_with(Some(&split(0, 100))),
        generate_with(Some(redirect)),
        generate_with(None),
    ];
    for set in &sets[1..] {
        assert_eq!(set.listeners, sets[0].listeners, "listeners (bytes and versions) unchanged");
    }
    let tcp_proxy_versions: Vec<&str> = sets
        .iter()
        .map(|s| s.extension_configs.iter().find(|c| c.name == "outbound:127.0.0.1:10001/tcp_proxy").expect("config"))
        .map(|c| c.version.as_str())
        .collect();
    let mut distinct = tcp_proxy_versions.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        4,
        "each shift is a new tcp_proxy config (0/100 and the redirect both send all to green): {tcp_proxy_versions:?}"
    );
}
