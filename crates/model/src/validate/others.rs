//! Checks of the supporting kinds (Mesh, MeshGateway, services, legacy resources) and of resource
//! metadata. These kinds matter to routing as data; the checks catch what would make them unusable.

use crate::common::SERVICE_TAG;
use crate::kind::Scope;
use crate::kinds::gateway::{ListenerProtocol, MeshGatewaySpec, Selector};
use crate::kinds::legacy::{ExternalServiceSpec, TrafficRouteSpec};
use crate::kinds::mesh::MeshSpec;
use crate::kinds::services::{MeshExternalServiceSpec, MeshMultiZoneServiceSpec, MeshServiceSpec, ServicePort};
use crate::path::{FieldPath, Violations};
use crate::resource::Resource;
use crate::validate::charset;
use crate::validate::messages as msg;
use crate::validate::target_ref::{TagValues, validate_tags};

/// Universal metadata checks (spec §2.1 item 3): the name is an RFC 1123 subdomain, the mesh a valid
/// mesh name.
pub fn validate_metadata(resource: &Resource) -> Violations {
    let mut v = Violations::new();
    let name = &resource.meta.name;
    if name.is_empty() {
        v.add(FieldPath::at("name"), msg::CANNOT_BE_EMPTY);
    } else if name.len() > 253 {
        v.add(FieldPath::at("name"), msg::NAME_TOO_LONG);
    } else if !charset::is_rfc1123_subdomain(name) {
        v.add(FieldPath::at("name"), msg::RESOURCE_NAME_CHARSET);
    }
    if resource.kind().descriptor().scope == Scope::Mesh {
        let mesh = &resource.meta.mesh;
        if mesh.is_empty() {
            v.add(FieldPath::at("mesh"), msg::CANNOT_BE_EMPTY);
        } else if !charset::is_mesh_name(mesh) {
            v.add(FieldPath::at("mesh"), msg::MESH_NAME_CHARSET);
        }
    }
    v
}

pub fn validate_mesh(spec: &MeshSpec) -> Violations {
    let mut v = Violations::new();
    if let Some(mtls) = &spec.mtls {
        let names: Vec<&str> = mtls.backends.iter().map(|b| b.name.as_str()).collect();
        if !mtls.enabled_backend.is_empty() && !names.contains(&mtls.enabled_backend.as_str()) {
            v.add(FieldPath::at("mtls").field("enabledBackend"), "has to be set to one of the backends in the mesh");
        }
        for (i, backend) in mtls.backends.iter().enumerate() {
            let path = FieldPath::at("mtls").field("backends").index(i);
            if backend.name.is_empty() {
                v.add(path.field("name"), msg::CANNOT_BE_EMPTY);
            }
            if names.iter().filter(|n| **n == backend.name).count() > 1 {
                v.add(path.field("name"), format!("\"{}\" name is already used for another backend", backend.name));
            }
            if backend.backend_type.is_empty() {
                v.add(path.field("type"), msg::CANNOT_BE_EMPTY);
            }
        }
    }
    v
}

fn validate_selectors(v: &mut Violations, path: &FieldPath, selectors: &[Selector]) {
    if selectors.is_empty() {
        v.add(path.clone(), "must have at least one element");
    }
    for (i, selector) in selectors.iter().enumerate() {
        let match_path = path.index(i).field("match");
        v.extend(validate_tags(&match_path, &selector.match_tags, TagValues::Selector));
        if selector.match_tags.is_empty() {
            v.add(match_path.clone(), "must have at least one tag");
        }
        if !selector.match_tags.contains_key(SERVICE_TAG) {
            v.add(match_path, msg::SERVICE_TAG_MISSING);
        }
    }
}

fn validate_port(v: &mut Violations, path: FieldPath, port: u32) {
    if port == 0 || port > 65535 {
        v.add(path, msg::PORT_RANGE);
    }
}

