//! Listeners (spec meshtcproute.md §4.6, §4.10): outbound `tcp_proxy` listeners, the default HTTP listener
//! of HTTP destinations MeshTCPRoute does not own, inbound listeners, and builtin gateway TCP/TLS
//! listeners.

use envoy_types::pb::envoy::config::core::v3::{
    AggregatedConfigSource, ApiVersion, ConfigSource, ExtensionConfigSource, TrafficDirection, TypedExtensionConfig,
    config_source,
};
use envoy_types::pb::envoy::config::listener::v3::{
    Filter, FilterChain, FilterChainMatch, Listener, ListenerFilter, filter, listener_filter,
};
use envoy_types::pb::envoy::config::route::v3::{
    Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost, WeightedCluster as RouteWeightedCluster, route,
    route_action, route_match, weighted_cluster as route_weighted_cluster,
};
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter, http_connection_manager, http_filter,
};
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{TcpProxy, tcp_proxy};
use envoy_types::pb::google::protobuf::UInt32Value;
use model::kinds::gateway::ListenerProtocol;
use policy::plan::{GatewayListenerPlan, InboundPlan, OutboundPlan, Split};

use crate::kafka::{FILTER_NAME as KAFKA_FILTER, KafkaBroker};
use crate::messages::{any, metadata, network_filter, socket_address};

const TCP_PROXY: &str = "envoy.filters.network.tcp_proxy";
const HTTP_CONNECTION_MANAGER: &str = "envoy.filters.network.http_connection_manager";
const TLS_INSPECTOR: &str = "envoy.filters.listener.tls_inspector";
const ROUTER: &str = "envoy.filters.http.router";

/// Weights as Envoy takes them: each at least 1 (zeros never reach here) and a total that fits in a
/// u32. Larger totals are halved until they fit, which keeps the ratios to within rounding.
pub fn envoy_weights(splits: &[Split]) -> Vec<u32> {
    let mut weights: Vec<u64> = splits.iter().map(|s| u64::from(s.weight.max(1))).collect();
    while weights.iter().sum::<u64>() > u64::from(u32::MAX) {
        for w in &mut weights {
            *w = (*w / 2).max(1);
        }
    }
    weights.into_iter().map(|w| u32::try_from(w).unwrap_or(u32::MAX)).collect()
}

/// `tcp_proxy` to one cluster, or weighted clusters for several (spec §4.6 item 2).
pub fn tcp_proxy(stat_prefix: &str, splits: &[Split]) -> TcpProxy {
    let specifier = match splits {
        [one] => tcp_proxy::ClusterSpecifier::Cluster(one.cluster.clone()),
        _ => tcp_proxy::ClusterSpecifier::WeightedClusters(tcp_proxy::WeightedCluster {
            clusters: splits
                .iter()
                .zip(envoy_weights(splits))
                .map(|(s, weight)| tcp_proxy::weighted_cluster::ClusterWeight {
                    name: s.cluster.clone(),
                    weight,
                    ..Default::default()
                })
                .collect(),
        }),
    };
    TcpProxy { stat_prefix: stat_prefix.to_owned(), cluster_specifier: Some(specifier), ..TcpProxy::default() }
}

