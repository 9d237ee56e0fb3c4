//! Validation, in Kuma's layers: metadata, the structural schema (with its kube-openapi messages), the
//! policy role, then the per-kind checks. Every violation is collected with its wire path.
//!
//! ```text
//!  Resource ─► metadata ─► schema ──(clean)──► role ─► per-kind validator ─► Report { errors, warnings }
//! ```

pub mod charset;
pub mod dataplane;
pub mod messages;
pub mod others;
pub mod policy;
pub mod routes;
pub mod schema;
pub mod target_ref;

use crate::kind::Spec;
use crate::path::{FieldPath, Violations};
use crate::resource::Resource;

pub use policy::{PolicyRole, policy_role};

/// What validation found: errors block the resource, warnings do not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub errors: Violations,
    pub warnings: Vec<String>,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Validates a resource as Kuma's REST API would before storing it.
pub fn validate(resource: &Resource) -> Report {
    let mut report = Report { errors: others::validate_metadata(resource), warnings: Vec::new() };
    let schema = match &resource.spec {
        Spec::MeshTcpRoute(s) => schema::schema_mesh_tcp_route(s),
        Spec::MeshHttpRoute(s) => schema::schema_mesh_http_route(s),
        _ => Violations::new(),
    };
    if !schema.is_empty() {
        report.errors.extend(schema);
        return report;
    }
    let role = match policy_role(resource) {
        Ok(role) => role,
        Err(message) => {
            report.errors.add(FieldPath::at("spec").field("to"), message);
            PolicyRole::System
        }
    };
    if let Some((top, _)) = policy::policy_target_refs(&resource.spec) {
        report.warnings = policy::deprecation_warnings(top);
    }
    report.errors.extend(validate_spec(&resource.spec, role));
    report
}

/// The per-kind checks alone (Kuma's Go validator), for a policy of `role`.
pub fn validate_spec(spec: &Spec, role: PolicyRole) -> Violations {
    match spec {
        Spec::MeshTcpRoute(s) => routes::validate_mesh_tcp_route(s, role),
        Spec::MeshHttpRoute(s) => routes::validate_mesh_http_route(s, role),
        Spec::Dataplane(s) => dataplane::validate_dataplane(s),
        Spec::Mesh(s) => others::validate_mesh(s),
        Spec::MeshGateway(s) => others::validate_mesh_gateway(s),
        Spec::MeshService(s) => others::validate_mesh_service(s),
        Spec::MeshExternalService(s) => others::validate_mesh_external_service(s),
        Spec::MeshMultiZoneService(s) => others::validate_mesh_multi_zone_service(s),
        Spec::ExternalService(s) => others::validate_external_service(s),
        Spec::TrafficRoute(s) => others::validate_traffic_route(s),
        Spec::Secret(s) => others::validate_secret(s),
        Spec::GlobalSecret(s) => others::validate_secret(s),
    }
}

/// A resource that passed [`validate`]. It cannot be changed through this type, so it stays valid: what
/// runs after validation (the snapshot, plans, ADS, the dataplane server) takes a `Valid` and never
/// validates again. Cheap to clone (shared).
#[derive(Clone, Debug, PartialEq)]
pub struct Valid(std::sync::Arc<Resource>);

impl Valid {
    /// Validates `resource`: the valid resource and the report's warnings, or the report.
    pub fn check(resource: Resource) -> Result<(Self, Vec<String>), Report> {
        let report = validate(&resource);
        if report.is_valid() { Ok((Self(std::sync::Arc::new(resource)), report.warnings)) } else { Err(report) }
    }

    /// The same resource with the store's creation and modification times, which validation does not
    /// look at (so the result is as valid as `self`).
    #[must_use]
    pub fn stamped(self, creation_time: &str, modification_time: &str) -> Self {
        let mut resource = std::sync::Arc::unwrap_or_clone(self.0);
        resource.meta.creation_time = Some(creation_time.to_owned());
        resource.meta.modification_time = Some(modification_time.to_owned());
        Self(std::sync::Arc::new(resource))
    }

    /// The resource, shared.
    pub fn shared(&self) -> &std::sync::Arc<Resource> {
        &self.0
    }
}

impl std::ops::Deref for Valid {
    type Target = Resource;

    fn deref(&self) -> &Resource {
        &self.0
    }
}
