//! End to end: the real `meshroute run` and `meshroute proxy`, real Envoy, real TCP echo backends on
//! 127.0.0.1. Each test asserts what a client observes. A missing Envoy fails the tests.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{client, dataplane_listed, wait_ready};
use testkit::echo::EchoServer;
use testkit::processes::{ControlPlaneProcess, ProxyProcess, Source, eventually, free_port, share, tally};

fn meshroute() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_meshroute"))
}

/// Blue and green echo servers, each behind a Dataplane whose inbound is the server itself.
fn backends() -> (EchoServer, EchoServer, String, String) {
    let blue = EchoServer::start("blue").expect("blue");
    let green = EchoServer::start("green").expect("green");
    let dp = |name: &str, port: u16| {
        format!(
            "type: Dataplane\nmesh: default\nname: {name}-1\nnetworking:\n  address: 127.0.0.1\n  inbound: [{{port: {port}, tags: {{kuma.io/service: {name}, kuma.io/protocol: tcp}}}}]\n"
        )
    };
    let blue_dp = dp("blue", blue.port);
    let green_dp = dp("green", green.port);
    (blue, green, blue_dp, green_dp)
}

fn split(blue: u32, green: u32) -> String {
    format!(
        "type: MeshTCPRoute\nname: split\nmesh: default\nspec:\n  to:\n  - targetRef: {{kind: MeshService, name: blue}}\n    rules:\n    - default:\n        backendRefs:\n        - {{kind: MeshService, name: blue, weight: {blue}}}\n        - {{kind: MeshService, name: green, weight: {green}}}\n"
    )
}

const REDIRECT: &str = "type: MeshTCPRoute\nname: redirect\nmesh: default\nspec:\n  to:\n  - targetRef: {kind: MeshService, name: blue}\n    rules: [{default: {backendRefs: [{kind: MeshService, name: green}]}}]\n";

fn assert_share(counts: &std::collections::BTreeMap<String, usize>, name: &str, expected: f64) {
    let got = share(counts, name);
    assert!((got - expected).abs() <= 5.0, "{name}: {got:.1}% of {counts:?}, expected {expected}% ±5");
}

fn without_a_policy_connections_reach_the_destination_and_redirect_moves_them(source: Source) {
    let (_blue, _green, blue_dp, green_dp) = backends();
    let cp = ControlPlaneProcess::start_from(
        source,
        meshroute(),
        &format!("type: Mesh\nname: default\n---\n{blue_dp}---\n{green_dp}"),
    );
    let outbound = free_port();
    let _proxy = ProxyProcess::start(meshroute(), &cp, "client", &client(outbound), &[]);
    wait_ready(outbound);
    assert_eq!(tally(outbound, 50).into_iter().collect::<Vec<_>>(), vec![("blue".to_owned(), 50)]);

    cp.write("route.yaml", REDIRECT);
    assert!(eventually(Duration::from_secs(10), || tally(outbound, 5).get("green") == Some(&5)), "redirect applied");
    assert_eq!(tally(outbound, 50).get("green"), Some(&50), "every connection goes to green");

    // Removing the policy restores the default route.
    cp.remove("route.yaml");
    assert!(eventually(Duration::from_secs(10), || tally(outbound, 5).get("blue") == Some(&5)), "default restored");
    assert_eq!(tally(outbound, 50).get("blue"), Some(&50));
}

fn split_90_10_then_live_50_50(source: Source, delta: bool) {
    let (_blue, _green, blue_dp, green_dp) = backends();
    let cp = ControlPlaneProcess::start_from(
        source,
        meshroute(),
        &format!("type: Mesh\nname: default\n---\n{blue_dp}---\n{green_dp}"),
    );
    cp.write("route.yaml", &split(90, 10));
    let outbound = free_port();
    let extra: &[&str] = if delta { &["--delta"] } else { &[] };
    let proxy = ProxyProcess::start(meshroute(), &cp, "client", &client(outbound), extra);
    wait_ready(outbound);
    assert!(eventually(Duration::from_secs(10), || proxy.config().contains("\"weight\": 90")), "90/10 applied");
    // Enough connections that ±5 points is more than three standard deviations.
    let counts = tally(outbound, 600);
    assert_share(&counts, "blue", 90.0);
    assert_share(&counts, "green", 10.0);

    cp.write("route.yaml", &split(50, 50));
    assert!(eventually(Duration::from_secs(10), || proxy.config().contains("\"weight\": 50")), "50/50 applied");
    let counts = tally(outbound, 1000);
    assert_share(&counts, "blue", 50.0);
    assert_share(&counts, "green", 50.0);
}

fn split_90_10_then_live_50_50_sotw(source: Source) {
    split_90_10_then_live_50_50(source, false);
}

