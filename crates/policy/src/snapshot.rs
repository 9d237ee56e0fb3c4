//! An immutable, indexed view of one mesh: what planning reads, built once per change and shared by every
//! proxy's plan. Work that depends only on a destination (endpoints, protocols, resource lookups) lives
//! here, so it is done once and not per proxy.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use model::common::{PROTOCOL_TAG, SERVICE_TAG};
use model::kind::{Kind, Spec};
use model::kinds::dataplane::{InboundState, ProxyRole};
use model::kinds::mesh::MeshSpec;
use model::resource::{Resource, labels};
use model::validate::{PolicyRole, policy_role};
use model::{BackendRef, Tags, TargetRef, TargetRefKind};

use crate::backends::ClusterOutcome;
use crate::plan::PolicyRef;
use crate::protocol::{Protocol, fold_protocols};
use crate::rules::Resolved;

/// One address a cluster can send to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Endpoint {
    pub address: String,
    pub port: u32,
    pub weight: u32,
    pub tags: Tags,
}

/// A route policy (MeshTCPRoute or MeshHTTPRoute) with what ordering and merging read precomputed.
#[derive(Debug)]
pub struct RoutePolicy {
    pub resource: Arc<Resource>,
    /// The top-level targetRef; an absent one is `{kind: Mesh}`.
    pub top: TargetRef,
    pub to: Vec<RouteTo>,
    pub role: PolicyRole,
    /// `global` 1 < none 2 < `zone` 3: zone-originated policies win ties.
    pub origin_rank: u8,
    pub shadow: bool,
    /// The policy's KRI (no section).
    pub kri: String,
    /// The tag selector of tag-selecting top-level kinds (Mesh, MeshSubset, MeshService,
    /// MeshServiceSubset), made once instead of per proxy.
    pub selector: Tags,
    /// How plans and inspect list this policy.
    pub policy_ref: PolicyRef,
    /// Its place in the priority order (spec §3.4) among all policies of its type: the order does not
    /// depend on the proxy, so it is computed once.
    pub(crate) rank: usize,
}

/// One to-item and what it contributes to merging (spec §1.6). For MeshHTTPRoute only the presence of a
/// contribution matters to MeshTCPRoute, so `backend_refs` is empty there.
#[derive(Debug)]
pub struct RouteTo {
    pub target: TargetRef,
    pub backend_refs: BackendRefs,
    /// The interned legacy tag subset of the target (spec §3.5), if it has one.
    pub(crate) subset: Option<SubsetId>,
    /// What the target names among real resources (spec §3.6 item 3). Depends only on the snapshot.
    pub(crate) resolved: Vec<Resolved>,
}

impl RouteTo {
    fn new(target: TargetRef, backend_refs: Vec<BackendRef>) -> Self {
        Self { target, backend_refs: backend_refs.into(), subset: None, resolved: Vec::new() }
    }
}

/// An interned legacy tag subset.
pub(crate) type SubsetId = usize;

/// A backendRef list shared between the snapshot, rules and plans without copying.
pub type BackendRefs = Arc<[BackendRef]>;

impl RoutePolicy {
    pub fn display_name(&self) -> &str {
        self.resource.display_name()
    }
}

/// A port of a real resource (MeshService, MeshMultiZoneService, MeshExternalService).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealPort {
    /// The port's name, or its number as text.
    pub section: String,
    pub number: u32,
    pub protocol: Protocol,
    /// Where a MeshService port lands on its Dataplanes: an inbound port number or an inbound name.
    pub target: Option<PortTarget>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortTarget {
    Number(u32),
    Name(String),
}

