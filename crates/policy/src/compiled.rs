//! Route policies compiled once per change and shared by every proxy: each with its `PolicyId`, its
//! top-level target and selector, its rank in the priority order (spec §3.4), and every to-item's
//! legacy subset (interned) and the real resources its targetRef names (spec §3.6 item 3), resolved
//! against the mesh index.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use model::common::{ProxyType, SERVICE_TAG};
use model::kind::{Kind, Spec};
use model::kri::Kri;
use model::resource::{Resource, labels};
use model::validate::{PolicyRole, policy_role};
use model::{BackendRef, Tags, TargetRef, TargetRefKind};

use crate::index::{MeshIndex, has_labels, real_ports};
use crate::plan::{BackendRefs, PolicyRef};

/// A policy's place in its list (MeshTCPRoutes or MeshHTTPRoutes of one snapshot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyId(u32);

impl PolicyId {
    fn new(index: usize) -> Self {
        Self(u32::try_from(index).expect("fewer than 2^32 policies"))
    }
}

/// An interned legacy tag subset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SubsetId(u32);

impl SubsetId {
    fn new(index: usize) -> Self {
        Self(u32::try_from(index).expect("fewer than 2^32 subsets"))
    }
}

/// A route policy (MeshTCPRoute or MeshHTTPRoute) with what ordering and merging read precomputed.
#[derive(Debug)]
pub struct RoutePolicy {
    pub id: PolicyId,
    pub resource: Arc<Resource>,
    /// The top-level targetRef; an absent one is `{kind: Mesh}`.
    pub top: TargetRef,
    pub to: Vec<RouteTo>,
    pub role: PolicyRole,
    /// `global` 1 < none 2 < `zone` 3: zone-originated policies win ties.
    pub origin_rank: u8,
    pub shadow: bool,
    /// The policy's KRI (no section).
    pub kri: Kri,
    /// The tag selector of tag-selecting top-level kinds (Mesh, MeshSubset, MeshService,
    /// MeshServiceSubset), made once instead of per proxy.
    pub selector: Tags,
    /// What the top-level targetRef selects, typed once: selection matches on this, not on `top`.
    pub selects: Selects,
    /// How plans and inspect list this policy.
    pub policy_ref: PolicyRef,
    /// Its place in the priority order (spec §3.4) among all policies of its type: the order does not
    /// depend on the proxy, so it is computed once.
    pub(crate) rank: usize,
}

impl RoutePolicy {
    pub fn display_name(&self) -> &str {
        self.resource.display_name()
    }

    /// Whether this policy is `Dataplane`-kind selected by name (beats labels in ordering).
    pub fn dataplane_by_name(&self) -> bool {
        matches!(self.selects, Selects::DataplaneNamed(_))
    }
}

/// What a top-level targetRef selects (spec §3.3), with the wire's optional fields resolved.
#[derive(Debug)]
pub enum Selects {
    /// `Mesh` or `MeshSubset`: proxies whose tags match the selector, of these proxy types (empty: all).
    Tagged { proxy_types: Vec<ProxyType> },
    /// `MeshService` or `MeshServiceSubset`: proxies whose tags match the selector.
    Service,
    /// The builtin gateway of this name, on its listeners whose tags match the selector.
    Gateway { name: String },
    /// `Dataplane` with no name, namespace or labels: every sidecar.
    AnyDataplane,
    /// `Dataplane` by labels.
    DataplaneLabels(Tags),
    /// `Dataplane` by name (and namespace), resolved against the policy's mesh, zone and namespace.
    DataplaneNamed(Kri),
    /// A kind that selects no proxy as a top-level target.
    Nothing,
}

impl Selects {
    fn of(policy: &Resource, top: &TargetRef) -> Self {
        match &top.kind {
            TargetRefKind::Mesh | TargetRefKind::MeshSubset => {
                Self::Tagged { proxy_types: top.proxy_types.clone().unwrap_or_default() }
            }
            TargetRefKind::MeshService | TargetRefKind::MeshServiceSubset => Self::Service,
            TargetRefKind::MeshGateway => Self::Gateway { name: top.name_str().to_owned() },
            TargetRefKind::Dataplane if !top.name_str().is_empty() => Self::DataplaneNamed(names_in(
                policy,
                Kind::Dataplane.descriptor().short_name,
                top.name_str(),
                top.namespace_str(),
            )),
            TargetRefKind::Dataplane if top.namespace_str().is_empty() && top.labels_or_empty().is_empty() => {
                Self::AnyDataplane
            }
            TargetRefKind::Dataplane => Self::DataplaneLabels(top.labels_or_empty().clone()),
            TargetRefKind::MeshExternalService
            | TargetRefKind::MeshMultiZoneService
            | TargetRefKind::MeshHttpRoute
            | TargetRefKind::Unknown(_) => Self::Nothing,
        }
    }
}

