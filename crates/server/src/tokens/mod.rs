//! Tokens, as Kuma 2.13 has them: dataplane tokens that proxies show to the dataplane server, and user
//! tokens that API callers show. Both are RS256 JWTs signed with keys kept in (Global)Secrets.
//!
//! ```text
//!  POST /tokens/dataplane|user (admin) ─► issue: newest key of the set ─► JWT (kid = key serial)
//!  /bootstrap, ADS stream, API call   ─► authenticate: key named by kid ─► signature, exp/nbf,
//!                                         revocations, claims vs the Dataplane (name, mesh, tags)
//! ```

pub mod dataplane;
pub mod jwt;
pub mod keys;
pub mod user;

use model::Kind;

pub use jwt::TokenError;

/// Where tokens' keys and revocation lists are read: the served Secrets and GlobalSecrets.
pub trait SecretSource: Send + Sync {
    /// The bytes of the secret `name` of `kind` (`Secret` in `mesh`, or `GlobalSecret`).
    fn secret(&self, kind: Kind, mesh: &str, name: &str) -> Option<Vec<u8>>;
}

/// Why a caller is not let in.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token at all.
    #[error(
        "Dataplane Token is required. Generate token using 'meshroute generate dataplane-token > /path/file' and provide it via --dataplane-token-file=/path/file argument to meshroute proxy"
    )]
    Missing,
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A valid token that does not cover what the caller claims.
    #[error("{0}")]
    Denied(String),
}

impl AuthError {
    /// A short fixed name, for metrics (never the caller's text).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Token(TokenError::Expired | TokenError::NotYetValid) => "expired",
            Self::Token(TokenError::Revoked) => "revoked",
            Self::Token(TokenError::SigningKeyNotFound(_)) => "unknown-key",
            Self::Token(TokenError::Signature) => "bad-signature",
            Self::Token(_) => "malformed",
            Self::Denied(_) => "not-covered",
        }
    }
}
