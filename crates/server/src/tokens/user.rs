//! User tokens (Kuma `pkg/plugins/authn/api-server/tokens`): what an API caller other than the admin
//! shows, `Authorization: Bearer <token>`. A token names a user and its groups; the groups decide what
//! the caller may do (see `crate::auth::Access`).

use serde::{Deserialize, Serialize};

use crate::tokens::jwt::{self, Registered, TokenError};
use crate::tokens::keys::{self, KeySet};
use crate::tokens::{AuthError, SecretSource};

/// The group whose members may do everything, as in Kuma.
pub const ADMIN_GROUP: &str = "mesh-system:admin";
/// The group whose members may read everything but secrets, and write nothing.
pub const READ_ONLY_GROUP: &str = "mesh-system:read-only";

/// A user as a token names it (`POST /tokens/user` takes the same fields, with `validFor`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct UserClaims {
    #[serde(flatten)]
    user: User,
    #[serde(flatten)]
    registered: Registered,
}

/// Signs a token for `user` with the newest user-token signing key among `secrets` (name, bytes).
pub fn issue<'a>(
    user: &User,
    valid_for_seconds: i64,
    secrets: impl IntoIterator<Item = (&'a str, Vec<u8>)>,
) -> Result<String, TokenError> {
    let (serial, key) = KeySet::User.latest(secrets)?;
    let claims =
        UserClaims { user: user.clone(), registered: Registered::issued(jwt::now(), valid_for_seconds, jwt::new_id()) };
    Ok(jwt::sign(&claims, &serial.to_string(), &key))
}

/// The user a token names, when it is signed by a current key, valid now and not revoked.
pub fn authenticate(token: &str, secrets: &dyn SecretSource) -> Result<User, AuthError> {
    let set = KeySet::User;
    let unverified = jwt::decode::<UserClaims>(token)?;
    let key = keys::public_key(&set, &unverified.kid, |name| secrets.secret(set.kind(), "", name))?;
    let verified = unverified.verify(&key, jwt::now())?;
    if keys::is_revoked(secrets.secret(set.kind(), "", &set.revocations()).as_deref(), &verified.jti) {
        return Err(TokenError::Revoked.into());
    }
    Ok(verified.claims.user)
}
