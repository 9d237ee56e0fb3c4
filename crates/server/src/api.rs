//! The HTTP API, shaped like Kuma's (control-plane-api.md §2): system endpoints, CRUD for every kind
//! through its descriptor (no per-kind handlers), Kuma's error JSON, and the inspect endpoints.
//!
//! ```text
//!  GET/PUT/DELETE /meshes/{mesh}/{path}[/{name}] ─► model (parse, validate) ─► Store (versions, 409)
//!  GET /meshes/{mesh}/dataplanes/{name}/_rules|_config|_xds ─► ControlPlane (snapshot, plan, resources)
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use model::{Kind, Resource};
use serde_json::{Value, json};
use store::{Expect, Key, Store, StoreError, Stored};

use crate::ControlPlane;
use crate::proxy_id::ProxyId;

#[derive(Clone)]
pub struct Api {
    pub store: Arc<dyn Store>,
    pub control: Arc<ControlPlane>,
    /// Declarative mode: resources come from files, writes are refused.
    pub read_only: bool,
    /// The effective configuration `/config` shows (no secrets in it).
    pub config: Arc<Value>,
    /// When set, every request must carry `Authorization: Bearer <token>`.
    pub token: Option<Arc<str>>,
}

impl Api {
    pub fn new(store: Arc<dyn Store>, control: Arc<ControlPlane>) -> Self {
        Self { store, control, read_only: false, config: Arc::new(json!({})), token: None }
    }
}

pub fn router(api: Api) -> Router {
    let control = api.control.clone();
    let token = api.token.clone();
    let secrets: Arc<dyn crate::tokens::SecretSource> = api.control.clone();
    Router::new()
        .route("/", get(index))
        .route("/config", get(|State(api): State<Api>| async move { ok(StatusCode::OK, (*api.config).clone()) }))
        .route("/openapi.json", get(|| async { ok(StatusCode::OK, crate::openapi::document()) }))
        .route("/_resources", get(resource_types))
        .route("/policies", get(policy_types))
        .route("/meshes", get(list_meshes))
        .route("/meshes/{name}", get(get_mesh).put(put_mesh).delete(delete_mesh))
        .route("/meshes/{mesh}/{path}", get(list_in_mesh))
        .route("/meshes/{mesh}/{path}/{name}", get(get_in_mesh).put(put_in_mesh).delete(delete_in_mesh))
        .route("/meshes/{mesh}/dataplanes/{name}/{view}", get(inspect_dataplane))
        .route("/meshes/{mesh}/dataplanes/{name}/_outbounds/{kri}/_routes", get(inspect_routes))
        .route("/meshes/{mesh}/{path}/{name}/_resources/dataplanes", get(affected_dataplanes))
        .route("/tokens/dataplane", axum::routing::post(crate::token_api::dataplane_token))
        .route("/tokens/user", axum::routing::post(crate::token_api::user_token))
        .route("/{path}", get(list_everywhere))
        .route("/{path}/{name}", get(get_global).put(put_global).delete(delete_global))
        .with_state(api)
        .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
            let (token, secrets) = (token.clone(), secrets.clone());
            async move {
                let access = match &token {
                    None => crate::auth::Access::Admin,
                    Some(admin) => match crate::auth::caller_access(request.headers(), admin, secrets.as_ref()) {
                        Ok(access) => access,
                        Err(why) => {
                            return ApiError::new(StatusCode::UNAUTHORIZED, "Unauthenticated", &why).into_response();
                        }
                    },
                };
                if let Err(why) = access.allows(request.method(), request.uri().path()) {
                    return ApiError::new(StatusCode::FORBIDDEN, "Access Denied", &why).into_response();
                }
                next.run(request).await
            }
        }))
        .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
            let control = control.clone();
            async move {
                let method = request.method().to_string();
                let started = std::time::Instant::now();
                let response = next.run(request).await;
                control.metrics.api_request(&method, response.status().as_u16(), started.elapsed());
                response
            }
        }))
}

/// Kuma's error body (`pkg/core/rest/errors`).
pub struct ApiError {
    status: StatusCode,
    title: String,
    detail: String,
    params: Vec<(String, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, title: &str, detail: &str) -> Self {
        Self { status, title: title.to_owned(), detail: detail.to_owned(), params: Vec::new() }
    }

