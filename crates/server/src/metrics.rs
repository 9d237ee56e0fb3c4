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

    pub fn request(&self, type_url: &str, confirmation: &'static str) {
        *lock(&self.requests).entry((type_url.to_owned(), confirmation)).or_default() += 1;
    }

    pub fn api_request(&self, method: &str, status: u16, took: Duration) {
        let mut api = lock(&self.api);
        let s = api.entry((method.to_owned(), status)).or_default();
        s.count += 1;
        s.sum += took.as_secs_f64();
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
        out
    }
}
