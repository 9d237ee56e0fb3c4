//! Which route policies apply to one proxy (spec meshtcproute.md §3.2-§3.4): the pre-filters (shadow,
//! zone, namespace), the top-level targetRef selection over inbounds, gateway listeners and the
//! delegated-gateway flag, and the priority order.

use std::sync::Arc;

use model::Tags;
use model::kind::Spec;
use model::kinds::dataplane::{DataplaneSpec, Networking, ProxyRole};
use model::kinds::gateway::{ListenerProtocol, TlsMode};
use model::resource::{Resource, labels};
use model::validate::PolicyRole;

use crate::compiled::{RoutePolicies, RoutePolicy, Selects, names_dataplane};
use crate::snapshot::MeshSnapshot;

/// A gateway listener and hostname a policy can select: (Dataplane address, port, hostname or `*`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ListenerKey {
    pub address: String,
    pub port: u32,
    pub hostname: String,
}

/// One listener (per hostname) of the MeshGateway selected for a builtin gateway Dataplane.
#[derive(Clone, Debug)]
pub struct GatewayListener {
    pub key: ListenerKey,
    pub protocol: ListenerProtocol,
    pub tls_mode: Option<TlsMode>,
    /// The Dataplane's gateway tags, then the MeshGateway's tags, then the listener's.
    pub merged_tags: Tags,
}

/// What planning knows about the proxy it plans for.
pub struct Proxy<'a> {
    pub dataplane: &'a Resource,
    pub spec: &'a DataplaneSpec,
    pub networking: &'a Networking,
    pub role: ProxyRole,
    /// For a builtin gateway, its MeshGateway and listeners.
    pub gateway: Option<(Arc<Resource>, Vec<GatewayListener>)>,
}

impl<'a> Proxy<'a> {
    /// None when the resource is not a Dataplane with networking.
    pub fn new(snap: &MeshSnapshot, dataplane: &'a Resource) -> Option<Self> {
        let Spec::Dataplane(spec) = &dataplane.spec else {
            return None;
        };
        let networking = spec.networking.as_ref()?;
        let role = spec.role();
        let gateway =
            if role == ProxyRole::BuiltinGateway { select_gateway(snap, dataplane, networking) } else { None };
        Some(Proxy { dataplane, spec, networking, role, gateway })
    }

    fn gateway_tags(&self) -> Option<&Tags> {
        self.networking.gateway.as_ref().map(|g| &g.tags)
    }

    /// Whether the proxy is a `Gateway` or a `Sidecar` for `proxyTypes`.
    fn proxy_type(&self) -> model::common::ProxyType {
        if self.networking.gateway.is_some() {
            model::common::ProxyType::Gateway
        } else {
            model::common::ProxyType::Sidecar
        }
    }
}

/// The MeshGateway a builtin gateway Dataplane serves: its selectors match the gateway tags. When several
/// match, the most specific selector wins, then the name.
fn select_gateway(
    snap: &MeshSnapshot,
    dp: &Resource,
    net: &Networking,
) -> Option<(Arc<Resource>, Vec<GatewayListener>)> {
    let dp_tags = &net.gateway.as_ref()?.tags;
    let mut best: Option<(usize, &Arc<Resource>)> = None;
    for gw in snap.index.gateways() {
        let Spec::MeshGateway(spec) = &gw.spec else {
            continue;
        };
        let zone_ok = gw.origin() == Some("global") || gw.zone().is_empty() || gw.zone() == dp.zone();
        let score =
            spec.selectors.iter().filter(|s| tags_match(&s.match_tags, dp_tags)).map(|s| s.match_tags.len()).max();
        if let Some(score) = score.filter(|_| zone_ok)
            && best.is_none_or(|(b, _)| score > b)
        {
            best = Some((score, gw));
        }
    }
    let gw = best?.1.clone();
    let Spec::MeshGateway(spec) = &gw.spec else {
        return None;
    };
    let listeners = spec
        .conf
        .iter()
        .flat_map(|c| c.listeners.iter())
        .map(|l| {
            let mut merged = dp_tags.clone();
            merged.extend(spec.tags.clone());
            merged.extend(l.tags.clone());
            GatewayListener {
                key: ListenerKey {
                    address: net.address.clone(),
                    port: l.port,
                    hostname: if l.hostname.is_empty() { "*".to_owned() } else { l.hostname.clone() },
                },
                protocol: l.protocol,
                tls_mode: l.tls.as_ref().map(|t| t.mode),
                merged_tags: merged,
            }
        })
        .collect();
    Some((gw, listeners))
}

/// Kuma's tag selector: every key of the selector is present with an equal value; `*` matches any value.
pub fn tags_match(selector: &Tags, tags: &Tags) -> bool {
    selector.iter().all(|(k, v)| tags.get(k).is_some_and(|actual| v == "*" || actual == v))
}

/// What a policy's top-level targetRef selects on this proxy.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub inbounds: usize,
    pub listeners: Vec<ListenerKey>,
    pub delegated: bool,
}