/// An HTTP connection manager with one catch-all route to `splits`.
fn http_connection_manager(stat_prefix: &str, route_name: &str, splits: &[Split]) -> HttpConnectionManager {
    let action = match splits {
        [one] => route_action::ClusterSpecifier::Cluster(one.cluster.clone()),
        _ => route_action::ClusterSpecifier::WeightedClusters(RouteWeightedCluster {
            clusters: splits
                .iter()
                .zip(envoy_weights(splits))
                .map(|(s, weight)| route_weighted_cluster::ClusterWeight {
                    name: s.cluster.clone(),
                    weight: Some(UInt32Value { value: weight }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
    };
    let route = Route {
        r#match: Some(RouteMatch {
            path_specifier: Some(route_match::PathSpecifier::Prefix("/".into())),
            ..RouteMatch::default()
        }),
        action: Some(route::Action::Route(RouteAction { cluster_specifier: Some(action), ..RouteAction::default() })),
        ..Route::default()
    };
    HttpConnectionManager {
        stat_prefix: stat_prefix.to_owned(),
        codec_type: http_connection_manager::CodecType::Auto.into(),
        route_specifier: Some(http_connection_manager::RouteSpecifier::RouteConfig(RouteConfiguration {
            name: route_name.to_owned(),
            virtual_hosts: vec![VirtualHost {
                name: route_name.to_owned(),
                domains: vec!["*".into()],
                routes: vec![route],
                ..VirtualHost::default()
            }],
            ..RouteConfiguration::default()
        })),
        http_filters: vec![HttpFilter {
            name: ROUTER.into(),
            config_type: Some(http_filter::ConfigType::TypedConfig(any(&Router::default()))),
            ..HttpFilter::default()
        }],
        ..HttpConnectionManager::default()
    }
}

/// A `tcp_proxy` whose config Envoy fetches by name over ECDS, and that config. Where traffic goes
/// (weights, redirect target, backends) lives in the extension config only, so changing it never
/// changes the listener, and Envoy never drains established connections for it.
pub fn discovered_tcp_proxy(name: String, stat_prefix: &str, splits: &[Split]) -> (Filter, TypedExtensionConfig) {
    let filter = Filter {
        name: name.clone(),
        config_type: Some(filter::ConfigType::ConfigDiscovery(ExtensionConfigSource {
            config_source: Some(ConfigSource {
                resource_api_version: ApiVersion::V3.into(),
                config_source_specifier: Some(config_source::ConfigSourceSpecifier::Ads(AggregatedConfigSource {})),
                ..ConfigSource::default()
            }),
            type_urls: vec![<TcpProxy as prost::Name>::type_url()],
            ..ExtensionConfigSource::default()
        })),
    };
    let config = TypedExtensionConfig { name, typed_config: Some(any(&tcp_proxy(stat_prefix, splits))) };
    (filter, config)
}

/// The name of the extension config of a listener's (or a filter chain's) `tcp_proxy`.
pub fn tcp_proxy_config_name(listener: &str, chain: Option<&str>) -> String {
    match chain {
        Some(host) => format!("{listener}/{host}/tcp_proxy"),
        None => format!("{listener}/tcp_proxy"),
    }
}

/// A `tcp_proxy` outbound listener: the kafka filter first when the plan says so, then `tcp_proxy`
/// (through ECDS) unless there are no splits.
pub fn outbound_tcp(plan: &OutboundPlan, kafka_filter: bool) -> (Listener, Option<TypedExtensionConfig>) {
    let splits = &plan.splits;
    let mut filters: Vec<Filter> = Vec::new();
    if kafka_filter {
        filters.push(network_filter(KAFKA_FILTER, &KafkaBroker { stat_prefix: plan.stat_prefix.clone() }));
    }
    let mut config = None;
    if !splits.is_empty() {
        let (filter, c) = discovered_tcp_proxy(tcp_proxy_config_name(&plan.name, None), &plan.stat_prefix, splits);
        filters.push(filter);
        config = Some(c);
    }
    (outbound_listener(plan, filters), config)
}

/// The default HTTP listener of an HTTP destination (MeshHTTPRoute's, until MeshHTTPRoute is implemented).
pub fn outbound_http(plan: &OutboundPlan) -> Listener {
    let hcm = http_connection_manager(&plan.stat_prefix, &plan.service, &plan.splits);
    outbound_listener(plan, vec![network_filter(HTTP_CONNECTION_MANAGER, &hcm)])
}

fn outbound_listener(plan: &OutboundPlan, filters: Vec<Filter>) -> Listener {
    Listener {
        name: plan.name.clone(),
        address: Some(socket_address(&plan.address, plan.port)),
        traffic_direction: TrafficDirection::Outbound.into(),
        metadata: Some(metadata(&["io.kuma.tags"], &plan.tags)),
        filter_chains: vec![FilterChain { filters, ..FilterChain::default() }],
        ..Listener::default()
    }
}

/// The cluster an inbound forwards to: the application.
pub fn inbound_cluster_name(inbound: &InboundPlan) -> String {
    format!("localhost:{}", inbound.service_port)
}

/// An inbound listener: the Dataplane's address:port in front of the application, HTTP-aware for HTTP
/// services (so HTTP/2 from other proxies reaches an HTTP/1 application) and plain TCP otherwise.
pub fn inbound(inbound: &InboundPlan) -> Listener {
    let cluster = inbound_cluster_name(inbound);
    let stat_prefix = format!("localhost_{}", inbound.service_port);
    let splits = [Split { cluster, weight: 1 }];
    let filter = if inbound.protocol.is_http_family() {
        network_filter(HTTP_CONNECTION_MANAGER, &http_connection_manager(&stat_prefix, &inbound.name, &splits))
    } else {
        network_filter(TCP_PROXY, &tcp_proxy(&stat_prefix, &splits))
    };
    Listener {
        name: inbound.name.clone(),
        address: Some(socket_address(&inbound.address, inbound.port)),
        traffic_direction: TrafficDirection::Inbound.into(),
        metadata: Some(metadata(&["io.kuma.tags"], &inbound.tags)),
        filter_chains: vec![FilterChain { filters: vec![filter], ..FilterChain::default() }],
        ..Listener::default()
    }
}

/// A builtin gateway TCP or TLS listener (spec §4.10 items 3-4), its `tcp_proxy` configs through ECDS:
/// one filter chain per TLS host the plan serves.
pub fn gateway(listener: &GatewayListenerPlan) -> (Listener, Vec<TypedExtensionConfig>) {
    let mut chains = Vec::new();
    let mut configs = Vec::new();
    if listener.protocol == ListenerProtocol::Tcp {
        let mut splits: Vec<Split> = listener.hosts.iter().flat_map(|h| h.splits.iter().cloned()).collect();
        splits.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        let mut filters = Vec::new();
        if !splits.is_empty() {
            let name = tcp_proxy_config_name(&listener.name, None);
            let (filter, config) = discovered_tcp_proxy(name, &listener.stat_prefix, &splits);
            filters.push(filter);
            configs.push(config);
        }
        chains.push(FilterChain { filters, ..FilterChain::default() });
    } else {
        for host in listener.hosts.iter().filter(|h| h.left_out.is_none()) {
            let mut filters = Vec::new();
            if !host.splits.is_empty() {
                let name = tcp_proxy_config_name(&listener.name, Some(&host.hostname));
                let (filter, config) = discovered_tcp_proxy(name, &listener.stat_prefix, &host.splits);
                filters.push(filter);
                configs.push(config);
            }
            let server_names = if host.hostname == "*" { Vec::new() } else { vec![host.hostname.clone()] };
            chains.push(FilterChain {
                filter_chain_match: Some(FilterChainMatch {
                    transport_protocol: "tls".into(),
                    server_names,
                    ..FilterChainMatch::default()
                }),
                filters,
                ..FilterChain::default()
            });
        }
    }
    let l = Listener {
        name: listener.name.clone(),
        address: Some(socket_address(&listener.address, listener.port)),
        traffic_direction: TrafficDirection::Inbound.into(),
        enable_reuse_port: Some(envoy_types::pb::google::protobuf::BoolValue { value: true }),
        per_connection_buffer_limit_bytes: Some(UInt32Value { value: 32_768 }),
        // Kuma puts the TLS inspector on every gateway listener. On a TCP listener it only makes Envoy
        // wait for the client's first bytes, which stalls server-first protocols (MySQL, SMTP, ...);
        // meshroute adds it where SNI matching needs it: TLS listeners.
        listener_filters: if listener.protocol == ListenerProtocol::Tls {
            vec![ListenerFilter {
                name: TLS_INSPECTOR.into(),
                config_type: Some(listener_filter::ConfigType::TypedConfig(any(&TlsInspector::default()))),
                ..ListenerFilter::default()
            }]
        } else {
            Vec::new()
        },
        filter_chains: chains,
        ..Listener::default()
    };
    (l, configs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(weight: u32) -> Split {
        Split { cluster: "c".into(), weight }
    }

    #[test]
    fn weights_fit_envoys_total() {
        assert_eq!(envoy_weights(&[split(90), split(10)]), vec![90, 10]);
        let big = envoy_weights(&[split(u32::MAX), split(u32::MAX / 3), split(1)]);
        assert!(u32::try_from(big.iter().map(|w| u64::from(*w)).sum::<u64>()).is_ok());
        assert_eq!(big[2], 1, "never zero");
        assert!((f64::from(big[0]) / f64::from(big[1]) - 3.0).abs() < 0.01, "ratio kept: {big:?}");
    }
}
