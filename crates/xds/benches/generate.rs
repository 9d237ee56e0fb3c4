//! Envoy generation benchmark; prints figures (run: `cargo bench -p xds --bench generate`).
//! One proxy with 20 outbounds, each split 90/10 between two services of 10 endpoints.

use std::fmt::Write;
use std::time::{Duration, Instant};

use policy::{MeshSnapshot, PlanOptions, plan_proxy};
use xds::generate;

fn mesh(endpoints: usize) -> String {
    let mut text = String::from(
        "type: Dataplane\nmesh: default\nname: client\nnetworking:\n  address: 10.0.0.1\n  inbound: [{port: 8080, tags: {kuma.io/service: client}}]\n  outbound:\n",
    );
    for o in 0..20 {
        let _ = writeln!(text, "  - {{port: {}, tags: {{kuma.io/service: svc-{o}}}}}", 20000 + o);
    }
    for s in 0..40 {
        for e in 0..endpoints {
            let _ = write!(
                text,
                "---\ntype: Dataplane\nmesh: default\nname: svc-{s}-{e}\nnetworking:\n  address: 10.1.{s}.{e}\n  inbound: [{{port: 7000, tags: {{kuma.io/service: svc-{s}, kuma.io/protocol: tcp, version: v{}}}}}]\n",
                e % 2
            );
        }
    }
    for o in 0..20 {
        let _ = write!(
            text,
            "---\ntype: MeshTCPRoute\nmesh: default\nname: route-{o}\nspec:\n  to:\n  - targetRef: {{kind: MeshService, name: svc-{o}}}\n    rules: [{{default: {{backendRefs: [{{kind: MeshService, name: svc-{o}, weight: 90}}, {{kind: MeshService, name: svc-{}, weight: 10}}]}}}}]\n",
            o + 20
        );
    }
    text
}

fn percentile(sorted: &[Duration], per_mille: usize) -> Duration {
    sorted[(sorted.len() - 1) * per_mille / 1000]
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| format!("{:.3} ms", d.as_secs_f64() * 1000.0);
    println!(
        "  {what}: p50 {}  p99 {}  max {}",
        ms(percentile(&times, 500)),
        ms(percentile(&times, 990)),
        ms(times[times.len() - 1])
    );
}

fn scenario(endpoints: usize) {
    let resources: Vec<model::Resource> = model::parse_resources(&mesh(endpoints))
        .expect("yaml")
        .into_iter()
        .map(|d| d.expect("valid").resource)
        .collect();
    let snap = MeshSnapshot::build("default", resources);
    let plan = plan_proxy(&snap, "client", PlanOptions::default()).expect("plan");
    let set = generate(&plan).expect("generate");
    println!(
        "== one proxy, 20 outbounds split 90/10, {endpoints} endpoints per service: {} listeners, {} clusters, {} endpoint sets, {} bytes",
        set.listeners.len(),
        set.clusters.len(),
        set.endpoints.len(),
        set.listeners.iter().chain(&set.clusters).chain(&set.endpoints).map(|r| r.body.len()).sum::<usize>()
    );
    let mut generate_times = Vec::new();
    let mut both = Vec::new();
    for _ in 0..2000 {
        let started = Instant::now();
        let plan = plan_proxy(&snap, "client", PlanOptions::default()).expect("plan");
        let planned = started.elapsed();
        let started = Instant::now();
        let set = generate(&plan).expect("generate");
        let generated = started.elapsed();
        assert!(!set.listeners.is_empty());
        generate_times.push(generated);
        both.push(planned + generated);
    }
    report("generate + encode (canonical bytes, versions)", generate_times);
    report("plan + generate + encode", both);
    // In the server, clusters and endpoints are encoded once per snapshot and shared by every proxy that
    // sends to them; listeners are per proxy.
    let shared = xds::SharedResources::new();
    let _ = xds::generate_shared(&plan, Some(&shared)).expect("warm");
    let mut times = Vec::new();
    for _ in 0..2000 {
        let started = Instant::now();
        let plan = plan_proxy(&snap, "client", PlanOptions::default()).expect("plan");
        let set = xds::generate_shared(&plan, Some(&shared)).expect("generate");
        times.push(started.elapsed());
        assert_eq!(set.clusters.len(), 41);
    }
    report("plan + generate + encode, clusters shared with other proxies", times);
}

fn main() {
    scenario(2);
    scenario(10);
}
