//! API latency on each store, and how long a change takes to reach another control plane on the same
//! PostgreSQL; prints figures (run: `scripts/with-postgres cargo bench -p server --bench stores`, which
//! starts a throwaway PostgreSQL unless `MESHROUTE_TEST_POSTGRES_URL` names a server).
//!
//! - API: a real HTTP API in this process over SQLite (a temp file) and over PostgreSQL (a fresh schema);
//!   400 PUTs that update one MeshTCPRoute, then 400 GETs of it, one at a time over loopback.
//! - A big store: 10,000 Dataplanes; the first full load, then 50 MeshTCPRoute writes, each timed until the
//!   control plane serves it (the change feed makes it read back only that resource).
//! - Between instances: two stores and control planes on one schema. 200 times, a MeshTCPRoute is
//!   written through A; the time until B's control plane wakes the proxy the route applies to (A's commit,
//!   NOTIFY, B's reload and replan decision) is recorded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use server::ControlPlane;
use store::{Expect, PostgresStore, SqliteStore, Store};

const CALLS: usize = 400;
const CHANGES: usize = 200;

fn route(weight: u32) -> String {
    format!(
        r#"{{"type":"MeshTCPRoute","name":"canary","mesh":"default","spec":{{"to":[{{"targetRef":{{"kind":"MeshService","name":"backend"}},"rules":[{{"default":{{"backendRefs":[{{"kind":"MeshService","name":"v1","weight":{weight}}},{{"kind":"MeshService","name":"v2","weight":{}}}]}}}}]}}]}}}}"#,
        100 - weight
    )
}

fn parse(json: &str) -> model::Resource {
    model::parse_resources(json).expect("parses").remove(0).expect("valid").resource
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    // Nearest rank, in whole per-mille to stay in integers.
    let at = |per_mille: usize| samples[(samples.len() - 1) * per_mille / 1000].as_secs_f64() * 1000.0;
    format!("p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (n = {})", at(500), at(990), at(1000), samples.len())
}

/// Serves the API over `store` in the runtime; returns its port.
fn serve_api(runtime: &tokio::runtime::Runtime, store: Arc<dyn Store>) -> u16 {
    let control = ControlPlane::new();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let port = listener.local_addr().expect("address").port();
    runtime.block_on(async {
        let leader = server::leader::Leader::alone(store.clone(), control.clone(), "bench".into());
        leader.tick().await.expect("default mesh");
    });
    runtime.spawn(server::reconcile::run(store.clone(), control.clone()));
    runtime.spawn(server::serve_api(server::api::Api::new(store, control), listener, std::future::pending()));
    port
}

fn api_latency(name: &str, port: u16) {
    let call = |method: &str, body: &str| {
        let started = Instant::now();
        let response = support::client::request(
            "127.0.0.1",
            port,
            method,
            "/meshes/default/meshtcproutes/canary",
            &[],
            body,
            Duration::from_secs(5),
        )
        .expect("answers");
        assert!(response.status < 300, "{method}: {} {}", response.status, response.body);
        started.elapsed()
    };
    let writes: Vec<Duration> = (0..CALLS).map(|i| call("PUT", &route(u32::try_from(i % 100).unwrap_or(0)))).collect();
    let reads: Vec<Duration> = (0..CALLS).map(|_| call("GET", "")).collect();
    println!("{name:>8}  API write (PUT, update): {}", percentiles(writes));
    println!("{name:>8}  API read  (GET):         {}", percentiles(reads));
}

