//! meshroute's control plane process parts: the shared state, the dataplane server (`/bootstrap` and ADS,
//! SotW and Delta) that programs Envoy, the HTTP API, the reconcile loop from the store or a folder, and the
//! leader's work when several instances share a store.
//!
//! ```text
//!  API ──► Store ──change feed / revision poll──► reconcile ──► ControlPlane (snapshot per mesh)
//!  resources folder ──(poll; a bad file keeps the last good set)──────────────►   │ wakes only the
//!  kuma-dp / meshroute proxy ──POST /bootstrap──► dp server                       │ proxies a change
//!  Envoy ──ADS (node <mesh>.<name>, Dataplane in node metadata)──► stream ◄───────┘ can affect
//!        ◄── plan ─► generate ─► send changed types, CDS → EDS → ECDS → LDS (LDS, ECDS first when
//!            clusters go away)
//!  leader (lease in the store) ──fenced writes──► default mesh, Dataplanes of dead instances removed
//! ```

pub mod ads;
pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod control;
pub mod dataplane;
pub mod delta;
pub mod dp_server;
pub mod files;
pub mod leader;
pub mod metered_store;
pub mod metrics;
pub mod openapi;
mod outbox;
pub mod proxy_id;
pub mod reconcile;
mod served;
pub mod sotw;
pub mod status;
pub mod tls;
pub mod token_api;
pub mod tokens;
mod wakeups;
mod written;

use std::future::Future;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use xds::{CLUSTER_TYPE, ENDPOINT_TYPE, EXTENSION_CONFIG_TYPE, LISTENER_TYPE, ResourceSet};

pub use control::ControlPlane;

/// The order to push types after a change: clusters, endpoints, extension configs, listeners when
/// adding, so nothing names what Envoy lacks (a listener never waits on a missing extension config);
/// listeners and extension configs first when clusters go away, so none still names them.
pub fn push_order(previous: Option<&ResourceSet>, current: &ResourceSet) -> [&'static str; 4] {
    let removes_clusters =
        previous.is_some_and(|p| p.clusters.iter().any(|old| !current.clusters.iter().any(|c| c.name == old.name)));
    if removes_clusters {
        [LISTENER_TYPE, EXTENSION_CONFIG_TYPE, CLUSTER_TYPE, ENDPOINT_TYPE]
    } else {
        [CLUSTER_TYPE, ENDPOINT_TYPE, EXTENSION_CONFIG_TYPE, LISTENER_TYPE]
    }
}

/// Serves the dataplane server (`POST /bootstrap` and ADS) on `listener` until `shutdown` completes.
pub async fn serve_ads(
    control: Arc<ControlPlane>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    dp_server::serve(control, listener, None, shutdown).await
}

/// The dataplane server with TLS (plaintext from loopback peers only).
pub async fn serve_ads_tls(
    control: Arc<ControlPlane>,
    listener: TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    dp_server::serve(control, listener, Some(tls), shutdown).await
}

/// Serves the HTTP API over TLS on `listener` until `shutdown` completes.
pub async fn serve_api_tls(
    api: api::Api,
    listener: TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = api::router(api);
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let (router, builder, tls) = (router.clone(), builder.clone(), tls.clone());
                tokio::spawn(async move {
                    let Ok(Ok(stream)) = tokio::time::timeout(std::time::Duration::from_secs(10), tls.accept(stream)).await else { return };
                    let service = hyper_util::service::TowerToHyperService::new(router);
                    let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                });
            }
            () = &mut shutdown => return Ok(()),
        }
    }
}

/// Serves the HTTP API on `listener` until `shutdown` completes.
pub async fn serve_api(
    api: api::Api,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, api::router(api)).with_graceful_shutdown(shutdown).await
}

/// The diagnostics endpoints: `/metrics` (Prometheus text), `/ready` (resources loaded; `degraded` while
/// the store is unavailable) and `/healthy`.
pub fn diagnostics_router(control: Arc<ControlPlane>) -> axum::Router {
    use axum::http::StatusCode;
    use axum::routing::get;
    let metrics = control.clone();
    axum::Router::new()
        .route("/metrics", get(move || async move { metrics.metrics.render() }))
        .route(
            "/ready",
            get(move || async move {
                if !control.is_ready() {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                } else if !control.metrics.store_available() {
                    // Still 200: proxies connecting here get the last good configuration.
                    (StatusCode::OK, "degraded: the store is unavailable; serving the last good configuration")
                } else {
                    (StatusCode::OK, "ready")
                }
            }),
        )
        .route("/healthy", get(|| async { "healthy" }))
}

/// Serves the diagnostics endpoints on `listener` until `shutdown` completes.
pub async fn serve_diagnostics(
    control: Arc<ControlPlane>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, diagnostics_router(control)).with_graceful_shutdown(shutdown).await
}
