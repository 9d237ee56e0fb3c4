//! The real service resources: MeshService, MeshExternalService and MeshMultiZoneService.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Tags, opt_string_map};
use crate::open_enum::open_enum;

open_enum! {
    /// A port's application protocol. Kuma reads an unknown value as `<unknown>`.
    pub enum Protocol {
        Tcp => "tcp", Tls => "tls", Http => "http", Http2 => "http2", Grpc => "grpc", Kafka => "kafka",
        Mysql => "mysql",
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeshServiceSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default)]
    pub selector: MeshServiceSelector,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identities: Option<Vec<ServiceIdentity>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeshServiceSelector {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_string_map")]
    #[schemars(with = "Option<Tags>")]
    pub dataplane_tags: Option<Tags>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataplane_ref: Option<DataplaneRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataplaneRef {
    #[serde(default)]
    pub name: String,
}

/// A port of a MeshService or MeshMultiZoneService. Its section name is `name`, or the number as text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePort {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub port: u32,
    /// A number or a named port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<Protocol>,
}

impl ServicePort {
    /// The port's section name: its name, or its number as a decimal string.
    pub fn section_name(&self) -> String {
        match &self.name {
            Some(n) if !n.is_empty() => n.clone(),
            _ => self.port.to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceIdentity {
    #[serde(rename = "type")]
    pub identity_type: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeshExternalServiceSpec {
    #[serde(rename = "match")]
    pub match_: ExternalMatch,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Vec<ExternalEndpoint>>,
    /// TLS origination settings, kept as written until egress is implemented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalMatch {
    #[serde(rename = "type", default = "hostname_generator")]
    pub match_type: String,
    pub port: u32,
    #[serde(default = "tcp")]
    pub protocol: Protocol,
}

fn hostname_generator() -> String {
    "HostnameGenerator".to_owned()
}

fn tcp() -> Protocol {
    Protocol::Tcp
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalEndpoint {
    pub address: String,
    pub port: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeshMultiZoneServiceSpec {
    pub selector: MultiZoneSelector,
    pub ports: Vec<ServicePort>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MultiZoneSelector {
    pub mesh_service: LabelSelector,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_string_map")]
    #[schemars(with = "Option<Tags>")]
    pub match_labels: Option<Tags>,
}
