//! The dataplane server, as kuma-dp expects it on one port: `POST /bootstrap` (HTTP/1.1) hands out the
//! Envoy bootstrap of a Dataplane, and ADS (gRPC over HTTP/2) on the same port programs it.
//!
//! `/bootstrap` answers like Kuma's handler: 200 with the bootstrap (JSON with it base64-encoded when the
//! client accepts JSON, else the raw YAML as `text/x-yaml`), 400 for a malformed body, 422 for a Dataplane
//! that fails validation, 404 with an empty body when the request names a Dataplane the control plane
//! does not know and carries none.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use model::{Kind, Resource, Spec};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;

use crate::ControlPlane;
use crate::bootstrap::{BootstrapParams, XdsProtocol, bootstrap};
use crate::tokens::AuthError;

/// The feature kuma-dp announces when its Envoy uses incremental xDS.
pub const FEATURE_DELTA_GRPC: &str = "feature-delta-grpc";
/// Ours: the Envoy build has contrib extensions (kafka_broker).
pub const FEATURE_ENVOY_CONTRIB: &str = "meshroute-envoy-contrib";
/// Envoy's admin port when the Dataplane sets none (Kuma's default).
const DEFAULT_ADMIN_PORT: u16 = 9901;

/// kuma-dp's `BootstrapRequest`; fields meshroute does not use are accepted and ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BootstrapRequest {
    pub mesh: String,
    pub name: String,
    pub proxy_type: String,
    /// The Dataplane as JSON (or YAML) text, as kuma-dp sends it on Universal.
    pub dataplane_resource: String,
    pub features: Vec<String>,
    /// The dataplane token; Envoy sends it on every ADS stream (the bootstrap carries it).
    pub dataplane_token: String,
    /// The CA the proxy verified this server with (PEM); Envoy verifies ADS with it too.
    pub ca_cert: String,
}

#[derive(Clone)]
struct DpServer {
    control: Arc<ControlPlane>,
    /// The port Envoy reaches ADS on: this server's own.
    port: u16,
}

fn plain(status: StatusCode, message: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message.into()).into_response()
}

async fn post_bootstrap(
    State(dp): State<DpServer>,
    tls: Option<axum::Extension<OverTls>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let over_tls = tls.is_some_and(|t| t.0.0);
    let request: BootstrapRequest = match serde_json::from_str(&body) {
        Ok(r) => r,
        Err(e) => return plain(StatusCode::BAD_REQUEST, format!("malformed bootstrap request: {e}")),
    };
    if !request.proxy_type.is_empty() && request.proxy_type != "dataplane" {
        return plain(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("proxyType {:?} is not supported: only dataplane", request.proxy_type),
        );
    }
    let dataplane = if request.dataplane_resource.is_empty() {
        match dp.control.served(Kind::Dataplane, &request.mesh, &request.name) {
            Some(d) => d,
            None => return StatusCode::NOT_FOUND.into_response(),
        }
    } else {
        match read_dataplane(&request) {
            Ok(d) => d,
            Err(message) => return plain(StatusCode::UNPROCESSABLE_ENTITY, message),
        }
    };
    if let Err(e) = dp.control.authenticate_proxy(Some(&request.dataplane_token), &dataplane) {
        tracing::warn!(mesh = %dataplane.meta.mesh, name = %dataplane.meta.name, reason = e.reason(), "bootstrap refused: {e}");
        let status = if e == AuthError::Missing { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::UNAUTHORIZED };
        return plain(status, format!("authentication failed: {e}"));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or("127.0.0.1", |h| h.rsplit_once(':').map_or(h, |(host, _)| host))
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let Spec::Dataplane(spec) = &dataplane.spec else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    let networking = spec.networking.as_ref();
    let service = networking
        .and_then(|n| n.inbound.first().map(|i| &i.tags).or_else(|| n.gateway.as_ref().map(|g| &g.tags)))
        .and_then(|t| t.get(model::common::SERVICE_TAG).cloned())
        .unwrap_or_default();
    let admin_port = networking
        .and_then(|n| n.admin.as_ref())
        .and_then(|a| u16::try_from(a.port).ok())
        .filter(|p| *p != 0)
        .unwrap_or(DEFAULT_ADMIN_PORT);
    let dataplane_json = model::to_universal(&dataplane).to_string();
    let config = bootstrap(&BootstrapParams {
        mesh: &dataplane.meta.mesh,
        name: &dataplane.meta.name,
        service: &service,
        dataplane_json: &dataplane_json,
        cp_host: &host,
        cp_port: dp.port,
        admin_port,
        protocol: if request.features.iter().any(|f| f == FEATURE_DELTA_GRPC) {
            XdsProtocol::Delta
        } else {
            XdsProtocol::Sotw
        },
        envoy_contrib: request.features.iter().any(|f| f == FEATURE_ENVOY_CONTRIB),
        token: (!request.dataplane_token.trim().is_empty()).then(|| request.dataplane_token.trim()),
        tls: over_tls.then(|| (!request.ca_cert.trim().is_empty()).then_some(request.ca_cert.as_str())),
    });
    // JSON is YAML: Envoy reads this text as a `.yaml` bootstrap.
    let text = serde_json::to_string_pretty(&config).unwrap_or_default();
    let wants_json =
        headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("application/json"));
    if wants_json {
        let address = networking.map(|n| n.address.clone()).unwrap_or_default();
        axum::Json(json!({
            "bootstrap": base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
            "kumaSidecarConfiguration": {
                "networking": { "corefileTemplate": "", "address": address },
                "metrics": { "aggregate": [] },
            },
        }))
        .into_response()
    } else {
        (StatusCode::OK, [(header::CONTENT_TYPE, "text/x-yaml")], text).into_response()
    }
}