pub fn validate_mesh_gateway(spec: &MeshGatewaySpec) -> Violations {
    let mut v = Violations::new();
    validate_selectors(&mut v, &FieldPath::at("selectors"), &spec.selectors);
    v.extend(validate_tags(&FieldPath::at("tags"), &spec.tags, TagValues::Plain));
    let conf_path = FieldPath::at("conf");
    let Some(conf) = &spec.conf else {
        v.add(conf_path, msg::CANNOT_BE_EMPTY);
        return v;
    };
    if conf.listeners.is_empty() {
        v.add(conf_path.field("listeners"), "cannot be empty");
    }
    for (i, listener) in conf.listeners.iter().enumerate() {
        let path = conf_path.field("listeners").index(i);
        validate_port(&mut v, path.field("port"), listener.port);
        if listener.protocol == ListenerProtocol::None {
            v.add(path.field("protocol"), "cannot be empty");
        }
        v.extend(validate_tags(&path.field("tags"), &listener.tags, TagValues::Selector));
        let needs_tls = matches!(listener.protocol, ListenerProtocol::Tls | ListenerProtocol::Https);
        if needs_tls && listener.tls.is_none() && !listener.cross_mesh {
            v.add(path.field("tls"), "cannot be empty");
        }
    }
    v
}

fn validate_service_ports(v: &mut Violations, path: &FieldPath, ports: &[ServicePort]) {
    let mut seen = std::collections::HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        validate_port(v, path.index(i).field("port"), port.port);
        if !seen.insert(port.section_name()) {
            v.add(path.index(i).field("name"), "must be unique");
        }
    }
}

pub fn validate_mesh_service(spec: &MeshServiceSpec) -> Violations {
    let mut v = Violations::new();
    validate_service_ports(&mut v, &FieldPath::at("spec").field("ports"), &spec.ports);
    if let Some(tags) = &spec.selector.dataplane_tags {
        v.extend(validate_tags(
            &FieldPath::at("spec").field("selector").field("dataplaneTags"),
            tags,
            TagValues::Plain,
        ));
    }
    v
}

pub fn validate_mesh_external_service(spec: &MeshExternalServiceSpec) -> Violations {
    let mut v = Violations::new();
    let spec_path = FieldPath::at("spec");
    validate_port(&mut v, spec_path.field("match").field("port"), spec.match_.port);
    if !spec.match_.protocol.is_known() {
        v.add(spec_path.field("match").field("protocol"), msg::schema_one_of(&["tcp", "grpc", "http", "http2"]));
    }
    for (i, endpoint) in spec.endpoints.iter().flatten().enumerate() {
        let path = spec_path.field("endpoints").index(i);
        if endpoint.address.is_empty() {
            v.add(path.field("address"), msg::CANNOT_BE_EMPTY);
        }
        validate_port(&mut v, path.field("port"), endpoint.port);
    }
    v
}

pub fn validate_mesh_multi_zone_service(spec: &MeshMultiZoneServiceSpec) -> Violations {
    let mut v = Violations::new();
    let ports_path = FieldPath::at("spec").field("ports");
    if spec.ports.is_empty() {
        v.add(ports_path.clone(), "must not be empty");
    }
    validate_service_ports(&mut v, &ports_path, &spec.ports);
    v
}

pub fn validate_external_service(spec: &ExternalServiceSpec) -> Violations {
    let mut v = Violations::new();
    let tags_path = FieldPath::at("tags");
    v.extend(validate_tags(&tags_path, &spec.tags, TagValues::Plain));
    if !spec.tags.contains_key(SERVICE_TAG) {
        v.add(tags_path, msg::SERVICE_TAG_MISSING);
    }
    let address_path = FieldPath::at("networking").field("address");
    match spec.networking.address.rsplit_once(':') {
        _ if spec.networking.address.is_empty() => v.add(address_path, msg::CANNOT_BE_EMPTY),
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {}
        _ => v.add(address_path, "has to be in the format host:port"),
    }
    v
}

pub fn validate_traffic_route(spec: &TrafficRouteSpec) -> Violations {
    let mut v = Violations::new();
    validate_selectors(&mut v, &FieldPath::at("sources"), &spec.sources);
    validate_selectors(&mut v, &FieldPath::at("destinations"), &spec.destinations);
    if spec.conf.is_none() {
        v.add(FieldPath::at("conf"), msg::CANNOT_BE_EMPTY);
    }
    v
}

/// Secret and GlobalSecret: `data` is required and must be base64 (Kuma keeps it as bytes).
pub fn validate_secret(spec: &crate::kinds::secret::SecretSpec) -> Violations {
    let mut v = Violations::new();
    if spec.data.trim().is_empty() {
        v.add(FieldPath::at("data"), msg::CANNOT_BE_EMPTY);
    } else if spec.bytes().is_none() {
        v.add(FieldPath::at("data"), "must be base64 (standard alphabet, padded)");
    }
    v
}