/// One to-item and what it contributes to merging (spec §1.6). For MeshHTTPRoute only the presence of a
/// contribution matters to MeshTCPRoute, so `backend_refs` is empty there.
#[derive(Debug)]
pub struct RouteTo {
    pub target: TargetRef,
    pub backend_refs: BackendRefs,
    /// The interned legacy tag subset of the target (spec §3.5), if it has one.
    pub(crate) subset: Option<SubsetId>,
    /// What the target names among real resources (spec §3.6 item 3).
    pub(crate) resolved: Vec<Resolved>,
}

/// What a to-item resolved to: a real resource and section, or the whole Mesh.
#[derive(Clone, Debug)]
pub(crate) enum Resolved {
    Mesh,
    Resource { resource: Arc<Resource>, section: String },
}

/// The policies of one type, in name order; indexed by [`PolicyId`].
#[derive(Debug, Default)]
pub struct RoutePolicies(Vec<RoutePolicy>);

impl RoutePolicies {
    pub fn iter(&self) -> std::slice::Iter<'_, RoutePolicy> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Index<PolicyId> for RoutePolicies {
    type Output = RoutePolicy;

    fn index(&self, id: PolicyId) -> &RoutePolicy {
        &self.0[id.0 as usize]
    }
}

impl<'a> IntoIterator for &'a RoutePolicies {
    type Item = &'a RoutePolicy;
    type IntoIter = std::slice::Iter<'a, RoutePolicy>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Both route policy types of a mesh and the legacy subsets their to-items use.
#[derive(Debug, Default)]
pub struct CompiledPolicies {
    pub tcp: RoutePolicies,
    pub http: RoutePolicies,
    /// Interned legacy subsets and, for each, the interned subsets it contains (itself included).
    pub(crate) subsets: Vec<Arc<Tags>>,
    pub(crate) sub_selectors: Vec<Vec<SubsetId>>,
}

impl CompiledPolicies {
    /// Compiles the (valid) route policies among `resources` against the mesh index.
    pub fn compile<'a>(index: &MeshIndex, resources: impl IntoIterator<Item = &'a Arc<Resource>>) -> Self {
        let mut tcp = Vec::new();
        let mut http = Vec::new();
        for resource in resources {
            match &resource.spec {
                Spec::MeshTcpRoute(spec) => {
                    let to = spec
                        .to
                        .iter()
                        .flatten()
                        .map(|t| (t.target_ref.clone(), t.effective_rule().conf.backend_refs.unwrap_or_default()))
                        .collect();
                    tcp.extend(route_policy(resource, spec.target_ref.as_ref(), to));
                }
                Spec::MeshHttpRoute(spec) => {
                    let to = spec.to.iter().flatten().map(|t| (t.target_ref.clone(), Vec::new())).collect();
                    http.extend(route_policy(resource, spec.target_ref.as_ref(), to));
                }
                _ => {}
            }
        }
        let mut interned: HashMap<Tags, SubsetId> = HashMap::new();
        let mut compiled = Self {
            tcp: finish(index, tcp, &mut interned),
            http: finish(index, http, &mut interned),
            subsets: Vec::new(),
            sub_selectors: Vec::new(),
        };
        let mut subsets = vec![Tags::new(); interned.len()];
        for (tags, id) in &interned {
            subsets[id.0 as usize] = tags.clone();
        }
        compiled.sub_selectors = subsets.iter().map(|ss| contained_subsets(ss, &interned)).collect();
        compiled.subsets = subsets.into_iter().map(Arc::new).collect();
        compiled
    }

    pub(crate) fn subset(&self, id: SubsetId) -> &Arc<Tags> {
        &self.subsets[id.0 as usize]
    }

    pub(crate) fn sub_selectors(&self, id: SubsetId) -> &[SubsetId] {
        &self.sub_selectors[id.0 as usize]
    }
}

/// Name order, ids, targets resolved, ranks.
fn finish(index: &MeshIndex, mut policies: Vec<RoutePolicy>, interned: &mut HashMap<Tags, SubsetId>) -> RoutePolicies {
    policies.sort_by(|a, b| a.resource.meta.name.cmp(&b.resource.meta.name));
    for (i, policy) in policies.iter_mut().enumerate() {
        policy.id = PolicyId::new(i);
        for to in &mut policy.to {
            to.resolved = resolve_target(index, &policy.resource, &to.target);
            to.subset = legacy_subset(&to.target).map(|subset| {
                let next = SubsetId::new(interned.len());
                *interned.entry(subset).or_insert(next)
            });
        }
    }
    let mut order: Vec<usize> = (0..policies.len()).collect();
    order.sort_by(|a, b| compare_policies(&policies[*a], &policies[*b]));
    for (rank, i) in order.into_iter().enumerate() {
        policies[i].rank = rank;
    }
    RoutePolicies(policies)
}