fn split_90_10_then_live_50_50_delta(source: Source) {
    split_90_10_then_live_50_50(source, true);
}

fn a_backend_without_dataplanes_leaves_the_split_with_a_warning(source: Source) {
    let (_blue, _green, blue_dp, green_dp) = backends();
    let cp =
        ControlPlaneProcess::start_from(source, meshroute(), &format!("type: Mesh\nname: default\n---\n{blue_dp}"));
    cp.write("green.yaml", &green_dp);
    cp.write("route.yaml", &split(50, 50));
    let outbound = free_port();
    let proxy = ProxyProcess::start(meshroute(), &cp, "client", &client(outbound), &[]);
    wait_ready(outbound);
    // The files are read after the control plane starts: the first config the proxy gets may predate them.
    assert!(eventually(Duration::from_secs(10), || proxy.config().contains("\"weight\": 50")), "50/50 applied");
    let counts = tally(outbound, 1000);
    assert_share(&counts, "green", 50.0);

    cp.remove("green.yaml");
    assert!(
        eventually(Duration::from_secs(10), || tally(outbound, 10).get("blue") == Some(&10)),
        "green left the split"
    );
    assert_eq!(tally(outbound, 100).get("blue"), Some(&100), "blue keeps working and takes everything");
    assert!(
        eventually(Duration::from_secs(5), || cp
            .log()
            .contains("backend green: no ready endpoints; left out of the split")),
        "the control plane says why:\n{}",
        cp.log()
    );
}

fn builtin_gateway_tcp_listener_forwards_by_a_meshtcproute_on_the_meshgateway(source: Source) {
    let (_blue, _green, blue_dp, green_dp) = backends();
    let gateway_port = free_port();
    let resources = format!(
        "type: Mesh\nname: default\n---\n{blue_dp}---\n{green_dp}---\ntype: MeshGateway\nmesh: default\nname: edge\nselectors: [{{match: {{kuma.io/service: edge}}}}]\nconf:\n  listeners: [{{port: {gateway_port}, protocol: TCP, tags: {{port: tcp}}}}]\n---\ntype: MeshTCPRoute\nname: edge-route\nmesh: default\nspec:\n  targetRef: {{kind: MeshGateway, name: edge}}\n  to: [{{targetRef: {{kind: Mesh}}, rules: [{{default: {{backendRefs: [{{kind: MeshService, name: green}}]}}}}]}}]\n"
    );
    let cp = ControlPlaneProcess::start_from(source, meshroute(), &resources);
    let gateway = "type: Dataplane\nmesh: default\nname: edge-1\nnetworking:\n  address: 127.0.0.1\n  gateway: {type: BUILTIN, tags: {kuma.io/service: edge}}\n";
    let _proxy = ProxyProcess::start(meshroute(), &cp, "edge", gateway, &[]);
    wait_ready(gateway_port);
    assert_eq!(tally(gateway_port, 30).get("green"), Some(&30));
}

fn traffic_flows_through_the_destination_sidecar_inbound(source: Source) {
    // blue's Dataplane is a real proxy: its inbound listener forwards to the echo server.
    let blue = EchoServer::start("blue").expect("blue");
    let blue_inbound = free_port();
    let blue_dp = format!(
        "type: Dataplane\nmesh: default\nname: blue-1\nnetworking:\n  address: 127.0.0.1\n  inbound: [{{port: {blue_inbound}, servicePort: {}, tags: {{kuma.io/service: blue, kuma.io/protocol: tcp}}}}]\n",
        blue.port
    );
    let cp = ControlPlaneProcess::start_from(source, meshroute(), "type: Mesh\nname: default\n");
    let _blue_proxy = ProxyProcess::start(meshroute(), &cp, "blue", &blue_dp, &[]);
    let outbound = free_port();
    let _client = ProxyProcess::start(meshroute(), &cp, "client", &client(outbound), &[]);
    wait_ready(blue_inbound);
    wait_ready(outbound);
    assert_eq!(tally(outbound, 20).get("blue"), Some(&20));
}