/// The snapshot of one mesh.
#[derive(Debug)]
pub struct MeshSnapshot {
    pub mesh: String,
    pub mesh_spec: MeshSpec,
    pub dataplanes: BTreeMap<String, Arc<Resource>>,
    pub gateways: Vec<Arc<Resource>>,
    pub has_traffic_routes: bool,
    pub tcp_routes: Vec<RoutePolicy>,
    pub http_routes: Vec<RoutePolicy>,
    /// Resources left out because they are invalid, with why.
    pub warnings: Vec<String>,
    real_by_kri: HashMap<String, Arc<Resource>>,
    real_by_kind: HashMap<Kind, Vec<Arc<Resource>>>,
    external_services: BTreeMap<String, Vec<Arc<Resource>>>,
    service_endpoints: HashMap<String, Vec<Endpoint>>,
    service_protocols: HashMap<String, Protocol>,
    /// Interned legacy subsets and, for each, the interned subsets it contains (itself included).
    pub(crate) subsets: Vec<Arc<Tags>>,
    pub(crate) sub_selectors: Vec<Vec<SubsetId>>,
    endpoint_cache: Mutex<HashMap<String, Arc<Vec<Endpoint>>>>,
    cluster_cache: Mutex<HashMap<String, ClusterOutcome>>,
}

