//! Dataplane (Kuma `api/mesh/v1alpha1/dataplane.proto`), in its protojson form: a sidecar with inbounds and
//! outbounds, a builtin gateway or a delegated gateway.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Tags, opt_string_map, string_map};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataplaneSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networking: Option<Networking>,
    /// Metrics and probes are kept as written; nothing here reads them yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Networking {
    #[serde(default)]
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertised_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Gateway>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inbound: Vec<Inbound>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbound: Vec<Outbound>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "transparent_proxying")]
    pub transparent_proxying: Option<TransparentProxying>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<EnvoyAdmin>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Inbound {
    #[serde(default)]
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, deserialize_with = "string_map")]
    pub tags: Tags,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_probe: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<InboundState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A text field as Kuma's proto3 form reads it: empty is the same as absent.
fn present(field: Option<&String>) -> Option<&str> {
    field.map(String::as_str).filter(|s| !s.is_empty())
}

impl Inbound {
    /// The address the inbound listens on: its own, else the Dataplane's.
    pub fn listen_address<'a>(&'a self, networking: &'a Networking) -> &'a str {
        present(self.address.as_ref()).unwrap_or(&networking.address)
    }

    /// Where the application listens: `serviceAddress`, else 127.0.0.1.
    pub fn service_address(&self) -> &str {
        present(self.service_address.as_ref()).unwrap_or("127.0.0.1")
    }

    /// `servicePort`, else the inbound's port.
    pub fn service_port(&self) -> u32 {
        self.service_port.filter(|p| *p != 0).unwrap_or(self.port)
    }

    /// The address other proxies reach this inbound at: its own, else the Dataplane's advertised
    /// address, else its address.
    pub fn reachable_address<'a>(&'a self, networking: &'a Networking) -> &'a str {
        present(self.address.as_ref())
            .or_else(|| present(networking.advertised_address.as_ref()))
            .unwrap_or(&networking.address)
    }
}

impl Outbound {
    /// The address the outbound listens on: its own, else 127.0.0.1.
    pub fn listen_address(&self) -> &str {
        present(self.address.as_ref()).unwrap_or("127.0.0.1")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum InboundState {
    Ready,
    NotReady,
    Ignored,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Health {
    #[serde(default)]
    pub ready: bool,
}

/// An outbound: the legacy form names a service by tags, the new form a real resource by `backendRef`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Outbound {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default)]
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_string_map")]
    #[schemars(with = "Option<Tags>")]
    pub tags: Option<Tags>,
    /// Deprecated spelling of `tags: {kuma.io/service: ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_ref: Option<OutboundBackendRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutboundBackendRef {
    #[serde(default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default)]
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_string_map")]
    #[schemars(with = "Option<Tags>")]
    pub labels: Option<Tags>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum GatewayType {
    #[default]
    Delegated,
    Builtin,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gateway {
    #[serde(default, deserialize_with = "string_map")]
    pub tags: Tags,
    #[serde(rename = "type", default)]
    pub gateway_type: GatewayType,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransparentProxying {
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "redirect_port_inbound")]
    pub redirect_port_inbound: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "redirect_port_outbound")]
    pub redirect_port_outbound: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", alias = "direct_access_services")]
    pub direct_access_services: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", alias = "reachable_services")]
    pub reachable_services: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "ip_family_mode")]
    pub ip_family_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "reachable_backends")]
    pub reachable_backends: Option<ReachableBackends>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReachableBackends {
    #[serde(default)]
    pub refs: Vec<ReachableBackendRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReachableBackendRef {
    #[serde(default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_string_map")]
    #[schemars(with = "Option<Tags>")]
    pub labels: Option<Tags>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvoyAdmin {
    #[serde(default)]
    pub port: u32,
}

/// What kind of proxy a Dataplane describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyRole {
    Sidecar,
    BuiltinGateway,
    DelegatedGateway,
}

impl DataplaneSpec {
    pub fn role(&self) -> ProxyRole {
        match self.networking.as_ref().and_then(|n| n.gateway.as_ref()) {
            Some(g) if g.gateway_type == GatewayType::Builtin => ProxyRole::BuiltinGateway,
            Some(_) => ProxyRole::DelegatedGateway,
            None => ProxyRole::Sidecar,
        }
    }
}
