//! The ADS protocol with a scripted xDS client over a real gRPC connection: initial fetch, ACK, NACK,
//! update, removal order, reconnect, and the same for Delta.

use std::sync::Arc;
use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::google::protobuf::{Struct, Value, value};
use envoy_types::pb::google::rpc::Status as RpcStatus;
use server::ControlPlane;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use xds::{CLUSTER_TYPE, ENDPOINT_TYPE, EXTENSION_CONFIG_TYPE, LISTENER_TYPE};

const MESH: &str = r"
type: Mesh
name: default
---
type: Dataplane
mesh: default
name: blue-1
networking:
  address: 127.0.0.1
  inbound: [{port: 7001, tags: {kuma.io/service: blue, kuma.io/protocol: tcp}}]
---
type: Dataplane
mesh: default
name: green-1
networking:
  address: 127.0.0.1
  inbound: [{port: 7002, tags: {kuma.io/service: green, kuma.io/protocol: tcp}}]
";

const CLIENT: &str = r#"{"type":"Dataplane","mesh":"default","name":"client-1","networking":{"address":"127.0.0.1","inbound":[{"port":7100,"servicePort":7101,"tags":{"kuma.io/service":"client"}}],"outbound":[{"port":7200,"tags":{"kuma.io/service":"blue"}}]}}"#;

fn route(blue: u32, green: u32) -> String {
    format!(
        "---\ntype: MeshTCPRoute\nname: split\nmesh: default\nspec:\n  to:\n  - targetRef: {{kind: MeshService, name: blue}}\n    rules: [{{default: {{backendRefs: [{{kind: MeshService, name: blue, weight: {blue}}}, {{kind: MeshService, name: green, weight: {green}}}]}}}}]\n"
    )
}

fn resources(text: &str) -> Vec<model::Resource> {
    model::parse_resources(text).expect("yaml").into_iter().map(|d| d.expect("valid").resource).collect()
}

async fn start(text: &str) -> (Arc<ControlPlane>, String) {
    let control = ControlPlane::without_dp_auth();
    control.replace_resources(resources(text));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(server::serve_ads(control.clone(), listener, std::future::pending()));
    (control, address)
}

fn node() -> Node {
    Node {
        id: "default.client-1".into(),
        metadata: Some(Struct {
            fields: [("dataplane.resource".to_owned(), Value { kind: Some(value::Kind::StringValue(CLIENT.into())) })]
                .into_iter()
                .collect(),
        }),
        ..Node::default()
    }
}

struct Sotw {
    tx: mpsc::Sender<DiscoveryRequest>,
    rx: tonic::Streaming<DiscoveryResponse>,
}

impl Sotw {
    async fn open(address: &str) -> Self {
        let mut client = AggregatedDiscoveryServiceClient::connect(address.to_owned()).await.expect("connect");
        let (tx, rx) = mpsc::channel(16);
        let rx = client.stream_aggregated_resources(ReceiverStream::new(rx)).await.expect("stream").into_inner();
        Self { tx, rx }
    }

    async fn send(&self, req: DiscoveryRequest) {
        self.tx.send(req).await.expect("send");
    }

    async fn request(&self, type_url: &str, names: &[&str], version: &str, nonce: &str, with_node: bool) {
        self.send(DiscoveryRequest {
            node: with_node.then(node),
            type_url: type_url.into(),
            resource_names: names.iter().map(|s| (*s).to_owned()).collect(),
            version_info: version.into(),
            response_nonce: nonce.into(),
            ..DiscoveryRequest::default()
        })
        .await;
    }

    async fn ack(&self, r: &DiscoveryResponse, names: &[&str]) {
        self.request(&r.type_url, names, &r.version_info, &r.nonce, false).await;
    }

    async fn next(&mut self) -> DiscoveryResponse {
        tokio::time::timeout(Duration::from_secs(5), self.rx.message())
            .await
            .expect("a response within 5 s")
            .expect("stream ok")
            .expect("stream open")
    }

    /// Nothing arrives for a while.
    async fn quiet(&mut self) -> bool {
        tokio::time::timeout(Duration::from_millis(700), self.rx.message()).await.is_err()
    }
}

fn names(r: &DiscoveryResponse) -> usize {
    r.resources.len()
}

const TCP_PROXY: &str = "outbound:127.0.0.1:7200/tcp_proxy";

