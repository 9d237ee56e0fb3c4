//! JSON Web Tokens as Kuma issues them: RS256 (RSA PKCS#1 v1.5 with SHA-256), the serial number of the
//! signing key in the `kid` header, and the registered claims `exp`, `nbf`, `iat` and `jti`.
//!
//! ```text
//!  base64url(header) . base64url(claims) . base64url(RS256(header . claims))
//! ```

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The largest token looked at: a caller cannot make the control plane decode more than this.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a token is refused. The texts follow Kuma's where Kuma has one.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is too long (over {MAX_TOKEN_BYTES} bytes)")]
    TooLong,
    #[error("could not parse token: {0}")]
    Malformed(String),
    #[error("unsupported token alg {0}. Allowed algorithm is RS256")]
    Algorithm(String),
    #[error("JWT token must have kid header")]
    NoKeyId,
    #[error("could not parse token: token signature is invalid")]
    Signature,
    #[error("could not parse token: token is expired")]
    Expired,
    #[error("could not parse token: token is not valid yet")]
    NotYetValid,
    #[error("token is revoked")]
    Revoked,
    #[error("{0}")]
    SigningKeyNotFound(String),
}

/// The registered claims Kuma sets on every token it issues.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default)]
    pub jti: String,
}

impl Registered {
    /// Claims for a token issued at `now` (seconds) and valid for `valid_for` seconds. Like Kuma, the
    /// start is set 5 s back and the end 5 s on, for clock skew between control planes.
    pub fn issued(now: i64, valid_for: i64, jti: String) -> Self {
        let start = now - 5;
        Self { exp: Some(start + valid_for + 5), nbf: Some(start), iat: Some(start), jti }
    }

    fn check_time(&self, now: i64) -> Result<(), TokenError> {
        if self.exp.is_some_and(|exp| now >= exp) {
            return Err(TokenError::Expired);
        }
        if self.nbf.is_some_and(|nbf| now < nbf) {
            return Err(TokenError::NotYetValid);
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
}

/// Signs `claims` with `key`, naming it `kid`.
pub fn sign<C: Serialize>(claims: &C, kid: &str, key: &RsaPrivateKey) -> String {
    let header = Header { alg: "RS256".into(), kid: Some(kid.to_owned()), typ: Some("JWT".into()) };
    // Plain structs with string keys: serialising them cannot fail.
    let encode = |v: Vec<u8>| URL_SAFE_NO_PAD.encode(v);
    let input = format!(
        "{}.{}",
        encode(serde_json::to_vec(&header).unwrap_or_default()),
        encode(serde_json::to_vec(claims).unwrap_or_default())
    );
    let signature = SigningKey::<Sha256>::new(key.clone()).sign(input.as_bytes());
    format!("{input}.{}", encode(signature.to_vec()))
}

/// A token split and decoded, not yet verified.
pub struct Unverified<C> {
    pub kid: String,
    pub claims: C,
    registered: Registered,
    input: String,
    signature: Vec<u8>,
}

/// Splits and decodes a token; nothing in it is trusted yet.
pub fn decode<C: DeserializeOwned>(token: &str) -> Result<Unverified<C>, TokenError> {
    let token = token.trim();
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLong);
    }
    let malformed = |what: &str| TokenError::Malformed(what.to_owned());
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("token contains an invalid number of segments"));
    };
    let bytes = |part: &str| URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).map_err(|_| malformed("bad base64"));
    let header: Header = serde_json::from_slice(&bytes(header)?).map_err(|_| malformed("bad header"))?;
    if header.alg != "RS256" {
        return Err(TokenError::Algorithm(header.alg));
    }
    let kid = header.kid.ok_or(TokenError::NoKeyId)?;
    let claim_bytes = bytes(claims)?;
    let registered: Registered = serde_json::from_slice(&claim_bytes).map_err(|_| malformed("bad claims"))?;
    let claims: C = serde_json::from_slice(&claim_bytes).map_err(|_| malformed("bad claims"))?;
    let input = token[..token.len() - signature.len() - 1].to_owned();
    Ok(Unverified { kid, claims, registered, input, signature: bytes(signature)? })
}

impl<C> Unverified<C> {
    /// Checks the signature with `key` and the validity period at `now` (seconds since the epoch).
    pub fn verify(self, key: &RsaPublicKey, now: i64) -> Result<Verified<C>, TokenError> {
        let signature = Signature::try_from(self.signature.as_slice()).map_err(|_| TokenError::Signature)?;
        VerifyingKey::<Sha256>::new(key.clone())
            .verify(self.input.as_bytes(), &signature)
            .map_err(|_| TokenError::Signature)?;
        self.registered.check_time(now)?;
        Ok(Verified { claims: self.claims, jti: self.registered.jti })
    }
}

/// A token whose signature and validity period were checked.
pub struct Verified<C> {
    pub claims: C,
    pub jti: String,
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A random token id (a version 4 UUID, as Kuma's).
pub fn new_id() -> String {
    use rsa::rand_core::{OsRng, RngCore};
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// A Go duration as kumactl takes it (`24h`, `1h30m`, `90s`, `8760h`): seconds, positive.
pub fn parse_valid_for(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a duration such as 24h, 30m or 1h30m");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600,
            "m" => 60,
            "s" => 1,
            _ => return Err(bad()),
        };
        total = n.checked_mul(seconds).and_then(|s| total.checked_add(s)).ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    if total <= 0 {
        return Err("must be greater than 0".to_owned());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go() {
        assert_eq!(parse_valid_for("24h"), Ok(86_400));
        assert_eq!(parse_valid_for("1h30m"), Ok(5_400));
        assert_eq!(parse_valid_for("90s"), Ok(90));
        assert!(parse_valid_for("").is_err());
        assert!(parse_valid_for("24").is_err());
        assert!(parse_valid_for("1d").is_err());
        assert_eq!(parse_valid_for("0s"), Err("must be greater than 0".to_owned()));
    }

    #[test]
    fn ids_are_version_4_uuids() {
        let id = new_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, new_id());
    }
}
