//! Builtin gateway TCP and TLS listeners driven by MeshTCPRoute (spec meshtcproute.md §3.8, §4.10).
//!
//! Rules are kept per (address, port, hostname). Kuma 2.13 lists each listener's policies in store order;
//! here they follow the priority order of §3.4, so the output does not depend on listing order.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use model::common::SERVICE_TAG;
use model::kinds::gateway::{ListenerProtocol, TlsMode};

use crate::backends::{
    ClusterRegistry, clamp_weight, gateway_destination_tags, legacy_cluster_source, lookup_real, no_ready_endpoints,
    resolve_backend,
};
use crate::names::{gateway_listener_name, sanitize_stat_prefix, subset_cluster_name};
use crate::plan::{
    ClusterKind, ClusterPlan, GatewayHostPlan, GatewayListenerPlan, GatewayPlan, LeftOut, Split, Unsupported,
};
use crate::protocol::Protocol;
use crate::rules::build_to_rules;
use crate::selection::{GatewayListener, Matched, Proxy};
use crate::snapshot::MeshSnapshot;
use crate::warning::{Warning, WarningCode};

/// Plans the gateway's TCP/TLS listeners, or None when no MeshTCPRoute selects any of them.
pub fn plan_gateway(
    snap: &MeshSnapshot,
    proxy: &Proxy<'_>,
    matched: &[Matched<'_>],
    registry: &mut ClusterRegistry,
    warnings: &mut Vec<Warning>,
) -> Option<GatewayPlan> {
    let (gateway, listeners) = proxy.gateway.as_ref()?;
    let selects_any = matched.iter().any(|m| !m.selection.listeners.is_empty());
    if !selects_any {
        return None;
    }
    let gateway_service =
        proxy.networking.gateway.as_ref().and_then(|g| g.tags.get(SERVICE_TAG)).cloned().unwrap_or_default();
    let mut by_port: BTreeMap<u32, Vec<&GatewayListener>> = BTreeMap::new();
    for l in listeners.iter().filter(|l| matches!(l.protocol, ListenerProtocol::Tcp | ListenerProtocol::Tls)) {
        by_port.entry(l.key.port).or_default().push(l);
    }
    let mut plans = Vec::new();
    for (port, mut subs) in by_port {
        subs.sort_by(|a, b| compare_hostnames(&a.key.hostname, &b.key.hostname));
        let protocol = subs[0].protocol;
        let name = gateway_listener_name(gateway.display_name(), protocol.as_str(), port);
        let mut hosts = Vec::new();
        for listener in subs {
            let at_key: Vec<&Matched<'_>> =
                matched.iter().filter(|m| m.selection.listeners.contains(&listener.key)).collect();
            if at_key.is_empty() {
                continue;
            }
            if protocol == ListenerProtocol::Tls && listener.tls_mode != Some(TlsMode::Passthrough) {
                warnings.push(Warning::new(
                    WarningCode::TlsTerminationNotImplemented,
                    &name,
                    format!(
                        "{name} host {}: TLS mode {} needs certificates, which are not served yet; host left out",
                        listener.key.hostname,
                        listener.tls_mode.unwrap_or_default().as_str()
                    ),
                ));
                hosts.push(GatewayHostPlan {
                    hostname: listener.key.hostname.clone(),
                    tls_mode: listener.tls_mode,
                    left_out: Some(LeftOut::Unsupported(Unsupported::TlsTermination)),
                    routes: Vec::new(),
                    splits: Vec::new(),
                });
                continue;
            }
            hosts.push(plan_host(snap, listener, &at_key, registry, warnings));
        }
        // A TLS listener is one filter chain per served host, and Envoy rejects a listener without any.
        let left_out = if protocol != ListenerProtocol::Tls {
            None
        } else if hosts.is_empty() {
            warnings.push(Warning::new(
                WarningCode::GatewayListenerLeftOut,
                &name,
                format!("{name}: no MeshTCPRoute routes any of its hosts; listener left out"),
            ));
            Some(LeftOut::NoRoute)
        } else if hosts.iter().all(|h| h.left_out.is_some()) {
            warnings.push(Warning::new(
                WarningCode::GatewayListenerLeftOut,
                &name,
                format!("{name}: no TLS host can be served; listener left out"),
            ));
            Some(LeftOut::Unsupported(Unsupported::TlsTermination))
        } else {
            None
        };
        plans.push(GatewayListenerPlan {
            name,
            address: proxy.networking.address.clone(),
            port,
            protocol,
            stat_prefix: sanitize_stat_prefix(&gateway_service),
            hosts,
            left_out,
        });
    }
    Some(GatewayPlan { gateway: gateway.display_name().to_owned(), listeners: plans })
}

fn plan_host(
    snap: &MeshSnapshot,
    listener: &GatewayListener,
    matched: &[&Matched<'_>],
    registry: &mut ClusterRegistry,
    warnings: &mut Vec<Warning>,
) -> GatewayHostPlan {
    let rules = build_to_rules(snap, matched);
    let mut routes = Vec::new();
    let mut splits = Vec::new();
    let where_ =
        format!("gateway listener {}:{} host {}", listener.key.address, listener.key.port, listener.key.hostname);
    // Every legacy rule at this key, whatever its subset (spec §4.10 item 2). A rule whose winning
    // contribution another rule already brought would only repeat its backends: Kuma 2.13 emits such
    // duplicates; they are kept out here.
    let mut taken = Vec::new();
    for rule in &rules.legacy {
        if taken.contains(&rule.impactful.policy) {
            continue;
        }
        taken.push(rule.impactful.policy);
        let mut names: Vec<&str> = rule.origins.iter().map(|o| snap.tcp_routes()[*o].display_name()).collect();
        names.sort_unstable();
        routes.push(names.join("_"));
        let policy = &snap.tcp_routes()[rule.impactful.policy].resource;
        for b in rule.backend_refs.iter() {
            let Some(backend) = resolve_backend(snap, Some(policy), b) else {
                warnings.push(Warning::new(
                    WarningCode::UnresolvedBackendRef,
                    &where_,
                    format!("{where_}: backendRef {} names no resource; dropped", b.kind),
                ));
                continue;
            };
            let Some(tags) = gateway_destination_tags(snap, &backend, b) else {
                warnings.push(Warning::new(
                    WarningCode::UnknownBackend,
                    &where_,
                    format!(
                        "{where_}: backendRef {} {} does not exist; dropped",
                        b.kind,
                        b.name.as_deref().unwrap_or("")
                    ),
                ));
                continue;
            };
            let service = tags.get(SERVICE_TAG).cloned().unwrap_or_default();
            let name = subset_cluster_name(&service, &tags, &listener.merged_tags);
            let (kind, endpoints, protocol) = match &backend {
                crate::backends::Backend::Real { kri, .. } => match lookup_real(snap, kri) {
                    Ok((resource, port)) => {
                        (ClusterKind::Eds, snap.index.real_endpoints(resource, &port), port.protocol)
                    }
                    Err(_) => continue,
                },
                crate::backends::Backend::Legacy { .. } => {
                    let (kind, endpoints) = legacy_cluster_source(snap, &service, &tags);
                    (kind, endpoints, snap.index.service_protocol(&service))
                }
            };
            if endpoints.is_empty() {
                warnings.push(no_ready_endpoints(&name).within(&where_));
                continue;
            }
            let cluster = registry.add(std::sync::Arc::new(ClusterPlan {
                name,
                service,
                tags,
                protocol: if protocol == Protocol::Unknown { Protocol::Tcp } else { protocol },
                kind,
                cross_mesh: None,
                gateway: true,
                endpoints,
            }));
            let weight = clamp_weight(b.effective_weight(), &cluster, warnings);
            if weight > 0 {
                splits.push(Split { cluster, weight });
            }
        }
    }
    splits.sort_by(|a, b| a.cluster.cmp(&b.cluster));
    GatewayHostPlan {
        hostname: listener.key.hostname.clone(),
        tls_mode: listener.tls_mode,
        left_out: None,
        routes,
        splits,
    }
}

/// Exact hostnames before wildcards, then more labels first, then by name.
pub fn compare_hostnames(a: &str, b: &str) -> Ordering {
    let wildcard = |h: &str| h.starts_with('*');
    let labels = |h: &str| h.split('.').count();
    wildcard(a).cmp(&wildcard(b)).then(labels(b).cmp(&labels(a))).then(a.cmp(b))
}
