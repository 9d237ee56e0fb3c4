//! The Envoy bootstrap `meshroute proxy` writes for a Dataplane, as kuma-dp does: node id
//! `<mesh>.<name>`, the Dataplane in node metadata, ADS to the control plane, admin on loopback.

use serde_json::{Value, json};

use crate::ads::{CONTRIB_METADATA, DATAPLANE_METADATA};

/// Which ADS flavour Envoy uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdsProtocol {
    Sotw,
    Delta,
}

pub struct BootstrapParams<'a> {
    pub mesh: &'a str,
    pub name: &'a str,
    /// The `kuma.io/service` of the Dataplane (Envoy's node cluster).
    pub service: &'a str,
    /// The Dataplane resource as JSON.
    pub dataplane_json: &'a str,
    pub cp_host: &'a str,
    pub cp_port: u16,
    pub admin_port: u16,
    pub protocol: XdsProtocol,
    pub envoy_contrib: bool,
}

pub fn bootstrap(p: &BootstrapParams<'_>) -> Value {
    let api_type = match p.protocol {
        XdsProtocol::Sotw => "GRPC",
        XdsProtocol::Delta => "DELTA_GRPC",
    };
    let cp_is_ip = p.cp_host.parse::<std::net::IpAddr>().is_ok();
    json!({
        "node": {
            "id": format!("{}.{}", p.mesh, p.name),
            "cluster": p.service,
            "metadata": { DATAPLANE_METADATA: p.dataplane_json, CONTRIB_METADATA: p.envoy_contrib },
        },
        "admin": { "address": { "socketAddress": { "address": "127.0.0.1", "portValue": p.admin_port } } },
        "dynamicResources": {
            "adsConfig": {
                "apiType": api_type,
                "transportApiVersion": "V3",
                "setNodeOnFirstMessageOnly": true,
                "grpcServices": [{ "envoyGrpc": { "clusterName": "ads_cluster" } }],
            },
            "cdsConfig": { "ads": {}, "resourceApiVersion": "V3", "initialFetchTimeout": "0s" },
            "ldsConfig": { "ads": {}, "resourceApiVersion": "V3", "initialFetchTimeout": "0s" },
        },
        "staticResources": {
            "clusters": [{
                "name": "ads_cluster",
                "type": if cp_is_ip { "STATIC" } else { "STRICT_DNS" },
                "connectTimeout": "1s",
                "typedExtensionProtocolOptions": {
                    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                        "explicitHttpConfig": { "http2ProtocolOptions": {} },
                    },
                },
                "upstreamConnectionOptions": { "tcpKeepalive": { "keepaliveProbes": 3, "keepaliveTime": 10, "keepaliveInterval": 10 } },
                "loadAssignment": {
                    "clusterName": "ads_cluster",
                    "endpoints": [{ "lbEndpoints": [{ "endpoint": { "address": { "socketAddress": {
                        "address": p.cp_host, "portValue": p.cp_port } } } }] }],
                },
            }],
        },
    })
}
