//! HTTP requests to an API on 127.0.0.1 for tests, through the CLI's own client.

use std::time::Duration;

/// Sends a request to 127.0.0.1:`port`; returns the status, the headers (lower-case names) and the body.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let r = support::client::request("127.0.0.1", port, method, path, headers, body, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    (r.status, r.headers, r.body)
}

/// A request whose body is JSON, parsed.
pub fn json(port: u16, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let (status, _, text) = request(port, method, path, &[], body);
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}
