//! `meshroute render` with the real binary.

use std::process::Command;

#[test]
fn renders_sorted_envoy_resources_in_canonical_json() {
    let input = format!("{}/../policy/tests/testdata/seed-01-split-legacy.input.yaml", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_meshroute"))
        .args(["render", "-f", &input, "--dataplane", "default/frontend-1", "-o", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let names = |key: &str, field: &str| -> Vec<String> {
        v[key].as_array().expect("list").iter().filter_map(|r| r[field].as_str().map(str::to_owned)).collect()
    };
    let listeners = names("listeners", "name");
    assert_eq!(listeners, ["inbound:10.0.0.1:8080", "outbound:127.0.0.1:10001"]);
    let clusters = names("clusters", "name");
    let mut sorted = clusters.clone();
    sorted.sort();
    assert_eq!(clusters, sorted, "sorted by name");
    assert_eq!(names("endpoints", "clusterName").len(), 2);
    // The listener names its tcp_proxy; the config itself is an extension config (ECDS).
    let filter = &v["listeners"][1]["filterChains"][0]["filters"][0];
    assert_eq!(filter["name"], "outbound:127.0.0.1:10001/tcp_proxy");
    assert!(filter["configDiscovery"]["configSource"]["ads"].is_object());
    assert_eq!(v["extensionConfigs"][0]["name"], "outbound:127.0.0.1:10001/tcp_proxy");
    let tcp_proxy = &v["extensionConfigs"][0]["typedConfig"];
    assert_eq!(tcp_proxy["@type"], "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy");
    assert_eq!(tcp_proxy["statPrefix"], "backend");
    assert_eq!(tcp_proxy["weightedClusters"]["clusters"][0]["weight"], 90);
}
