//! Types shared by the targetRef-based policies (Kuma's `api/common/v1alpha1`): TargetRef, BackendRef and
//! their enums, plus the serde helpers for tag maps.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use crate::open_enum::open_enum;

/// A `map<string,string>` of tags or labels. Sorted, so that output is deterministic.
pub type Tags = BTreeMap<String, String>;

/// The tag naming a legacy service.
pub const SERVICE_TAG: &str = "kuma.io/service";
/// The tag naming a legacy service's protocol.
pub const PROTOCOL_TAG: &str = "kuma.io/protocol";

open_enum! {
    /// The kind a targetRef or backendRef points at.
    pub enum TargetRefKind {
        Mesh => "Mesh",
        MeshSubset => "MeshSubset",
        MeshGateway => "MeshGateway",
        MeshService => "MeshService",
        MeshExternalService => "MeshExternalService",
        MeshMultiZoneService => "MeshMultiZoneService",
        MeshServiceSubset => "MeshServiceSubset",
        MeshHttpRoute => "MeshHTTPRoute",
        Dataplane => "Dataplane",
    }
}

impl TargetRefKind {
    /// Kind specificity used to order policies; lower is less specific (spec §1.5). Unknown kinds sort
    /// first; validation rejects them before anything orders policies.
    pub fn specificity(&self) -> u8 {
        match self {
            Self::Unknown(_) => 0,
            Self::Mesh => 1,
            Self::Dataplane => 2,
            Self::MeshSubset => 3,
            Self::MeshGateway => 4,
            Self::MeshService => 5,
            Self::MeshExternalService => 6,
            Self::MeshMultiZoneService => 7,
            Self::MeshServiceSubset => 8,
            Self::MeshHttpRoute => 9,
        }
    }
}

impl Default for TargetRefKind {
    /// An absent `kind` reads as the empty string, which validation reports as `must be defined`.
    fn default() -> Self {
        Self::Unknown(String::new())
    }
}

open_enum! {
    /// A proxy type selected by a `Mesh` / `MeshSubset` targetRef.
    pub enum ProxyType {
        Sidecar => "Sidecar",
        Gateway => "Gateway",
    }
}

/// What a policy selects or points at (Kuma `common_api.TargetRef`). Every field but `kind` is optional and
/// omitted when absent; the field order is Kuma's JSON order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetRef {
    #[serde(default)]
    pub kind: TargetRefKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_string_map")]
    #[schemars(with = "Option<Tags>")]
    pub tags: Option<Tags>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_types: Option<Vec<ProxyType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_string_map")]
    #[schemars(with = "Option<Tags>")]
    pub labels: Option<Tags>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}

impl TargetRef {
    /// A targetRef of this kind with nothing else set.
    pub fn of_kind(kind: TargetRefKind) -> Self {
        Self { kind, ..Self::default() }
    }

    /// The name, or `""` when absent (Go's zero value, which the reference compares against).
    pub fn name_str(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    pub fn namespace_str(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
    }

    pub fn section_name_str(&self) -> &str {
        self.section_name.as_deref().unwrap_or("")
    }

    /// Tags, empty when absent.
    pub fn tags_or_empty(&self) -> &Tags {
        self.tags.as_ref().unwrap_or(empty_tags())
    }

    /// Labels, empty when absent.
    pub fn labels_or_empty(&self) -> &Tags {
        self.labels.as_ref().unwrap_or(empty_tags())
    }
}

/// Where a route sends traffic: a TargetRef (inlined at the same JSON level) plus a weight and a port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendRef {
    #[serde(default)]
    pub kind: TargetRefKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_string_map")]
    #[schemars(with = "Option<Tags>")]
    pub tags: Option<Tags>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_types: Option<Vec<ProxyType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_string_map")]
    #[schemars(with = "Option<Tags>")]
    pub labels: Option<Tags>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    /// Schema: minimum 0, default 1. Signed so that a negative value reaches the schema check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 1))]
    pub weight: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
}

impl BackendRef {
    /// The targetRef part of this backendRef.
    pub fn target_ref(&self) -> TargetRef {
        TargetRef {
            kind: self.kind.clone(),
            name: self.name.clone(),
            tags: self.tags.clone(),
            mesh: self.mesh.clone(),
            proxy_types: self.proxy_types.clone(),
            namespace: self.namespace.clone(),
            labels: self.labels.clone(),
            section_name: self.section_name.clone(),
        }
    }

    /// A backendRef that points where `target` points, with the given weight and no port (spec §1.6).
    pub fn to_target(target: &TargetRef, weight: i64) -> Self {
        Self {
            kind: target.kind.clone(),
            name: target.name.clone(),
            tags: target.tags.clone(),
            mesh: target.mesh.clone(),
            proxy_types: target.proxy_types.clone(),
            namespace: target.namespace.clone(),
            labels: target.labels.clone(),
            section_name: target.section_name.clone(),
            weight: Some(weight),
            port: None,
        }
    }

    /// A real-object reference (spec §1.5): a MeshService with sectionName or port, or any
    /// MeshExternalService / MeshMultiZoneService. Everything else is a legacy `kuma.io/service` reference.
    pub fn is_real_resource_ref(&self) -> bool {
        match self.kind {
            TargetRefKind::MeshService => {
                self.section_name.as_deref().is_some_and(|s| !s.is_empty()) || self.port.is_some()
            }
            TargetRefKind::MeshExternalService | TargetRefKind::MeshMultiZoneService => true,
            _ => false,
        }
    }

    /// The schema default for an absent weight.
    pub fn effective_weight(&self) -> i64 {
        self.weight.unwrap_or(1)
    }
}

fn empty_tags() -> &'static Tags {
    static EMPTY: Tags = BTreeMap::new();
    &EMPTY
}

/// A string-to-string map whose scalar values may be written unquoted (`port: 6000`). Kuma's tooling
/// reads such values as strings; we do the same.
pub(crate) fn opt_string_map<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Tags>, D::Error> {
    let raw: Option<BTreeMap<String, Scalar>> = Option::deserialize(d)?;
    Ok(raw.map(|m| m.into_iter().map(|(k, v)| (k, v.0)).collect()))
}

/// Like [`opt_string_map`], for a map that is required or defaults to empty.
pub(crate) fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<Tags, D::Error> {
    Ok(opt_string_map(d)?.unwrap_or_default())
}

/// A scalar read as its text: strings as they are, numbers and booleans as written.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}
