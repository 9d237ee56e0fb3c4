//! The snapshot of one mesh: its index, its compiled policies and the memo of backend clusters, built
//! once per change and shared by every proxy's plan. Resources are validated here once; invalid ones are
//! left out with a warning, so one bad resource never takes the others down.

use std::sync::Arc;

use model::Tags;
use model::kind::Kind;
use model::kri::Kri;
use model::resource::Resource;

use crate::compiled::{CompiledPolicies, RoutePolicies};
use crate::index::MeshIndex;
use crate::memo::Memo;
use crate::plan::ClusterPlan;
use crate::warning::{Warning, WarningCode};

/// What a backend's cluster is memoised under.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BackendKey {
    /// A port of a real resource: its KRI with the section.
    Real(Kri),
    /// A `kuma.io/service` and the subset tags of the reference.
    Legacy { service: String, tags: Tags },
}

/// The cluster a backend becomes, or why it is left out of splits. It depends only on the snapshot and
/// the backend, so the snapshot computes it once and every proxy shares it.
pub type ClusterOutcome = Result<Arc<ClusterPlan>, Warning>;

/// The snapshot of one mesh.
#[derive(Debug)]
pub struct MeshSnapshot {
    pub index: MeshIndex,
    pub policies: CompiledPolicies,
    /// Resources left out because they are invalid, with why.
    pub warnings: Vec<Warning>,
    clusters: Memo<BackendKey, ClusterOutcome>,
}

impl MeshSnapshot {
    /// Builds the snapshot of `mesh` from resources of any mesh.
    pub fn build(mesh: &str, resources: impl IntoIterator<Item = Resource>) -> Self {
        let mut warnings = Vec::new();
        let mut valid: Vec<Arc<Resource>> = Vec::new();
        for resource in resources {
            let in_mesh = match resource.kind() {
                Kind::Mesh => resource.meta.name == mesh,
                _ => resource.meta.mesh == mesh,
            };
            if !in_mesh {
                continue;
            }
            let report = model::validate(&resource);
            if !report.is_valid() {
                warnings.push(Warning::new(
                    WarningCode::InvalidResource,
                    format!("{}/{}", resource.kind().wire_name(), resource.meta.name),
                    format!(
                        "{} {}: left out, invalid: {}",
                        resource.kind().wire_name(),
                        resource.meta.name,
                        report.errors
                    ),
                ));
                continue;
            }
            valid.push(Arc::new(resource));
        }
        let index = MeshIndex::build(mesh, &valid);
        let policies = CompiledPolicies::compile(&index, &valid);
        MeshSnapshot { index, policies, warnings, clusters: Memo::default() }
    }

    pub fn mesh(&self) -> &str {
        self.index.mesh()
    }

    pub fn tcp_routes(&self) -> &RoutePolicies {
        &self.policies.tcp
    }

    pub fn http_routes(&self) -> &RoutePolicies {
        &self.policies.http
    }

    /// The cluster a backend becomes, computed once per snapshot (see [`ClusterOutcome`]).
    pub fn cluster(&self, key: BackendKey, compute: impl FnOnce() -> ClusterOutcome) -> ClusterOutcome {
        self.clusters.get_or(key, compute)
    }
}
