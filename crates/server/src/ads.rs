//! The ADS gRPC service: one task per Envoy stream, SotW or Delta, reading requests and watching the
//! control plane's generation; each stream computes its proxy's resources and sends what changed.

use std::pin::Pin;
use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::{
    AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::google::protobuf::value::Kind as ValueKind;
use model::{Kind, Resource};
use policy::warning::Warning;
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use xds::ResourceSet;

use crate::control::{ControlPlane, DpAuth, Nack};
use crate::dataplane::parse_dataplane;
use crate::delta::DeltaSession;
use crate::proxy_id::ProxyId;
use crate::sotw::{SotwSession, Verdict};

/// Node metadata key carrying the Dataplane resource (JSON), as kuma-dp sends it.
pub const DATAPLANE_METADATA: &str = "dataplane.resource";
/// Node metadata key saying the Envoy build has contrib extensions.
pub const CONTRIB_METADATA: &str = "meshroute.envoy.contrib";

pub struct Ads {
    control: Arc<ControlPlane>,
}

impl Ads {
    pub fn service(control: Arc<ControlPlane>) -> AggregatedDiscoveryServiceServer<Self> {
        AggregatedDiscoveryServiceServer::new(Self { control }).max_decoding_message_size(64 << 20)
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Who is on the other end of a stream.
struct Peer {
    id: ProxyId,
    options: policy::PlanOptions,
}

/// Reads the proxy id `<mesh>.<name>`, checks the stream's token against the Dataplane it claims (the
/// one in the node metadata, else the one applied) and registers the Dataplane the metadata carries.
fn identify(control: &ControlPlane, node: &Node, token: Option<&str>) -> Result<Peer, Status> {
    let id = ProxyId::parse(&node.id)
        .ok_or_else(|| Status::invalid_argument(format!("node id {:?} is not <mesh>.<name>", node.id)))?;
    let field = |key: &str| node.metadata.as_ref().and_then(|m| m.fields.get(key)).and_then(|v| v.kind.as_ref());
    let contrib = matches!(field(CONTRIB_METADATA), Some(ValueKind::BoolValue(true)));
    let dataplane = match field(DATAPLANE_METADATA) {
        Some(ValueKind::StringValue(text)) => {
            let dp =
                parse_dataplane(text, "dataplane.resource").map_err(|e| Status::invalid_argument(e.to_string()))?;
            if (dp.meta.mesh.as_str(), dp.meta.name.as_str()) != (id.mesh.as_str(), id.name.as_str()) {
                return Err(Status::invalid_argument(format!(
                    "dataplane.resource is {}/{}, but the node id says {}/{}",
                    dp.meta.mesh, dp.meta.name, id.mesh, id.name
                )));
            }
            Some(dp)
        }
        _ => None,
    };
    if control.dp_auth == DpAuth::Tokens {
        let claimed = match &dataplane {
            Some(dp) => Resource::clone(dp),
            None => control.served(Kind::Dataplane, &id.mesh, &id.name).ok_or_else(|| {
                Status::unauthenticated(format!(
                    "authentication failed: there is no Dataplane {}/{}: send it in the node metadata or apply it first",
                    id.mesh, id.name
                ))
            })?,
        };
        if let Err(e) = control.authenticate_proxy(token, &claimed) {
            tracing::warn!(proxy = %id, reason = e.reason(), "ADS stream refused: {e}");
            return Err(Status::unauthenticated(format!("authentication failed: {e}")));
        }
    }
    control.connect(&id, dataplane).map_err(|e| Status::failed_precondition(e.to_string()))?;
    Ok(Peer { id, options: policy::PlanOptions { kafka_filter: contrib, ..policy::PlanOptions::default() } })
}

/// The credential of a stream: its `authorization` metadata, as Envoy sends it from the bootstrap
/// (`Bearer ` in front is accepted too).
fn credential<T>(request: &Request<T>) -> Option<String> {
    let value = request.metadata().get("authorization")?.to_str().ok()?;
    Some(value.strip_prefix("Bearer ").unwrap_or(value).to_owned())
}

/// The current resources of a peer; a problem is logged and gives None (never a partial set).
fn current(control: &ControlPlane, peer: &Peer, last_warnings: &mut Vec<Warning>) -> Option<ResourceSet> {
    match control.resources_for(&peer.id, peer.options) {
        Ok((set, warnings)) => {
            if warnings != *last_warnings {
                for w in &warnings {
                    tracing::warn!(proxy = %peer.id, code = w.code.as_str(), about = %w.about, "{w}");
                }
                *last_warnings = warnings;
            }
            Some(set)
        }
        Err(e) => {
            tracing::warn!(proxy = %peer.id, "no configuration: {e}");
            None
        }
    }
}

fn record(control: &ControlPlane, peer: &ProxyId, type_url: &str, verdict: Option<Verdict>) {
    let confirmation = match &verdict {
        Some(Verdict::Ack { .. }) => "ACK",
        Some(Verdict::Nack { .. }) => "NACK",
        None => "request",
    };
    control.metrics.request(type_url, confirmation);
    match verdict {
        Some(Verdict::Ack { type_url, version }) => control.update_status(peer, |s| {
            s.acked.insert(type_url, version);
        }),
        Some(Verdict::Nack { type_url, version, error }) => {
            tracing::warn!(proxy = %peer, %type_url, %version, "Envoy rejected the config: {error}");
            control.update_status(peer, |s| s.last_nack = Some(Nack { type_url, version, error }));
        }
        None => {}
    }
}

/// The two protocols behind one loop.
trait Session: Send + 'static {
    type Request: Send + 'static;
    type Response: Send + 'static;
    fn node(req: &Self::Request) -> Option<&Node>;
    fn type_url(req: &Self::Request) -> &str;
    fn response_type_url(resp: &Self::Response) -> &str;
    fn on_request(&mut self, req: &Self::Request, current: &ResourceSet) -> (Vec<Self::Response>, Option<Verdict>);
    fn on_change(&mut self, previous: Option<&ResourceSet>, current: &ResourceSet) -> Vec<Self::Response>;
}

impl Session for SotwSession {
    type Request = DiscoveryRequest;
    type Response = DiscoveryResponse;
    fn node(req: &DiscoveryRequest) -> Option<&Node> {
        req.node.as_ref()
    }
    fn type_url(req: &DiscoveryRequest) -> &str {
        &req.type_url
    }
    fn response_type_url(resp: &DiscoveryResponse) -> &str {
        &resp.type_url
    }
    fn on_request(
        &mut self,
        req: &DiscoveryRequest,
        current: &ResourceSet,
    ) -> (Vec<DiscoveryResponse>, Option<Verdict>) {
        SotwSession::on_request(self, req, current)
    }
    fn on_change(&mut self, previous: Option<&ResourceSet>, current: &ResourceSet) -> Vec<DiscoveryResponse> {
        SotwSession::on_change(self, previous, current)
    }
}

impl Session for DeltaSession {
    type Request = DeltaDiscoveryRequest;
    type Response = DeltaDiscoveryResponse;
    fn node(req: &DeltaDiscoveryRequest) -> Option<&Node> {
        req.node.as_ref()
    }
    fn type_url(req: &DeltaDiscoveryRequest) -> &str {
        &req.type_url
    }
    fn response_type_url(resp: &DeltaDiscoveryResponse) -> &str {
        &resp.type_url
    }
    fn on_request(
        &mut self,
        req: &DeltaDiscoveryRequest,
        current: &ResourceSet,
    ) -> (Vec<DeltaDiscoveryResponse>, Option<Verdict>) {
        DeltaSession::on_request(self, req, current)
    }
    fn on_change(&mut self, previous: Option<&ResourceSet>, current: &ResourceSet) -> Vec<DeltaDiscoveryResponse> {
        DeltaSession::on_change(self, previous, current)
    }
}

/// Runs one stream until either side ends it.
async fn run_stream<S: Session>(
    control: Arc<ControlPlane>,
    mut session: S,
    mut requests: Streaming<S::Request>,
    token: Option<String>,
    responses: mpsc::Sender<Result<S::Response, Status>>,
) where
    S::Request: prost::Message + Default,
{
    let mut generations: Option<watch::Receiver<u64>> = None;
    control.metrics.stream_opened();
    let mut peer: Option<Peer> = None;
    let mut resources: Option<ResourceSet> = None;
    let mut warnings = Vec::new();
    loop {
        tokio::select! {
            message = requests.message() => {
                let req = match message {
                    Ok(Some(req)) => req,
                    Ok(None) => break,
                    Err(status) => {
                        tracing::debug!("stream ended: {status}");
                        break;
                    }
                };
                if peer.is_none() {
                    let Some(node) = S::node(&req) else {
                        let _ = responses.send(Err(Status::invalid_argument("the first request has no node"))).await;
                        break;
                    };
                    match identify(&control, node, token.as_deref()) {
                        Ok(p) => {
                            // Resources are first computed after this, so earlier changes are already in.
                            generations = Some(control.subscribe_proxy(&p.id));
                            peer = Some(p);
                        }
                        Err(status) => {
                            let _ = responses.send(Err(status)).await;
                            break;
                        }
                    }
                }
                let Some(p) = &peer else { break };
                // The identity is fixed for the life of a stream (it was authenticated once).
                if let Some(node) = S::node(&req).filter(|n| !n.id.is_empty() && n.id != p.id.to_string()) {
                    let message = format!(
                        "stream was authenticated for ID {}. Received request is for node with ID {}. Node ID cannot be changed after stream is initialized",
                        p.id, node.id
                    );
                    let _ = responses.send(Err(Status::permission_denied(message))).await;
                    break;
                }
                if resources.is_none() {
                    // Nothing is planned from a control plane that has not loaded its resources yet.
                    control.wait_ready().await;
                }
                // A proxy that cannot be planned at all (no such mesh) gets an empty config.
                let set = resources.get_or_insert_with(|| current(&control, p, &mut warnings).unwrap_or_default());
                let (out, verdict) = session.on_request(&req, set);
                record(&control, &p.id, S::type_url(&req), verdict);
                for response in out {
                    control.metrics.pushed(S::response_type_url(&response));
                    if responses.send(Ok(response)).await.is_err() {
                        break;
                    }
                }
            }
            changed = changed(generations.as_mut()) => {
                if changed.is_err() {
                    break;
                }
                let Some(p) = &peer else { continue };
                // Keep what Envoy has rather than replace it with nothing when planning fails.
                let Some(next) = current(&control, p, &mut warnings) else { continue };
                if resources.as_ref() == Some(&next) {
                    continue;
                }
                let out = session.on_change(resources.as_ref(), &next);
                resources = Some(next);
                for response in out {
                    control.metrics.pushed(S::response_type_url(&response));
                    if responses.send(Ok(response)).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    control.metrics.stream_closed();
    // Our receiver goes first, so the proxy's watch can be dropped with its last stream.
    drop(generations);
    if let Some(p) = peer {
        control.disconnect(&p.id);
    }
}

/// The next change for an identified proxy; never, before the stream says who it is.
async fn changed(generations: Option<&mut watch::Receiver<u64>>) -> Result<(), watch::error::RecvError> {
    match generations {
        Some(g) => g.changed().await,
        None => std::future::pending().await,
    }
}

#[tonic::async_trait]
impl AggregatedDiscoveryService for Ads {
    type StreamAggregatedResourcesStream = BoxStream<DiscoveryResponse>;
    type DeltaAggregatedResourcesStream = BoxStream<DeltaDiscoveryResponse>;

    async fn stream_aggregated_resources(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamAggregatedResourcesStream>, Status> {
        let (tx, rx) = mpsc::channel(16);
        let token = credential(&request);
        tokio::spawn(run_stream(self.control.clone(), SotwSession::default(), request.into_inner(), token, tx));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn delta_aggregated_resources(
        &self,
        request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaAggregatedResourcesStream>, Status> {
        let (tx, rx) = mpsc::channel(16);
        let token = credential(&request);
        tokio::spawn(run_stream(self.control.clone(), DeltaSession::default(), request.into_inner(), token, tx));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
