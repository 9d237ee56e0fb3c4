//! The rules of matched route policies (spec meshtcproute.md §3.5-§3.7): legacy rules keyed by
//! `kuma.io/service` subsets, resource rules keyed by real-resource KRIs, and their merge.
//!
//! Merging is JSON Merge Patch over each contributor's `default`. Every contributor carries
//! `default.backendRefs` (spec §1.6), and merge patch replaces arrays, so the merged conf is exactly the
//! last contributor's backendRefs: that is what is kept here, with the contributors as origins.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use model::common::SERVICE_TAG;
use model::kind::Kind;
use model::kri::Kri;
use model::resource::{Resource, labels};
use model::{Tags, TargetRef, TargetRefKind};

use crate::selection::{Matched, compare_dataplane_refs};
use crate::snapshot::{BackendRefs, MeshSnapshot, RoutePolicy, SubsetId, real_ports};

/// One contribution: a policy (index in the snapshot's list) and its to-item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    pub policy: usize,
    pub to_index: usize,
}

/// A legacy rule: a tag subset, the merged conf and the distinct policies behind it in merge order.
#[derive(Clone, Debug)]
pub struct LegacyRule {
    pub subset: Arc<Tags>,
    pub backend_refs: BackendRefs,
    pub origins: Vec<usize>,
    /// The contribution whose conf won (its policy resolves the backendRef names).
    pub impactful: Origin,
}

/// A resource rule: the merged conf for one real resource (and section).
#[derive(Clone, Debug)]
pub struct ResourceRule {
    pub resource: Arc<Resource>,
    pub section: String,
    pub backend_refs: BackendRefs,
    /// Distinct (policy, to-index) contributions in merge order; the last one won.
    pub origins: Vec<Origin>,
}

/// The rules of one policy type for one proxy (or one gateway listener).
#[derive(Clone, Debug, Default)]
pub struct ToRules {
    pub legacy: Vec<LegacyRule>,
    /// Index into `legacy` of the rule each service finds; the empty subset under [`ANY_SERVICE`].
    legacy_by_service: HashMap<String, usize>,
    /// Keyed by `resource KRI without section` + `|` + section; the Mesh as `mesh:<name>|`.
    pub resource: BTreeMap<String, ResourceRule>,
}

impl ToRules {
    /// The legacy rule for a service (spec §3.5 item 5): the first whose subset the service satisfies.
    /// Rules are sorted by subset size, so that is the `{kuma.io/service: <service>}` rule, else the
    /// empty-subset rule.
    pub fn legacy_for(&self, service: &str) -> Option<&LegacyRule> {
        let index = self.legacy_by_service.get(service).or(self.legacy_by_service.get(ANY_SERVICE))?;
        self.legacy.get(*index)
    }

    /// `Compute(outboundKRI)` (spec §3.6 item 6): exact, then without section, then the Mesh.
    pub fn resource_for(&self, kri: &Kri, mesh: &str) -> Option<&ResourceRule> {
        let without = kri.without_section().to_string();
        self.resource
            .get(&format!("{without}|{}", kri.section))
            .or_else(|| self.resource.get(&format!("{without}|")))
            .or_else(|| self.resource.get(&mesh_key(mesh)))
    }
}

fn mesh_key(mesh: &str) -> String {
    format!("mesh:{mesh}|")
}

