//! The HTTP API against a real server on a loopback port: status codes and body shapes of Kuma's API.

use std::sync::Arc;

use serde_json::json;
use server::ControlPlane;
use server::api::{Api, router};
use store::{MemoryStore, Store};
use testkit::http::{json as call, request};

const ROUTE: &str = r#"{"type":"MeshTCPRoute","name":"split","mesh":"default","spec":{"targetRef":{"kind":"MeshService","name":"web"},"to":[{"targetRef":{"kind":"MeshService","name":"backend"},"rules":[{"default":{"backendRefs":[{"kind":"MeshService","name":"backend-v1","weight":90},{"kind":"MeshService","name":"backend-v2"}]}}]}]}}"#;

/// A server on its own runtime thread; returns its port.
fn start() -> (u16, Arc<dyn Store>) {
    start_with(|api| api)
}

fn start_with(configure: impl FnOnce(Api) -> Api + Send + 'static) -> (u16, Arc<dyn Store>) {
    start_on(Arc::new(MemoryStore::new()), configure)
}

fn start_on(store: Arc<dyn Store>, configure: impl FnOnce(Api) -> Api + Send + 'static) -> (u16, Arc<dyn Store>) {
    let control = ControlPlane::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("address").port();
    let (s, c) = (store.clone(), control.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async move {
            let leader = server::leader::Leader::alone(s.clone(), c.clone(), "test".into());
            assert!(leader.tick().await.expect("default mesh"), "alone, it leads");
            tokio::spawn(server::reconcile::run(s.clone(), c.clone()));
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let api = configure(Api::new(s, c));
            axum::serve(listener, router(api)).await.expect("serve");
        });
    });
    (port, store)
}

#[test]
fn crud_follows_kumas_status_codes_and_shapes() {
    let (port, _) = start();
    let (status, index) = call(port, "GET", "/", "");
    assert_eq!((status, index["product"].as_str()), (200, Some("meshroute")));

    let (status, body) = call(port, "PUT", "/meshes/default/meshtcproutes/split", ROUTE);
    assert_eq!(status, 201, "created: {body}");
    assert_eq!(
        body["warnings"],
        json!(["MeshService value for 'targetRef.kind' is deprecated, use Dataplane with labels instead"])
    );
    let (status, body) = call(port, "PUT", "/meshes/default/meshtcproutes/split", ROUTE);
    assert_eq!(status, 200, "updated: {body}");

    let (status, headers, text) = request(port, "GET", "/meshes/default/meshtcproutes/split", &[], "");
    assert_eq!(status, 200);
    let item: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(item["type"], "MeshTCPRoute");
    assert_eq!(item["kri"], "kri_mtcpr_default___split_");
    assert_eq!(item["spec"]["to"][0]["rules"][0]["default"]["backendRefs"][1]["weight"], 1, "defaulted");
    assert!(item["creationTime"].is_string() && item["modificationTime"].is_string());
    assert!(headers.iter().any(|(k, v)| k == "etag" && v == "\"2\""), "{headers:?}");

    // A stale If-Match gets 409; the right one updates.
    let (status, _, text) =
        request(port, "PUT", "/meshes/default/meshtcproutes/split", &[("If-Match", "\"1\"")], ROUTE);
    assert_eq!(status, 409, "{text}");
    let conflict: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!((conflict["type"].as_str(), conflict["title"].as_str()), (Some("/std-errors"), Some("Conflict")));
    let (status, _, _) = request(port, "PUT", "/meshes/default/meshtcproutes/split", &[("If-Match", "\"2\"")], ROUTE);
    assert_eq!(status, 200);

    let (status, list) = call(port, "GET", "/meshes/default/meshtcproutes", "");
    assert_eq!((status, list["total"].as_u64()), (200, Some(1)));
    assert_eq!(list["next"], json!(null));
    let (_, everywhere) = call(port, "GET", "/meshtcproutes", "");
    assert_eq!(everywhere["items"][0]["name"], "split");

    let (status, body) = call(port, "DELETE", "/meshes/default/meshtcproutes/split", "");
    assert_eq!((status, body), (200, json!({})));
    let (status, body) = call(port, "DELETE", "/meshes/default/meshtcproutes/split", "");
    assert_eq!(status, 404);
    assert_eq!(
        (body["title"].as_str(), body["detail"].as_str()),
        (Some("Could not delete a resource"), Some("Not found"))
    );
    let (status, body) = call(port, "GET", "/meshes/default/meshtcproutes/split", "");
    assert_eq!((status, body["title"].as_str()), (404, Some("Could not retrieve a resource")));
}

