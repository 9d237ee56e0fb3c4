//! Endpoint and inbound addresses: an empty field is the same as an absent one (Kuma's proto3 form).

use policy::{MeshSnapshot, PlanOptions, plan_proxy};

const MESH: &str = r#"
type: Dataplane
mesh: default
name: client
networking:
  address: 10.0.0.1
  inbound: [{port: 8080, tags: {kuma.io/service: client}}]
  outbound:
  - {port: 10001, tags: {kuma.io/service: backend}}
  - {port: 10002, backendRef: {kind: MeshService, name: db, port: 5432}}
---
type: Dataplane
mesh: default
name: backend-1
networking:
  address: 10.0.0.2
  inbound: [{port: 7000, address: "", serviceAddress: "", servicePort: 0, tags: {kuma.io/service: backend, kuma.io/protocol: tcp}}]
---
type: Dataplane
mesh: default
name: db-1
labels: {app: db}
networking:
  address: 10.0.0.3
  inbound: [{port: 5432, address: "", tags: {kuma.io/service: db, kuma.io/protocol: tcp, app: db}}]
---
type: MeshService
name: db
mesh: default
spec:
  selector: {dataplaneTags: {app: db}}
  ports: [{port: 5432, appProtocol: tcp}]
"#;

fn snapshot() -> MeshSnapshot {
    let resources = model::parse_resources(MESH).expect("yaml").into_iter().map(|d| d.expect("valid").resource);
    MeshSnapshot::build("default", resources.collect::<Vec<_>>())
}

#[test]
fn an_empty_inbound_address_means_the_dataplanes_address_for_endpoints() {
    let plan = plan_proxy(&snapshot(), "client", PlanOptions::default()).expect("plan");
    let addresses: Vec<(&str, &str, u32)> = plan
        .clusters
        .iter()
        .flat_map(|c| c.endpoints.iter().map(move |e| (c.service.as_str(), e.address.as_str(), e.port)))
        .collect();
    assert!(addresses.contains(&("backend", "10.0.0.2", 7000)), "{addresses:?}");
    assert!(addresses.iter().any(|(_, a, p)| *a == "10.0.0.3" && *p == 5432), "{addresses:?}");
    assert!(addresses.iter().all(|(_, a, _)| !a.is_empty()), "{addresses:?}");
}

#[test]
fn an_empty_inbound_address_and_service_fields_take_their_defaults_in_the_inbound_plan() {
    let plan = plan_proxy(&snapshot(), "backend-1", PlanOptions::default()).expect("plan");
    let inbound = &plan.inbounds[0];
    assert_eq!(
        (inbound.address.as_str(), inbound.service_address.as_str(), inbound.service_port),
        ("10.0.0.2", "127.0.0.1", 7000)
    );
}