/// Builds legacy and resource rules from matched policies in priority order.
pub fn build_to_rules(snap: &MeshSnapshot, matched: &[&Matched<'_>]) -> ToRules {
    let legacy = build_legacy_rules(snap, matched);
    let mut legacy_by_service = HashMap::new();
    for (i, rule) in legacy.iter().enumerate() {
        let key = match rule.subset.len() {
            0 => ANY_SERVICE,
            1 => match rule.subset.get(SERVICE_TAG) {
                Some(service) => service.as_str(),
                None => continue,
            },
            // More tags than kuma.io/service never match a lone service element.
            _ => continue,
        };
        legacy_by_service.entry(key.to_owned()).or_insert(i);
    }
    ToRules { legacy, legacy_by_service, resource: build_resource_rules(snap, matched) }
}

/// The key of the empty-subset legacy rule (a character no service name has).
const ANY_SERVICE: &str = "\u{0}";

/// The tag subset of a legacy to-item (spec §3.5 item 3), or None for kinds that give no legacy rule.
pub(crate) fn legacy_subset(target: &TargetRef) -> Option<Tags> {
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

/// The distinct values of `items` in first-seen order.
fn distinct_in_order<T: Copy + Eq + std::hash::Hash>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    let mut seen: HashSet<T> = HashSet::new();
    for x in items {
        // Short lists (the usual case) are searched in place; past 16 values a set takes over.
        let new = if out.len() < 16 {
            !out.contains(&x)
        } else {
            if seen.is_empty() {
                seen.extend(out.iter().copied());
            }
            seen.insert(x)
        };
        if new {
            out.push(x);
        }
    }
    out
}

fn build_legacy_rules(snap: &MeshSnapshot, matched: &[&Matched<'_>]) -> Vec<LegacyRule> {
    struct Item<'a> {
        order: usize,
        origin: Origin,
        backend_refs: &'a BackendRefs,
    }
    // Items grouped by their (interned) subset, each group in merge order; subsets in first-seen order.
    let mut groups: HashMap<SubsetId, Vec<Item<'_>>> = HashMap::new();
    let mut subsets: Vec<SubsetId> = Vec::new();
    let mut order = 0usize;
    for m in matched {
        for (to_index, to) in m.policy.to.iter().enumerate() {
            let Some(subset) = to.subset else { continue };
            let group = groups.entry(subset).or_default();
            if group.is_empty() {
                subsets.push(subset);
            }
            group.push(Item { order, origin: Origin { policy: m.index, to_index }, backend_refs: &to.backend_refs });
            order += 1;
        }
    }
    let mut rules: Vec<LegacyRule> = subsets
        .iter()
        .filter_map(|ss| {
            // The relevant items are those whose subset, as a selector, matches `ss`.
            let mut relevant: Vec<&Item<'_>> =
                snap.sub_selectors[*ss].iter().flat_map(|t| groups.get(t).into_iter().flatten()).collect();
            relevant.sort_by_key(|i| i.order);
            let last = relevant.last()?;
            Some(LegacyRule {
                subset: snap.subsets[*ss].clone(),
                backend_refs: last.backend_refs.clone(),
                origins: distinct_in_order(relevant.iter().map(|i| i.origin.policy)),
                impactful: Origin { policy: last.origin.policy, to_index: 0 },
            })
        })
        .collect();
    rules.sort_by_key(|r| std::cmp::Reverse(r.subset.len()));
    rules
}

/// The interned subsets that `ss` contains (as selectors they match it): all 2^n sub-maps for a small
/// `ss`, otherwise a scan of the interned ones.
pub(crate) fn contained_subsets(ss: &Tags, interned: &HashMap<Tags, SubsetId>) -> Vec<SubsetId> {
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

/// What a to-item resolved to: a real resource and section, or the whole Mesh.
#[derive(Clone, Debug)]
pub(crate) enum Resolved {
    Mesh,
    Resource { resource: Arc<Resource>, section: String },
}

fn build_resource_rules(snap: &MeshSnapshot, matched: &[&Matched<'_>]) -> BTreeMap<String, ResourceRule> {
    struct Entry<'a> {
        origin: Origin,
        policy: &'a RoutePolicy,
        target: &'a TargetRef,
        backend_refs: &'a BackendRefs,
        resolved: &'a [Resolved],
    }
    let mut entries: Vec<Entry<'_>> = Vec::new();
    for m in matched.iter().filter(|m| m.policy.top.kind != TargetRefKind::MeshHttpRoute) {
        for (to_index, to) in m.policy.to.iter().enumerate() {
            let resolved = &to.resolved;
            if resolved.is_empty() {
                continue;
            }
            entries.push(Entry {
                origin: Origin { policy: m.index, to_index },
                policy: m.policy,
                target: &to.target,
                backend_refs: &to.backend_refs,
                resolved,
            });
        }
    }
    entries.sort_by(|a, b| compare_entries(a.policy, a.target, b.policy, b.target));

    // Entries by the resource they resolved to (Mesh entries apart: they are relevant to everything).
    let mut identifiers: BTreeMap<String, Resolved> = BTreeMap::new();
    let mut by_resource: HashMap<String, Vec<usize>> = HashMap::new();
    let mut mesh_entries: Vec<usize> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        for r in e.resolved {
            identifiers.entry(resolved_key(snap, r)).or_insert_with(|| r.clone());
            match r {
                Resolved::Mesh => mesh_entries.push(i),
                Resolved::Resource { resource, .. } => by_resource.entry(resource.kri("")).or_default().push(i),
            }
        }
    }
    let mut rules = BTreeMap::new();
    for (key, u) in identifiers {
        let mut candidates: Vec<usize> = mesh_entries.clone();
        if let Resolved::Resource { resource, .. } = &u {
            candidates.extend(by_resource.get(&resource.kri("")).into_iter().flatten());
        }
        candidates.sort_unstable();
        candidates.dedup();
        let relevant: Vec<&Entry<'_>> = candidates
            .into_iter()
            .map(|i| &entries[i])
            .filter(|e| e.resolved.iter().any(|r| relevant_to(r, &u)))
            .collect();
        let Some(last) = relevant.last() else {
            continue;
        };
        let (resource, section) = match &u {
            Resolved::Resource { resource, section } => (resource.clone(), section.clone()),
            // The Mesh identifier needs a resource to show; the policy's own resource stands in.
            Resolved::Mesh => (last.policy.resource.clone(), String::new()),
        };
        let origins = distinct_in_order(relevant.iter().map(|e| e.origin));
        rules.insert(key, ResourceRule { resource, section, backend_refs: last.backend_refs.clone(), origins });
    }
    rules
}

fn resolved_key(snap: &MeshSnapshot, r: &Resolved) -> String {
    match r {
        Resolved::Mesh => mesh_key(&snap.mesh),
        Resolved::Resource { resource, section } => format!("{}|{section}", resource.kri("")),
    }
}

/// Spec §3.6 item 4: whether an entry's resolution `r` is relevant to identifier `u`.
fn relevant_to(r: &Resolved, u: &Resolved) -> bool {
    match (r, u) {
        (Resolved::Mesh, _) => true,
        (Resolved::Resource { .. }, Resolved::Mesh) => false,
        (Resolved::Resource { resource: a, section: sa }, Resolved::Resource { resource: b, section: sb }) => {
            if !Arc::ptr_eq(a, b) {
                return false;
            }
            match a.kind() {
                Kind::MeshExternalService => true,
                _ => sa == sb || (sa.is_empty() && !sb.is_empty()),
            }
        }
    }
}

/// Spec §3.6 item 2: the resource-rule order (ascending; the last wins).
fn compare_entries(pa: &RoutePolicy, ta: &TargetRef, pb: &RoutePolicy, tb: &TargetRef) -> Ordering {
    let has_section = |t: &TargetRef| t.kind == TargetRefKind::MeshService && !t.section_name_str().is_empty();
    pa.top
        .kind
        .specificity()
        .cmp(&pb.top.kind.specificity())
        .then_with(|| compare_dataplane_refs(pa, pb))
        .then(pa.origin_rank.cmp(&pb.origin_rank))
        .then(pa.role.cmp(&pb.role))
        .then(ta.kind.specificity().cmp(&tb.kind.specificity()))
        .then(has_section(ta).cmp(&has_section(tb)))
        .then_with(|| pb.display_name().cmp(pa.display_name()))
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
    Kri {
        short_name: kind.descriptor().short_name.to_owned(),
        mesh: policy.meta.mesh.clone(),
        zone: policy.zone().to_owned(),
        namespace: if namespace.is_empty() { policy.namespace().to_owned() } else { namespace.to_owned() },
        name: name.to_owned(),
        section: String::new(),
    }
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
pub(crate) fn resolve_target(snap: &MeshSnapshot, policy: &Resource, target: &TargetRef) -> Vec<Resolved> {
    if target.kind == TargetRefKind::Mesh {
        return vec![Resolved::Mesh];
    }
    let Some(kind) = resource_kind(&target.kind) else {
        return Vec::new();
    };
    let mut port = None;
    let section = target.section_name_str();
    let candidates: Vec<Arc<Resource>> = if !target.labels_or_empty().is_empty() {
        snap.real_resources_by_labels(kind, target.labels_or_empty()).cloned().collect()
    } else if let Some((name, namespace, p)) = (kind == Kind::MeshService && section.is_empty())
        .then(|| parse_backward_compatible(target.name_str()))
        .flatten()
    {
        let mut wanted = Tags::new();
        wanted.insert(labels::K8S_NAMESPACE.to_owned(), namespace);
        wanted.insert(labels::DISPLAY_NAME.to_owned(), name);
        port = (p > 0).then_some(p);
        snap.real_resources_by_labels(kind, &wanted).cloned().collect()
    } else {
        let kri = kri_for_name(policy, kind, target.name_str(), target.namespace_str());
        snap.real_resource(&kri.to_string()).cloned().into_iter().collect()
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