    pub fn into_params(self) -> Vec<(String, String)> {
        self.params
    }

    fn not_found(title: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, title, "Not found")
    }

    pub fn invalid(params: Vec<(String, String)>) -> Self {
        Self { params, ..Self::new(StatusCode::BAD_REQUEST, "Could not process a resource", "Resource is not valid") }
    }

    pub fn store(title: &str, e: &StoreError) -> Self {
        match e {
            StoreError::NotFound(..) => Self::not_found(title),
            StoreError::Conflict { reason, .. } => Self::new(StatusCode::CONFLICT, "Conflict", reason),
            StoreError::Backend(m) | StoreError::Corrupt(m) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", m)
            }
            StoreError::Unavailable(m) | StoreError::Fenced(m) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Store unavailable",
                &format!("{m}; nothing was written, try again later"),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": "/std-errors",
            "status": self.status.as_u16(),
            "title": self.title,
            "detail": self.detail,
            "details": self.detail,
        });
        if !self.params.is_empty() {
            body["invalid_parameters"] = self.params.iter().map(|(f, r)| json!({"field": f, "reason": r})).collect();
            body["causes"] = self.params.iter().map(|(f, m)| json!({"field": f, "message": m})).collect();
        }
        (self.status, axum::Json(body)).into_response()
    }
}

pub type Reply = Result<Response, ApiError>;

#[allow(clippy::unnecessary_wraps)] // every handler returns a Reply
fn ok(status: StatusCode, body: Value) -> Reply {
    Ok((status, axum::Json(body)).into_response())
}

async fn index() -> Reply {
    let hostname = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    ok(
        StatusCode::OK,
        json!({
            "hostname": hostname,
            "product": "meshroute",
            "version": env!("CARGO_PKG_VERSION"),
            "basedOnKuma": "2.13",
            "instanceId": format!("{hostname}-{}", std::process::id()),
            "clusterId": "meshroute",
            "gui": null,
        }),
    )
}

async fn resource_types() -> Reply {
    let resources: Vec<Value> = Kind::ALL
        .iter()
        .map(|k| {
            let d = k.descriptor();
            json!({
                "name": d.wire_name,
                "path": d.rest_path,
                "scope": if d.scope == model::kind::Scope::Mesh { "Mesh" } else { "Global" },
                "shortName": d.short_name,
                "singularDisplayName": d.display_singular,
                "pluralDisplayName": d.display_plural,
                "readOnly": false,
                "policy": d.is_policy.then(|| json!({"hasToTargetRef": true, "hasFromTargetRef": false, "isTargetRef": true, "isFromAsRules": false})),
            })
        })
        .collect();
    ok(StatusCode::OK, json!({ "resources": resources }))
}

async fn policy_types() -> Reply {
    let policies: Vec<Value> = Kind::ALL
        .iter()
        .map(|k| k.descriptor())
        .filter(|d| d.is_policy)
        .map(|d| {
            json!({
                "name": d.wire_name, "path": d.rest_path, "readOnly": false,
                "singularDisplayName": d.display_singular, "pluralDisplayName": d.display_plural,
                "isExperimental": false, "isTargetRefBased": true, "isInbound": false, "isOutbound": true,
            })
        })
        .collect();
    ok(StatusCode::OK, json!({ "policies": policies }))
}

fn kind_at(path: &str) -> Result<Kind, ApiError> {
    Kind::ALL
        .iter()
        .copied()
        .find(|k| k.descriptor().rest_path == path)
        .ok_or_else(|| ApiError::not_found("Could not find the resource type"))
}

/// A global kind other than Mesh (which has its own routes) at `/{path}`.
fn global_kind_at(path: &str) -> Result<Kind, ApiError> {
    kind_at(path)
        .ok()
        .filter(|k| *k != Kind::Mesh && k.descriptor().scope == model::kind::Scope::Global)
        .ok_or_else(|| ApiError::not_found("Could not find the resource type"))
}

/// A stored resource in the API's item form: Universal, with `kri` and the times.
fn item(stored: &Stored) -> Value {
    let mut value = model::to_universal(&stored.resource);
    if let Some(o) = value.as_object_mut() {
        o.insert("kri".into(), json!(stored.resource.kri("")));
        o.insert("creationTime".into(), json!(stored.creation_time));
        o.insert("modificationTime".into(), json!(stored.modification_time));
    }
    value
}

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    size: Option<String>,
    offset: Option<String>,
    name: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