#[test]
fn proxy_stops_envoy_and_exits_on_sigterm() {
    let (_blue, _green, blue_dp, _) = backends();
    let cp = ControlPlaneProcess::start_from(
        Source::Files,
        meshroute(),
        &format!("type: Mesh\nname: default\n---\n{blue_dp}"),
    );
    let outbound = free_port();
    let file = cp.dir.join("client.yaml");
    std::fs::write(&file, client(outbound)).expect("dataplane");
    let token = cp.dataplane_token(meshroute(), "default", "client-1");
    let mut proxy = std::process::Command::new(meshroute())
        .args(["proxy", "--cp-address", &cp.address(), "--dataplane-token", &token, "--dataplane-file"])
        .arg(&file)
        .arg("--envoy-binary")
        .arg(testkit::envoy::binary())
        .args(["--drain-time", "1"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("proxy");
    wait_ready(outbound);
    std::process::Command::new("kill").args(["-TERM", &proxy.id().to_string()]).status().expect("kill");
    let exited = eventually(Duration::from_secs(10), || matches!(proxy.try_wait(), Ok(Some(_))));
    assert!(exited, "meshroute proxy exits after SIGTERM");
    assert!(
        eventually(Duration::from_secs(5), || std::net::TcpStream::connect(("127.0.0.1", outbound)).is_err()),
        "Envoy is gone: its listener no longer accepts"
    );
}

/// Ten connections held open through a 90/10 split; they are echoed after every change.
struct HeldConnections(Vec<(String, std::io::BufReader<std::net::TcpStream>)>);

impl HeldConnections {
    /// Opens `n` connections, at least one of them to `must_include` (the split's small side).
    fn open(port: u16, n: usize, must_include: &str) -> Self {
        let mut held: Vec<(String, std::io::BufReader<std::net::TcpStream>)> = Vec::new();
        while held.len() < n || !held.iter().any(|(name, _)| name == must_include) {
            let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
            let mut reader = std::io::BufReader::new(stream);
            let mut name = String::new();
            std::io::BufRead::read_line(&mut reader, &mut name).expect("greeting");
            let name = name.trim().to_owned();
            if held.len() == n {
                // Make room for one to the small side: drop one to the large side.
                if name != must_include {
                    continue;
                }
                let at = held.iter().position(|(h, _)| h != must_include).expect("one to drop");
                held.remove(at);
            }
            held.push((name, reader));
        }
        Self(held)
    }

    /// How many still answer a line, from the same server as before.
    fn still_echoing(&mut self, round: usize) -> usize {
        let mut alive = 0;
        for (name, reader) in &mut self.0 {
            let line = format!("ping {round}\n");
            if std::io::Write::write_all(reader.get_mut(), line.as_bytes()).is_err() {
                continue;
            }
            let mut answer = String::new();
            if std::io::BufRead::read_line(reader, &mut answer).is_ok()
                && answer.trim() == format!("{name}: ping {round}")
            {
                alive += 1;
            }
        }
        alive
    }
}

/// The outbound listener as Envoy holds it: its version and when it was last updated.
fn listener_identity(proxy: &ProxyProcess) -> String {
    let dump = proxy.listeners();
    let at = dump.find("outbound:127.0.0.1").expect("the outbound listener");
    let section = &dump[at.saturating_sub(400)..(at + 200).min(dump.len())];
    section.lines().filter(|l| l.contains("version_info") || l.contains("last_updated")).collect::<Vec<_>>().join("\n")
}

fn traffic_shifts_never_drop_established_connections(source: Source) {
    let (_blue, _green, blue_dp, green_dp) = backends();
    let cp = ControlPlaneProcess::start_from(
        source,
        meshroute(),
        &format!("type: Mesh\nname: default\n---\n{blue_dp}---\n{green_dp}"),
    );
    cp.write("route.yaml", &split(90, 10));
    let outbound = free_port();
    let proxy = ProxyProcess::start(meshroute(), &cp, "client", &client(outbound), &["--drain-time", "2"]);
    wait_ready(outbound);
    let mut held = HeldConnections::open(outbound, 10, "green");
    let listener = listener_identity(&proxy);
    let drain_and_more = Duration::from_secs(2 + 5);
    let steps: [(&str, Option<String>, f64); 3] =
        [("50/50", Some(split(50, 50)), 50.0), ("0/100", Some(split(0, 100)), 0.0), ("policy deleted", None, 100.0)];
    for (round, (what, route, blue_share)) in steps.into_iter().enumerate() {
        match &route {
            Some(route) => cp.write("route.yaml", route),
            None => cp.remove("route.yaml"),
        }
        let applied = eventually(Duration::from_secs(10), || {
            let counts = tally(outbound, 20);
            match blue_share {
                0.0 => counts.get("green") == Some(&20),
                100.0 => counts.get("blue") == Some(&20),
                _ => counts.contains_key("blue") && counts.contains_key("green"),
            }
        });
        assert!(applied, "{what} applied");
        std::thread::sleep(drain_and_more);
        assert_eq!(held.still_echoing(round), 10, "after {what}, every established connection still echoes");
        let counts = tally(outbound, 1000);
        assert_share(&counts, "blue", blue_share);
        assert_eq!(listener_identity(&proxy), listener, "after {what}, the listener is the one Envoy had");
    }
}

/// A YAML resource as the API's JSON body.
fn to_json(yaml: &str) -> String {
    let resource = model::parse_resources(yaml).expect("yaml").remove(0).expect("valid").resource;
    model::to_universal(&resource).to_string()
}

#[test]
fn the_split_works_through_the_http_api() {
    let (_blue, _green, blue_dp, green_dp) = backends();
    let cp = ControlPlaneProcess::start_with_api(meshroute());
    let api = cp.api_port.expect("API");
    let put = |path: &str, yaml: &str| {
        let (status, body) = testkit::http::json(api, "PUT", path, &to_json(yaml));
        assert!(status == 200 || status == 201, "PUT {path}: {status} {body}");
    };
    put("/meshes/default/dataplanes/blue-1", &blue_dp);
    put("/meshes/default/dataplanes/green-1", &green_dp);
    put("/meshes/default/meshtcproutes/split", &split(90, 10));
    let outbound = free_port();
    let proxy = ProxyProcess::start(meshroute(), &cp, "client", &client(outbound), &[]);
    wait_ready(outbound);
    assert!(eventually(Duration::from_secs(10), || proxy.config().contains("\"weight\": 90")), "90/10 applied");
    let counts = tally(outbound, 600);
    assert_share(&counts, "blue", 90.0);

    put("/meshes/default/meshtcproutes/split", &split(50, 50));
    assert!(eventually(Duration::from_secs(10), || proxy.config().contains("\"weight\": 50")), "50/50 applied");
    assert_share(&tally(outbound, 1000), "blue", 50.0);

    // The proxy's status is visible through the API.
    let (status, xds) = testkit::http::json(api, "GET", "/meshes/default/dataplanes/client-1/_xds", "");
    assert_eq!((status, xds["connected"].as_bool()), (200, Some(true)), "{xds}");
    assert!(xds["acked"].as_object().is_some_and(|a| a.len() >= 3), "{xds}");

    // Diagnostics: ready, and the metrics count the stream, requests, pushes and API calls.
    let (status, _, ready) = testkit::http::request(cp.diagnostics_port, "GET", "/ready", &[], "");
    assert_eq!((status, ready.as_str()), (200, "ready"));
    let (_, _, metrics) = testkit::http::request(cp.diagnostics_port, "GET", "/metrics", &[], "");
    assert!(metrics.contains("xds_streams_active 1"), "{metrics}");
    assert!(metrics.contains("xds_requests_received{type_url=\"type.googleapis.com/envoy.config.cluster.v3.Cluster\",confirmation=\"ACK\"}"), "{metrics}");
    assert!(
        metrics.contains("xds_delivery{type_url=\"type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("api_server_http_request_duration_seconds_count{method=\"PUT\",code=\"201\"} 3"),
        "{metrics}"
    );

    assert!(metrics.contains("store_count{operation=\"update\",resource_type=\"MeshTCPRoute\"} 2"), "{metrics}");
    assert!(metrics.contains("leader 1"), "{metrics}");

    let (status, _) = testkit::http::json(api, "DELETE", "/meshes/default/meshtcproutes/split", "");
    assert_eq!(status, 200);
    assert!(
        eventually(Duration::from_secs(10), || tally(outbound, 10).get("blue") == Some(&10)),
        "default route restored"
    );

    // The proxy registered its Dataplane: the API lists it while it is connected, and not after.
    let listed = |name: &str| dataplane_listed(api, name);
    assert!(eventually(Duration::from_secs(5), || listed("client-1")), "the connected proxy's Dataplane is listed");
    drop(proxy);
    assert!(eventually(Duration::from_secs(10), || !listed("client-1")), "gone with its proxy");
    assert!(listed("blue-1"), "Dataplanes applied through the API stay");
}

/// Each scenario runs twice: resources from files (declarative mode) and through the HTTP API.
macro_rules! from_files_and_through_the_api {
    ($($scenario:ident),* $(,)?) => {
        mod from_files {
            $(#[test] fn $scenario() { super::$scenario(super::Source::Files) })*
        }
        mod through_the_api {
            $(#[test] fn $scenario() { super::$scenario(super::Source::Api) })*
        }
    };
}

from_files_and_through_the_api!(
    without_a_policy_connections_reach_the_destination_and_redirect_moves_them,
    split_90_10_then_live_50_50_sotw,
    split_90_10_then_live_50_50_delta,
    a_backend_without_dataplanes_leaves_the_split_with_a_warning,
    builtin_gateway_tcp_listener_forwards_by_a_meshtcproute_on_the_meshgateway,
    traffic_flows_through_the_destination_sidecar_inbound,
    traffic_shifts_never_drop_established_connections,
);
