//! Policy engine benchmarks; they print figures (run: `cargo bench -p policy --bench plan`).
//!
//! 1. Rules and plan for one proxy hit by 10 / 100 / 1,000 MeshTCPRoutes.
//! 2. Plans for every proxy of a synthetic mesh: 10,000 Dataplanes, 1,000 services, 1,000 MeshTCPRoutes,
//!    20 outbounds per proxy; per-proxy p50 / p99 / max.

use std::fmt::Write;
use std::time::{Duration, Instant};

use model::Resource;
use policy::{MeshSnapshot, PlanOptions, plan_proxy};

/// A small deterministic generator (xorshift64*), so every run plans the same mesh.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

fn parse(text: &str) -> Vec<Resource> {
    model::parse_resources(text).expect("yaml").into_iter().map(|d| d.expect("valid").resource).collect()
}

/// Dataplane `i`: one inbound of service `svc-(i % services)`, a version and an app label, and `outbounds`
/// outbounds to pseudo-random services.
fn dataplane(i: usize, services: usize, outbounds: usize, rng: &mut Rng) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "type: Dataplane\nmesh: default\nname: dp-{i}\nlabels: {{app: app-{}}}\nnetworking:\n  address: 10.{}.{}.{}\n  inbound:\n  - {{port: 8080, tags: {{kuma.io/service: svc-{}, kuma.io/protocol: tcp, version: v{}}}}}\n  outbound:\n",
        i % 50,
        i / 65536,
        (i / 256) % 256,
        i % 256,
        i % services,
        i % 3
    );
    for o in 0..outbounds {
        let _ = writeln!(out, "  - {{port: {}, tags: {{kuma.io/service: svc-{}}}}}", 20000 + o, rng.below(services));
    }
    out.push_str("---\n");
    out
}

/// Route `i` of a mix of top-level kinds, each sending one destination to a 2-way split.
fn route(i: usize, services: usize, rng: &mut Rng) -> String {
    let top = match i % 10 {
        0..=3 => format!("{{kind: MeshService, name: svc-{}}}", rng.below(services)),
        4..=6 => format!("{{kind: MeshSubset, tags: {{version: v{}}}}}", i % 3),
        7 | 8 => "{kind: Mesh}".to_owned(),
        _ => format!("{{kind: Dataplane, labels: {{app: app-{}}}}}", i % 50),
    };
    format!(
        "type: MeshTCPRoute\nmesh: default\nname: route-{i}\nspec:\n  targetRef: {top}\n  to:\n  - targetRef: {{kind: MeshService, name: svc-{}}}\n    rules:\n    - default:\n        backendRefs:\n        - {{kind: MeshService, name: svc-{}, weight: 90}}\n        - {{kind: MeshService, name: svc-{}, weight: 10}}\n---\n",
        rng.below(services),
        rng.below(services),
        rng.below(services)
    )
}

/// The value at `per_mille`/1000 of a sorted, non-empty list.
fn percentile(sorted: &[Duration], per_mille: usize) -> Duration {
    sorted[(sorted.len() - 1) * per_mille / 1000]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// One proxy, every route selecting it (top-level Mesh), each targeting a different destination among
/// its outbounds or elsewhere.
fn bench_one_proxy() {
    println!("== rules and plan for one proxy hit by N MeshTCPRoutes (all select it)");
    let mut previous: Option<Duration> = None;
    for n in [10usize, 100, 1000] {
        let services = n.max(20) + 2;
        let mut rng = Rng(42);
        let mut text = dataplane(0, services, 20, &mut rng);
        for s in 0..services {
            let _ = write!(
                text,
                "type: Dataplane\nmesh: default\nname: backend-{s}\nnetworking:\n  address: 10.200.{}.{}\n  inbound: [{{port: 7000, tags: {{kuma.io/service: svc-{s}, kuma.io/protocol: tcp}}}}]\n---\n",
                s / 256,
                s % 256
            );
        }
        for i in 0..n {
            let _ = write!(
                text,
                "type: MeshTCPRoute\nmesh: default\nname: route-{i}\nspec:\n  targetRef: {{kind: Mesh}}\n  to:\n  - targetRef: {{kind: MeshService, name: svc-{}}}\n    rules: [{{default: {{backendRefs: [{{kind: MeshService, name: svc-{}, weight: 50}}, {{kind: MeshService, name: svc-{}, weight: 50}}]}}}}]\n---\n",
                i % services,
                rng.below(services),
                rng.below(services)
            );
        }
        let snap = MeshSnapshot::build("default", parse(&text));
        // A warm-up, then enough samples that the median is steady from run to run.
        for _ in 0..20 {
            plan_proxy(&snap, "dp-0", PlanOptions::default()).expect("plan");
        }
        let mut times = Vec::new();
        for _ in 0..300 {
            let started = Instant::now();
            let plan = plan_proxy(&snap, "dp-0", PlanOptions::default()).expect("plan");
            times.push(started.elapsed());
            assert_eq!(plan.policies.len(), n);
        }
        times.sort();
        let p50 = percentile(&times, 500);
        let growth = previous
            .map_or(String::new(), |p| format!(", x{:.1} for x10 policies", p50.as_secs_f64() / p.as_secs_f64()));
        println!("  {n:>5} policies: p50 {}  max {}{growth}", ms(p50), ms(*times.last().unwrap_or(&p50)));
        previous = Some(p50);
    }
}

fn bench_mesh() {
    const DATAPLANES: usize = 10_000;
    const SERVICES: usize = 1_000;
    const ROUTES: usize = 1_000;
    println!(
        "== plans for every proxy: {DATAPLANES} Dataplanes, {SERVICES} services, {ROUTES} MeshTCPRoutes, 20 outbounds each"
    );
    let mut rng = Rng(7);
    let mut text = String::new();
    for i in 0..DATAPLANES {
        text.push_str(&dataplane(i, SERVICES, 20, &mut rng));
    }
    for i in 0..ROUTES {
        text.push_str(&route(i, SERVICES, &mut rng));
    }
    let started = Instant::now();
    let resources = parse(&text);
    let parsed = started.elapsed();
    let started = Instant::now();
    let snap = MeshSnapshot::build("default", resources);
    let built = started.elapsed();
    println!("  parse {} resources: {}; snapshot: {}", DATAPLANES + ROUTES, ms(parsed), ms(built));
    let names: Vec<String> = snap.index.dataplanes().map(|d| d.meta.name.clone()).collect();
    let mut times = Vec::with_capacity(names.len());
    let mut matched = 0usize;
    let all = Instant::now();
    for name in &names {
        let started = Instant::now();
        let plan = plan_proxy(&snap, name, PlanOptions::default()).expect("plan");
        times.push(started.elapsed());
        matched += plan.policies.len();
    }
    let total = all.elapsed();
    times.sort();
    println!(
        "  per proxy: p50 {}  p99 {}  max {}; all {} proxies in {} ({} policies matched on average)",
        ms(percentile(&times, 500)),
        ms(percentile(&times, 990)),
        ms(*times.last().unwrap_or(&Duration::ZERO)),
        names.len(),
        ms(total),
        matched / names.len().max(1)
    );
}

/// `cargo bench -p policy --bench plan -- one` (or `mesh`) runs one part.
fn main() {
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if only.as_deref() != Some("mesh") {
        bench_one_proxy();
    }
    if only.as_deref() != Some("one") {
        bench_mesh();
    }
}
