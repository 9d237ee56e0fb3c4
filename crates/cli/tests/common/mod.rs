//! What the end-to-end test binaries share: the client proxy's Dataplane, waiting for an outbound, and
//! whether the API lists a Dataplane.

#![allow(dead_code)] // each test binary uses its part

use std::time::Duration;

use testkit::processes::{eventually, free_port, tally};

/// The client proxy: an inbound of its own and an outbound to `blue` on `outbound`.
pub fn client(outbound: u16) -> String {
    format!(
        "type: Dataplane\nmesh: default\nname: client-1\nnetworking:\n  address: 127.0.0.1\n  inbound: [{{port: {}, servicePort: {}, tags: {{kuma.io/service: client}}}}]\n  outbound: [{{port: {outbound}, tags: {{kuma.io/service: blue}}}}]\n",
        free_port(),
        free_port()
    )
}

/// Waits until the outbound answers at all (Envoy has its config).
pub fn wait_ready(port: u16) {
    assert!(
        eventually(Duration::from_secs(30), || tally(port, 1).keys().all(|k| k != "<none>")),
        "the outbound on {port} never answered"
    );
}

/// Whether the API on `api` lists Dataplane `name` in mesh default.
pub fn dataplane_listed(api: u16, name: &str) -> bool {
    let (_, list) = testkit::http::json(api, "GET", "/meshes/default/dataplanes", "");
    list["items"].as_array().is_some_and(|items| items.iter().any(|i| i["name"] == name))
}