#[tokio::test]
async fn sotw_fetch_ack_update_nack_and_reconnect() {
    let (control, address) = start(&format!("{MESH}{}", route(90, 10))).await;
    let mut s = Sotw::open(&address).await;
    s.request(CLUSTER_TYPE, &[], "", "", true).await;
    let cds = s.next().await;
    assert_eq!(cds.type_url, CLUSTER_TYPE);
    assert_eq!(names(&cds), 3, "blue, green and the inbound's local cluster");
    s.ack(&cds, &[]).await;
    s.request(ENDPOINT_TYPE, &["blue", "green"], "", "", false).await;
    let eds = s.next().await;
    assert_eq!(names(&eds), 2);
    s.ack(&eds, &["blue", "green"]).await;
    s.request(LISTENER_TYPE, &[], "", "", false).await;
    let lds = s.next().await;
    assert_eq!(names(&lds), 2, "inbound and outbound listeners");
    s.ack(&lds, &[]).await;
    s.request(EXTENSION_CONFIG_TYPE, &[TCP_PROXY], "", "", false).await;
    let ecds = s.next().await;
    assert_eq!(names(&ecds), 1, "the outbound's tcp_proxy");
    s.ack(&ecds, &[TCP_PROXY]).await;
    assert!(s.quiet().await, "nothing more after the ACKs");
    let status = control.status(&client_1()).expect("status");
    assert!(status.connected);
    assert_eq!(status.acked.get(LISTENER_TYPE), Some(&lds.version_info));

    // A weight change touches only the tcp_proxy's extension config: the listener stays as it is.
    control.replace_resources(resources(&format!("{MESH}{}", route(50, 50))));
    let update = s.next().await;
    assert_eq!(update.type_url, EXTENSION_CONFIG_TYPE, "only ECDS changes");
    assert_ne!(update.version_info, ecds.version_info);
    assert!(s.quiet().await, "no listener, cluster or endpoint update");
    // Envoy rejects it: the error is kept and the version is never sent again.
    s.send(DiscoveryRequest {
        type_url: EXTENSION_CONFIG_TYPE.into(),
        resource_names: vec![TCP_PROXY.into()],
        version_info: ecds.version_info.clone(),
        response_nonce: update.nonce.clone(),
        error_detail: Some(RpcStatus { code: 3, message: "invalid tcp_proxy (test)".into(), ..RpcStatus::default() }),
        ..DiscoveryRequest::default()
    })
    .await;
    assert!(s.quiet().await, "a rejected version is not re-sent");
    let nack = control.status(&client_1()).and_then(|st| st.last_nack).expect("NACK kept");
    assert_eq!(
        (nack.version.as_str(), nack.error.as_str()),
        (update.version_info.as_str(), "invalid tcp_proxy (test)")
    );
    assert_eq!(
        control.status(&client_1()).and_then(|st| st.acked.get(EXTENSION_CONFIG_TYPE).cloned()),
        Some(ecds.version_info.clone())
    );
    // Unchanged resources push nothing.
    control.replace_resources(resources(&format!("{MESH}{}", route(50, 50))));
    assert!(s.quiet().await);
    // A new config is sent.
    control.replace_resources(resources(&format!("{MESH}{}", route(20, 80))));
    let newer = s.next().await;
    assert_eq!(newer.type_url, EXTENSION_CONFIG_TYPE);
    s.ack(&newer, &[TCP_PROXY]).await;

    // Removing green: the extension config that names it goes first, then the cluster; the listener
    // does not change at all.
    control.replace_resources(resources(&format!("{MESH}{}", route(100, 0))));
    let first = s.next().await;
    let second = s.next().await;
    let third = s.next().await;
    let order = [first.type_url.as_str(), second.type_url.as_str(), third.type_url.as_str()];
    assert_eq!(order, [EXTENSION_CONFIG_TYPE, CLUSTER_TYPE, ENDPOINT_TYPE]);
    assert_eq!(names(&third), 1, "the endpoints Envoy asked for, less the removed cluster's");
    s.ack(&first, &[TCP_PROXY]).await;
    s.ack(&second, &[]).await;
    s.ack(&third, &["blue"]).await;
    assert!(s.quiet().await);
    let (current_ecds, current_cds) = (first.version_info.clone(), second.version_info.clone());
    drop(s);

    // A reconnecting Envoy that has the current config receives nothing new.
    let mut again = Sotw::open(&address).await;
    again.request(CLUSTER_TYPE, &[], &current_cds, "", true).await;
    again.request(LISTENER_TYPE, &[], &lds.version_info, "", false).await;
    again.request(EXTENSION_CONFIG_TYPE, &[TCP_PROXY], &current_ecds, "", false).await;
    assert!(again.quiet().await, "reconnect with current versions gets nothing");
}

struct Delta {
    tx: mpsc::Sender<DeltaDiscoveryRequest>,
    rx: tonic::Streaming<DeltaDiscoveryResponse>,
}

impl Delta {
    async fn open(address: &str) -> Self {
        let mut client = AggregatedDiscoveryServiceClient::connect(address.to_owned()).await.expect("connect");
        let (tx, rx) = mpsc::channel(16);
        let rx = client.delta_aggregated_resources(ReceiverStream::new(rx)).await.expect("stream").into_inner();
        Self { tx, rx }
    }

    async fn send(&self, req: DeltaDiscoveryRequest) {
        self.tx.send(req).await.expect("send");
    }

