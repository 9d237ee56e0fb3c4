//! Every name the plan gives to an Envoy resource, made in one place: cluster names (with the hashed
//! subset suffix), legacy destination names of real resources, listener names, stat prefixes and SNIs.

use std::fmt::Write;

use model::Tags;
use sha2::{Digest, Sha256};

/// The cluster of a legacy service subset (spec Appendix E): the service name when the tags name only
/// the service and there are no extra tags; otherwise `<service>-<16 hex of sha256(k v k v … extra…)>`.
pub fn subset_cluster_name(service: &str, tags: &Tags, extra: &Tags) -> String {
    let only_service = tags.len() == 1 && tags.contains_key(model::common::SERVICE_TAG);
    if only_service && extra.is_empty() {
        return service.to_owned();
    }
    let mut hasher = Sha256::new();
    for (k, v) in tags.iter().chain(extra.iter()) {
        hasher.update(k.as_bytes());
        hasher.update(v.as_bytes());
    }
    let digest = hasher.finalize();
    let mut name = format!("{service}-");
    for byte in &digest[..8] {
        let _ = write!(name, "{byte:02x}");
    }
    name
}

/// `<mesh>_<name>_<namespace>_<zone>_<shortType>_<port>`: how a real resource port is named where a
/// legacy service name is expected.
pub fn legacy_destination_name(mesh: &str, name: &str, namespace: &str, zone: &str, short: &str, port: u32) -> String {
    format!("{mesh}_{name}_{namespace}_{zone}_{short}_{port}")
}

/// The legacy destination name of a port of a real resource.
pub fn real_destination_name(resource: &model::Resource, port: u32) -> String {
    legacy_destination_name(
        &resource.meta.mesh,
        resource.display_name(),
        resource.namespace(),
        resource.zone(),
        resource.kind().descriptor().short_name,
        port,
    )
}

/// `host:port`, with IPv6 addresses bracketed.
pub fn host_port(address: &str, port: u32) -> String {
    if address.contains(':') { format!("[{address}]:{port}") } else { format!("{address}:{port}") }
}

/// `outbound:<address>:<port>`.
pub fn outbound_listener_name(address: &str, port: u32) -> String {
    format!("outbound:{}", host_port(address, port))
}

/// `inbound:<address>:<port>`.
pub fn inbound_listener_name(address: &str, port: u32) -> String {
    format!("inbound:{}", host_port(address, port))
}

/// `<gateway>:<TCP|TLS>:<port>`.
pub fn gateway_listener_name(gateway: &str, protocol: &str, port: u32) -> String {
    format!("{gateway}:{protocol}:{port}")
}

/// Replaces every character outside `[a-zA-Z0-9_-]` with `_`.
pub fn sanitize_stat_prefix(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

/// The SNI of a real resource port: `a<fnv64a hex of "<name>;<mesh>;">.<name>.<port>.<mesh>.<suffix>`,
/// where a name or mesh of 63 characters or more is cut to 62 plus `x`.
pub fn real_resource_sni(name: &str, mesh: &str, port: u32, suffix: &str) -> String {
    let hash = fnv64a(format!("{name};{mesh};").as_bytes());
    format!("a{hash:016x}.{}.{port}.{}.{suffix}", cut_label(name), cut_label(mesh))
}

fn cut_label(s: &str) -> String {
    if s.len() >= 63 { format!("{}x", &s[..62]) } else { s.to_owned() }
}

fn fnv64a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn appendix_e_vectors() {
        let none = Tags::new();
        assert_eq!(subset_cluster_name("backend", &tags(&[("kuma.io/service", "backend")]), &none), "backend");
        let eu = tags(&[("kuma.io/service", "backend"), ("region", "eu")]);
        assert_eq!(subset_cluster_name("backend", &eu, &none), "backend-bb38a94289f18fb9");
        let us = tags(&[("kuma.io/service", "backend"), ("region", "us")]);
        assert_eq!(subset_cluster_name("backend", &us, &none), "backend-c72efb5be46fae6b");
        let listener = tags(&[("kuma.io/service", "sample-gateway")]);
        let plain = tags(&[("kuma.io/service", "backend")]);
        assert_eq!(subset_cluster_name("backend", &plain, &listener), "backend-26cb64fa4e85e7b7");
        assert_eq!(legacy_destination_name("default", "backend", "", "", "msvc", 80), "default_backend___msvc_80");
        assert_eq!(real_resource_sni("example", "default", 9090, "mes"), "afce62f771ed74b78.example.9090.default.mes");
        assert_eq!(format!("{:016x}", fnv64a(b"example2;default;")), "0ac70962fd61fdc0");
        assert_eq!(sanitize_stat_prefix("default_backend___msvc_80"), "default_backend___msvc_80");
        assert_eq!(sanitize_stat_prefix("a.b/c:d"), "a_b_c_d");
        assert_eq!(outbound_listener_name("::1", 80), "outbound:[::1]:80");
    }
}