/// `{total, items, next}` with Kuma's paging and label filters.
async fn list(api: &Api, kind: Kind, mesh: Option<&str>, query: ListQuery, base: &str) -> Reply {
    let size = match &query.size {
        None => 100,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            Ok(n) => {
                let mut e = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "Invalid page size",
                    &format!("invalid page size of {n}. Maximum page size is 1000"),
                );
                e.params.push(("size".into(), format!("invalid page size of {n}. Maximum page size is 1000")));
                return Err(e);
            }
            Err(_) => return Err(ApiError::new(StatusCode::BAD_REQUEST, "Invalid page size", "size must be a number")),
        },
    };
    let offset: usize = query.offset.as_deref().and_then(|o| o.parse().ok()).unwrap_or(0);
    let mut labels = BTreeMap::new();
    for (k, v) in &query.rest {
        match k.strip_prefix("filter[labels.").and_then(|k| k.strip_suffix(']')) {
            Some(label) => {
                labels.insert(label.to_owned(), v.clone());
            }
            None if k.starts_with("filter[") => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "Bad Request",
                    "filters are only supported on labels",
                ));
            }
            None => {}
        }
    }
    let all = api.store.list(kind, mesh).await.map_err(|e| ApiError::store("Could not list resources", &e))?;
    let matching: Vec<&Stored> = all
        .iter()
        .filter(|s| query.name.as_deref().is_none_or(|n| s.resource.meta.name.contains(n)))
        .filter(|s| labels.iter().all(|(k, v)| s.resource.label(k) == Some(v.as_str())))
        .collect();
    let page: Vec<Value> = matching.iter().skip(offset).take(size).map(|s| item(s)).collect();
    let next = (offset + size < matching.len()).then(|| format!("{base}?offset={}&size={size}", offset + size));
    ok(StatusCode::OK, json!({ "total": matching.len(), "items": page, "next": next }))
}

async fn list_meshes(State(api): State<Api>, Query(q): Query<ListQuery>) -> Reply {
    list(&api, Kind::Mesh, None, q, "/meshes").await
}

async fn list_in_mesh(
    State(api): State<Api>,
    Path((mesh, path)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> Reply {
    let kind = kind_at(&path)?;
    require_mesh(&api, &mesh, StatusCode::NOT_FOUND).await?;
    list(&api, kind, Some(&mesh), q, &format!("/meshes/{mesh}/{path}")).await
}

async fn list_everywhere(State(api): State<Api>, Path(path): Path<String>, Query(q): Query<ListQuery>) -> Reply {
    let kind = kind_at(&path)?;
    list(&api, kind, None, q, &format!("/{path}")).await
}

async fn require_mesh(api: &Api, mesh: &str, status: StatusCode) -> Result<(), ApiError> {
    let key = Key { kind: Kind::Mesh, mesh: String::new(), name: mesh.to_owned() };
    match api.store.get(&key).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) if status == StatusCode::NOT_FOUND => Err(ApiError::not_found("Failed to retrieve Mesh")),
        Ok(None) => {
            let mut e = ApiError::new(StatusCode::BAD_REQUEST, "Mesh is not found", "Mesh is not found");
            e.params.push(("mesh".into(), format!("mesh of name {mesh} is not found")));
            Err(e)
        }
        Err(e) => Err(ApiError::store("Failed to retrieve Mesh", &e)),
    }
}

async fn get_one(api: &Api, kind: Kind, mesh: &str, name: &str) -> Reply {
    let key = Key { kind, mesh: mesh.to_owned(), name: name.to_owned() };
    let title = "Could not retrieve a resource";
    match api.store.get(&key).await.map_err(|e| ApiError::store(title, &e))? {
        Some(stored) => {
            let mut response = ok(StatusCode::OK, item(&stored))?;
            if let Ok(etag) = format!("\"{}\"", stored.version).parse() {
                response.headers_mut().insert("etag", etag);
            }
            Ok(response)
        }
        None => Err(ApiError::not_found(title)),
    }
}

async fn get_mesh(State(api): State<Api>, Path(name): Path<String>) -> Reply {
    get_one(&api, Kind::Mesh, "", &name).await
}

