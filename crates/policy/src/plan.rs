//! The ProxyPlan: everything Envoy configuration needs for one proxy, decided here and only here.

use serde::Serialize;

use std::sync::Arc;

use model::Tags;
use model::kinds::gateway::{ListenerProtocol, TlsMode};
use model::kri::Kri;

use crate::index::Endpoint;
use crate::protocol::Protocol;
use crate::warning::Warning;

/// A backendRef list shared between the compiled policies, rules and plans without copying.
pub type BackendRefs = Arc<[model::BackendRef]>;

/// The routing plan of one proxy.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyPlan {
    pub mesh: String,
    pub dataplane: String,
    pub proxy_type: ProxyKind,
    /// The mesh has mTLS enabled.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mtls: bool,
    /// Set when the proxy gets no configuration at all, and why (fail closed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<Unsupported>,
    /// The MeshTCPRoutes that apply, in priority order (the last wins ties).
    pub policies: Vec<PolicyRef>,
    pub inbounds: Vec<InboundPlan>,
    pub outbounds: Vec<OutboundPlan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewayPlan>,
    /// Every cluster the plan sends to, once each, ordered by service then registration. Shared with the
    /// snapshot: a backend's cluster is the same for every proxy.
    pub clusters: Vec<Arc<ClusterPlan>>,
    pub warnings: Vec<Warning>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ProxyKind {
    Sidecar,
    BuiltinGateway,
    DelegatedGateway,
}

/// A matched policy, as inspect shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRef {
    #[serde(rename = "type")]
    pub kind: Arc<str>,
    pub name: Arc<str>,
    pub kri: Arc<str>,
    pub role: Arc<str>,
    pub target_ref_kind: Arc<str>,
}

/// An inbound: the proxy's address:port in front of the application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundPlan {
    pub name: String,
    pub address: String,
    pub port: u32,
    pub service_address: String,
    pub service_port: u32,
    pub service: String,
    pub protocol: Protocol,
    pub tags: Tags,
}

/// Who produces the listener of a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Owner {
    /// A `tcp_proxy` listener with this plan's splits.
    #[serde(rename = "MeshTCPRoute")]
    MeshTcpRoute,
    /// An HTTP destination MeshHTTPRoute owns (spec §5.1).
    #[serde(rename = "MeshHTTPRoute")]
    MeshHttpRoute,
    /// The mesh has TrafficRoutes and no MeshTCPRoute legacy rule applies here (spec §5.2).
    #[serde(rename = "TrafficRoute")]
    TrafficRoute,
    /// Every backendRef was unresolvable: no listener (spec §8 item 13).
    #[serde(rename = "None")]
    Nobody,
}

/// What meshroute does not implement yet; what needs it is left out of Envoy's config, never sent half
/// done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Unsupported {
    /// Mesh mTLS: plaintext config would quietly drop the mesh's security.
    MeshMtls,
    /// Every backend of the destination needs something unsupported (see the cluster warnings).
    EveryBackend,
    /// A builtin gateway TLS host that terminates TLS: it needs certificates.
    TlsTermination,
}

/// Why a listener (or a gateway host) is left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum LeftOut {
    /// Every backendRef names nothing (spec §8 item 13).
    Unresolved,
    /// No route selects it.
    NoRoute,
    Unsupported(Unsupported),
}

/// The listener of an outbound destination, as Envoy gets it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum OutboundListener {
    /// `tcp_proxy` (through ECDS) with the splits; no filter when there are none.
    TcpProxy,
    /// The kafka_broker filter (contrib Envoy builds), then `tcp_proxy`.
    Kafka,
    /// The default HTTP listener: one catch-all route to the splits.
    Http,
    /// No listener.
    LeftOut(LeftOut),
}

/// One outbound destination of the proxy and where its traffic goes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundPlan {
    /// The listener name, `outbound:<address>:<port>`.
    pub name: String,
    pub address: String,
    pub port: u32,
    /// The destination's service name: the `kuma.io/service` value, or the legacy destination name of a
    /// real resource port.
    pub service: String,
    /// The outbound KRI (with section) of a real-resource destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kri: Option<Kri>,
    /// `io.kuma.tags` listener metadata.
    pub tags: Tags,
    pub protocol: Protocol,
    pub stat_prefix: String,
    pub owner: Owner,
    pub listener: OutboundListener,
    /// The MeshTCPRoute rule applied, if any; without one the destination routes to itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<AppliedRoute>,
    /// MeshHTTPRoutes that claim this destination.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_routes: Vec<String>,
    /// Where connections go, in backendRef order; one split is a plain redirect. For a destination
    /// MeshHTTPRoute or TrafficRoute owns, the default route to itself.
    pub splits: Vec<Split>,
}

/// The merged MeshTCPRoute rule of a destination.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedRoute {
    /// The contributing policy KRIs in merge order; the last one's backendRefs won.
    pub origins: Vec<String>,
    /// The merged conf, as written (after schema defaulting).
    pub backend_refs: BackendRefs,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Split {
    pub cluster: String,
    pub weight: u32,
}

/// How a cluster finds its endpoints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum ClusterKind {
    /// Mesh-internal: endpoints over EDS.
    Eds,
    /// A legacy ExternalService reached directly, its one endpoint (with the service's tags) inline.
    ExternalService { resolution: Resolution },
    /// A MeshExternalService: through the zone egress.
    MeshExternalService,
}

/// How Envoy finds an ExternalService's address: as written (an IP) or by DNS (a name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Resolution {
    #[serde(rename = "STATIC")]
    Static,
    #[serde(rename = "STRICT_DNS")]
    StrictDns,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPlan {
    pub name: String,
    pub service: String,
    /// The tags that select its endpoints (`kuma.io/service` plus subset tags).
    pub tags: Tags,
    pub protocol: Protocol,
    pub kind: ClusterKind,
    /// A legacy backend in another mesh (`kuma.io/mesh` tag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_mesh: Option<String>,
    /// A builtin gateway's cluster (Kuma gives these their own connection settings).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub gateway: bool,
    /// Shared with the snapshot's endpoint cache.
    pub endpoints: Arc<Vec<Endpoint>>,
}

/// The builtin gateway's TCP and TLS listeners that MeshTCPRoute drives.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayPlan {
    pub gateway: String,
    pub listeners: Vec<GatewayListenerPlan>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayListenerPlan {
    /// `<gateway>:<TCP|TLS>:<port>`.
    pub name: String,
    pub address: String,
    pub port: u32,
    pub protocol: ListenerProtocol,
    pub stat_prefix: String,
    /// In hostname order: exact before wildcard, more labels first, then by name.
    pub hosts: Vec<GatewayHostPlan>,
    /// Set when no host can be served: Envoy rejects a listener without filter chains.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_out: Option<LeftOut>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayHostPlan {
    pub hostname: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_mode: Option<TlsMode>,
    /// Set when this host gets no filter chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_out: Option<LeftOut>,
    /// One entry per legacy rule at this (address, port, hostname), named by its origin policies.
    pub routes: Vec<String>,
    /// The clusters of this hostname, sorted by name.
    pub splits: Vec<Split>,
}
