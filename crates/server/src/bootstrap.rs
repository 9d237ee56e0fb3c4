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
    /// The dataplane token Envoy shows on its ADS streams (`authorization` metadata).
    pub token: Option<&'a str>,
    /// When set, Envoy reaches ADS over TLS, verifying the control plane with the CA (PEM) when given
    /// (the proxy verified `/bootstrap` with it), else not (the proxy skipped verification too).
    pub tls: Option<Option<&'a str>>,
}

pub fn bootstrap(p: &BootstrapParams<'_>) -> Value {
    let api_type = match p.protocol {
        XdsProtocol::Sotw => "GRPC",
        XdsProtocol::Delta => "DELTA_GRPC",
    };
    let cp_is_ip = p.cp_host.parse::<std::net::IpAddr>().is_ok();
    let mut grpc_service = json!({ "envoyGrpc": { "clusterName": "ads_cluster" } });
    if let Some(token) = p.token {
        grpc_service["initialMetadata"] = json!([{ "key": "authorization", "value": token }]);
    }
    let mut config = json!({
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
                "grpcServices": [grpc_service],
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
    });
    if let Some(ca) = p.tls {
        let mut tls = json!({
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "commonTlsContext": { "alpnProtocols": ["h2"] },
        });
        if let Some(ca) = ca {
            tls["commonTlsContext"]["validationContext"] = json!({ "trustedCa": { "inlineString": ca } });
        }
        // SNI only for a name: an IP address is not a valid server name.
        if !cp_is_ip {
            tls["sni"] = json!(p.cp_host);
        }
        config["staticResources"]["clusters"][0]["transportSocket"] =
            json!({ "name": "envoy.transport_sockets.tls", "typedConfig": tls });
    }
    config
}
