//! API authentication and access: off on loopback (only this machine can reach the API, and every
//! caller is admin, as Kuma's `localhostIsAdmin`), a bearer token otherwise: the admin token, made once
//! on first start into `<data-dir>/admin-token` (mode 0600), or a user token (`POST /tokens/user`).
//!
//! ```text
//!  Authorization: Bearer <t> ─► admin token? ─► Admin
//!                             └► user token (signature, exp, revocations) ─► groups ─► Admin | ReadOnly
//!  Access::allows(method, path): what each may do, decided here only
//! ```

use std::io::{Read, Write};
use std::path::Path;

use axum::http::HeaderMap;

use crate::tokens::SecretSource;
use crate::tokens::user::ADMIN_GROUP;

pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// Whether an address to listen on only takes connections from this machine.
pub fn is_loopback(address: &str) -> bool {
    address == "localhost" || address.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The admin token of a data directory, made on first use.
pub fn admin_token(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()?;
    Ok(token)
}

/// Whether the request carries `Authorization: Bearer <token>`, compared in constant time.
pub fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = bearer(headers) else {
        return false;
    };
    given.len() == token.len() && given.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// What a caller may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Everything: writes, secrets, issuing tokens.
    Admin,
    /// Reads of everything but secrets.
    ReadOnly,
}

impl Access {
    /// The access of a user token's groups: admin with [`ADMIN_GROUP`], read-only otherwise (the
    /// read-only group, or any group meshroute does not know: least privilege).
    pub fn of_groups(groups: &[String]) -> Self {
        if groups.iter().any(|g| g == ADMIN_GROUP) { Self::Admin } else { Self::ReadOnly }
    }

    /// Whether this access allows `method` on `path`; the reason when it does not.
    pub fn allows(self, method: &axum::http::Method, path: &str) -> Result<(), String> {
        if self == Self::Admin {
            return Ok(());
        }
        let read = *method == axum::http::Method::GET || *method == axum::http::Method::HEAD;
        if !read {
            return Err(format!("{method} {path} needs the {ADMIN_GROUP} group; this token is read-only"));
        }
        if touches_secrets(path) {
            return Err(format!("reading secrets needs the {ADMIN_GROUP} group"));
        }
        Ok(())
    }
}

/// Whether a path names a collection of a confidential kind (`/meshes/m/secrets`, `/global-secrets/x`).
fn touches_secrets(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let collection = match segments.as_slice() {
        ["meshes", _, collection, ..] | [collection, ..] => *collection,
        [] => return false,
    };
    model::Kind::ALL.iter().any(|k| k.is_confidential() && k.descriptor().rest_path == collection)
}

/// Who the caller of a request is, when the API requires a token: the admin token's holder, or the user
/// of a valid user token. The error says what to send.
pub fn caller_access(headers: &HeaderMap, admin_token: &str, secrets: &dyn SecretSource) -> Result<Access, String> {
    if bearer_matches(headers, admin_token) {
        return Ok(Access::Admin);
    }
    let Some(token) = bearer(headers) else {
        return Err("this API needs a token: send Authorization: Bearer <token> (the admin token is in the data directory, file admin-token)".to_owned());
    };
    match crate::tokens::user::authenticate(token, secrets) {
        Ok(user) => Ok(Access::of_groups(&user.groups)),
        Err(e) => Err(format!("the token is not valid: {e}")),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
}
