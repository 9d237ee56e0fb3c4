//! What every targetRef policy shares: its policy role (spec §1.8), the top-level targetRef check (§2.3),
//! the to-item kinds (§2.4), backendRef checks (§2.6) and deprecation warnings (§1.7).

use crate::common::{BackendRef, TargetRef, TargetRefKind};
use crate::kind::Spec;
use crate::path::{FieldPath, Violations};
use crate::resource::{Resource, labels};
use crate::validate::messages as msg;
use crate::validate::target_ref::{TargetRefRules, validate_target_ref};

/// Who a policy is written for; later roles win ties when ordering policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyRole {
    System,
    Producer,
    Consumer,
    WorkloadOwner,
}

impl PolicyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Producer => "producer",
            Self::Consumer => "consumer",
            Self::WorkloadOwner => "workload-owner",
        }
    }

    fn from_label(s: &str) -> Self {
        match s {
            "producer" => Self::Producer,
            "consumer" => Self::Consumer,
            "workload-owner" => Self::WorkloadOwner,
            _ => Self::System,
        }
    }
}

/// Namespaces whose policies are system policies (Kuma's and Kong Mesh's default system namespaces).
pub const SYSTEM_NAMESPACES: &[&str] = &["kuma-system", "kong-mesh-system"];

/// The top-level and to-item targetRefs of a policy kind, or `None` for other kinds.
pub fn policy_target_refs(spec: &Spec) -> Option<(Option<&TargetRef>, Vec<&TargetRef>)> {
    match spec {
        Spec::MeshTcpRoute(s) => Some((s.target_ref.as_ref(), s.to.iter().flatten().map(|t| &t.target_ref).collect())),
        Spec::MeshHttpRoute(s) => Some((s.target_ref.as_ref(), s.to.iter().flatten().map(|t| &t.target_ref).collect())),
        _ => None,
    }
}

/// The policy role of a resource. It is computed for a locally-originated object in a namespace (the
/// Kubernetes form); elsewhere it is read from the `kuma.io/policy-role` label, absent meaning `system`.
/// Mixing producer and consumer to-items is an error.
pub fn policy_role(resource: &Resource) -> Result<PolicyRole, &'static str> {
    let namespace = resource.namespace();
    let synced = resource.origin() == Some("global");
    if namespace.is_empty() || synced {
        return Ok(resource.label(labels::POLICY_ROLE).map_or(PolicyRole::System, PolicyRole::from_label));
    }
    if SYSTEM_NAMESPACES.contains(&namespace) {
        return Ok(PolicyRole::System);
    }
    let Some((_, to_refs)) = policy_target_refs(&resource.spec) else {
        return Ok(PolicyRole::System);
    };
    if to_refs.is_empty() {
        return Ok(PolicyRole::WorkloadOwner);
    }
    let is_producer = |r: &&TargetRef| {
        matches!(r.kind, TargetRefKind::MeshService | TargetRefKind::MeshHttpRoute)
            && !r.name_str().is_empty()
            && (r.namespace_str().is_empty() || r.namespace_str() == namespace)
    };
    let producers = to_refs.iter().filter(|r| is_producer(r)).count();
    match producers {
        0 => Ok(PolicyRole::Consumer),
        n if n == to_refs.len() => Ok(PolicyRole::Producer),
        _ => Err(msg::MIXED_ROLES),
    }
}

/// The deprecation warnings of a policy's top-level kind.
pub fn deprecation_warnings(top: Option<&TargetRef>) -> Vec<String> {
    match top.map(|t| &t.kind) {
        Some(k @ (TargetRefKind::MeshService | TargetRefKind::MeshServiceSubset | TargetRefKind::MeshSubset)) => {
            vec![msg::deprecated_kind(k.as_str())]
        }
        Some(TargetRefKind::MeshHttpRoute) => vec![msg::DEPRECATED_HTTP_ROUTE_KIND.to_owned()],
        _ => Vec::new(),
    }
}

/// The top-level targetRef check (§2.3); absent means `{kind: Mesh}` and is not checked.
pub fn validate_top_level(top: Option<&TargetRef>, role: PolicyRole) -> Violations {
    use TargetRefKind as K;
    let Some(top) = top else {
        return Violations::new();
    };
    let system = [K::Mesh, K::MeshSubset, K::MeshGateway, K::MeshService, K::MeshServiceSubset, K::Dataplane];
    let other = [K::Mesh, K::MeshSubset, K::MeshService, K::MeshServiceSubset, K::Dataplane];
    let rules = TargetRefRules {
        supported_kinds: if role == PolicyRole::System { &system } else { &other },
        gateway_listener_tags_allowed: true,
        is_inbound_policy: false,
    };
    validate_target_ref(&FieldPath::at("spec").field("targetRef"), top, &rules)
}

/// The to-item targetRef check (§2.4): the effective top-level kind decides which kinds are allowed.
pub fn validate_to_target_ref(path: &FieldPath, to: &TargetRef, top: Option<&TargetRef>) -> Violations {
    use TargetRefKind as K;
    let gateway = top.is_some_and(|t| t.kind == K::MeshGateway);
    let kinds: &[K] =
        if gateway { &[K::Mesh] } else { &[K::MeshService, K::MeshExternalService, K::MeshMultiZoneService] };
    let rules =
        TargetRefRules { supported_kinds: kinds, gateway_listener_tags_allowed: false, is_inbound_policy: false };
    validate_target_ref(&path.field("targetRef"), to, &rules)
}

/// A name the Gateway API converter writes for a backend it could not resolve; Kuma lets it through.
const UNRESOLVED_BACKEND: &str = "kuma.io/unresolved-backend";

/// One backendRef (§2.6): the generic check, then the MeshMultiZoneService port requirement.
/// MeshHTTPRoute lets the converter's unresolved-backend name through the name check.
pub fn validate_backend_ref(path: &FieldPath, backend: &BackendRef, allow_unresolved_name: bool) -> Violations {
    use TargetRefKind as K;
    let rules = TargetRefRules {
        supported_kinds: &[K::MeshService, K::MeshServiceSubset, K::MeshExternalService, K::MeshMultiZoneService],
        gateway_listener_tags_allowed: false,
        is_inbound_policy: false,
    };
    let mut target = backend.target_ref();
    if allow_unresolved_name && target.name.as_deref() == Some(UNRESOLVED_BACKEND) {
        target.name = Some("unresolved-backend".to_owned());
    }
    let mut v = validate_target_ref(path, &target, &rules);
    if backend.kind == K::MeshMultiZoneService && backend.port.is_none() {
        v.add(path.field("port"), msg::MMZS_PORT_REQUIRED);
    }
    v
}
