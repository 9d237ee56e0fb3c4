//! Dataplane checks (Kuma's `dataplane_validator.go`; control-plane-api.md §3.3), with its paths and
//! messages.

use std::net::IpAddr;

use crate::common::{PROTOCOL_TAG, SERVICE_TAG, Tags};
use crate::kinds::dataplane::{DataplaneSpec, Gateway, Inbound, Networking, Outbound, ProxyRole};
use crate::path::{FieldPath, Violations};
use crate::validate::messages as msg;
use crate::validate::target_ref::{TagValues, validate_tags};

/// Protocols an inbound may declare in `kuma.io/protocol`.
const SUPPORTED_PROTOCOLS: [&str; 7] = ["http", "http2", "tcp", "tls", "grpc", "kafka", "mysql"];
const BACKEND_REF_KINDS: &str = "MeshExternalService,MeshMultiZoneService,MeshService";

pub fn validate_dataplane(spec: &DataplaneSpec) -> Violations {
    let mut v = Violations::new();
    let net_path = FieldPath::at("networking");
    let Some(net) = &spec.networking else {
        v.add(net_path, msg::MUST_BE_DEFINED);
        return v;
    };
    if let Some(admin) = &net.admin {
        let port_path = net_path.field("admin").field("port");
        if net.inbound.iter().any(|i| i.port == admin.port) {
            v.add(port_path.clone(), "must differ from inbound");
        }
        if net.outbound.iter().any(|o| o.port == admin.port && o.listen_address() == "127.0.0.1") {
            v.add(port_path, "must differ from outbound");
        }
    }
    match spec.role() {
        ProxyRole::DelegatedGateway | ProxyRole::BuiltinGateway => {
            let builtin = spec.role() == ProxyRole::BuiltinGateway;
            let what = if builtin { "builtin gateways" } else { "delegated gateways" };
            if !net.inbound.is_empty() {
                v.add(net_path.field("inbound"), format!("inbound cannot be defined for {what}"));
            }
            if builtin && !net.outbound.is_empty() {
                v.add(net_path.field("outbound"), "outbound cannot be defined for builtin gateways");
            }
            if builtin && spec.probes.is_some() {
                v.add(net_path.field("probes"), "probes cannot be defined for builtin gateways");
            }
            if let Some(gateway) = &net.gateway {
                v.extend(validate_gateway(&net_path.field("gateway"), gateway));
            }
        }
        ProxyRole::Sidecar => {
            if net.inbound.is_empty() {
                v.add(net_path.clone(), "has to contain at least one inbound interface or gateway");
            }
        }
    }
    v.extend(validate_networking(&net_path, net));
    v
}

fn validate_networking(path: &FieldPath, net: &Networking) -> Violations {
    let mut v = Violations::new();
    let address_path = path.field("address");
    if net.address.is_empty() {
        v.add(address_path, "address can't be empty");
    } else {
        if net.address == "0.0.0.0" || net.address == "::" {
            v.add(address_path.clone(), "must not be 0.0.0.0 or ::");
        }
        if net.address.parse::<IpAddr>().is_err() && !is_dns_name(&net.address) {
            v.add(address_path, "address has to be valid IP address or domain name");
        }
    }
    for (i, inbound) in net.inbound.iter().enumerate() {
        let in_path = path.field("inbound").index(i);
        v.extend(validate_inbound(&in_path, inbound, &net.address));
        if !inbound.tags.contains_key(SERVICE_TAG) {
            v.add(in_path.field("tags").key(SERVICE_TAG), "tag has to exist");
        }
    }
    for (i, outbound) in net.outbound.iter().enumerate() {
        v.extend(validate_outbound(&path.field("outbound").index(i), outbound));
    }
    v
}

fn validate_port(v: &mut Violations, path: FieldPath, port: u32) {
    if port == 0 || port > 65535 {
        v.add(path, msg::PORT_RANGE);
    }
}

