//! The generated resources of one proxy, each in canonical bytes with a content-hash version.

use sha2::{Digest, Sha256};

use crate::canonical::{CanonicalError, encode, to_json, type_name};

pub const LISTENER_TYPE: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
pub const CLUSTER_TYPE: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
pub const ENDPOINT_TYPE: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
/// Extension configs (ECDS): the `TcpProxy` of each outbound and gateway filter chain.
pub const EXTENSION_CONFIG_TYPE: &str = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";

/// Every type a set holds, in the order versions and renderings list them.
pub const ALL_TYPES: [&str; 4] = [LISTENER_TYPE, CLUSTER_TYPE, ENDPOINT_TYPE, EXTENSION_CONFIG_TYPE];

/// Types Envoy subscribes to by name rather than as a whole.
pub fn is_named_subscription(type_url: &str) -> bool {
    type_url == ENDPOINT_TYPE || type_url == EXTENSION_CONFIG_TYPE
}

/// One Envoy resource: its name, type, canonical protobuf bytes and the hash of those bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    pub name: String,
    pub type_url: &'static str,
    pub body: Vec<u8>,
    /// The first 16 hex digits of SHA-256 over the body: equal bytes, equal version.
    pub version: String,
}

impl Resource {
    pub fn new<M: prost::Message + prost::Name>(
        name: String,
        type_url: &'static str,
        message: &M,
    ) -> Result<Self, CanonicalError> {
        let body = encode(message)?;
        let version = hash_hex(&[&body]);
        Ok(Self { name, type_url, body, version })
    }

    /// The resource in Envoy's canonical JSON mapping.
    pub fn to_json(&self) -> Result<serde_json::Value, CanonicalError> {
        to_json(type_name(self.type_url), &self.body)
    }
}

/// Everything one proxy is sent, each list sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceSet {
    pub listeners: Vec<Resource>,
    pub clusters: Vec<Resource>,
    pub endpoints: Vec<Resource>,
    pub extension_configs: Vec<Resource>,
}

impl ResourceSet {
    /// The resources of one type URL.
    pub fn of_type(&self, type_url: &str) -> &[Resource] {
        match type_url {
            LISTENER_TYPE => &self.listeners,
            CLUSTER_TYPE => &self.clusters,
            ENDPOINT_TYPE => &self.endpoints,
            EXTENSION_CONFIG_TYPE => &self.extension_configs,
            _ => &[],
        }
    }

    /// A version for one type: the hash of its resources' names and versions.
    pub fn type_version(&self, type_url: &str) -> String {
        version_of(self.of_type(type_url))
    }

    /// A version of the whole set: it changes whenever anything Envoy receives changes, extension
    /// configs included (a weight-only shift changes only those).
    pub fn version(&self) -> String {
        version_of(ALL_TYPES.iter().flat_map(|t| self.of_type(t)))
    }

    pub(crate) fn sort(&mut self) {
        for list in [&mut self.listeners, &mut self.clusters, &mut self.endpoints, &mut self.extension_configs] {
            list.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }

    /// `{"listeners": [...], "clusters": [...], "endpoints": [...], "extensionConfigs": [...]}` in Envoy's
    /// canonical JSON.
    pub fn to_json(&self) -> Result<serde_json::Value, CanonicalError> {
        let list = |items: &[Resource]| items.iter().map(Resource::to_json).collect::<Result<Vec<_>, _>>();
        Ok(serde_json::json!({
            "listeners": list(&self.listeners)?,
            "clusters": list(&self.clusters)?,
            "endpoints": list(&self.endpoints)?,
            "extensionConfigs": list(&self.extension_configs)?,
        }))
    }
}

/// The one version function for any list of resources (a type's, a subscription's, a whole set's): the
/// hash of each resource's type, name and content version, in the given order.
pub fn version_of<'a>(resources: impl IntoIterator<Item = &'a Resource>) -> String {
    let parts: Vec<&[u8]> =
        resources.into_iter().flat_map(|r| [r.type_url.as_bytes(), r.name.as_bytes(), r.version.as_bytes()]).collect();
    hash_hex(&parts)
}

fn hash_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect()
}