#[test]
fn invalid_input_gets_kumas_error_body() {
    let (port, _) = start();
    let bad = ROUTE.replace("\"kind\":\"MeshService\",\"name\":\"web\"", "\"kind\":\"BlahBlah\"");
    let (status, body) = call(port, "PUT", "/meshes/default/meshtcproutes/split", &bad);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["title"], "Could not process a resource");
    assert_eq!(body["detail"], "Resource is not valid");
    assert_eq!(body["invalid_parameters"][0]["field"], "spec.targetRef.kind");
    assert!(
        body["invalid_parameters"][0]["reason"].as_str().is_some_and(|r| r.starts_with("in body should be one of"))
    );
    assert_eq!(body["causes"][0]["field"], "spec.targetRef.kind");

    let (status, body) = call(port, "PUT", "/meshes/default/meshtcproutes/other", ROUTE);
    assert_eq!(status, 400);
    assert_eq!(body["invalid_parameters"][0]["reason"], "name from the URL has to be the same as in body");

    let (status, body) = call(
        port,
        "PUT",
        "/meshes/nope/meshtcproutes/split",
        &ROUTE.replace("\"mesh\":\"default\"", "\"mesh\":\"nope\""),
    );
    assert_eq!((status, body["title"].as_str()), (400, Some("Mesh is not found")));
    assert_eq!(body["invalid_parameters"][0], json!({"field": "mesh", "reason": "mesh of name nope is not found"}));

    let (status, body) = call(port, "GET", "/meshes/default/meshtcproutes?size=1001", "");
    assert_eq!((status, body["title"].as_str()), (400, Some("Invalid page size")));
    let (status, _) = call(port, "GET", "/meshes/default/meshtcproutes?filter[spec.x]=1", "");
    assert_eq!(status, 400);
    let (status, _) = call(port, "GET", "/meshes/nope/meshtcproutes", "");
    assert_eq!(status, 404);
}