fn validate_inbound(path: &FieldPath, inbound: &Inbound, dp_address: &str) -> Violations {
    let mut v = Violations::new();
    validate_port(&mut v, path.field("port"), inbound.port);
    if let Some(sp) = inbound.service_port.filter(|p| *p != 0) {
        validate_port(&mut v, path.field("servicePort"), sp);
    }
    let same_port = inbound.service_port.is_none_or(|sp| sp == 0 || sp == inbound.port);
    let service_address = inbound.service_address.as_deref().unwrap_or("");
    if !service_address.is_empty() {
        if service_address.parse::<IpAddr>().is_err() {
            v.add(path.field("serviceAddress"), "serviceAddress has to be valid IP address");
        }
        if service_address == dp_address && same_port {
            v.add(path.field("serviceAddress"), "serviceAddress and servicePort has to differ from address and port");
        }
    }
    if let Some(address) = inbound.address.as_deref().filter(|a| !a.is_empty()) {
        if address.parse::<IpAddr>().is_err() {
            v.add(path.field("address"), "address has to be valid IP address");
        }
        if address == service_address && same_port {
            v.add(path.field("serviceAddress"), "serviceAddress and servicePort has to differ from address and port");
        }
    }
    let tags_path = path.field("tags");
    if let Some(protocol) = inbound.tags.get(PROTOCOL_TAG)
        && !SUPPORTED_PROTOCOLS.contains(&protocol.to_ascii_lowercase().as_str())
    {
        v.add(
            tags_path.key(PROTOCOL_TAG),
            format!(
                "tag \"{PROTOCOL_TAG}\" has an invalid value \"{protocol}\". Allowed values: grpc, http, http2, kafka, tcp"
            ),
        );
    }
    v.extend(validate_tags(&tags_path, &inbound.tags, TagValues::Plain));
    v
}

fn validate_outbound(path: &FieldPath, outbound: &Outbound) -> Violations {
    let mut v = Violations::new();
    validate_port(&mut v, path.field("port"), outbound.port);
    if outbound.address.as_deref().is_some_and(|a| !a.is_empty() && a.parse::<IpAddr>().is_err()) {
        v.add(path.field("address"), "address has to be valid IP address");
    }
    let tags = outbound.tags.as_ref().filter(|t| !t.is_empty());
    let service = outbound.service.as_deref().filter(|s| !s.is_empty());
    if let Some(backend) = &outbound.backend_ref {
        let ref_path = path.field("backendRef");
        if !BACKEND_REF_KINDS.split(',').any(|k| k == backend.kind) {
            v.add(ref_path.field("kind"), format!("invalid value. Available values are: {BACKEND_REF_KINDS}"));
        }
        if backend.name.is_empty() && backend.labels.as_ref().is_none_or(Tags::is_empty) {
            v.add(ref_path.clone(), "either 'name' or 'labels' should be specified");
        }
        if backend.kind != "MeshExternalService" {
            validate_port(&mut v, ref_path.field("port"), backend.port);
        }
        if tags.is_some() || service.is_some() {
            v.add(ref_path, "both backendRef and tags/service cannot be defined");
        }
    } else if let Some(tags) = tags {
        let tags_path = path.field("tags");
        v.extend(validate_tags(&tags_path, tags, TagValues::Plain));
        if !tags.contains_key(SERVICE_TAG) {
            v.add(tags_path, msg::SERVICE_TAG_MISSING);
        }
    } else if service.is_none() {
        v.add(path.field("tags"), msg::SERVICE_TAG_MISSING);
    }
    v
}

fn validate_gateway(path: &FieldPath, gateway: &Gateway) -> Violations {
    let tags_path = path.field("tags");
    let mut v = Violations::new();
    if let Some(protocol) = gateway.tags.get(PROTOCOL_TAG)
        && !protocol.eq_ignore_ascii_case("tcp")
    {
        v.add(
            tags_path.key(PROTOCOL_TAG),
            format!("other values than tcp are not allowed, provided value \"{protocol}\""),
        );
    }
    v.extend(validate_tags(&tags_path, &gateway.tags, TagValues::Plain));
    if !gateway.tags.contains_key(SERVICE_TAG) {
        v.add(tags_path, msg::SERVICE_TAG_MISSING);
    }
    v
}

/// A DNS name as govalidator accepts it: dot-separated labels of letters, digits, `_` and `-`.
fn is_dns_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}
