//! Prometheus metrics with Kuma's names where they exist (control-plane-api.md §4.4), counted with plain
//! atomics and rendered in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// A count and a sum, exposed as a Prometheus summary without quantiles.
#[derive(Default)]
struct Summary {
    count: u64,
    sum: f64,
}

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 11] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// A Prometheus histogram: cumulative bucket counts are made when rendering.
#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(self.buckets) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}\n{name}_count{{{labels}}} {}", self.sum, self.count);
    }
}

#[derive(Default)]
pub struct Metrics {
    streams_active: AtomicI64,
    /// Proxy resource sets computed (plan + generate).
    regenerations: AtomicU64,
    /// Responses sent, by type URL.
    pushes: Mutex<BTreeMap<String, u64>>,
    /// Requests received, by (type URL, ACK|NACK|request).
    requests: Mutex<BTreeMap<(String, &'static str), u64>>,
    generation: Mutex<Summary>,
    api: Mutex<BTreeMap<(String, u16), Summary>>,
    /// Store latency by (operation, resource type).
    store: Mutex<BTreeMap<(&'static str, &'static str), Histogram>>,
    store_conflicts: Mutex<BTreeMap<&'static str, u64>>,
    /// Proxies refused at `/bootstrap` or ADS, by fixed reason.
    auth_failures: Mutex<BTreeMap<&'static str, u64>>,
    /// 1 while this instance holds the leader lease.
    leader: AtomicI64,
    /// 0 while the store cannot be read (the last good resources are served).
    store_unavailable: std::sync::atomic::AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    pub fn stream_opened(&self) {
        self.streams_active.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stream_closed(&self) {
        self.streams_active.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn regenerated(&self, took: Duration) {
        self.regenerations.fetch_add(1, Ordering::Relaxed);
        let mut s = lock(&self.generation);
        s.count += 1;
        s.sum += took.as_secs_f64();
    }

    pub fn pushed(&self, type_url: &str) {
        *lock(&self.pushes).entry(type_url.to_owned()).or_default() += 1;
    }

    /// A request on an ADS stream. A type URL meshroute does not serve counts as `other`: the label
    /// set stays bounded whatever a client sends.
    pub fn request(&self, type_url: &str, confirmation: &'static str) {
        let type_url = xds::ALL_TYPES.iter().find(|t| **t == type_url).copied().unwrap_or("other");
        *lock(&self.requests).entry((type_url.to_owned(), confirmation)).or_default() += 1;
    }

    /// An API request. Methods beyond the standard ones count as `OTHER` (a client may send any token).
    pub fn api_request(&self, method: &str, status: u16, took: Duration) {
        const KNOWN: [&str; 7] = ["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"];
        let method = KNOWN.iter().find(|m| **m == method).copied().unwrap_or("OTHER");
        let mut api = lock(&self.api);
        let s = api.entry((method.to_owned(), status)).or_default();
        s.count += 1;
        s.sum += took.as_secs_f64();
    }

    pub fn store_operation(&self, operation: &'static str, resource_type: &'static str, took: Duration) {
        lock(&self.store).entry((operation, resource_type)).or_default().observe(took.as_secs_f64());
    }

    pub fn store_conflict(&self, resource_type: &'static str) {
        *lock(&self.store_conflicts).entry(resource_type).or_default() += 1;
    }

    pub fn auth_failure(&self, reason: &'static str) {
        *lock(&self.auth_failures).entry(reason).or_default() += 1;
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.store(i64::from(leader), Ordering::Relaxed);
    }

    pub fn set_store_available(&self, available: bool) {
        self.store_unavailable.store(!available, Ordering::Relaxed);
    }

    pub fn store_available(&self) -> bool {
        !self.store_unavailable.load(Ordering::Relaxed)
    }

    pub fn regenerations_total(&self) -> u64 {
        self.regenerations.load(Ordering::Relaxed)
    }

    pub fn pushes_total(&self) -> u64 {
        lock(&self.pushes).values().sum()
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# TYPE xds_streams_active gauge\nxds_streams_active {}",
            self.streams_active.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# TYPE meshroute_regenerations_total counter\nmeshroute_regenerations_total {}",
            self.regenerations.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# TYPE xds_generation summary");
        {
            let g = lock(&self.generation);
            let _ = writeln!(out, "xds_generation_count {}\nxds_generation_sum {}", g.count, g.sum);
        }
        let _ = writeln!(out, "# TYPE xds_delivery counter");
        for (type_url, n) in lock(&self.pushes).iter() {
            let _ = writeln!(out, "xds_delivery{{type_url=\"{type_url}\"}} {n}");
        }
        let _ = writeln!(out, "# TYPE xds_requests_received counter");
        for ((type_url, confirmation), n) in lock(&self.requests).iter() {
            let _ =
                writeln!(out, "xds_requests_received{{type_url=\"{type_url}\",confirmation=\"{confirmation}\"}} {n}");
        }
        let _ = writeln!(out, "# TYPE api_server_http_request_duration_seconds summary");
        for ((method, code), s) in lock(&self.api).iter() {
            let labels = format!("method=\"{method}\",code=\"{code}\"");
            let _ = writeln!(out, "api_server_http_request_duration_seconds_count{{{labels}}} {}", s.count);
            let _ = writeln!(out, "api_server_http_request_duration_seconds_sum{{{labels}}} {}", s.sum);
        }
        let _ = writeln!(out, "# TYPE store histogram");
        for ((operation, resource_type), h) in lock(&self.store).iter() {
            h.render(&mut out, "store", &format!("operation=\"{operation}\",resource_type=\"{resource_type}\""));
        }
        let _ = writeln!(out, "# TYPE store_conflicts counter");
        for (resource_type, n) in lock(&self.store_conflicts).iter() {
            let _ = writeln!(out, "store_conflicts{{resource_type=\"{resource_type}\"}} {n}");
        }
        let _ = writeln!(out, "# TYPE dp_server_auth_failures counter");
        for (reason, n) in lock(&self.auth_failures).iter() {
            let _ = writeln!(out, "dp_server_auth_failures{{reason=\"{reason}\"}} {n}");
        }
        let _ = writeln!(out, "# TYPE leader gauge\nleader {}", self.leader.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "# TYPE meshroute_store_available gauge\nmeshroute_store_available {}",
            i32::from(self.store_available())
        );
        out
    }
}
