//! The resource kinds and their descriptors: the one table that the wire formats, validation, storage,
//! the REST API and the CLI read. Adding a kind is a line here plus its spec type.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::kinds::dataplane::DataplaneSpec;
use crate::kinds::gateway::MeshGatewaySpec;
use crate::kinds::legacy::{ExternalServiceSpec, TrafficRouteSpec};
use crate::kinds::mesh::MeshSpec;
use crate::kinds::routes::{MeshHttpRouteSpec, MeshTcpRouteSpec};
use crate::kinds::secret::{GlobalSecretSpec, SecretSpec};
use crate::kinds::services::{MeshExternalServiceSpec, MeshMultiZoneServiceSpec, MeshServiceSpec};

/// Whether a resource lives inside a mesh or beside the meshes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Global,
    Mesh,
}

/// Where a kind's spec sits in the Universal document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UniversalLayout {
    /// Under `spec:` (the targetRef policies and the new service resources).
    SpecField,
    /// At the top level beside `type`/`name`/`mesh` (Kuma's proto-based resources).
    TopLevel,
}

/// Fixed facts about one resource kind.
#[derive(Debug)]
pub struct KindDescriptor {
    pub kind: Kind,
    /// `type:` in Universal, `kind:` in Kubernetes.
    pub wire_name: &'static str,
    /// The REST collection: `/meshes/{mesh}/<rest_path>`.
    pub rest_path: &'static str,
    /// kumactl's singular argument (`meshtcproute`).
    pub singular: &'static str,
    /// The KRI / Kubernetes short name; empty for kinds without one.
    pub short_name: &'static str,
    pub display_singular: &'static str,
    pub display_plural: &'static str,
    pub scope: Scope,
    pub universal_layout: UniversalLayout,
    /// A targetRef-based policy (role computation, deprecation warnings, `status` not supported).
    pub is_policy: bool,
    /// Whether a `status` section is part of the resource.
    pub has_status: bool,
}

/// A resource's spec type: what every kind's spec can do, so that no layer needs per-kind code.
pub trait KindSpec: Serialize + DeserializeOwned + schemars::JsonSchema + Clone + PartialEq {
    const KIND: Kind;
    fn into_spec(self) -> Spec;
}

macro_rules! kinds {
    ($($variant:ident($spec:ty) {
        wire: $wire:literal, path: $path:literal, singular: $singular:literal, short: $short:literal,
        display: ($ds:literal, $dp:literal), scope: $scope:ident, layout: $layout:ident,
        policy: $policy:literal, status: $status:literal $(,)?
    })+) => {
        /// Every resource kind meshroute reads.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind { $($variant,)+ }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)+];

            pub fn descriptor(self) -> &'static KindDescriptor {
                match self {
                    $(Kind::$variant => &KindDescriptor {
                        kind: Kind::$variant,
                        wire_name: $wire,
                        rest_path: $path,
                        singular: $singular,
                        short_name: $short,
                        display_singular: $ds,
                        display_plural: $dp,
                        scope: Scope::$scope,
                        universal_layout: UniversalLayout::$layout,
                        is_policy: $policy,
                        has_status: $status,
                    },)+
                }
            }

            /// The JSON Schema of this kind's spec.
            pub fn spec_schema(self) -> schemars::Schema {
                match self {
                    $(Kind::$variant => schemars::schema_for!($spec),)+
                }
            }
        }

        /// The spec of a resource, by kind.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Spec { $($variant($spec),)+ }

        impl Spec {
            pub fn kind(&self) -> Kind {
                match self { $(Spec::$variant(_) => Kind::$variant,)+ }
            }

            /// Decodes a spec of `kind` from its JSON form; errors carry the path inside the spec.
            pub fn from_json(kind: Kind, value: serde_json::Value) -> Result<Spec, serde_path_to_error::Error<serde_json::Error>> {
                match kind {
                    $(Kind::$variant => serde_path_to_error::deserialize::<_, $spec>(value).map(Spec::$variant),)+
                }
            }

            pub fn to_json(&self) -> serde_json::Value {
                // Serialising these plain data types into a JSON value cannot fail (string keys only).
                let value = match self { $(Spec::$variant(s) => serde_json::to_value(s),)+ };
                value.unwrap_or(serde_json::Value::Null)
            }
        }

        $(impl KindSpec for $spec {
            const KIND: Kind = Kind::$variant;
            fn into_spec(self) -> Spec { Spec::$variant(self) }
        })+
    };
}