/// Seeds 10,000 Dataplanes, times the first load and then writes until they are served.
fn big_store(runtime: &tokio::runtime::Runtime, name: &str, store: &Arc<dyn Store>) {
    const DATAPLANES: usize = 10_000;
    runtime.block_on(async {
        store.put(parse(r#"{"type":"Mesh","name":"default"}"#), Expect::Any).await.expect("mesh");
        for i in 0..DATAPLANES {
            let dp = format!(
                r#"{{"type":"Dataplane","mesh":"default","name":"dp-{i}","networking":{{"address":"10.0.{}.{}","inbound":[{{"port":7000,"tags":{{"kuma.io/service":"svc-{}"}}}}]}}}}"#,
                i / 250,
                i % 250,
                i % 1000
            );
            store.put(parse(&dp), Expect::Any).await.expect("dataplane");
        }
    });
    let control = ControlPlane::new();
    let started = Instant::now();
    runtime.spawn(server::reconcile::run(store.clone(), control.clone()));
    while !control.is_ready() {
        std::thread::sleep(Duration::from_millis(5));
    }
    println!("{name:>8}  first load of {DATAPLANES} Dataplanes: {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
    let mut samples = Vec::new();
    for i in 0..50u32 {
        let resource = parse(&route(i + 1));
        let started = Instant::now();
        runtime.block_on(store.put(resource, Expect::Any)).expect("write");
        let weight = |r: &model::Resource| serde_json::to_string(&model::to_universal(r)).unwrap_or_default();
        let wanted = format!("\"weight\":{}", i + 1);
        while !control
            .served(model::Kind::MeshTcpRoute, "default", "canary")
            .is_some_and(|r| weight(&r).contains(&wanted))
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        samples.push(started.elapsed());
    }
    println!("{name:>8}  a write until served, with {DATAPLANES} Dataplanes stored: {}", percentiles(samples));
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    println!("API latency, one request at a time over loopback:");
    let dir = std::env::temp_dir().join(format!("meshroute-bench-stores-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sqlite: Arc<dyn Store> =
        Arc::new(runtime.block_on(SqliteStore::open(&dir.join("meshroute.db"))).expect("sqlite"));
    api_latency("sqlite", serve_api(&runtime, sqlite));

    let schema = testkit::postgres::Schema::new("bench");
    let url = testkit::postgres::url();
    let postgres: Arc<dyn Store> = Arc::new(
        runtime.block_on(PostgresStore::open(&url, &schema.0, "bench")).expect(testkit::postgres::UNREACHABLE),
    );
    api_latency("postgres", serve_api(&runtime, postgres));

    println!("A big store:");
    let big_dir = dir.join("big");
    std::fs::create_dir_all(&big_dir).expect("dir");
    let sqlite_big: Arc<dyn Store> =
        Arc::new(runtime.block_on(SqliteStore::open(&big_dir.join("meshroute.db"))).expect("sqlite"));
    big_store(&runtime, "sqlite", &sqlite_big);
    let big_schema = testkit::postgres::Schema::new("bench_big");
    let postgres_big: Arc<dyn Store> =
        Arc::new(runtime.block_on(PostgresStore::open(&url, &big_schema.0, "big")).expect("postgres"));
    big_store(&runtime, "postgres", &postgres_big);

    // Between instances.
    let cross = testkit::postgres::Schema::new("bench_cross");
    let (a, b) = runtime.block_on(async {
        let a = PostgresStore::open(&url, &cross.0, "a").await.expect("a");
        let b = PostgresStore::open(&url, &cross.0, "b").await.expect("b");
        (Arc::new(a) as Arc<dyn Store>, Arc::new(b) as Arc<dyn Store>)
    });
    let control_b = ControlPlane::new();
    let setup = [
        r#"{"type":"Mesh","name":"default"}"#.to_owned(),
        r#"{"type":"Dataplane","mesh":"default","name":"web","networking":{"address":"127.0.0.1","inbound":[{"port":7000,"tags":{"kuma.io/service":"web"}}],"outbound":[{"port":7100,"tags":{"kuma.io/service":"backend"}}]}}"#.to_owned(),
        route(50),
    ];
    runtime.block_on(async {
        for json in &setup {
            a.put(parse(json), Expect::Any).await.expect("setup");
        }
    });
    runtime.spawn(server::reconcile::run(b.clone(), control_b.clone()));
    let mut woken = control_b.subscribe_proxy(&server::proxy_id::ProxyId::new("default", "web"));
    std::thread::sleep(Duration::from_millis(500));
    woken.borrow_and_update();
    let mut samples = Vec::new();
    for i in 0..CHANGES {
        let resource = parse(&route(u32::try_from(i % 99).unwrap_or(0) + 1));
        let started = Instant::now();
        runtime.block_on(async {
            a.put(resource, Expect::Any).await.expect("write through A");
            tokio::time::timeout(Duration::from_secs(5), woken.changed()).await.expect("B in time").expect("open");
        });
        samples.push(started.elapsed());
        woken.borrow_and_update();
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("change written through A → B's control plane replans the proxy: {}", percentiles(samples));
    let _ = std::fs::remove_dir_all(&dir);
}
