//! Where tokens' signing keys and revocation lists live, as in Kuma: RSA keys (PKCS#1 PEM, 2048 bits)
//! in Secrets named `dataplane-token-signing-key-<mesh>-<serial>` (one set per mesh) and GlobalSecrets
//! named `user-token-signing-key-<serial>`. A token is signed with the key of the highest serial and
//! names it in `kid`, so adding a key with a higher serial rotates: new tokens use it, tokens of the
//! older keys stay valid until those keys are deleted. Revoked token ids are a comma-separated list in
//! the Secret `dataplane-token-revocations-<mesh>` / GlobalSecret `user-token-revocations`.

use model::Kind;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, LineEnding};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{RsaPrivateKey, RsaPublicKey};

use crate::tokens::jwt::TokenError;

/// Kuma's key size.
pub const KEY_BITS: usize = 2048;
/// The serial number of the first key the control plane makes.
pub const FIRST_SERIAL: u32 = 1;

/// Which family of tokens: where its keys and revocations are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySet {
    /// Dataplane tokens of one mesh.
    Dataplane { mesh: String },
    /// User tokens (API callers), global.
    User,
}

impl KeySet {
    pub fn kind(&self) -> Kind {
        match self {
            Self::Dataplane { .. } => Kind::Secret,
            Self::User => Kind::GlobalSecret,
        }
    }

    /// The mesh the secrets are in ("" for global secrets).
    pub fn mesh(&self) -> &str {
        match self {
            Self::Dataplane { mesh } => mesh,
            Self::User => "",
        }
    }

    pub fn prefix(&self) -> String {
        match self {
            Self::Dataplane { mesh } => format!("dataplane-token-signing-key-{mesh}"),
            Self::User => "user-token-signing-key".to_owned(),
        }
    }

    pub fn revocations(&self) -> String {
        match self {
            Self::Dataplane { mesh } => format!("dataplane-token-revocations-{mesh}"),
            Self::User => "user-token-revocations".to_owned(),
        }
    }

    /// The secret's name of the key with `serial` (serial 0 is the unsuffixed name of Kuma 1.3).
    pub fn key_name(&self, serial: u32) -> String {
        if serial == 0 { self.prefix() } else { format!("{}-{serial}", self.prefix()) }
    }

    /// The serial of a secret name of this set's keys; None for other secrets.
    pub fn serial_of(&self, name: &str) -> Option<u32> {
        let prefix = self.prefix();
        let rest = name.strip_prefix(&prefix)?;
        if rest.is_empty() {
            return Some(0);
        }
        let digits = rest.strip_prefix('-')?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    /// The key that signs new tokens: the one of the highest serial among `secrets` (name, bytes).
    pub fn latest<'a>(
        &self,
        secrets: impl IntoIterator<Item = (&'a str, Vec<u8>)>,
    ) -> Result<(u32, RsaPrivateKey), TokenError> {
        let best = secrets
            .into_iter()
            .filter_map(|(name, bytes)| Some((self.serial_of(name)?, bytes)))
            .max_by_key(|(s, _)| *s);
        let Some((serial, bytes)) = best else { return Err(self.not_found(FIRST_SERIAL)) };
        parse_private_key(&bytes).map(|k| (serial, k)).map_err(TokenError::SigningKeyNotFound)
    }

    pub fn not_found(&self, serial: u32) -> TokenError {
        let name = self.key_name(serial);
        TokenError::SigningKeyNotFound(match self {
            Self::Dataplane { mesh } => format!(
                "there is no signing key with KID {serial}. Secret of name {name:?} in mesh {mesh:?} is not found. If signing key was rotated, regenerate the token"
            ),
            Self::User => format!(
                "there is no signing key with KID {serial}. GlobalSecret of name {name:?} is not found. If signing key was rotated, regenerate the token"
            ),
        })
    }
}

/// The public half of the key `kid` names, from its secret's bytes (None: no such secret).
pub fn public_key(
    set: &KeySet,
    kid: &str,
    secret: impl FnOnce(&str) -> Option<Vec<u8>>,
) -> Result<RsaPublicKey, TokenError> {
    let serial: u32 = kid.parse().map_err(|_| TokenError::Malformed(format!("kid {kid:?} is not a serial number")))?;
    let bytes = secret(&set.key_name(serial)).ok_or_else(|| set.not_found(serial))?;
    parse_private_key(&bytes).map(|k| k.to_public_key()).map_err(TokenError::SigningKeyNotFound)
}

/// Whether `id` is in a revocation list's bytes (`id1,id2`, an optional final newline).
pub fn is_revoked(list: Option<&[u8]>, id: &str) -> bool {
    let Some(text) = list.and_then(|b| std::str::from_utf8(b).ok()) else { return false };
    !id.is_empty() && text.trim_end_matches('\n').split(',').any(|revoked| revoked.trim() == id)
}

/// A new signing key, PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), as Kuma stores it.
pub fn new_signing_key() -> Result<Vec<u8>, String> {
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, KEY_BITS).map_err(|e| e.to_string())?;
    key.to_pkcs1_pem(LineEnding::LF).map(|pem| pem.as_bytes().to_vec()).map_err(|e| e.to_string())
}

/// A signing key from PEM (PKCS#1 or PKCS#8) or DER (PKCS#1, Kuma's legacy form).
pub fn parse_private_key(bytes: &[u8]) -> Result<RsaPrivateKey, String> {
    if let Ok(text) = std::str::from_utf8(bytes)
        && text.contains("-----BEGIN")
    {
        return RsaPrivateKey::from_pkcs1_pem(text)
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(text))
            .map_err(|e| format!("the signing key is not an RSA private key: {e}"));
    }
    RsaPrivateKey::from_pkcs1_der(bytes).map_err(|e| format!("the signing key is not an RSA private key: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_and_serials() {
        let set = KeySet::Dataplane { mesh: "default".into() };
        assert_eq!(set.key_name(1), "dataplane-token-signing-key-default-1");
        assert_eq!(set.serial_of("dataplane-token-signing-key-default-12"), Some(12));
        assert_eq!(set.serial_of("dataplane-token-signing-key-default"), Some(0));
        assert_eq!(set.serial_of("dataplane-token-signing-key-default-x"), None);
        // Another mesh whose name starts with this one's is not this set.
        assert_eq!(set.serial_of("dataplane-token-signing-key-default-2-1"), None);
        assert_eq!(KeySet::User.key_name(3), "user-token-signing-key-3");
    }

    #[test]
    fn revocation_lists() {
        assert!(is_revoked(Some(b"a,b\n"), "b"));
        assert!(!is_revoked(Some(b"a,b"), "c"));
        assert!(!is_revoked(Some(b""), ""));
        assert!(!is_revoked(None, "a"));
    }
}
