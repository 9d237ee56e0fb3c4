//! MeshGateway (Kuma `api/mesh/v1alpha1/gateway.proto`): the builtin gateway's listeners.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Tags, string_map};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeshGatewaySpec {
    #[serde(default)]
    pub selectors: Vec<Selector>,
    #[serde(default, skip_serializing_if = "Tags::is_empty", deserialize_with = "string_map")]
    pub tags: Tags,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conf: Option<GatewayConf>,
}

/// A tag selector (`match`), as legacy resources write it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Selector {
    #[serde(rename = "match", default, deserialize_with = "string_map")]
    pub match_tags: Tags,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayConf {
    #[serde(default)]
    pub listeners: Vec<Listener>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ListenerProtocol {
    #[default]
    None,
    Tcp,
    Tls,
    Http,
    Https,
}

impl ListenerProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
            Self::Http => "HTTP",
            Self::Https => "HTTPS",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Listener {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(default)]
    pub port: u32,
    #[serde(default)]
    pub protocol: ListenerProtocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ListenerTls>,
    #[serde(default, skip_serializing_if = "Tags::is_empty", deserialize_with = "string_map")]
    pub tags: Tags,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cross_mesh: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ListenerResources>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum TlsMode {
    #[default]
    None,
    Terminate,
    Passthrough,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Terminate => "TERMINATE",
            Self::Passthrough => "PASSTHROUGH",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenerTls {
    #[serde(default)]
    pub mode: TlsMode,
    /// Certificate data sources, kept as written until secrets exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenerResources {
    #[serde(default, alias = "connection_limit")]
    pub connection_limit: u32,
}
