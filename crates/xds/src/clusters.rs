//! Clusters and their endpoints (spec meshtcproute.md §4.7-§4.8, §4.10 item 5).

use envoy_types::pb::envoy::config::cluster::v3::{Cluster, cluster};
use envoy_types::pb::envoy::config::core::v3::{
    AggregatedConfigSource, ApiVersion, ConfigSource, Http1ProtocolOptions, Http2ProtocolOptions, config_source,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, LbEndpoint, LocalityLbEndpoints, lb_endpoint,
};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::{HttpProtocolOptions, http_protocol_options};
use envoy_types::pb::google::protobuf::UInt32Value;
use policy::index::Endpoint;
use policy::plan::{ClusterPlan, InboundPlan, Resolution};
use policy::protocol::Protocol;

use crate::listeners::inbound_cluster_name;
use crate::messages::{any, metadata, seconds, socket_address};

const HTTP_PROTOCOL_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

fn protocol_options(http2: bool) -> HttpProtocolOptions {
    let config = if http2 {
        http_protocol_options::explicit_http_config::ProtocolConfig::Http2ProtocolOptions(
            Http2ProtocolOptions::default(),
        )
    } else {
        http_protocol_options::explicit_http_config::ProtocolConfig::HttpProtocolOptions(Http1ProtocolOptions::default())
    };
    HttpProtocolOptions {
        upstream_protocol_options: Some(http_protocol_options::UpstreamProtocolOptions::ExplicitHttpConfig(
            http_protocol_options::ExplicitHttpConfig { protocol_config: Some(config) },
        )),
        ..HttpProtocolOptions::default()
    }
}

fn with_protocol_options(mut c: Cluster, http2: bool) -> Cluster {
    c.typed_extension_protocol_options.insert(HTTP_PROTOCOL_OPTIONS.into(), any(&protocol_options(http2)));
    c
}

/// Endpoints over ADS.
fn eds() -> cluster::ClusterDiscoveryType {
    cluster::ClusterDiscoveryType::Type(cluster::DiscoveryType::Eds.into())
}

/// A mesh cluster: EDS over ADS. Sidecar clusters always carry HTTP/2 options (as Kuma's do); gateway
/// clusters have a 5 s connect timeout and a 32 KiB buffer limit instead.
pub fn eds_cluster(plan: &ClusterPlan) -> Cluster {
    let c = Cluster {
        name: plan.name.clone(),
        cluster_discovery_type: Some(eds()),
        eds_cluster_config: Some(cluster::EdsClusterConfig {
            eds_config: Some(ConfigSource {
                resource_api_version: ApiVersion::V3.into(),
                config_source_specifier: Some(config_source::ConfigSourceSpecifier::Ads(AggregatedConfigSource {})),
                ..ConfigSource::default()
            }),
            ..cluster::EdsClusterConfig::default()
        }),
        ..Cluster::default()
    };
    if plan.gateway {
        let http2 = matches!(plan.protocol, Protocol::Http2 | Protocol::Grpc);
        let c = Cluster {
            connect_timeout: Some(seconds(5)),
            per_connection_buffer_limit_bytes: Some(UInt32Value { value: 32_768 }),
            ..c
        };
        if plan.protocol.is_http_family() { with_protocol_options(c, http2) } else { c }
    } else {
        with_protocol_options(c, true)
    }
}

/// A legacy ExternalService reached directly: STATIC or STRICT_DNS as the plan says, its endpoint inline
/// with the service's tags as metadata (as every endpoint has), protocol options by protocol.
pub fn external_cluster(plan: &ClusterPlan, resolution: Resolution) -> Cluster {
    let discovery = match resolution {
        Resolution::Static => cluster::DiscoveryType::Static,
        Resolution::StrictDns => cluster::DiscoveryType::StrictDns,
    };
    let c = Cluster {
        name: plan.name.clone(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(discovery.into())),
        load_assignment: Some(load_assignment(&plan.name, &plan.endpoints)),
        ..Cluster::default()
    };
    match plan.protocol {
        Protocol::Http => with_protocol_options(c, false),
        Protocol::Http2 | Protocol::Grpc => with_protocol_options(c, true),
        _ => c,
    }
}

/// The cluster of an inbound: the application at its service address and port.
pub fn inbound_cluster(inbound: &InboundPlan) -> Cluster {
    let name = inbound_cluster_name(inbound);
    let endpoint = Endpoint {
        address: inbound.service_address.clone(),
        port: inbound.service_port,
        weight: 1,
        tags: model::Tags::new(),
    };
    let c = Cluster {
        name: name.clone(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(cluster::DiscoveryType::Static.into())),
        load_assignment: Some(load_assignment(&name, std::slice::from_ref(&endpoint))),
        ..Cluster::default()
    };
    match inbound.protocol {
        Protocol::Http2 | Protocol::Grpc => with_protocol_options(c, true),
        _ => c,
    }
}

/// The endpoints of a cluster (spec §4.8): one locality group; each endpoint with its weight and its
/// tags (less `kuma.io/service`) as `envoy.lb` and `envoy.transport_socket_match` metadata. No endpoints
/// gives a CLA with only the cluster name.
pub fn load_assignment(cluster: &str, endpoints: &[Endpoint]) -> ClusterLoadAssignment {
    let lb_endpoints: Vec<LbEndpoint> = endpoints
        .iter()
        .map(|e| {
            let mut tags = e.tags.clone();
            tags.remove(model::common::SERVICE_TAG);
            LbEndpoint {
                host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(
                    envoy_types::pb::envoy::config::endpoint::v3::Endpoint {
                        address: Some(socket_address(&e.address, e.port)),
                        ..Default::default()
                    },
                )),
                load_balancing_weight: Some(UInt32Value { value: e.weight.max(1) }),
                metadata: (!tags.is_empty()).then(|| metadata(&["envoy.lb", "envoy.transport_socket_match"], &tags)),
                ..LbEndpoint::default()
            }
        })
        .collect();
    ClusterLoadAssignment {
        cluster_name: cluster.to_owned(),
        endpoints: if lb_endpoints.is_empty() {
            Vec::new()
        } else {
            vec![LocalityLbEndpoints { lb_endpoints, ..LocalityLbEndpoints::default() }]
        },
        ..ClusterLoadAssignment::default()
    }
}