#[test]
fn lists_page_and_filter_by_labels() {
    let (port, _) = start();
    for i in 0..5 {
        let body = ROUTE.replace(
            "\"name\":\"split\"",
            &format!("\"name\":\"r{i}\",\"labels\":{{\"team\":\"{}\"}}", if i % 2 == 0 { "a" } else { "b" }),
        );
        let (status, reply) = call(port, "PUT", &format!("/meshes/default/meshtcproutes/r{i}"), &body);
        assert_eq!(status, 201, "{reply}");
    }
    let (_, page) = call(port, "GET", "/meshes/default/meshtcproutes?size=2", "");
    assert_eq!((page["total"].as_u64(), page["items"].as_array().map(Vec::len)), (Some(5), Some(2)));
    assert_eq!(page["next"], "/meshes/default/meshtcproutes?offset=2&size=2");
    let (_, second) = call(port, "GET", "/meshes/default/meshtcproutes?offset=2&size=2", "");
    assert_eq!(second["items"][0]["name"], "r2");
    let (_, filtered) = call(port, "GET", "/meshes/default/meshtcproutes?filter[labels.team]=a", "");
    assert_eq!(filtered["total"], 3);
    let (_, named) = call(port, "GET", "/meshes/default/meshtcproutes?name=r4", "");
    assert_eq!(named["total"], 1);
    let (status, types) = call(port, "GET", "/_resources", "");
    assert_eq!(status, 200);
    let tcp = types["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|t| t["name"] == "MeshTCPRoute").cloned())
        .expect("listed");
    assert_eq!((tcp["path"].as_str(), tcp["shortName"].as_str()), (Some("meshtcproutes"), Some("mtcpr")));
    let (_, policies) = call(port, "GET", "/policies", "");
    assert!(policies["policies"].as_array().is_some_and(|p| p.iter().any(|x| x["path"] == "meshtcproutes")));
}

#[test]
fn inspect_endpoints_explain_a_dataplane() {
    let (port, _) = start();
    let dp = r#"{"type":"Dataplane","mesh":"default","name":"web-1","networking":{"address":"127.0.0.1","inbound":[{"port":8080,"tags":{"kuma.io/service":"web"}}],"outbound":[{"port":10001,"tags":{"kuma.io/service":"backend"}}]}}"#;
    let backends = r#"{"type":"Dataplane","mesh":"default","name":"b","networking":{"address":"127.0.0.2","inbound":[{"port":7001,"tags":{"kuma.io/service":"backend-v1","kuma.io/protocol":"tcp"}},{"port":7002,"tags":{"kuma.io/service":"backend-v2","kuma.io/protocol":"tcp"}}]}}"#;
    assert_eq!(call(port, "PUT", "/meshes/default/dataplanes/web-1", dp).0, 201);
    assert_eq!(call(port, "PUT", "/meshes/default/dataplanes/b", backends).0, 201);
    assert_eq!(call(port, "PUT", "/meshes/default/meshtcproutes/split", ROUTE).0, 201);
    // The reconcile loop picks the writes up.
    let mut rules = serde_json::Value::Null;
    for _ in 0..50 {
        let (status, body) = call(port, "GET", "/meshes/default/dataplanes/web-1/_rules", "");
        if status == 200 && body["policies"].as_array().is_some_and(|p| !p.is_empty()) {
            rules = body;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(rules["policies"][0]["name"], "split", "{rules}");
    assert_eq!(
        rules["outbounds"][0]["splits"],
        json!([{"cluster": "backend-v1", "weight": 90}, {"cluster": "backend-v2", "weight": 1}])
    );
    let (status, config) = call(port, "GET", "/meshes/default/dataplanes/web-1/_config", "");
    assert_eq!(status, 200);
    assert_eq!(config["extensionConfigs"][0]["name"], "outbound:127.0.0.1:10001/tcp_proxy");
    assert!(config["listeners"].as_array().is_some_and(|l| l.len() == 2));
    let (status, xds) = call(port, "GET", "/meshes/default/dataplanes/web-1/_xds", "");
    assert_eq!((status, xds["connected"].as_bool()), (200, Some(false)));
    let (status, _) = call(port, "GET", "/meshes/default/dataplanes/nobody/_rules", "");
    assert_eq!(status, 404);
    let (status, _) = call(port, "GET", "/meshes/default/dataplanes/web-1/_outbounds/not-a-kri/_routes", "");
    assert_eq!(status, 400);
    // The policy's affected Dataplanes: web-1 (its top-level targetRef selects web), not the backends.
    let (status, affected) = call(port, "GET", "/meshes/default/meshtcproutes/split/_resources/dataplanes", "");
    assert_eq!(status, 200);
    assert_eq!(
        affected,
        json!({"total": 1, "items": [{"type": "Dataplane", "mesh": "default", "name": "web-1", "labels": {}}]})
    );
    let (status, _) = call(port, "GET", "/meshes/default/meshtcproutes/nope/_resources/dataplanes", "");
    assert_eq!(status, 404);
    let (status, _) = call(port, "GET", "/meshes/default/dataplanes/web-1/_resources/dataplanes", "");
    assert_eq!(status, 404, "only policies have affected Dataplanes");
}

/// Regression: the `_config` version once left extension configs out, so it did not move on a weight-only
/// shift, the one change that touches nothing but an extension config.
#[test]
fn config_version_changes_on_a_weight_only_shift() {
    let (port, _) = start();
    let dp = r#"{"type":"Dataplane","mesh":"default","name":"web-1","networking":{"address":"127.0.0.1","inbound":[{"port":8080,"tags":{"kuma.io/service":"web"}}],"outbound":[{"port":10001,"tags":{"kuma.io/service":"backend"}}]}}"#;
    let backends = r#"{"type":"Dataplane","mesh":"default","name":"b","networking":{"address":"127.0.0.2","inbound":[{"port":7001,"tags":{"kuma.io/service":"backend-v1","kuma.io/protocol":"tcp"}},{"port":7002,"tags":{"kuma.io/service":"backend-v2","kuma.io/protocol":"tcp"}}]}}"#;
    assert_eq!(call(port, "PUT", "/meshes/default/dataplanes/web-1", dp).0, 201);
    assert_eq!(call(port, "PUT", "/meshes/default/dataplanes/b", backends).0, 201);
    assert_eq!(call(port, "PUT", "/meshes/default/meshtcproutes/split", ROUTE).0, 201);
    let config_once = |wanted_weight: u64| {
        for _ in 0..50 {
            let (status, config) = call(port, "GET", "/meshes/default/dataplanes/web-1/_config", "");
            let weights = &config["extensionConfigs"][0]["typedConfig"]["weightedClusters"]["clusters"][0]["weight"];
            if status == 200 && weights.as_u64() == Some(wanted_weight) {
                return config;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the config never showed weight {wanted_weight}");
    };
    let before = config_once(90);
    assert_eq!(
        call(port, "PUT", "/meshes/default/meshtcproutes/split", &ROUTE.replace("\"weight\":90", "\"weight\":50")).0,
        200
    );
    let after = config_once(50);
    assert_eq!(before["listeners"], after["listeners"], "a weight shift leaves the listeners alone");
    assert_eq!(before["clusters"], after["clusters"]);
    assert_ne!(before["extensionConfigs"], after["extensionConfigs"]);
    assert!(before["version"].is_string(), "{before}");
    assert_ne!(before["version"], after["version"], "the version covers extension configs");
}

#[test]
fn off_loopback_every_request_needs_the_bearer_token() {
    let (port, _) = start_with(|mut api| {
        api.token = Some(Arc::from("s3cret"));
        api
    });
    for path in ["/", "/meshes", "/config", "/openapi.json", "/meshes/default/meshtcproutes"] {
        let (status, body) = call(port, "GET", path, "");
        assert_eq!((status, body["title"].as_str()), (401, Some("Unauthenticated")), "{path}: {body}");
    }
    let (status, _, _) = request(port, "GET", "/meshes", &[("Authorization", "Bearer wrong!")], "");
    assert_eq!(status, 401);
    let (status, _, body) = request(port, "GET", "/meshes", &[("Authorization", "Bearer s3cret")], "");
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = request(port, "PUT", "/meshes/default/meshtcproutes/split", &[], ROUTE);
    assert_eq!(status, 401, "writes too");
}

#[test]
fn config_shows_the_effective_configuration() {
    let (port, _) = start_with(|mut api| {
        api.config = Arc::new(json!({"store": {"type": "memory"}, "apiServer": {"http": {"port": 5681}}}));
        api
    });
    let (status, body) = call(port, "GET", "/config", "");
    assert_eq!(status, 200);
    assert_eq!(body, json!({"store": {"type": "memory"}, "apiServer": {"http": {"port": 5681}}}));
}

/// Follows a `$ref` JSON pointer from the document root.
fn resolve<'a>(doc: &'a serde_json::Value, reference: &str) -> Option<&'a serde_json::Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

fn refs<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::Object(o) => {
            if let Some(r) = o.get("$ref").and_then(|r| r.as_str()) {
                out.push(r);
            }
            o.values().for_each(|v| refs(v, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn openapi_document_covers_every_kind_and_its_references_resolve() {
    let (port, _) = start();
    let (status, doc) = call(port, "GET", "/openapi.json", "");
    assert_eq!((status, doc["openapi"].as_str()), (200, Some("3.1.0")));
    for kind in model::Kind::ALL {
        let d = kind.descriptor();
        let single = if d.scope == model::kind::Scope::Mesh {
            format!("/meshes/{{mesh}}/{}/{{name}}", d.rest_path)
        } else {
            format!("/{}/{{name}}", d.rest_path)
        };
        let ops = &doc["paths"][&single];
        for method in ["get", "put", "delete"] {
            assert!(ops[method].is_object(), "{single} {method}");
        }
        assert!(doc["components"]["schemas"][d.wire_name]["properties"].is_object(), "{}", d.wire_name);
    }
    assert!(doc["paths"]["/meshes/{mesh}/dataplanes/{name}/_rules"]["get"].is_object());
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 50, "only {} references", all.len());
    for r in all {
        assert!(resolve(&doc, r).is_some(), "{r} does not resolve");
    }
    // The MeshTCPRoute schema keeps the spec's limits.
    let text = doc["components"]["schemas"]["MeshTCPRoute"].to_string();
    assert!(text.contains("\"maxItems\""), "{text}");
}

/// A memory store that counts reads of single MeshTCPRoutes.
#[derive(Default)]
struct CountingStore {
    inner: MemoryStore,
    gets: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl Store for CountingStore {
    async fn get(&self, key: &store::Key) -> Result<Option<store::Stored>, store::StoreError> {
        if key.kind == model::Kind::MeshTcpRoute {
            self.gets.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        self.inner.get(key).await
    }
    async fn list(&self, kind: model::Kind, mesh: Option<&str>) -> Result<Vec<store::Stored>, store::StoreError> {
        self.inner.list(kind, mesh).await
    }
    async fn put(&self, resource: model::Resource, expect: store::Expect) -> Result<store::Stored, store::StoreError> {
        self.inner.put(resource, expect).await
    }
    async fn delete(&self, key: &store::Key, version: Option<u64>) -> Result<(), store::StoreError> {
        self.inner.delete(key, version).await
    }
    fn watch(&self) -> tokio::sync::broadcast::Receiver<store::Change> {
        self.inner.watch()
    }
}

#[test]
fn an_api_write_is_served_without_reading_it_back_and_other_writes_are_read() {
    let counting = Arc::new(CountingStore::default());
    let (port, store) = start_on(counting.clone(), |api| api);
    let served = |name: &str| {
        (0..50).any(|_| {
            let path = format!("/meshes/default/meshtcproutes/{name}/_resources/dataplanes");
            let ok = call(port, "GET", &path, "").0 == 200;
            if !ok {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            ok
        })
    };
    let gets = || counting.gets.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(call(port, "PUT", "/meshes/default/meshtcproutes/split", ROUTE).0, 201);
    assert!(served("split"), "the API's write is served");
    assert_eq!(gets(), 0, "validated once in the API and served as it is: no read-back");

    // A write this instance did not make (another control plane on a shared store) is read back.
    let other = model::parse_resources(&ROUTE.replace("\"split\"", "\"other\""))
        .expect("json")
        .remove(0)
        .expect("valid")
        .resource;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(store.put(other, store::Expect::Absent)).expect("put");
    assert!(served("other"), "another writer's resource is served");
    assert_eq!(gets(), 1, "and was read back once");
}
