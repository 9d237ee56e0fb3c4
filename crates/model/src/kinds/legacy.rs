//! The legacy `kuma.io/service`-keyed resources MeshTCPRoute interacts with: ExternalService (a backend
//! outside the mesh) and TrafficRoute (whose presence turns on the fallback of spec §5.2).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Tags, string_map};
use crate::kinds::gateway::Selector;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalServiceSpec {
    #[serde(default)]
    pub networking: ExternalServiceNetworking,
    #[serde(default, deserialize_with = "string_map")]
    pub tags: Tags,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalServiceNetworking {
    /// `host:port`.
    #[serde(default)]
    pub address: String,
    /// Client TLS settings, kept as written until TLS origination is implemented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_host_dns_entry: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficRouteSpec {
    #[serde(default)]
    pub sources: Vec<Selector>,
    #[serde(default)]
    pub destinations: Vec<Selector>,
    /// Only the existence of a TrafficRoute matters to MeshTCPRoute; its conf is kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conf: Option<serde_json::Value>,
}