/// The Dataplane of a request: parsed, valid, and the one the request names.
fn read_dataplane(request: &BootstrapRequest) -> Result<Resource, String> {
    let resource = crate::dataplane::parse_dataplane(&request.dataplane_resource, "dataplaneResource")
        .map_err(|e| e.to_string())?;
    for (field, asked, has) in
        [("mesh", &request.mesh, &resource.meta.mesh), ("name", &request.name, &resource.meta.name)]
    {
        if !asked.is_empty() && asked != has {
            return Err(format!("{field}: the request says {asked:?} but dataplaneResource says {has:?}"));
        }
    }
    Ok(Resource::clone(&resource))
}

/// `/bootstrap` and ADS on one router.
pub fn router(control: Arc<ControlPlane>, port: u16) -> axum::Router {
    let ads = tonic::service::Routes::new(crate::ads::Ads::service(control.clone())).into_axum_router();
    axum::Router::new()
        .route("/bootstrap", axum::routing::post(post_bootstrap))
        .with_state(DpServer { control, port })
        .merge(ads)
}

/// How a connection reached the dataplane server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverTls(pub bool);

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;
/// How long a new connection may take to send its first byte and finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the dataplane server on `listener` until `shutdown` completes: HTTP/1.1 and HTTP/2 (prior
/// knowledge, as Envoy's gRPC client speaks it) on one port, with HTTP/2 keepalive pings so a vanished
/// proxy's stream ends. With `tls`, a connection that starts a TLS handshake gets TLS, and plaintext is
/// accepted only from loopback peers (the demo, local development); without it, plaintext only.
pub async fn serve(
    control: Arc<ControlPlane>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let router = router(control, listener.local_addr()?.port());
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http2().keep_alive_interval(Some(Duration::from_secs(30))).timer(hyper_util::rt::TokioTimer::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("dataplane server: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (router, builder, watcher, tls) = (router.clone(), builder.clone(), graceful.watcher(), tls.clone());
                tokio::spawn(async move {
                    let mut first = [0u8; 1];
                    let starts_tls = matches!(
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await,
                        Ok(Ok(1)) if first[0] == TLS_HANDSHAKE
                    );
                    match tls {
                        Some(acceptor) if starts_tls => {
                            let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await else {
                                tracing::debug!("dataplane server: TLS handshake with {peer} failed");
                                return;
                            };
                            let service = hyper_util::service::TowerToHyperService::new(router.layer(axum::Extension(OverTls(true))));
                            let connection = watcher.watch(builder.serve_connection(TokioIo::new(stream), service).into_owned());
                            if let Err(e) = connection.await {
                                tracing::debug!("dataplane server connection: {e}");
                            }
                        }
                        Some(_) if !peer.ip().is_loopback() => {
                            tracing::debug!("dataplane server: plaintext from {peer} refused: only loopback peers may skip TLS");
                        }
                        _ => {
                            let service = hyper_util::service::TowerToHyperService::new(router.layer(axum::Extension(OverTls(false))));
                            let connection = watcher.watch(builder.serve_connection(TokioIo::new(stream), service).into_owned());
                            if let Err(e) = connection.await {
                                tracing::debug!("dataplane server connection: {e}");
                            }
                        }
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    // ADS streams never end on their own: give them a moment to close, then stop.
    let _ = tokio::time::timeout(Duration::from_secs(2), graceful.shutdown()).await;
    Ok(())
}
