//! Issuing tokens through the API (admins only, see `auth::Access`): `POST /tokens/dataplane` with
//! kumactl's `{name, mesh, tags, type, workload, validFor}` and `POST /tokens/user` with
//! `{name, groups, validFor}`; both answer the token as plain text. Keys are the served ones (the same
//! the dataplane server verifies with), so tokens are issued while the store is unreachable too.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use model::Kind;
use serde::Deserialize;

use crate::api::{Api, ApiError, Reply};
use crate::tokens::dataplane::DataplaneIdentity;
use crate::tokens::jwt::parse_valid_for;
use crate::tokens::keys::KeySet;
use crate::tokens::user::User;
use crate::tokens::{TokenError, dataplane, user};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DataplaneTokenRequest {
    #[serde(flatten)]
    identity: DataplaneIdentity,
    #[serde(default)]
    valid_for: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserTokenRequest {
    #[serde(flatten)]
    user: User,
    #[serde(default)]
    valid_for: String,
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, ApiError> {
    serde_json::from_str(body).map_err(|e| ApiError::invalid(vec![(String::new(), format!("bad request body: {e}"))]))
}

fn valid_for(text: &str) -> Result<i64, ApiError> {
    if text.is_empty() {
        return Err(ApiError::invalid(vec![("validFor".into(), "cannot be empty".into())]));
    }
    parse_valid_for(text).map_err(|e| ApiError::invalid(vec![("validFor".into(), e)]))
}

fn issued(result: Result<String, TokenError>) -> Reply {
    match result {
        Ok(token) => Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], token).into_response()),
        // The leader makes a mesh's key within a second of the mesh; until then there is nothing to sign with.
        Err(e) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Could not issue a token", &e.to_string())),
    }
}

pub async fn dataplane_token(State(api): State<Api>, body: String) -> Reply {
    let request: DataplaneTokenRequest = parse_body(&body)?;
    let mut identity = request.identity;
    let mut params = Vec::new();
    if identity.mesh.is_empty() {
        model::resource::DEFAULT_MESH.clone_into(&mut identity.mesh);
    }
    if !identity.proxy_type.is_empty() && identity.proxy_type != "dataplane" {
        params.push(("type".into(), "only dataplane is supported".into()));
    }
    let seconds = match valid_for(&request.valid_for) {
        Ok(s) => Some(s),
        Err(e) => {
            params.extend(e.into_params());
            None
        }
    };
    if !params.is_empty() {
        return Err(ApiError::invalid(params));
    }
    if api.control.served(Kind::Mesh, "", &identity.mesh).is_none() {
        return Err(ApiError::invalid(vec![("mesh".into(), format!("mesh of name {} is not found", identity.mesh))]));
    }
    let keys = api.control.signing_keys(&KeySet::Dataplane { mesh: identity.mesh.clone() });
    let seconds = seconds.unwrap_or_default();
    issued(dataplane::issue(&identity, seconds, keys.iter().map(|(n, b)| (n.as_str(), b.clone()))))
}

pub async fn user_token(State(api): State<Api>, body: String) -> Reply {
    let request: UserTokenRequest = parse_body(&body)?;
    let mut params = Vec::new();
    if request.user.name.is_empty() {
        params.push(("name".into(), "cannot be empty".into()));
    }
    let seconds = match valid_for(&request.valid_for) {
        Ok(s) => Some(s),
        Err(e) => {
            params.extend(e.into_params());
            None
        }
    };
    if !params.is_empty() {
        return Err(ApiError::invalid(params));
    }
    let keys = api.control.signing_keys(&KeySet::User);
    let seconds = seconds.unwrap_or_default();
    issued(user::issue(&request.user, seconds, keys.iter().map(|(n, b)| (n.as_str(), b.clone()))))
}
