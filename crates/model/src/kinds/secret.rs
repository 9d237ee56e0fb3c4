//! Secret and GlobalSecret (Kuma `api/system/v1alpha1/secret.proto`): opaque bytes, base64 in `data`.
//! The control plane keeps its token signing keys and revocation lists in them; the API shows them to
//! admins only (see `Kind::is_confidential`).

use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretSpec {
    /// The secret's bytes, base64 (standard alphabet, padded).
    #[serde(default)]
    pub data: String,
}

impl SecretSpec {
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self { data: base64::engine::general_purpose::STANDARD.encode(bytes) }
    }

    /// The bytes; None when `data` is not base64 (validation refuses such a secret).
    pub fn bytes(&self) -> Option<Vec<u8>> {
        base64::engine::general_purpose::STANDARD.decode(self.data.trim()).ok()
    }
}

/// Never prints the data: a secret may end up in a log through `{:?}`.
impl std::fmt::Debug for SecretSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSpec").field("data", &format_args!("<{} characters>", self.data.len())).finish()
    }
}

/// A GlobalSecret's spec: the same shape as a Secret's, outside any mesh.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct GlobalSecretSpec(pub SecretSpec);

impl std::ops::Deref for GlobalSecretSpec {
    type Target = SecretSpec;
    fn deref(&self) -> &SecretSpec {
        &self.0
    }
}