impl MeshSnapshot {
    /// Builds the snapshot of `mesh` from resources of any mesh. Invalid resources are left out with a
    /// warning, so one bad resource never takes the others down.
    pub fn build(mesh: &str, resources: impl IntoIterator<Item = Resource>) -> Self {
        let mut snap = MeshSnapshot {
            mesh: mesh.to_owned(),
            mesh_spec: MeshSpec::default(),
            dataplanes: BTreeMap::new(),
            gateways: Vec::new(),
            has_traffic_routes: false,
            tcp_routes: Vec::new(),
            http_routes: Vec::new(),
            warnings: Vec::new(),
            real_by_kri: HashMap::new(),
            subsets: Vec::new(),
            sub_selectors: Vec::new(),
            real_by_kind: HashMap::new(),
            external_services: BTreeMap::new(),
            service_endpoints: HashMap::new(),
            service_protocols: HashMap::new(),
            endpoint_cache: Mutex::new(HashMap::new()),
            cluster_cache: Mutex::new(HashMap::new()),
        };
        let mut protocols: HashMap<String, Vec<Protocol>> = HashMap::new();
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
                snap.warnings.push(format!(
                    "{} {}: left out, invalid: {}",
                    resource.kind().wire_name(),
                    resource.meta.name,
                    report.errors
                ));
                continue;
            }
            snap.add(Arc::new(resource), &mut protocols);
        }
        snap.service_protocols = protocols.into_iter().map(|(k, v)| (k, fold_protocols(v))).collect();
        for list in snap.real_by_kind.values_mut() {
            // Oldest first: a labels-based backendRef picks the oldest match (spec §4.4).
            list.sort_by(|a, b| (&a.meta.creation_time, &a.meta.name).cmp(&(&b.meta.creation_time, &b.meta.name)));
        }
        // Fixed orders wherever the input order could otherwise show through.
        snap.gateways.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
        for list in snap.external_services.values_mut() {
            list.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
        }
        snap.tcp_routes.sort_by(|a, b| a.resource.meta.name.cmp(&b.resource.meta.name));
        snap.http_routes.sort_by(|a, b| a.resource.meta.name.cmp(&b.resource.meta.name));
        for endpoints in snap.service_endpoints.values_mut() {
            endpoints.sort();
        }
        snap.precompute_targets();
        rank_policies(&mut snap.tcp_routes);
        rank_policies(&mut snap.http_routes);
        snap
    }

    fn add(&mut self, resource: Arc<Resource>, protocols: &mut HashMap<String, Vec<Protocol>>) {
        match &resource.spec {
            Spec::Mesh(spec) => self.mesh_spec = spec.clone(),
            Spec::Dataplane(spec) => {
                if let Some(net) = spec.networking.as_ref().filter(|_| spec.role() == ProxyRole::Sidecar) {
                    for inbound in &net.inbound {
                        let Some(service) = inbound.tags.get(SERVICE_TAG) else {
                            continue;
                        };
                        let protocol = inbound.tags.get(PROTOCOL_TAG).map_or(Protocol::Unknown, |p| Protocol::parse(p));
                        protocols.entry(service.clone()).or_default().push(protocol);
                        if inbound_ready(inbound) {
                            let address = inbound
                                .address
                                .clone()
                                .or_else(|| net.advertised_address.clone())
                                .unwrap_or_else(|| net.address.clone());
                            let endpoint =
                                Endpoint { address, port: inbound.port, weight: 1, tags: inbound.tags.clone() };
                            self.service_endpoints.entry(service.clone()).or_default().push(endpoint);
                        }
                    }
                }
                self.dataplanes.insert(resource.meta.name.clone(), resource);
            }
            Spec::MeshService(_) | Spec::MeshExternalService(_) | Spec::MeshMultiZoneService(_) => {
                self.real_by_kri.insert(resource.kri(""), resource.clone());
                self.real_by_kind.entry(resource.kind()).or_default().push(resource);
            }
            Spec::MeshGateway(_) => self.gateways.push(resource),
            Spec::ExternalService(spec) => {
                if let Some(service) = spec.tags.get(SERVICE_TAG) {
                    let protocol = spec.tags.get(PROTOCOL_TAG).map_or(Protocol::Unknown, |p| Protocol::parse(p));
                    protocols.entry(service.clone()).or_default().push(protocol);
                    self.external_services.entry(service.clone()).or_default().push(resource);
                }
            }
            Spec::TrafficRoute(_) => self.has_traffic_routes = true,
            Spec::MeshTcpRoute(spec) => {
                let to = spec
                    .to
                    .iter()
                    .flatten()
                    .map(|t| {
                        RouteTo::new(t.target_ref.clone(), t.effective_rule().conf.backend_refs.unwrap_or_default())
                    })
                    .collect();
                if let Some(p) = route_policy(&resource, spec.target_ref.as_ref(), to) {
                    self.tcp_routes.push(p);
                }
            }
            Spec::MeshHttpRoute(spec) => {
                let to = spec.to.iter().flatten().map(|t| RouteTo::new(t.target_ref.clone(), Vec::new())).collect();
                if let Some(p) = route_policy(&resource, spec.target_ref.as_ref(), to) {
                    self.http_routes.push(p);
                }
            }
        }
    }

    /// Resolves every to-item's target once: its legacy subset (interned) and the real resources it names.
    fn precompute_targets(&mut self) {
        let mut interned: HashMap<Tags, SubsetId> = HashMap::new();
        let mut resolved: Vec<Vec<Vec<Resolved>>> = Vec::new();
        for policy in self.tcp_routes.iter().chain(self.http_routes.iter()) {
            resolved.push(
                policy.to.iter().map(|t| crate::rules::resolve_target(self, &policy.resource, &t.target)).collect(),
            );
        }
        let policies = self.tcp_routes.iter_mut().chain(self.http_routes.iter_mut());
        for (policy, resolved) in policies.zip(resolved) {
            for (to, resolved) in policy.to.iter_mut().zip(resolved) {
                to.resolved = resolved;
                to.subset = crate::rules::legacy_subset(&to.target).map(|subset| {
                    let next = interned.len();
                    *interned.entry(subset).or_insert(next)
                });
            }
        }
        let mut subsets = vec![Tags::new(); interned.len()];
        for (tags, id) in &interned {
            subsets[*id] = tags.clone();
        }
        self.sub_selectors = subsets.iter().map(|ss| crate::rules::contained_subsets(ss, &interned)).collect();
        self.subsets = subsets.into_iter().map(Arc::new).collect();
    }

    /// The mesh-wide protocol of a legacy service (unknown when nothing declares it).
    pub fn service_protocol(&self, service: &str) -> Protocol {
        self.service_protocols.get(service).copied().unwrap_or(Protocol::Unknown)
    }

    /// Whether the mesh has MeshServices or MeshMultiZoneServices, whose selectors pick endpoints.
    pub fn has_real_services(&self) -> bool {
        [Kind::MeshService, Kind::MeshMultiZoneService]
            .iter()
            .any(|k| self.real_by_kind.get(k).is_some_and(|v| !v.is_empty()))
    }

    /// Whether the service is a legacy ExternalService.
    pub fn external_service(&self, service: &str) -> Option<&Arc<Resource>> {
        self.external_services.get(service).and_then(|list| list.first())
    }

    /// A real resource by its KRI without section.
    pub fn real_resource(&self, kri: &str) -> Option<&Arc<Resource>> {
        self.real_by_kri.get(kri)
    }

    /// Real resources of a kind whose labels (with the computed display-name and mesh labels) include every
    /// given label, oldest first.
    pub fn real_resources_by_labels<'a>(
        &'a self,
        kind: Kind,
        wanted: &'a Tags,
    ) -> impl Iterator<Item = &'a Arc<Resource>> + 'a {
        self.real_by_kind.get(&kind).into_iter().flatten().filter(move |r| has_labels(r, wanted))
    }

    /// The ready endpoints of a legacy service whose tags include every tag of `subset`.
    pub fn legacy_endpoints(&self, service: &str, subset: &Tags) -> Arc<Vec<Endpoint>> {
        let key = format!("legacy|{service}|{subset:?}");
        self.cached(key, || {
            let all = self.service_endpoints.get(service).map(Vec::as_slice).unwrap_or_default();
            all.iter()
                .filter(|e| subset.iter().all(|(k, v)| k == SERVICE_TAG || e.tags.get(k) == Some(v)))
                .cloned()
                .collect()
        })
    }

    /// The ready endpoints behind one port of a real resource.
    pub fn real_endpoints(&self, resource: &Resource, port: &RealPort) -> Arc<Vec<Endpoint>> {
        let key = format!("real|{}|{}", resource.kri(""), port.section);
        self.cached(key, || match &resource.spec {
            Spec::MeshService(_) => self.mesh_service_endpoints(resource, port),
            Spec::MeshMultiZoneService(spec) => {
                let wanted = spec.selector.mesh_service.match_labels.clone().unwrap_or_default();
                let services: Vec<Arc<Resource>> =
                    self.real_resources_by_labels(Kind::MeshService, &wanted).cloned().collect();
                let mut out = Vec::new();
                for ms in services {
                    if let Some(p) = real_ports(&ms).into_iter().find(|p| p.number == port.number) {
                        out.extend(self.mesh_service_endpoints(&ms, &p));
                    }
                }
                out
            }
            Spec::MeshExternalService(spec) => spec
                .endpoints
                .iter()
                .flatten()
                .map(|e| Endpoint { address: e.address.clone(), port: e.port, weight: 1, tags: Tags::new() })
                .collect(),
            _ => Vec::new(),
        })
    }

    fn mesh_service_endpoints(&self, resource: &Resource, port: &RealPort) -> Vec<Endpoint> {
        let Spec::MeshService(spec) = &resource.spec else {
            return Vec::new();
        };
        let selector_tags = spec.selector.dataplane_tags.clone().unwrap_or_default();
        let dp_name = spec.selector.dataplane_ref.as_ref().map(|r| r.name.clone());
        let mut out = Vec::new();
        for dp in self.dataplanes.values() {
            if dp_name.as_ref().is_some_and(|n| n != &dp.meta.name) {
                continue;
            }
            let Spec::Dataplane(d) = &dp.spec else {
                continue;
            };
            let Some(net) = &d.networking else { continue };
            for inbound in &net.inbound {
                let selected = selector_tags.iter().all(|(k, v)| inbound.tags.get(k) == Some(v));
                let lands = match &port.target {
                    Some(PortTarget::Name(n)) => inbound.name.as_deref() == Some(n.as_str()),
                    Some(PortTarget::Number(n)) => inbound.port == *n,
                    None => inbound.port == port.number,
                };
                if selected && lands && inbound_ready(inbound) && (dp_name.is_some() || !selector_tags.is_empty()) {
                    let address = inbound.address.clone().unwrap_or_else(|| net.address.clone());
                    out.push(Endpoint { address, port: inbound.port, weight: 1, tags: inbound.tags.clone() });
                }
            }
        }
        out
    }

    /// The cluster a backend becomes, computed once per snapshot (see [`ClusterOutcome`]).
    pub fn cluster(&self, key: &str, compute: impl FnOnce() -> ClusterOutcome) -> ClusterOutcome {
        if let Some(hit) = self.cluster_cache.lock().unwrap_or_else(PoisonError::into_inner).get(key) {
            return hit.clone();
        }
        let value = compute();
        self.cluster_cache.lock().unwrap_or_else(PoisonError::into_inner).insert(key.to_owned(), value.clone());
        value
    }

    fn cached(&self, key: String, compute: impl FnOnce() -> Vec<Endpoint>) -> Arc<Vec<Endpoint>> {
        if let Some(hit) = self.endpoint_cache.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return hit.clone();
        }
        let value = Arc::new(compute());
        self.endpoint_cache.lock().unwrap_or_else(PoisonError::into_inner).insert(key, value.clone());
        value
    }
}

