//! A resource: metadata (name, mesh, labels, times) plus the spec of its kind.

use crate::common::Tags;
use crate::kind::{Kind, Spec};

/// Label keys Kuma computes or reads while matching and ordering.
pub mod labels {
    pub const MESH: &str = "kuma.io/mesh";
    pub const DISPLAY_NAME: &str = "kuma.io/display-name";
    pub const K8S_NAMESPACE: &str = "k8s.kuma.io/namespace";
    pub const POLICY_ROLE: &str = "kuma.io/policy-role";
    pub const ORIGIN: &str = "kuma.io/origin";
    pub const ZONE: &str = "kuma.io/zone";
    pub const ENV: &str = "kuma.io/env";
    pub const EFFECT: &str = "kuma.io/effect";
}

/// The mesh a resource belongs to when none is given.
pub const DEFAULT_MESH: &str = "default";

/// Metadata every resource has. `mesh` is empty for global-scoped kinds (Mesh).
///
/// `labels` never holds `kuma.io/mesh`: the mesh is `mesh`, and the Kubernetes form writes the label from it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    pub name: String,
    pub mesh: String,
    pub labels: Tags,
    /// Output-only timestamps (RFC 3339), kept when a document carries them.
    pub creation_time: Option<String>,
    pub modification_time: Option<String>,
}

/// One resource of any kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub meta: Meta,
    pub spec: Spec,
    /// The status section of kinds that have one, kept as written.
    pub status: Option<serde_json::Value>,
}

impl Resource {
    pub fn new(meta: Meta, spec: Spec) -> Self {
        Self { meta, spec, status: None }
    }

    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.meta.labels.get(key).map(String::as_str)
    }

    /// The user-facing name: the `kuma.io/display-name` label, else the name. Ordering and name references
    /// use it.
    pub fn display_name(&self) -> &str {
        self.label(labels::DISPLAY_NAME).unwrap_or(&self.meta.name)
    }

    /// The Kubernetes namespace, from the `k8s.kuma.io/namespace` label.
    pub fn namespace(&self) -> &str {
        self.label(labels::K8S_NAMESPACE).unwrap_or("")
    }

    pub fn zone(&self) -> &str {
        self.label(labels::ZONE).unwrap_or("")
    }

    pub fn origin(&self) -> Option<&str> {
        self.label(labels::ORIGIN)
    }

    /// The Kuma Resource Identifier of this resource (no section).
    pub fn kri_id(&self) -> crate::kri::Kri {
        let short_name = self.kind().descriptor().short_name;
        crate::kri::Kri::new(short_name, &self.meta.mesh, self.zone(), self.namespace(), self.display_name())
    }

    /// The KRI of this resource as text, with a section name (empty for none).
    pub fn kri(&self, section: &str) -> String {
        self.kri_id().with_section(section).to_string()
    }
}
