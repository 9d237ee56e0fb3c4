//! Several control planes on one PostgreSQL (the real server of `testkit::postgres`, a schema per test), with
//! real Envoy: changes cross instances, exactly one leader with takeover after kill -9, and an outage of
//! the database that traffic does not notice.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{client, dataplane_listed, wait_ready};
use testkit::cuttable::Cuttable;
use testkit::echo::EchoServer;
use testkit::http::{json, request};
use testkit::postgres::{Schema, url, url_via};
use testkit::processes::{ControlPlaneProcess, ProxyProcess, eventually, free_port, tally};

fn meshroute() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_meshroute"))
}

fn on_postgres(url: &str, schema: &Schema) -> ControlPlaneProcess {
    ControlPlaneProcess::start_with_api_args(
        meshroute(),
        &["--store", "postgres", "--postgres-url", url, "--postgres-schema", &schema.0],
    )
}

fn dataplane(name: &str, service: &str, port: u16) -> String {
    format!(
        r#"{{"type":"Dataplane","mesh":"default","name":"{name}","networking":{{"address":"127.0.0.1","inbound":[{{"port":{port},"tags":{{"kuma.io/service":"{service}","kuma.io/protocol":"tcp"}}}}]}}}}"#
    )
}

fn split(blue: u32, green: u32) -> String {
    format!(
        r#"{{"type":"MeshTCPRoute","name":"split","mesh":"default","spec":{{"to":[{{"targetRef":{{"kind":"MeshService","name":"blue"}},"rules":[{{"default":{{"backendRefs":[{{"kind":"MeshService","name":"blue","weight":{blue}}},{{"kind":"MeshService","name":"green","weight":{green}}}]}}}}]}}]}}}}"#
    )
}

fn put(api: u16, path: &str, body: &str) -> u16 {
    json(api, "PUT", path, body).0
}

/// Blue and green echo servers with their Dataplanes, applied through `api`.
fn backends(api: u16) -> (EchoServer, EchoServer) {
    let blue = EchoServer::start("blue").expect("blue");
    let green = EchoServer::start("green").expect("green");
    assert_eq!(put(api, "/meshes/default/dataplanes/blue-1", &dataplane("blue-1", "blue", blue.port)), 201);
    assert_eq!(put(api, "/meshes/default/dataplanes/green-1", &dataplane("green-1", "green", green.port)), 201);
    (blue, green)
}

#[test]
fn a_policy_applied_through_one_instance_reaches_envoys_on_the_other() {
    let schema = Schema::new("cross");
    let a = on_postgres(&url(), &schema);
    let b = on_postgres(&url(), &schema);
    let (api_a, api_b) = (a.api_port.expect("API"), b.api_port.expect("API"));
    let (_blue, _green) = backends(api_a);
    let outbound = free_port();
    let proxy = ProxyProcess::start(meshroute(), &b, "client", &client(outbound), &[]);
    wait_ready(outbound);

    let started = Instant::now();
    assert_eq!(put(api_a, "/meshes/default/meshtcproutes/split", &split(0, 100)), 201);
    assert!(
        eventually(Duration::from_secs(5), || proxy.config().contains("\"cluster\": \"green\"")),
        "the change made through A reached the Envoy on B"
    );
    eprintln!("A → Envoy on B: {} ms", started.elapsed().as_millis());
    assert_eq!(tally(outbound, 20).get("green"), Some(&20));

    // B sees A's write in its API, and the proxy B registered is visible through A.
    let (status, route) = json(api_b, "GET", "/meshes/default/meshtcproutes/split", "");
    assert_eq!((status, route["name"].as_str()), (200, Some("split")));
    assert!(
        eventually(Duration::from_secs(5), || dataplane_listed(api_a, "client-1")),
        "client-1 registered through B is listed by A"
    );
}

