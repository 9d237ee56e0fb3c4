//! meshroute's policy engine: for one Dataplane and an immutable snapshot of its mesh, which MeshTCPRoutes
//! apply and where each of its destinations' traffic goes. Pure and deterministic: no I/O, and the same
//! input gives the same plan.
//!
//! ```text
//!  resources ─► MeshSnapshot::build: validate once (invalid ones left out, with a warning)
//!                    │
//!                    ├─► MeshIndex          lookups only: resources by typed key (Kri, name), endpoints,
//!                    │                      protocols, ports (memoised per snapshot)
//!                    └─► CompiledPolicies   PolicyId, typed target and selector, rank, resolved to-items
//!                                           (shared by every proxy)
//!  Dataplane ─► selection (pre-filters, top-level targetRef, priority order)
//!                    │
//!                    ├─► rules: legacy (kuma.io/service) + resource (RuleKey) ToRules, merged
//!                    ├─► outbounds: per destination, MeshTCPRoute vs MeshHTTPRoute, backendRefs, listener
//!                    ├─► gateway: TCP/TLS listeners per (address, port, hostname), hosts left out
//!                    └─► backends: splits, one cluster per distinct backend (memoised by BackendKey)
//!                                       │
//!                                       ▼
//!                 ProxyPlan: every decision (listeners, what is left out and why) + warnings ─► xds
//! ```

pub mod backends;
pub mod compiled;
pub mod gateway;
pub mod impact;
pub mod index;
pub mod inspect;
mod memo;
pub mod names;
pub mod outbounds;
pub mod plan;
pub mod protocol;
pub mod rules;
pub mod selection;
pub mod snapshot;
pub mod warning;

use model::kinds::dataplane::ProxyRole;

use crate::backends::ClusterRegistry;
use crate::plan::{InboundPlan, ProxyKind, ProxyPlan};
use crate::protocol::Protocol;
use crate::rules::build_to_rules;
use crate::selection::{Matched, Proxy, match_policies};
use crate::warning::{Warning, WarningCode};

pub use snapshot::MeshSnapshot;

/// Choices a caller makes about planning.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlanOptions {
    /// Include policies labelled `kuma.io/effect: shadow` (Kuma's shadow mode).
    pub include_shadow: bool,
    /// The receiving Envoy build has contrib extensions (the kafka_broker filter).
    pub kafka_filter: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum PlanError {
    NoSuchDataplane(String),
    NoNetworking(String),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoSuchDataplane(name) => write!(f, "no Dataplane {name:?} in this mesh"),
            Self::NoNetworking(name) => write!(f, "Dataplane {name:?} has no networking section"),
        }
    }
}

impl std::error::Error for PlanError {}

/// Everything computed for one proxy: the plan, and the matched policies and rules inspect shows.
pub struct Planned<'s> {
    pub plan: ProxyPlan,
    pub tcp_matched: Vec<Matched<'s>>,
    pub tcp_rules: rules::ToRules,
}

/// Plans the proxy of Dataplane `name`.
pub fn plan_proxy(snap: &MeshSnapshot, name: &str, options: PlanOptions) -> Result<ProxyPlan, PlanError> {
    plan_proxy_detailed(snap, name, options).map(|p| p.plan)
}

