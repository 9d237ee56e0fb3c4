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
use model::resource::Resource;
use model::{Tags, TargetRef, TargetRefKind};

use crate::compiled::{PolicyId, Resolved, RoutePolicy, SubsetId, compare_tops};
use crate::plan::BackendRefs;
use crate::selection::Matched;
use crate::snapshot::MeshSnapshot;

/// One contribution: a policy and its to-item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    pub policy: PolicyId,
    pub to_index: usize,
}

/// A legacy rule: a tag subset, the merged conf and the distinct policies behind it in merge order.
#[derive(Clone, Debug)]
pub struct LegacyRule {
    pub subset: Arc<Tags>,
    pub backend_refs: BackendRefs,
    pub origins: Vec<PolicyId>,
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
    /// Index into `legacy` of the rule each service finds by name.
    legacy_by_service: HashMap<String, usize>,
    /// Index into `legacy` of the empty-subset rule, which every service finds.
    legacy_any_service: Option<usize>,
    pub resource: BTreeMap<RuleKey, ResourceRule>,
}

/// What a resource rule is for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleKey {
    /// The whole mesh (a `Mesh` to-item).
    Mesh,
    /// A real resource; its KRI's section is empty for the whole resource.
    Resource(Kri),
}

impl RuleKey {
    fn of(resolved: &Resolved) -> Self {
        match resolved {
            Resolved::Mesh => Self::Mesh,
            Resolved::Resource { resource, section } => Self::Resource(resource.kri_id().with_section(section)),
        }
    }
}

impl ToRules {
    /// The legacy rule for a service (spec §3.5 item 5): the first whose subset the service satisfies.
    /// Rules are sorted by subset size, so that is the `{kuma.io/service: <service>}` rule, else the
    /// empty-subset rule.
    pub fn legacy_for(&self, service: &str) -> Option<&LegacyRule> {
        let index = self.legacy_by_service.get(service).copied().or(self.legacy_any_service)?;
        self.legacy.get(index)
    }

    /// `Compute(outboundKRI)` (spec §3.6 item 6): exact, then without section, then the Mesh.
    pub fn resource_for(&self, kri: &Kri) -> Option<&ResourceRule> {
        self.resource
            .get(&RuleKey::Resource(kri.clone()))
            .or_else(|| self.resource.get(&RuleKey::Resource(kri.without_section())))
            .or_else(|| self.resource.get(&RuleKey::Mesh))
    }
}

/// Builds legacy and resource rules from matched policies in priority order.
pub fn build_to_rules(snap: &MeshSnapshot, matched: &[&Matched<'_>]) -> ToRules {
    let legacy = build_legacy_rules(snap, matched);
    let mut legacy_by_service = HashMap::new();
    let mut legacy_any_service = None;
    for (i, rule) in legacy.iter().enumerate() {
        match rule.subset.len() {
            0 => {
                legacy_any_service.get_or_insert(i);
            }
            1 => {
                if let Some(service) = rule.subset.get(SERVICE_TAG) {
                    legacy_by_service.entry(service.clone()).or_insert(i);
                }
            }
            // More tags than kuma.io/service never match a lone service element.
            _ => {}
        }
    }
    ToRules { legacy, legacy_by_service, legacy_any_service, resource: build_resource_rules(matched) }
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
            group.push(Item {
                order,
                origin: Origin { policy: m.policy.id, to_index },
                backend_refs: &to.backend_refs,
            });
            order += 1;
        }
    }
    let mut rules: Vec<LegacyRule> = subsets
        .iter()
        .filter_map(|ss| {
            // The relevant items are those whose subset, as a selector, matches `ss`.
            let mut relevant: Vec<&Item<'_>> =
                snap.policies.sub_selectors(*ss).iter().flat_map(|t| groups.get(t).into_iter().flatten()).collect();
            relevant.sort_by_key(|i| i.order);
            let last = relevant.last()?;
            Some(LegacyRule {
                subset: snap.policies.subset(*ss).clone(),
                backend_refs: last.backend_refs.clone(),
                origins: distinct_in_order(relevant.iter().map(|i| i.origin.policy)),
                impactful: Origin { policy: last.origin.policy, to_index: 0 },
            })
        })
        .collect();
    rules.sort_by_key(|r| std::cmp::Reverse(r.subset.len()));
    rules
}

fn build_resource_rules(matched: &[&Matched<'_>]) -> BTreeMap<RuleKey, ResourceRule> {
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
                origin: Origin { policy: m.policy.id, to_index },
                policy: m.policy,
                target: &to.target,
                backend_refs: &to.backend_refs,
                resolved,
            });
        }
    }
    entries.sort_by(|a, b| compare_entries(a.policy, a.target, b.policy, b.target));

    // Entries by the resource they resolved to (Mesh entries apart: they are relevant to everything).
    let mut identifiers: BTreeMap<RuleKey, Resolved> = BTreeMap::new();
    let mut by_resource: HashMap<Kri, Vec<usize>> = HashMap::new();
    let mut mesh_entries: Vec<usize> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        for r in e.resolved {
            identifiers.entry(RuleKey::of(r)).or_insert_with(|| r.clone());
            match r {
                Resolved::Mesh => mesh_entries.push(i),
                Resolved::Resource { resource, .. } => by_resource.entry(resource.kri_id()).or_default().push(i),
            }
        }
    }
    let mut rules = BTreeMap::new();
    for (key, u) in identifiers {
        let mut candidates: Vec<usize> = mesh_entries.clone();
        if let Resolved::Resource { resource, .. } = &u {
            candidates.extend(by_resource.get(&resource.kri_id()).into_iter().flatten());
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
    compare_tops(pa, pb)
        .then(pa.role.cmp(&pb.role))
        .then(ta.kind.specificity().cmp(&tb.kind.specificity()))
        .then(has_section(ta).cmp(&has_section(tb)))
        .then_with(|| pb.display_name().cmp(pa.display_name()))
}