impl Selection {
    pub fn applies(&self) -> bool {
        self.inbounds > 0 || !self.listeners.is_empty() || self.delegated
    }
}

/// A policy matched to the proxy and what it selected.
#[derive(Clone, Debug)]
pub struct Matched<'s> {
    pub policy: &'s RoutePolicy,
    pub selection: Selection,
}

/// The policies of `policies` that apply to the proxy, in priority order (the last wins).
pub fn match_policies<'s>(
    snap: &'s MeshSnapshot,
    policies: &'s RoutePolicies,
    proxy: &Proxy<'_>,
    include_shadow: bool,
) -> Vec<Matched<'s>> {
    let mut matched: Vec<Matched<'s>> = policies
        .iter()
        .filter(|p| include_shadow || !p.shadow)
        .filter(|p| passes_zone_filter(p, proxy) && passes_namespace_filter(p, proxy))
        .filter_map(|policy| {
            let selection = select(snap, policy, proxy);
            selection.applies().then_some(Matched { policy, selection })
        })
        .collect();
    matched.sort_by_key(|m| m.policy.rank);
    matched
}

/// Whether a (non-shadow) policy applies to the proxy at all.
pub fn applies_to(snap: &MeshSnapshot, policy: &RoutePolicy, proxy: &Proxy<'_>) -> bool {
    !policy.shadow
        && passes_zone_filter(policy, proxy)
        && passes_namespace_filter(policy, proxy)
        && select(snap, policy, proxy).applies()
}

/// Spec §3.2 item 2: the zone filter (not for producer policies).
fn passes_zone_filter(p: &RoutePolicy, proxy: &Proxy<'_>) -> bool {
    if p.role == PolicyRole::Producer {
        return true;
    }
    let m: &Resource = proxy.gateway.as_ref().map_or(proxy.dataplane, |(gw, _)| gw.as_ref());
    let m_origin = m.origin();
    let policy_zone = p.resource.label(labels::ZONE);
    m_origin.is_none_or(|o| o == "global")
        || p.resource.origin() != Some("zone")
        || policy_zone.is_none()
        || (m_origin == Some("zone") && m.label(labels::ZONE).is_none_or(|z| Some(z) == policy_zone))
}

/// Spec §3.2 item 3: consumer and workload-owner policies apply only in their own namespace.
fn passes_namespace_filter(p: &RoutePolicy, proxy: &Proxy<'_>) -> bool {
    match p.role {
        PolicyRole::Consumer | PolicyRole::WorkloadOwner => p
            .resource
            .label(labels::K8S_NAMESPACE)
            .is_some_and(|ns| proxy.dataplane.label(labels::K8S_NAMESPACE) == Some(ns)),
        PolicyRole::System | PolicyRole::Producer => true,
    }
}

/// Spec §3.3: what the top-level targetRef selects.
fn select(snap: &MeshSnapshot, p: &RoutePolicy, proxy: &Proxy<'_>) -> Selection {
    match &p.selects {
        Selects::Tagged { proxy_types } => {
            if !proxy_types.is_empty() && !proxy_types.contains(&proxy.proxy_type()) {
                return Selection::default();
            }
            select_by_tags(&p.selector, proxy)
        }
        Selects::Service => select_by_tags(&p.selector, proxy),
        Selects::Gateway { name } => match &proxy.gateway {
            Some((gw, _)) if gw.meta.mesh == snap.mesh() && gw.display_name() == name => {
                let mut s = select_by_tags(&p.selector, proxy);
                s.inbounds = 0;
                s.delegated = false;
                s
            }
            _ => Selection::default(),
        },
        Selects::AnyDataplane | Selects::DataplaneLabels(_) | Selects::DataplaneNamed(_) => select_dataplane(p, proxy),
        Selects::Nothing => Selection::default(),
    }
}

fn select_by_tags(selector: &Tags, proxy: &Proxy<'_>) -> Selection {
    let inbounds = proxy.networking.inbound.iter().filter(|i| tags_match(selector, &i.tags)).count();
    let mut listeners: Vec<ListenerKey> = proxy
        .gateway
        .iter()
        .flat_map(|(_, ls)| ls.iter())
        .filter(|l| tags_match(selector, &l.merged_tags))
        .map(|l| l.key.clone())
        .collect();
    listeners.sort();
    listeners.dedup();
    let delegated =
        proxy.role == ProxyRole::DelegatedGateway && proxy.gateway_tags().is_some_and(|t| tags_match(selector, t));
    Selection { inbounds, listeners, delegated }
}

fn select_dataplane(p: &RoutePolicy, proxy: &Proxy<'_>) -> Selection {
    if proxy.gateway.is_some() {
        return Selection::default();
    }
    let matches = names_dataplane(p, proxy.dataplane);
    if !matches {
        return Selection::default();
    }
    Selection {
        inbounds: proxy.networking.inbound.len(),
        listeners: Vec::new(),
        delegated: proxy.role == ProxyRole::DelegatedGateway,
    }
}