async fn get_in_mesh(State(api): State<Api>, Path((mesh, path, name)): Path<(String, String, String)>) -> Reply {
    let kind = kind_at(&path)?;
    require_mesh(&api, &mesh, StatusCode::NOT_FOUND).await?;
    get_one(&api, kind, &mesh, &name).await
}

/// The expected version from `If-Match: "<version>"`, for optimistic concurrency.
fn expected_version(headers: &HeaderMap) -> Result<Expect, ApiError> {
    match headers.get("if-match").and_then(|v| v.to_str().ok()) {
        None => Ok(Expect::Any),
        Some(v) => {
            v.trim_matches('"').parse().map(Expect::Version).map_err(|_| {
                ApiError::new(StatusCode::BAD_REQUEST, "Bad Request", "If-Match must be a resource version")
            })
        }
    }
}

async fn put_one(api: &Api, kind: Kind, mesh: &str, name: &str, headers: &HeaderMap, body: &str) -> Reply {
    if api.read_only {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not Allowed",
            "resources are read from files",
        ));
    }
    let parsed = match model::parse_resources(body) {
        Ok(docs) => docs.into_iter().next(),
        Err(e) => return Err(ApiError::invalid(vec![(e.path.to_string(), e.message)])),
    };
    let resource: Resource = match parsed {
        Some(Ok(p)) => p.resource,
        Some(Err(e)) => return Err(ApiError::invalid(vec![(e.path.to_string(), e.message)])),
        None => return Err(ApiError::invalid(vec![(String::new(), "the body holds no resource".into())])),
    };
    let mut params = Vec::new();
    if resource.kind() != kind {
        params.push(("type".into(), "type from the URL has to be the same as in body".into()));
    }
    if resource.meta.name != name {
        params.push(("name".into(), "name from the URL has to be the same as in body".into()));
    }
    if kind.descriptor().scope == model::kind::Scope::Mesh && resource.meta.mesh != mesh {
        params.push(("mesh".into(), "mesh from the URL has to be the same as in body".into()));
    }
    if !params.is_empty() {
        return Err(ApiError::invalid(params));
    }
    let (valid, warnings) = model::Valid::check(resource).map_err(|report| {
        ApiError::invalid(report.errors.iter().map(|v| (v.field.to_string(), v.message.clone())).collect())
    })?;
    if kind != Kind::Mesh {
        require_mesh(api, mesh, StatusCode::BAD_REQUEST).await?;
    }
    let stored = api
        .store
        .put(Resource::clone(&valid), expected_version(headers)?)
        .await
        .map_err(|e| ApiError::store("Could not update a resource", &e))?;
    // Validated once, here: the reconcile loop serves this write without reading it back.
    let key = store::Key::of(&stored.resource);
    api.control.written.record(key, stored.version, valid.stamped(&stored.creation_time, &stored.modification_time));
    let status = if stored.version == 1 { StatusCode::CREATED } else { StatusCode::OK };
    ok(status, json!({ "warnings": warnings }))
}

async fn get_global(State(api): State<Api>, Path((path, name)): Path<(String, String)>) -> Reply {
    get_one(&api, global_kind_at(&path)?, "", &name).await
}

