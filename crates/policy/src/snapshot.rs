//! The snapshot of one mesh: its index, its compiled policies and the memo of backend clusters, built
//! once per change and shared by every proxy's plan. It is built from validated resources (`Valid`);
//! invalid ones are left out with a warning, so one bad resource never takes the others down.

use std::sync::Arc;

use model::kind::Kind;
use model::kri::Kri;
use model::resource::Resource;
use model::{Report, Tags, Valid};

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
    /// Builds the snapshot of `mesh` from resources of any mesh, validating each one.
    pub fn build(mesh: &str, resources: impl IntoIterator<Item = Resource>) -> Self {
        let mut warnings = Vec::new();
        let mut valid = Vec::new();
        for resource in resources.into_iter().filter(|r| mesh_of(r) == mesh) {
            let (kind, name) = (resource.kind(), resource.meta.name.clone());
            match Valid::check(resource) {
                Ok((resource, _)) => valid.push(resource),
                Err(report) => warnings.push(invalid_resource(kind, &name, &report)),
            }
        }
        Self::from_valid(mesh, valid, warnings)
    }

    /// Builds the snapshot of `mesh` from resources already validated (of any mesh), with the warnings
    /// about the ones that were not.
    pub fn from_valid(mesh: &str, resources: impl IntoIterator<Item = Valid>, warnings: Vec<Warning>) -> Self {
        let valid: Vec<Arc<Resource>> =
            resources.into_iter().filter(|r| mesh_of(r) == mesh).map(|r| r.shared().clone()).collect();

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

/// The mesh a resource belongs to: a Mesh is its own.
pub fn mesh_of(resource: &Resource) -> &str {
    if resource.kind() == Kind::Mesh { &resource.meta.name } else { &resource.meta.mesh }
}

/// The warning about a resource left out because it is invalid.
pub fn invalid_resource(kind: Kind, name: &str, report: &Report) -> Warning {
    Warning::new(
        WarningCode::InvalidResource,
        format!("{}/{name}", kind.wire_name()),
        format!("{} {name}: left out, invalid: {}", kind.wire_name(), report.errors),
    )
}