#[test]
fn exactly_one_leader_and_another_takes_over_after_kill_9() {
    let schema = Schema::new("leader");
    let mut a = on_postgres(&url(), &schema);
    let mut b = on_postgres(&url(), &schema);
    let leaders = |a: &ControlPlaneProcess, b: &ControlPlaneProcess| (a.metric("leader"), b.metric("leader"));
    assert!(
        eventually(Duration::from_secs(5), || matches!(leaders(&a, &b), (Some(x), Some(y)) if x + y == 1)),
        "exactly one leader: {:?}",
        leaders(&a, &b)
    );
    for _ in 0..10 {
        let (x, y) = leaders(&a, &b);
        assert_eq!(x.unwrap_or(0) + y.unwrap_or(0), 1, "never two leaders, never none");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, _) = json(a.api_port.expect("API"), "GET", "/meshes/default", "");
    assert_eq!(status, 200, "the leader created the default mesh");

    // A proxy connected to the leader registers its Dataplane; the leader is killed; the other instance
    // takes over and, once the dead instance's heartbeat is old, removes that registration.
    let (leader, follower) = if a.metric("leader") == Some(1) { (&mut a, &mut b) } else { (&mut b, &mut a) };
    let follower_api = follower.api_port.expect("API");
    let outbound = free_port();
    let proxy = ProxyProcess::start(meshroute(), leader, "client", &client(outbound), &[]);
    let registered = || dataplane_listed(follower_api, "client-1");
    assert!(eventually(Duration::from_secs(10), registered), "the proxy registered through the leader");
    leader.kill();
    let killed = Instant::now();
    assert!(eventually(Duration::from_secs(10), || follower.metric("leader") == Some(1)), "takeover within 10 s");
    eprintln!("takeover after kill -9: {} ms", killed.elapsed().as_millis());
    assert!(
        eventually(Duration::from_secs(25), || !registered()),
        "the new leader removed the Dataplane registered through the dead instance"
    );
    drop(proxy);
}

#[test]
fn a_database_outage_keeps_traffic_flowing_fails_writes_fast_and_loses_nothing() {
    let schema = Schema::new("outage");
    let (host, port) = testkit::postgres::host_port();
    let link = Cuttable::start(&host, port);
    let cp = on_postgres(&url_via(link.port), &schema);
    let api = cp.api_port.expect("API");
    let (_blue, _green) = backends(api);
    assert_eq!(put(api, "/meshes/default/meshtcproutes/split", &split(0, 100)), 201);
    let outbound = free_port();
    let _proxy = ProxyProcess::start(meshroute(), &cp, "client", &client(outbound), &[]);
    wait_ready(outbound);
    assert!(eventually(Duration::from_secs(10), || tally(outbound, 10).get("green") == Some(&10)));

    link.cut();
    // Reads of the database fail now; the control plane says so and keeps its last good config.
    assert!(
        eventually(Duration::from_secs(5), || request(cp.diagnostics_port, "GET", "/ready", &[], "")
            .2
            .starts_with("degraded")),
        "/ready reports degraded: {}\n{}",
        request(cp.diagnostics_port, "GET", "/ready", &[], "").2,
        cp.log()
    );
    assert_eq!(cp.metric("meshroute_store_available"), Some(0));
    let started = Instant::now();
    let (status, body) = json(api, "PUT", "/meshes/default/meshtcproutes/split", &split(100, 0));
    let took = started.elapsed();
    assert_eq!((status, body["title"].as_str()), (503, Some("Store unavailable")), "{body}");
    eprintln!("write during the outage failed in {} ms", took.as_millis());
    assert!(took < Duration::from_secs(2), "writes fail fast: {took:?}");
    // Connected Envoys keep the last config, and a proxy connecting now gets it too.
    assert_eq!(tally(outbound, 50).get("green"), Some(&50), "traffic keeps flowing with the last config");
    let late_outbound = free_port();
    let late = client(late_outbound).replace("client-1", "client-2");
    let _late_proxy = ProxyProcess::start(meshroute(), &cp, "client", &late, &[]);
    wait_ready(late_outbound);
    assert_eq!(tally(late_outbound, 20).get("green"), Some(&20), "a proxy connecting during the outage is served");

    link.restore();
    let restored = Instant::now();
    assert!(
        eventually(Duration::from_secs(5), || request(cp.diagnostics_port, "GET", "/ready", &[], "").2 == "ready"),
        "resynced within 5 s of the database coming back"
    );
    eprintln!("resynced {} ms after the database came back", restored.elapsed().as_millis());
    let (status, route) = json(api, "GET", "/meshes/default/meshtcproutes/split", "");
    assert_eq!(status, 200);
    assert_eq!(
        route["spec"]["to"][0]["rules"][0]["default"]["backendRefs"][1]["weight"], 100,
        "nothing written before the outage was lost, nothing half-written during it"
    );
    assert_eq!(json(api, "GET", "/meshes/default/dataplanes/blue-1", "").0, 200);
    assert_eq!(put(api, "/meshes/default/meshtcproutes/split", &split(100, 0)), 200, "writes work again");
    assert!(
        eventually(Duration::from_secs(5), || json(api, "GET", "/meshes/default/dataplanes/client-2", "").0 == 200),
        "the Dataplane of the proxy that connected during the outage is recorded once the store is back"
    );
    assert!(eventually(Duration::from_secs(10), || tally(outbound, 10).get("blue") == Some(&10)));
}