/// Plans the proxy of Dataplane `name`, keeping the matched policies and rules for inspection.
pub fn plan_proxy_detailed<'s>(
    snap: &'s MeshSnapshot,
    name: &str,
    options: PlanOptions,
) -> Result<Planned<'s>, PlanError> {
    let dataplane = snap.index.dataplane(name).ok_or_else(|| PlanError::NoSuchDataplane(name.to_owned()))?;
    let proxy = Proxy::new(snap, dataplane).ok_or_else(|| PlanError::NoNetworking(name.to_owned()))?;
    let tcp_matched = match_policies(snap, snap.tcp_routes(), &proxy, options.include_shadow);
    let http_matched = match_policies(snap, snap.http_routes(), &proxy, options.include_shadow);
    let tcp_rules = build_to_rules(snap, &tcp_matched.iter().collect::<Vec<_>>());
    let http_rules = build_to_rules(snap, &http_matched.iter().collect::<Vec<_>>());

    let mut warnings = Vec::new();
    let proxy_about = format!("Dataplane/{}", dataplane.meta.name);
    let mut registry = ClusterRegistry::default();
    let gateway_selected = tcp_matched.iter().any(|m| !m.selection.listeners.is_empty());
    // Spec §5.2: with TrafficRoutes in the mesh, MeshTCPRoute acts only when it has a legacy rule or a
    // gateway rule for this proxy; otherwise the legacy generator keeps the outbounds.
    let traffic_route_owns = snap.index.has_traffic_routes() && tcp_rules.legacy.is_empty() && !gateway_selected;
    if traffic_route_owns && !proxy.networking.outbound.is_empty() {
        warnings.push(Warning::new(
            WarningCode::TrafficRouteOwns,
            &proxy_about,
            "the mesh has TrafficRoutes and no MeshTCPRoute legacy rule applies to this proxy: its outbounds follow TrafficRoute",
        ));
    }
    let outbounds = outbounds::OutboundPlanner {
        snap,
        rules: outbounds::RouteRules { tcp: &tcp_rules, http: &http_rules },
        traffic_route_owns,
        kafka_filter: options.kafka_filter,
        registry: &mut registry,
        warnings: &mut warnings,
    }
    .plan_all(&proxy);
    let gateway = gateway::plan_gateway(snap, &proxy, &tcp_matched, &mut registry, &mut warnings);
    if proxy.role == ProxyRole::BuiltinGateway && proxy.gateway.is_none() {
        warnings.push(Warning::new(
            WarningCode::NoMeshGateway,
            &proxy_about,
            "no MeshGateway selects this builtin gateway",
        ));
    }

    let mtls = snap.index.mesh_spec().mtls_enabled();
    if mtls {
        warnings.push(Warning::new(
            WarningCode::MtlsNotImplemented,
            format!("Mesh/{}", snap.mesh()),
            format!(
                "mesh {} has mTLS enabled, which meshroute does not implement yet: no configuration is sent to {}",
                snap.mesh(),
                dataplane.meta.name
            ),
        ));
    }
    let plan = ProxyPlan {
        mesh: snap.mesh().to_owned(),
        dataplane: dataplane.meta.name.clone(),
        mtls,
        // Fail closed: plaintext config in an mTLS mesh would quietly drop the mesh's security.
        withheld: mtls.then_some(plan::Unsupported::MeshMtls),
        proxy_type: match proxy.role {
            ProxyRole::Sidecar => ProxyKind::Sidecar,
            ProxyRole::BuiltinGateway => ProxyKind::BuiltinGateway,
            ProxyRole::DelegatedGateway => ProxyKind::DelegatedGateway,
        },
        policies: tcp_matched.iter().map(|m| m.policy.policy_ref.clone()).collect(),
        inbounds: plan_inbounds(&proxy),
        outbounds,
        gateway,
        clusters: registry.into_clusters(),
        warnings,
    };
    Ok(Planned { plan, tcp_matched, tcp_rules })
}

fn plan_inbounds(proxy: &Proxy<'_>) -> Vec<InboundPlan> {
    let net = proxy.networking;
    net.inbound
        .iter()
        .map(|i| {
            let address = i.listen_address(net).to_owned();
            InboundPlan {
                name: names::inbound_listener_name(&address, i.port),
                address,
                port: i.port,
                service_address: i.service_address().to_owned(),
                service_port: i.service_port(),
                service: i.tags.get(model::common::SERVICE_TAG).cloned().unwrap_or_default(),
                protocol: i.tags.get(model::common::PROTOCOL_TAG).map_or(Protocol::Tcp, |p| Protocol::parse(p)),
                tags: i.tags.clone(),
            }
        })
        .collect()
}
