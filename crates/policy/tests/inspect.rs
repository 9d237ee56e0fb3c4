//! The inspect views against the shapes of Kuma's inspect API (spec meshtcproute.md §6).

use model::kri::Kri;
use policy::{MeshSnapshot, PlanOptions, inspect, plan_proxy_detailed};
use serde_json::json;

fn kri(text: &str) -> Kri {
    text.parse().expect("a KRI")
}

const MESH: &str = r"
type: Dataplane
mesh: default
name: client
networking:
  address: 10.0.0.1
  inbound: [{port: 8080, tags: {kuma.io/service: client}}]
  outbound: [{port: 10001, backendRef: {kind: MeshService, name: test-server-1, port: 80}}]
---
type: Dataplane
mesh: default
name: server
networking:
  address: 10.0.0.2
  inbound:
  - {port: 80, tags: {kuma.io/service: test-server-1, app: test-server-1}}
  - {port: 8080, tags: {kuma.io/service: test-server-1, app: test-server-1}}
---
type: MeshService
name: test-server-1
mesh: default
spec:
  selector: {dataplaneTags: {app: test-server-1}}
  ports: [{port: 80, appProtocol: tcp}, {port: 8080, appProtocol: tcp}]
---
type: MeshTCPRoute
name: the-tcp-route
mesh: default
spec:
  targetRef: {kind: Mesh}
  to:
  - targetRef: {kind: MeshService, name: test-server-1}
    rules:
    - default:
        backendRefs: [{kind: MeshService, labels: {kuma.io/display-name: test-server-1}, weight: 90, port: 80}]
---
type: MeshTCPRoute
name: the-tcp-route-1
mesh: default
spec:
  targetRef: {kind: Mesh}
  to:
  - targetRef: {kind: MeshService, name: test-server-1}
    rules:
    - default:
        backendRefs: [{kind: MeshService, labels: {kuma.io/display-name: test-server-1}, weight: 10, port: 8080}]
";

fn snapshot() -> MeshSnapshot {
    let docs = model::parse_resources(MESH).expect("yaml");
    MeshSnapshot::build("default", docs.into_iter().map(|d| d.expect("parses").resource))
}

#[test]
fn routes_of_two_equal_rank_policies_match_kumas_answer() {
    let snap = snapshot();
    let planned = plan_proxy_detailed(&snap, "client", PlanOptions::default()).expect("plan");
    let routes = inspect::routes_view(&snap, &planned, &kri("kri_msvc_default___test-server-1_80"));
    // Kuma's golden `meshservice_multiple_meshtcproute`: both origins, the smaller name last, and only its
    // backendRefs (lists are replaced, not appended), echoed unresolved.
    assert_eq!(
        routes,
        json!({"routes": [{
            "kind": "MeshTCPRoute",
            "origins": [{"kri": "kri_mtcpr_default___the-tcp-route-1_"}, {"kri": "kri_mtcpr_default___the-tcp-route_"}],
            "rules": [{
                "conf": {"backendRefs": [
                    {"kind": "MeshService", "labels": {"kuma.io/display-name": "test-server-1"}, "weight": 90, "port": 80}
                ]},
                "kri": "",
                "matches": null,
            }],
        }]})
    );
    // The winning rule resolves to port 80 of the MeshService found by its display name.
    let split = &planned.plan.outbounds[0].splits;
    assert_eq!(split.len(), 1);
    assert_eq!((split[0].cluster.as_str(), split[0].weight), ("default_test-server-1___msvc_80", 90));
}

#[test]
fn routes_fall_back_from_section_to_resource_and_refuse_bad_kris() {
    let snap = snapshot();
    let planned = plan_proxy_detailed(&snap, "client", PlanOptions::default()).expect("plan");
    // The to-items name no section, so the 8080 outbound finds the rule through the section fallback.
    let routes = inspect::routes_view(&snap, &planned, &kri("kri_msvc_default___test-server-1_8080"));
    assert_eq!(routes["routes"][0]["origins"].as_array().map(Vec::len), Some(2));
    assert!("not-a-kri".parse::<Kri>().is_err(), "text that is not a KRI never reaches the view");
    assert_eq!(inspect::routes_view(&snap, &planned, &kri("kri_msvc_default___other_80")), json!({"routes": []}));
}

#[test]
fn rules_view_has_kumas_rules_shape() {
    let snap = snapshot();
    let planned = plan_proxy_detailed(&snap, "client", PlanOptions::default()).expect("plan");
    let view = inspect::rules_view(&snap, &planned);
    assert_eq!(view["resource"], json!({"labels": {}, "mesh": "default", "name": "client", "type": "Dataplane"}));
    let rule = &view["rules"][0];
    assert_eq!(rule["type"], "MeshTCPRoute");
    // The legacy rule for kuma.io/service=test-server-1, with Kuma's matcher shape.
    assert_eq!(
        rule["toRules"][0]["matchers"],
        json!([{"key": "kuma.io/service", "not": false, "value": "test-server-1"}])
    );
    assert_eq!(rule["toRules"][0]["origin"][1]["name"], "the-tcp-route");
    let resource_rule = &rule["toResourceRules"][0];
    assert_eq!(resource_rule["resourceMeta"]["name"], "test-server-1");
    assert_eq!(resource_rule["resourceSectionName"], "");
    assert_eq!(
        resource_rule["origin"][0],
        json!({
            "resourceMeta": {"labels": {}, "mesh": "default", "name": "the-tcp-route-1", "type": "MeshTCPRoute"},
            "ruleIndex": 0
        })
    );
    assert_eq!(view["policies"].as_array().map(Vec::len), Some(2));
    assert_eq!(view["policies"][1]["name"], "the-tcp-route", "priority order: the winner last");
}