    async fn ack(&self, r: &DeltaDiscoveryResponse) {
        self.send(DeltaDiscoveryRequest {
            type_url: r.type_url.clone(),
            response_nonce: r.nonce.clone(),
            ..Default::default()
        })
        .await;
    }

    async fn next(&mut self) -> DeltaDiscoveryResponse {
        tokio::time::timeout(Duration::from_secs(5), self.rx.message())
            .await
            .expect("a response within 5 s")
            .expect("stream ok")
            .expect("stream open")
    }

    async fn quiet(&mut self) -> bool {
        tokio::time::timeout(Duration::from_millis(700), self.rx.message()).await.is_err()
    }
}

#[tokio::test]
async fn delta_sends_only_changes_and_nothing_on_reconnect() {
    let (control, address) = start(&format!("{MESH}{}", route(90, 10))).await;
    let mut d = Delta::open(&address).await;
    d.send(DeltaDiscoveryRequest { node: Some(node()), type_url: CLUSTER_TYPE.into(), ..Default::default() }).await;
    let cds = d.next().await;
    assert_eq!(cds.resources.len(), 3);
    d.ack(&cds).await;
    d.send(DeltaDiscoveryRequest { type_url: LISTENER_TYPE.into(), ..Default::default() }).await;
    let lds = d.next().await;
    assert_eq!(lds.resources.len(), 2);
    d.ack(&lds).await;
    d.send(DeltaDiscoveryRequest {
        type_url: EXTENSION_CONFIG_TYPE.into(),
        resource_names_subscribe: vec![TCP_PROXY.into()],
        ..Default::default()
    })
    .await;
    let ecds = d.next().await;
    assert_eq!(ecds.resources.len(), 1);
    d.ack(&ecds).await;
    assert!(d.quiet().await);

    control.replace_resources(resources(&format!("{MESH}{}", route(50, 50))));
    let update = d.next().await;
    assert_eq!(update.type_url, EXTENSION_CONFIG_TYPE, "the listener is untouched");
    assert_eq!(update.resources.len(), 1);
    assert_eq!(update.resources[0].name, TCP_PROXY);
    d.ack(&update).await;
    assert!(d.quiet().await);

    control.replace_resources(resources(&format!("{MESH}{}", route(100, 0))));
    let ecds_first = d.next().await;
    let cds_removal = d.next().await;
    assert_eq!(ecds_first.type_url, EXTENSION_CONFIG_TYPE);
    assert_eq!(cds_removal.removed_resources, vec!["green".to_owned()]);
    d.ack(&ecds_first).await;
    d.ack(&cds_removal).await;
    drop(d);

    // Reconnect with what Envoy holds: nothing new.
    let set = control.resources_for(&client_1(), policy::PlanOptions::default()).expect("resources").0;
    let versions = |list: &[xds::Resource]| list.iter().map(|r| (r.name.clone(), r.version.clone())).collect();
    let mut again = Delta::open(&address).await;
    for (type_url, list, with_node) in [
        (CLUSTER_TYPE, &set.clusters, true),
        (LISTENER_TYPE, &set.listeners, false),
        (EXTENSION_CONFIG_TYPE, &set.extension_configs, false),
    ] {
        again
            .send(DeltaDiscoveryRequest {
                node: with_node.then(node),
                type_url: type_url.into(),
                resource_names_subscribe: if type_url == EXTENSION_CONFIG_TYPE {
                    vec![TCP_PROXY.into()]
                } else {
                    vec![]
                },
                initial_resource_versions: versions(list),
                ..Default::default()
            })
            .await;
    }
    assert!(again.quiet().await, "reconnect with current versions gets nothing");
}

#[tokio::test]
async fn nothing_is_served_before_the_first_load_and_a_failed_plan_keeps_the_last_config() {
    // A control plane that has not loaded its resources yet; the proxy's Dataplane comes from them, not
    // from its node metadata.
    let control = ControlPlane::without_dp_auth();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(server::serve_ads(control.clone(), listener, std::future::pending()));
    let mut s = Sotw::open(&address).await;
    s.send(DiscoveryRequest {
        node: Some(Node { id: "default.client-1".into(), ..Node::default() }),
        type_url: CLUSTER_TYPE.into(),
        ..DiscoveryRequest::default()
    })
    .await;
    assert!(s.quiet().await, "no config planned from nothing");
    control.replace_resources(resources(&format!("{MESH}---\n{CLIENT}\n{}", route(90, 10))));
    let cds = s.next().await;
    assert_eq!(names(&cds), 3, "the first load answers the waiting request");
    s.ack(&cds, &[]).await;

    // Its Dataplane is deleted: the proxy cannot be planned any more, and keeps what it has.
    control.replace_resources(resources(&format!("{MESH}{}", route(90, 10))));
    assert!(s.quiet().await, "no empty config pushed over a good one");
    assert!(control.status(&client_1()).is_some_and(|st| st.connected));
}

fn client_1() -> server::proxy_id::ProxyId {
    server::proxy_id::ProxyId::new("default", "client-1")
}