kinds! {
    Mesh(MeshSpec) {
        wire: "Mesh", path: "meshes", singular: "mesh", short: "m",
        display: ("Mesh", "Meshes"), scope: Global, layout: TopLevel, policy: false, status: false,
    }
    Dataplane(DataplaneSpec) {
        wire: "Dataplane", path: "dataplanes", singular: "dataplane", short: "dp",
        display: ("Dataplane", "Dataplanes"), scope: Mesh, layout: TopLevel, policy: false, status: false,
    }
    MeshService(MeshServiceSpec) {
        wire: "MeshService", path: "meshservices", singular: "meshservice", short: "msvc",
        display: ("Mesh Service", "Mesh Services"), scope: Mesh, layout: SpecField, policy: false, status: true,
    }
    MeshExternalService(MeshExternalServiceSpec) {
        wire: "MeshExternalService", path: "meshexternalservices", singular: "meshexternalservice",
        short: "extsvc", display: ("Mesh External Service", "Mesh External Services"), scope: Mesh,
        layout: SpecField, policy: false, status: true,
    }
    MeshMultiZoneService(MeshMultiZoneServiceSpec) {
        wire: "MeshMultiZoneService", path: "meshmultizoneservices", singular: "meshmultizoneservice",
        short: "mzsvc", display: ("Mesh Multi Zone Service", "Mesh Multi Zone Services"), scope: Mesh,
        layout: SpecField, policy: false, status: true,
    }
    MeshGateway(MeshGatewaySpec) {
        wire: "MeshGateway", path: "meshgateways", singular: "meshgateway", short: "mgw",
        display: ("Mesh Gateway", "Mesh Gateways"), scope: Mesh, layout: TopLevel, policy: false, status: false,
    }
    ExternalService(ExternalServiceSpec) {
        wire: "ExternalService", path: "external-services", singular: "external-service", short: "",
        display: ("External Service", "External Services"), scope: Mesh, layout: TopLevel, policy: false,
        status: false,
    }
    TrafficRoute(TrafficRouteSpec) {
        wire: "TrafficRoute", path: "traffic-routes", singular: "traffic-route", short: "",
        display: ("Traffic Route", "Traffic Routes"), scope: Mesh, layout: TopLevel, policy: false, status: false,
    }
    MeshHttpRoute(MeshHttpRouteSpec) {
        wire: "MeshHTTPRoute", path: "meshhttproutes", singular: "meshhttproute", short: "mhttpr",
        display: ("Mesh HTTP Route", "Mesh HTTP Routes"), scope: Mesh, layout: SpecField, policy: true,
        status: false,
    }
    MeshTcpRoute(MeshTcpRouteSpec) {
        wire: "MeshTCPRoute", path: "meshtcproutes", singular: "meshtcproute", short: "mtcpr",
        display: ("Mesh TCP Route", "Mesh TCP Routes"), scope: Mesh, layout: SpecField, policy: true,
        status: false,
    }
    Secret(SecretSpec) {
        wire: "Secret", path: "secrets", singular: "secret", short: "",
        display: ("Secret", "Secrets"), scope: Mesh, layout: TopLevel, policy: false, status: false,
    }
    GlobalSecret(GlobalSecretSpec) {
        wire: "GlobalSecret", path: "global-secrets", singular: "global-secret", short: "",
        display: ("Global Secret", "Global Secrets"), scope: Global, layout: TopLevel, policy: false,
        status: false,
    }
}

impl Kind {
    /// Finds a kind by its wire name (`MeshTCPRoute`).
    pub fn from_wire_name(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.descriptor().wire_name == name)
    }

    /// Finds a kind by any name a user may type: wire name, REST path, singular or short name, any case.
    pub fn lookup(name: &str) -> Option<Kind> {
        let lower = name.to_ascii_lowercase();
        Kind::ALL.iter().copied().find(|k| {
            let d = k.descriptor();
            d.wire_name.eq_ignore_ascii_case(&lower)
                || d.rest_path == lower
                || d.singular == lower
                || (!d.short_name.is_empty() && d.short_name == lower)
        })
    }

    pub fn wire_name(self) -> &'static str {
        self.descriptor().wire_name
    }

    /// Kinds only admins may read: they hold signing keys and other secrets. They are never part of a
    /// mesh's routing snapshot.
    pub fn is_confidential(self) -> bool {
        matches!(self, Kind::Secret | Kind::GlobalSecret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_are_consistent_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for kind in Kind::ALL {
            let d = kind.descriptor();
            assert_eq!(d.kind, *kind);
            assert!(seen.insert(d.rest_path), "duplicate REST path {}", d.rest_path);
            assert_eq!(Kind::from_wire_name(d.wire_name), Some(*kind));
            assert_eq!(Kind::lookup(d.singular), Some(*kind));
        }
        let tcp = Kind::MeshTcpRoute.descriptor();
        assert_eq!((tcp.wire_name, tcp.rest_path, tcp.short_name), ("MeshTCPRoute", "meshtcproutes", "mtcpr"));
        assert_eq!(Kind::lookup("mtcpr"), Some(Kind::MeshTcpRoute));
    }
}
