//! Dataplane tokens (Kuma `pkg/tokens/builtin`): what a proxy shows to `/bootstrap` and to ADS. A token
//! binds any of the mesh, the Dataplane's name, tag values and the `kuma.io/workload` label; what it
//! leaves out is not checked, so a token can name one proxy (mesh + name, the safest) or every instance
//! of a service (mesh + `kuma.io/service`).

use std::collections::{BTreeMap, BTreeSet};

use model::{Resource, Spec};
use serde::{Deserialize, Serialize};

use crate::tokens::jwt::{self, Registered, TokenError};
use crate::tokens::keys::{self, KeySet};
use crate::tokens::{AuthError, SecretSource};

/// The label a token's workload binding is compared with.
pub const WORKLOAD_LABEL: &str = "kuma.io/workload";

/// What a token allows, as requested (`POST /tokens/dataplane`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DataplaneIdentity {
    pub name: String,
    pub mesh: String,
    pub tags: BTreeMap<String, Vec<String>>,
    #[serde(rename = "type")]
    pub proxy_type: String,
    pub workload: String,
}

/// The claims of a dataplane token, with Kuma's JSON names.
#[derive(Debug, Default, Serialize, Deserialize)]
struct DataplaneClaims {
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "Mesh", default)]
    mesh: String,
    #[serde(rename = "Tags", default)]
    tags: BTreeMap<String, Vec<String>>,
    #[serde(rename = "Type", default)]
    proxy_type: String,
    #[serde(rename = "Workload", default)]
    workload: String,
    #[serde(flatten)]
    registered: Registered,
}

/// Signs a token for `identity` with the newest key of its mesh among `secrets` (name, bytes).
pub fn issue<'a>(
    identity: &DataplaneIdentity,
    valid_for_seconds: i64,
    secrets: impl IntoIterator<Item = (&'a str, Vec<u8>)>,
) -> Result<String, TokenError> {
    let set = KeySet::Dataplane { mesh: identity.mesh.clone() };
    let (serial, key) = set.latest(secrets)?;
    let claims = DataplaneClaims {
        name: identity.name.clone(),
        mesh: identity.mesh.clone(),
        tags: identity.tags.clone(),
        proxy_type: identity.proxy_type.clone(),
        workload: identity.workload.clone(),
        registered: Registered::issued(jwt::now(), valid_for_seconds, jwt::new_id()),
    };
    Ok(jwt::sign(&claims, &serial.to_string(), &key))
}

/// Checks that `token` lets the proxy of `dataplane` in: signed by a current key of the Dataplane's mesh,
/// in its validity period, not revoked, and binding nothing the Dataplane does not have.
pub fn authenticate(token: &str, dataplane: &Resource, secrets: &dyn SecretSource) -> Result<(), AuthError> {
    if token.trim().is_empty() {
        return Err(AuthError::Missing);
    }
    let mesh = &dataplane.meta.mesh;
    let set = KeySet::Dataplane { mesh: mesh.clone() };
    let unverified = jwt::decode::<DataplaneClaims>(token)?;
    let key = keys::public_key(&set, &unverified.kid, |name| secrets.secret(set.kind(), mesh, name))?;
    let verified = unverified.verify(&key, jwt::now())?;
    if keys::is_revoked(secrets.secret(set.kind(), mesh, &set.revocations()).as_deref(), &verified.jti) {
        return Err(TokenError::Revoked.into());
    }
    let claims = verified.claims;
    let denied = |m: String| Err(AuthError::Denied(m));
    if !claims.name.is_empty() && claims.name != dataplane.meta.name {
        return denied(format!(
            "proxy name from requestor: {} is different than in token: {}",
            dataplane.meta.name, claims.name
        ));
    }
    if !claims.mesh.is_empty() && claims.mesh != *mesh {
        return denied(format!("proxy mesh from requestor: {mesh} is different than in token: {}", claims.mesh));
    }
    if !claims.proxy_type.is_empty() && claims.proxy_type != "dataplane" {
        return denied(format!("the token is for a proxy of type {:?}, not a dataplane", claims.proxy_type));
    }
    let tags = tag_set(dataplane);
    for (tag, allowed) in &claims.tags {
        let Some(values) = tags.get(tag.as_str()) else {
            return denied(format!("dataplane has no tag {tag:?} required by the token"));
        };
        if let Some(value) = values.iter().find(|v| !allowed.iter().any(|a| a == *v)) {
            return denied(format!(
                "dataplane contains tag {tag:?} with value {value:?} which is not allowed with this token. Allowed values in token are {allowed:?}"
            ));
        }
    }
    if !claims.workload.is_empty() {
        match dataplane.meta.labels.get(WORKLOAD_LABEL) {
            None => return denied("dataplane has no workload label required by the token".to_owned()),
            Some(w) if *w != claims.workload => {
                return denied(format!(
                    "dataplane workload {w:?} is not allowed with this token. Allowed workload in token is {:?}",
                    claims.workload
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Every value of every tag the Dataplane declares (inbounds and gateway).
fn tag_set(dataplane: &Resource) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut set: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let Spec::Dataplane(spec) = &dataplane.spec else { return set };
    let Some(net) = &spec.networking else { return set };
    let tag_maps = net.inbound.iter().map(|i| &i.tags).chain(net.gateway.iter().map(|g| &g.tags));
    for tags in tag_maps {
        for (k, v) in tags {
            set.entry(k.as_str()).or_default().insert(v.as_str());
        }
    }
    set
}