async fn put_global(
    State(api): State<Api>,
    Path((path, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Reply {
    put_one(&api, global_kind_at(&path)?, "", &name, &headers, &body).await
}

async fn delete_global(
    State(api): State<Api>,
    Path((path, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply {
    delete_one(&api, global_kind_at(&path)?, "", &name, &headers).await
}

async fn put_mesh(State(api): State<Api>, Path(name): Path<String>, headers: HeaderMap, body: String) -> Reply {
    put_one(&api, Kind::Mesh, "", &name, &headers, &body).await
}

async fn put_in_mesh(
    State(api): State<Api>,
    Path((mesh, path, name)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: String,
) -> Reply {
    put_one(&api, kind_at(&path)?, &mesh, &name, &headers, &body).await
}

async fn delete_one(api: &Api, kind: Kind, mesh: &str, name: &str, headers: &HeaderMap) -> Reply {
    if api.read_only {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not Allowed",
            "resources are read from files",
        ));
    }
    let version = match expected_version(headers)? {
        Expect::Version(v) => Some(v),
        _ => None,
    };
    let key = Key { kind, mesh: mesh.to_owned(), name: name.to_owned() };
    api.store.delete(&key, version).await.map_err(|e| ApiError::store("Could not delete a resource", &e))?;
    ok(StatusCode::OK, json!({}))
}

async fn delete_mesh(State(api): State<Api>, Path(name): Path<String>, headers: HeaderMap) -> Reply {
    delete_one(&api, Kind::Mesh, "", &name, &headers).await
}

async fn delete_in_mesh(
    State(api): State<Api>,
    Path((mesh, path, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Reply {
    delete_one(&api, kind_at(&path)?, &mesh, &name, &headers).await
}

/// `_rules`, `_config` (the Envoy resources sent) and `_xds` (the proxy's xDS status).
async fn inspect_dataplane(State(api): State<Api>, Path((mesh, name, view)): Path<(String, String, String)>) -> Reply {
    let snapshot = api.control.snapshot(&mesh).ok_or_else(|| ApiError::not_found("Failed to retrieve Mesh"))?;
    if snapshot.index.dataplane(&name).is_none() {
        return Err(ApiError::not_found("Could not retrieve Dataplane"));
    }
    match view.as_str() {
        "_rules" => {
            let planned = policy::plan_proxy_detailed(&snapshot, &name, policy::PlanOptions::default())
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "Bad Request", &e.to_string()))?;
            ok(StatusCode::OK, policy::inspect::rules_view(&snapshot, &planned))
        }
        "_config" => {
            let (set, warnings) = api
                .control
                .resources_for(&ProxyId::new(mesh, name), policy::PlanOptions::default())
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "Bad Request", &e.to_string()))?;
            let mut body = set.to_json().map_err(|e| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", &e.to_string())
            })?;
            body["version"] = json!(set.version());
            body["warnings"] = json!(warnings);
            ok(StatusCode::OK, body)
        }
        "_xds" => {
            let status = api.control.status(&ProxyId::new(mesh, name)).unwrap_or_default();
            ok(StatusCode::OK, serde_json::to_value(status).unwrap_or(Value::Null))
        }
        _ => Err(ApiError::not_found("Could not find the inspect view")),
    }
}

async fn inspect_routes(State(api): State<Api>, Path((mesh, name, kri)): Path<(String, String, String)>) -> Reply {
    let Ok(kri) = kri.parse::<model::kri::Kri>() else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "Bad Request", &format!("invalid KRI {kri:?}")));
    };
    let snapshot = api.control.snapshot(&mesh).ok_or_else(|| ApiError::not_found("Failed to retrieve Mesh"))?;
    let planned = policy::plan_proxy_detailed(&snapshot, &name, policy::PlanOptions::default())
        .map_err(|_| ApiError::not_found("Could not retrieve Dataplane"))?;
    ok(StatusCode::OK, policy::inspect::routes_view(&snapshot, &planned, &kri))
}

/// The Dataplanes a policy applies to: `{total, items: [{type, mesh, name, labels}]}`.
async fn affected_dataplanes(
    State(api): State<Api>,
    Path((mesh, path, name)): Path<(String, String, String)>,
) -> Reply {
    let kind = kind_at(&path)?;
    if !kind.descriptor().is_policy {
        return Err(ApiError::not_found("Could not find the resource type"));
    }
    let snapshot = api.control.snapshot(&mesh).ok_or_else(|| ApiError::not_found("Failed to retrieve Mesh"))?;
    let policies = if kind == Kind::MeshTcpRoute { snapshot.tcp_routes() } else { snapshot.http_routes() };
    let Some(id) = policies.iter().find(|p| p.resource.meta.name == name).map(|p| p.id) else {
        return Err(ApiError::not_found("Could not retrieve a resource"));
    };
    let mut items = Vec::new();
    for dp in snapshot.index.dataplanes() {
        let Some(proxy) = policy::selection::Proxy::new(&snapshot, dp) else { continue };
        let matched = policy::selection::match_policies(&snapshot, policies, &proxy, false);
        if matched.iter().any(|m| m.policy.id == id) {
            items.push(json!({"type": "Dataplane", "mesh": mesh, "name": dp.meta.name, "labels": dp.meta.labels}));
        }
    }
    ok(StatusCode::OK, json!({ "total": items.len(), "items": items }))
}