fn route_policy(
    resource: &Arc<Resource>,
    top: Option<&TargetRef>,
    to: Vec<(TargetRef, Vec<BackendRef>)>,
) -> Option<RoutePolicy> {
    let role = policy_role(resource).ok()?;
    let origin_rank = match resource.origin() {
        Some("global") => 1,
        Some("zone") => 3,
        _ => 2,
    };
    let top = top.cloned().unwrap_or_else(|| TargetRef::of_kind(TargetRefKind::Mesh));
    let mut selector = Tags::new();
    match top.kind {
        TargetRefKind::MeshService | TargetRefKind::MeshServiceSubset => {
            selector.insert(SERVICE_TAG.to_owned(), top.name_str().to_owned());
            selector.extend(top.tags_or_empty().clone());
        }
        TargetRefKind::MeshSubset | TargetRefKind::MeshGateway => selector.extend(top.tags_or_empty().clone()),
        _ => {}
    }
    let kri = resource.kri_id();
    let policy_ref = PolicyRef {
        kind: resource.kind().wire_name().into(),
        name: resource.meta.name.as_str().into(),
        kri: kri.to_string().into(),
        role: role.as_str().into(),
        target_ref_kind: top.kind.as_str().into(),
    };
    let to = to
        .into_iter()
        .map(|(target, backend_refs)| RouteTo {
            target,
            backend_refs: backend_refs.into(),
            subset: None,
            resolved: Vec::new(),
        })
        .collect();
    Some(RoutePolicy {
        id: PolicyId::new(0),
        resource: resource.clone(),
        selects: Selects::of(resource, &top),
        top,
        to,
        role,
        origin_rank,
        shadow: resource.label(labels::EFFECT) == Some("shadow"),
        kri,
        selector,
        policy_ref,
        rank: 0,
    })
}

/// What both orders start with (spec §3.4, §3.6 item 2): the top-level kind's specificity, then
/// `Dataplane` refs by name before by labels, then origin (zone-originated last).
pub fn compare_tops(a: &RoutePolicy, b: &RoutePolicy) -> Ordering {
    a.top
        .kind
        .specificity()
        .cmp(&b.top.kind.specificity())
        .then_with(|| compare_dataplane_refs(a, b))
        .then(a.origin_rank.cmp(&b.origin_rank))
}

/// Spec §3.4: ascending priority; the last policy wins.
pub fn compare_policies(a: &RoutePolicy, b: &RoutePolicy) -> Ordering {
    compare_tops(a, b)
        .then_with(|| {
            if a.top.kind == TargetRefKind::MeshGateway && b.top.kind == TargetRefKind::MeshGateway {
                a.top.tags_or_empty().len().cmp(&b.top.tags_or_empty().len())
            } else {
                Ordering::Equal
            }
        })
        .then(a.role.cmp(&b.role))
        .then_with(|| b.display_name().cmp(a.display_name()))
        // Kuma stops at the display name; the full name keeps equal display names in a fixed order.
        .then_with(|| b.resource.meta.name.cmp(&a.resource.meta.name))
}

/// Between two `Dataplane` refs: by name beats by labels, with sectionName beats without.
fn compare_dataplane_refs(a: &RoutePolicy, b: &RoutePolicy) -> Ordering {
    if a.top.kind != TargetRefKind::Dataplane || b.top.kind != TargetRefKind::Dataplane {
        return Ordering::Equal;
    }
    a.dataplane_by_name()
        .cmp(&b.dataplane_by_name())
        .then((!a.top.section_name_str().is_empty()).cmp(&!b.top.section_name_str().is_empty()))
}

/// The tag subset of a legacy to-item (spec §3.5 item 3), or None for kinds that give no legacy rule.
fn legacy_subset(target: &TargetRef) -> Option<Tags> {
    let mut subset = Tags::new();
    match target.kind {
        TargetRefKind::Mesh => {}
        TargetRefKind::MeshService | TargetRefKind::MeshHttpRoute => {
            subset.insert(SERVICE_TAG.to_owned(), target.name_str().to_owned());
        }
        TargetRefKind::MeshServiceSubset => {
            subset.insert(SERVICE_TAG.to_owned(), target.name_str().to_owned());
            subset.extend(target.tags_or_empty().clone());
        }
        TargetRefKind::MeshSubset => subset.extend(target.tags_or_empty().clone()),
        _ => return None,
    }
    Some(subset)
}

