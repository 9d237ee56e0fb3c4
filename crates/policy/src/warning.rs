//! Warnings as data: what planning left out or changed, each with a stable code (for tools and alerts),
//! what it is about and a message for people. `inspect`, `render`, the API and the logs all show these.

use serde::Serialize;

/// The stable code of a warning, written in kebab-case (`no-ready-endpoints`) by [`WarningCode::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WarningCode {
    /// A resource failed validation and is left out of the mesh snapshot.
    InvalidResource,
    /// The mesh has mTLS enabled, which is not implemented: the proxy gets no configuration.
    MtlsNotImplemented,
    /// TrafficRoute keeps this proxy's outbounds (spec §5.2).
    TrafficRouteOwns,
    /// A builtin gateway Dataplane that no MeshGateway selects.
    NoMeshGateway,
    /// An outbound whose destination does not exist: no listener.
    MissingDestination,
    /// A MeshHTTPRoute targets a destination; HTTP routing is not implemented, so it routes to itself.
    HttpRoutingNotImplemented,
    /// A backendRef that names no resource: dropped.
    UnresolvedBackendRef,
    /// No backendRef of the winning policy resolves: no listener.
    NoBackendResolves,
    /// A backend names a real resource or port that does not exist: left out of the split.
    UnknownBackend,
    /// A backend with no ready endpoints: left out of the split.
    NoReadyEndpoints,
    /// A backend whose protocol MeshTCPRoute cannot split: left out.
    ProtocolNotSplittable,
    /// A weight above what Envoy takes: used as the maximum.
    WeightClamped,
    /// A cluster that needs what is not implemented (zone egress, cross-mesh): left out.
    UnsupportedBackend,
    /// Every backend of a destination is unsupported: no listener.
    DestinationLeftOut,
    /// A kafka destination proxied as plain TCP (the Envoy build has no kafka_broker filter).
    KafkaFilterUnavailable,
    /// A builtin gateway TLS host that terminates TLS (certificates are not served yet): left out.
    TlsTerminationNotImplemented,
    /// A builtin gateway listener with nothing to serve: left out.
    GatewayListenerLeftOut,
}

impl WarningCode {
    /// The code as written in JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidResource => "invalid-resource",
            Self::MtlsNotImplemented => "mtls-not-implemented",
            Self::TrafficRouteOwns => "traffic-route-owns",
            Self::NoMeshGateway => "no-mesh-gateway",
            Self::MissingDestination => "missing-destination",
            Self::HttpRoutingNotImplemented => "http-routing-not-implemented",
            Self::UnresolvedBackendRef => "unresolved-backend-ref",
            Self::NoBackendResolves => "no-backend-resolves",
            Self::UnknownBackend => "unknown-backend",
            Self::NoReadyEndpoints => "no-ready-endpoints",
            Self::ProtocolNotSplittable => "protocol-not-splittable",
            Self::WeightClamped => "weight-clamped",
            Self::UnsupportedBackend => "unsupported-backend",
            Self::DestinationLeftOut => "destination-left-out",
            Self::KafkaFilterUnavailable => "kafka-filter-unavailable",
            Self::TlsTerminationNotImplemented => "tls-termination-not-implemented",
            Self::GatewayListenerLeftOut => "gateway-listener-left-out",
        }
    }
}

impl Serialize for WarningCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One warning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub code: WarningCode,
    /// What it is about: a listener or cluster name, or `<Kind>/<name>` for a resource.
    pub about: String,
    pub message: String,
}

impl Warning {
    pub fn new(code: WarningCode, about: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code, about: about.into(), message: message.into() }
    }

    /// The same warning seen from a listener: its message says which.
    #[must_use]
    pub fn within(self, listener: &str) -> Self {
        Self { message: format!("{listener}: {}", self.message), ..self }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