/// Ranks policies by the priority comparator once per snapshot.
fn rank_policies(policies: &mut [RoutePolicy]) {
    let mut order: Vec<usize> = (0..policies.len()).collect();
    order.sort_by(|a, b| crate::selection::compare_policies(&policies[*a], &policies[*b]));
    for (rank, index) in order.into_iter().enumerate() {
        policies[index].rank = rank;
    }
}

/// An inbound takes traffic unless its health says not ready or its state is NotReady or Ignored.
fn inbound_ready(inbound: &model::kinds::dataplane::Inbound) -> bool {
    inbound.health.as_ref().is_none_or(|h| h.ready) && inbound.state.is_none_or(|s| s == InboundState::Ready)
}

fn route_policy(resource: &Arc<Resource>, top: Option<&TargetRef>, to: Vec<RouteTo>) -> Option<RoutePolicy> {
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
    let kri = resource.kri("");
    let policy_ref = PolicyRef {
        kind: resource.kind().wire_name().into(),
        name: resource.meta.name.as_str().into(),
        kri: kri.as_str().into(),
        role: role.as_str().into(),
        target_ref_kind: top.kind.as_str().into(),
    };
    Some(RoutePolicy {
        resource: resource.clone(),
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

/// A resource's labels together with the ones Kuma computes for every resource.
pub fn has_labels(resource: &Resource, wanted: &Tags) -> bool {
    wanted.iter().all(|(k, v)| match k.as_str() {
        labels::DISPLAY_NAME => resource.display_name() == v,
        labels::MESH => resource.meta.mesh == *v,
        _ => resource.label(k) == Some(v.as_str()),
    })
}

/// The ports of a real resource, each with its section name and protocol.
pub fn real_ports(resource: &Resource) -> Vec<RealPort> {
    let port_protocol = |p: &Option<model::kinds::services::Protocol>| {
        p.as_ref()
            .map_or(Protocol::Tcp, |p| if p.as_str().is_empty() { Protocol::Tcp } else { Protocol::parse(p.as_str()) })
    };
    // MeshService and MeshMultiZoneService ports share one type (a MeshMultiZoneService port has no target).
    let service_ports = |ports: &[model::kinds::services::ServicePort]| -> Vec<RealPort> {
        ports
            .iter()
            .map(|p| RealPort {
                section: p.section_name(),
                number: p.port,
                protocol: port_protocol(&p.app_protocol),
                target: p.target_port.as_ref().and_then(|t| match t {
                    serde_json::Value::Number(n) => {
                        n.as_u64().and_then(|n| u32::try_from(n).ok()).map(PortTarget::Number)
                    }
                    serde_json::Value::String(s) => {
                        Some(s.parse().map_or_else(|_| PortTarget::Name(s.clone()), PortTarget::Number))
                    }
                    _ => None,
                }),
            })
            .collect()
    };
    match &resource.spec {
        Spec::MeshService(spec) => service_ports(&spec.ports),
        Spec::MeshMultiZoneService(spec) => service_ports(&spec.ports),
        Spec::MeshExternalService(spec) => vec![RealPort {
            section: spec.match_.port.to_string(),
            number: spec.match_.port,
            protocol: Protocol::parse(spec.match_.protocol.as_str()),
            target: None,
        }],
        _ => Vec::new(),
    }
}

/// Finds a port by section name: a port's name or its number as text. A MeshExternalService has one
/// port, which every section name finds (as in Kuma).
pub fn find_port(resource: &Resource, section: &str) -> Option<RealPort> {
    let ports = real_ports(resource);
    if resource.kind() == Kind::MeshExternalService {
        return ports.into_iter().next();
    }
    ports.into_iter().find(|p| p.section == section || p.number.to_string() == section)
}

impl RoutePolicy {
    /// Whether this policy is `Dataplane`-kind selected by name (beats labels in ordering).
    pub fn dataplane_by_name(&self) -> bool {
        self.top.kind == TargetRefKind::Dataplane && !self.top.name_str().is_empty()
    }
}