/// The interned subsets that `ss` contains (as selectors they match it): all 2^n sub-maps for a small
/// `ss`, otherwise a scan of the interned ones.
fn contained_subsets(ss: &Tags, interned: &HashMap<Tags, SubsetId>) -> Vec<SubsetId> {
    if ss.len() > 8 {
        return interned
            .iter()
            .filter(|(t, _)| t.iter().all(|(k, v)| ss.get(k) == Some(v)))
            .map(|(_, id)| *id)
            .collect();
    }
    let pairs: Vec<(&String, &String)> = ss.iter().collect();
    (0..1u32 << pairs.len())
        .filter_map(|mask| {
            let sub: Tags = pairs
                .iter()
                .enumerate()
                .filter(|(bit, _)| mask & (1 << bit) != 0)
                .map(|(_, (k, v))| ((*k).clone(), (*v).clone()))
                .collect();
            interned.get(&sub).copied()
        })
        .collect()
}

/// The real resource kind a targetRef kind names.
pub fn resource_kind(kind: &TargetRefKind) -> Option<Kind> {
    match kind {
        TargetRefKind::MeshService => Some(Kind::MeshService),
        TargetRefKind::MeshExternalService => Some(Kind::MeshExternalService),
        TargetRefKind::MeshMultiZoneService => Some(Kind::MeshMultiZoneService),
        _ => None,
    }
}

/// The KRI a name reference means: relative to the policy's mesh, zone and namespace (spec §3.6).
pub fn kri_for_name(policy: &Resource, kind: Kind, name: &str, namespace: &str) -> Kri {
    names_in(policy, kind.descriptor().short_name, name, namespace)
}

/// A name in a policy's mesh, zone and (unless given) namespace.
fn names_in(policy: &Resource, short_name: &str, name: &str, namespace: &str) -> Kri {
    let namespace = if namespace.is_empty() { policy.namespace() } else { namespace };
    Kri::new(short_name, &policy.meta.mesh, policy.zone(), namespace, name)
}

/// `<name>_<namespace>_svc[_<port>]`: a Kubernetes service name of the legacy form.
fn parse_backward_compatible(name: &str) -> Option<(String, String, u32)> {
    let parts: Vec<&str> = name.split('_').collect();
    match parts.as_slice() {
        [n, ns, "svc"] => Some(((*n).to_owned(), (*ns).to_owned(), 0)),
        [n, ns, "svc", port] => port.parse().ok().map(|p| ((*n).to_owned(), (*ns).to_owned(), p)),
        _ => None,
    }
}

/// Spec §3.6 item 3: the resources (and sections) a to-item's targetRef names.
fn resolve_target(index: &MeshIndex, policy: &Resource, target: &TargetRef) -> Vec<Resolved> {
    if target.kind == TargetRefKind::Mesh {
        return vec![Resolved::Mesh];
    }
    let Some(kind) = resource_kind(&target.kind) else {
        return Vec::new();
    };
    let mut port = None;
    let section = target.section_name_str();
    let candidates: Vec<Arc<Resource>> = if !target.labels_or_empty().is_empty() {
        index.real_resources_by_labels(kind, target.labels_or_empty()).cloned().collect()
    } else if let Some((name, namespace, p)) = (kind == Kind::MeshService && section.is_empty())
        .then(|| parse_backward_compatible(target.name_str()))
        .flatten()
    {
        let mut wanted = Tags::new();
        wanted.insert(labels::K8S_NAMESPACE.to_owned(), namespace);
        wanted.insert(labels::DISPLAY_NAME.to_owned(), name);
        port = (p > 0).then_some(p);
        index.real_resources_by_labels(kind, &wanted).cloned().collect()
    } else {
        let kri = kri_for_name(policy, kind, target.name_str(), target.namespace_str());
        index.real_resource(&kri).cloned().into_iter().collect()
    };
    candidates
        .into_iter()
        .filter_map(|resource| {
            if port.is_none() && section.is_empty() {
                return Some(Resolved::Resource { resource, section: String::new() });
            }
            let ports = real_ports(&resource);
            if ports.is_empty() || kind == Kind::MeshExternalService {
                return Some(Resolved::Resource { resource, section: String::new() });
            }
            let found = match port {
                Some(p) => ports.iter().find(|x| x.number == p),
                None => ports.iter().find(|x| x.section == section),
            }?;
            let section = found.section.clone();
            Some(Resolved::Resource { resource, section })
        })
        .collect()
}

/// Whether a Dataplane is the one a `Dataplane`-kind targetRef names, or carries its labels.
pub(crate) fn names_dataplane(policy: &RoutePolicy, dataplane: &Resource) -> bool {
    match &policy.selects {
        Selects::AnyDataplane => true,
        Selects::DataplaneLabels(labels) => has_labels(dataplane, labels),
        Selects::DataplaneNamed(wanted) => dataplane.kri_id() == *wanted,
        Selects::Tagged { .. } | Selects::Service | Selects::Gateway { .. } | Selects::Nothing => false,
    }
}
