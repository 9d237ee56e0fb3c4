//! The dataplane server's `POST /bootstrap` on a real socket: kuma-dp's request, Kuma's status codes, and a
//! bootstrap that real Envoy accepts and that points ADS at the same port.

use base64::Engine;
use serde_json::{Value, json};
use server::ControlPlane;
use testkit::http::request;

const DATAPLANE: &str = r#"{"type":"Dataplane","mesh":"default","name":"web-1","networking":{"address":"127.0.0.1","admin":{"port":9911},"inbound":[{"port":7100,"servicePort":7101,"tags":{"kuma.io/service":"web"}}]}}"#;

fn start() -> u16 {
    let control = ControlPlane::without_dp_auth();
    let served = model::parse_resources(
        "type: Mesh\nname: default\n---\ntype: Dataplane\nmesh: default\nname: known\nnetworking: {address: 127.0.0.2, inbound: [{port: 7000, tags: {kuma.io/service: known}}]}\n",
    )
    .expect("yaml")
    .into_iter()
    .map(|d| d.expect("valid").resource)
    .collect();
    control.replace_resources(served);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            server::serve_ads(control, listener, std::future::pending()).await.expect("serve");
        });
    });
    port
}

fn bootstrap_request(body: &Value, accept_json: bool) -> (u16, String, String) {
    let port = PORT.with(|p| *p);
    let headers: &[(&str, &str)] = if accept_json { &[("Accept", "application/json")] } else { &[] };
    let (status, headers, text) = request(port, "POST", "/bootstrap", headers, &body.to_string());
    let content_type = headers.into_iter().find(|(k, _)| k == "content-type").map(|(_, v)| v).unwrap_or_default();
    (status, content_type, text)
}

thread_local! {
    static PORT: u16 = start();
}

#[test]
fn bootstrap_answers_like_kumas_handler_and_envoy_accepts_it() {
    let port = PORT.with(|p| *p);
    let body = json!({"mesh": "default", "name": "web-1", "proxyType": "dataplane", "dataplaneResource": DATAPLANE,
        "features": ["feature-delta-grpc"], "version": {"kumaDp": {"version": "2.13.9"}}, "dnsPort": 15053});

    let (status, content_type, text) = bootstrap_request(&body, true);
    assert_eq!((status, content_type.as_str()), (200, "application/json"), "{text}");
    let answer: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(answer["kumaSidecarConfiguration"]["networking"]["address"], "127.0.0.1");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(answer["bootstrap"].as_str().expect("bootstrap"))
        .expect("base64");
    let config: Value = serde_json::from_slice(&bytes).expect("bootstrap is JSON (and so YAML)");
    assert_eq!(config["node"]["id"], "default.web-1");
    assert_eq!(config["node"]["cluster"], "web");
    assert_eq!(config["dynamicResources"]["adsConfig"]["apiType"], "DELTA_GRPC", "feature-delta-grpc asks for Delta");
    assert_eq!(config["admin"]["address"]["socketAddress"]["portValue"], 9911, "the Dataplane's admin port");
    let ads = &config["staticResources"]["clusters"][0]["loadAssignment"]["endpoints"][0]["lbEndpoints"][0]["endpoint"]
        ["address"]["socketAddress"];
    assert_eq!((ads["address"].as_str(), ads["portValue"].as_u64()), (Some("127.0.0.1"), Some(u64::from(port))));
    let registered: Value =
        serde_json::from_str(config["node"]["metadata"]["dataplane.resource"].as_str().expect("dataplane"))
            .expect("json");
    assert_eq!(registered["name"], "web-1");
    let dir = std::env::temp_dir().join(format!("meshroute-dp-server-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("bootstrap.yaml");
    std::fs::write(&file, &bytes).expect("write");
    testkit::envoy::validate(&file).expect("Envoy accepts the bootstrap");
    let _ = std::fs::remove_dir_all(&dir);

    // Without Accept: application/json, the raw bootstrap as YAML; SotW without the feature.
    let sotw = json!({"mesh": "default", "name": "web-1", "dataplaneResource": DATAPLANE});
    let (status, content_type, text) = bootstrap_request(&sotw, false);
    assert_eq!((status, content_type.as_str()), (200, "text/x-yaml"));
    let raw: Value = serde_json::from_str(&text).expect("YAML in JSON form");
    assert_eq!(raw["dynamicResources"]["adsConfig"]["apiType"], "GRPC");

    // A Dataplane the control plane serves needs no dataplaneResource; Kuma's default admin port.
    let (status, _, text) = bootstrap_request(&json!({"mesh": "default", "name": "known"}), false);
    assert_eq!(status, 200, "{text}");
    let known: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(known["node"]["id"], "default.known");
    assert_eq!(known["admin"]["address"]["socketAddress"]["portValue"], 9901);
}

#[test]
fn bootstrap_refuses_bad_requests_with_kumas_status_codes() {
    let (status, content_type, text) = bootstrap_request_raw("{not json");
    assert_eq!((status, content_type.starts_with("text/plain")), (400, true), "{text}");
    assert!(text.starts_with("malformed bootstrap request"), "{text}");

    let invalid = DATAPLANE.replace("\"port\":7100", "\"port\":0");
    let (status, _, text) =
        bootstrap_request(&json!({"mesh": "default", "name": "web-1", "dataplaneResource": invalid}), false);
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("networking.inbound[0].port"), "names the field: {text}");

    let (status, _, text) =
        bootstrap_request(&json!({"mesh": "default", "name": "other", "dataplaneResource": DATAPLANE}), false);
    assert_eq!(status, 422);
    assert_eq!(text, r#"name: the request says "other" but dataplaneResource says "web-1""#);

    let (status, _, text) = bootstrap_request(&json!({"mesh": "default", "name": "nobody"}), false);
    assert_eq!((status, text.as_str()), (404, ""), "unknown and not sent: 404 with an empty body");

    let (status, _, text) = bootstrap_request(
        &json!({"mesh": "default", "name": "web-1", "proxyType": "ingress", "dataplaneResource": DATAPLANE}),
        false,
    );
    assert_eq!(status, 422, "{text}");
}

fn bootstrap_request_raw(body: &str) -> (u16, String, String) {
    let port = PORT.with(|p| *p);
    let (status, headers, text) = request(port, "POST", "/bootstrap", &[], body);
    let content_type = headers.into_iter().find(|(k, _)| k == "content-type").map(|(_, v)| v).unwrap_or_default();
    (status, content_type, text)
}
