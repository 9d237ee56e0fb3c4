//! The index of one mesh: lookups only. Resources by typed key, the endpoints and protocols of services,
//! the ports of real resources. Built once per change and shared by every proxy's plan; it knows
//! nothing of policies, rules or plans.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use model::Tags;
use model::common::{PROTOCOL_TAG, SERVICE_TAG};
use model::kind::{Kind, Spec};
use model::kinds::dataplane::{InboundState, ProxyRole};
use model::kinds::mesh::MeshSpec;
use model::kri::Kri;
use model::resource::{Resource, labels};

use crate::memo::Memo;
use crate::protocol::{Protocol, fold_protocols};

/// One address a cluster can send to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Endpoint {
    pub address: String,
    pub port: u32,
    pub weight: u32,
    pub tags: Tags,
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

/// What an endpoint list is memoised under.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum EndpointKey {
    /// A legacy service's ready endpoints whose tags include the subset.
    Legacy { service: String, subset: Tags },
    /// The endpoints behind one port (section) of a real resource.
    Real { resource: Kri, section: String },
}

/// The index of one mesh.
#[derive(Debug)]
pub struct MeshIndex {
    mesh: String,
    mesh_spec: MeshSpec,
    dataplanes: BTreeMap<String, Arc<Resource>>,
    gateways: Vec<Arc<Resource>>,
    has_traffic_routes: bool,
    real_by_kri: HashMap<Kri, Arc<Resource>>,
    real_by_kind: HashMap<Kind, Vec<Arc<Resource>>>,
    external_services: BTreeMap<String, Vec<Arc<Resource>>>,
    service_endpoints: HashMap<String, Vec<Endpoint>>,
    service_protocols: HashMap<String, Protocol>,
    endpoints: Memo<EndpointKey, Arc<Vec<Endpoint>>>,
}

impl MeshIndex {
    /// Indexes the (valid) resources of `mesh`; policies are not its business and are skipped.
    pub fn build<'a>(mesh: &str, resources: impl IntoIterator<Item = &'a Arc<Resource>>) -> Self {
        let mut index = MeshIndex {
            mesh: mesh.to_owned(),
            mesh_spec: MeshSpec::default(),
            dataplanes: BTreeMap::new(),
            gateways: Vec::new(),
            has_traffic_routes: false,
            real_by_kri: HashMap::new(),
            real_by_kind: HashMap::new(),
            external_services: BTreeMap::new(),
            service_endpoints: HashMap::new(),
            service_protocols: HashMap::new(),
            endpoints: Memo::default(),
        };
        let mut protocols: HashMap<String, Vec<Protocol>> = HashMap::new();
        for resource in resources {
            index.add(resource, &mut protocols);
        }
        index.service_protocols = protocols.into_iter().map(|(k, v)| (k, fold_protocols(v))).collect();
        for list in index.real_by_kind.values_mut() {
            // Oldest first: a labels-based backendRef picks the oldest match (spec §4.4).
            list.sort_by(|a, b| (&a.meta.creation_time, &a.meta.name).cmp(&(&b.meta.creation_time, &b.meta.name)));
        }
        // Fixed orders wherever the input order could otherwise show through.
        index.gateways.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
        for list in index.external_services.values_mut() {
            list.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
        }
        for endpoints in index.service_endpoints.values_mut() {
            endpoints.sort();
        }
        index
    }

    fn add(&mut self, resource: &Arc<Resource>, protocols: &mut HashMap<String, Vec<Protocol>>) {
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
                            let address = inbound.reachable_address(net).to_owned();
                            let endpoint =
                                Endpoint { address, port: inbound.port, weight: 1, tags: inbound.tags.clone() };
                            self.service_endpoints.entry(service.clone()).or_default().push(endpoint);
                        }
                    }
                }
                self.dataplanes.insert(resource.meta.name.clone(), resource.clone());
            }
            Spec::MeshService(_) | Spec::MeshExternalService(_) | Spec::MeshMultiZoneService(_) => {
                self.real_by_kri.insert(resource.kri_id(), resource.clone());
                self.real_by_kind.entry(resource.kind()).or_default().push(resource.clone());
            }
            Spec::MeshGateway(_) => self.gateways.push(resource.clone()),
            Spec::ExternalService(spec) => {
                if let Some(service) = spec.tags.get(SERVICE_TAG) {
                    let protocol = spec.tags.get(PROTOCOL_TAG).map_or(Protocol::Unknown, |p| Protocol::parse(p));
                    protocols.entry(service.clone()).or_default().push(protocol);
                    self.external_services.entry(service.clone()).or_default().push(resource.clone());
                }
            }
            Spec::TrafficRoute(_) => self.has_traffic_routes = true,
            // Secrets never reach a snapshot (the control plane keeps them apart).
            Spec::MeshTcpRoute(_) | Spec::MeshHttpRoute(_) | Spec::Secret(_) | Spec::GlobalSecret(_) => {}
        }
    }

    pub fn mesh(&self) -> &str {
        &self.mesh
    }

    pub fn mesh_spec(&self) -> &MeshSpec {
        &self.mesh_spec
    }

    /// A Dataplane by name.
    pub fn dataplane(&self, name: &str) -> Option<&Arc<Resource>> {
        self.dataplanes.get(name)
    }

    /// Every Dataplane, by name.
    pub fn dataplanes(&self) -> impl Iterator<Item = &Arc<Resource>> {
        self.dataplanes.values()
    }

    /// The MeshGateways, by name.
    pub fn gateways(&self) -> &[Arc<Resource>] {
        &self.gateways
    }

    /// Whether the mesh has TrafficRoutes (spec §5.2).
    pub fn has_traffic_routes(&self) -> bool {
        self.has_traffic_routes
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

    /// A real resource by its KRI (the section, if any, is ignored).
    pub fn real_resource(&self, kri: &Kri) -> Option<&Arc<Resource>> {
        if kri.section().is_empty() { self.real_by_kri.get(kri) } else { self.real_by_kri.get(&kri.without_section()) }
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
        let key = EndpointKey::Legacy { service: service.to_owned(), subset: subset.clone() };
        self.endpoints.get_or(key, || {
            let all = self.service_endpoints.get(service).map(Vec::as_slice).unwrap_or_default();
            Arc::new(
                all.iter()
                    .filter(|e| subset.iter().all(|(k, v)| k == SERVICE_TAG || e.tags.get(k) == Some(v)))
                    .cloned()
                    .collect(),
            )
        })
    }

    /// The ready endpoints behind one port of a real resource.
    pub fn real_endpoints(&self, resource: &Resource, port: &RealPort) -> Arc<Vec<Endpoint>> {
        let key = EndpointKey::Real { resource: resource.kri_id(), section: port.section.clone() };
        self.endpoints.get_or(key, || {
            Arc::new(match &resource.spec {
                Spec::MeshService(_) => self.mesh_service_endpoints(resource, port),
                Spec::MeshMultiZoneService(spec) => {
                    let wanted = spec.selector.mesh_service.match_labels.clone().unwrap_or_default();
                    let mut out = Vec::new();
                    for ms in self.real_resources_by_labels(Kind::MeshService, &wanted) {
                        if let Some(p) = real_ports(ms).into_iter().find(|p| p.number == port.number) {
                            out.extend(self.mesh_service_endpoints(ms, &p));
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
                    let address = inbound.listen_address(net).to_owned();
                    out.push(Endpoint { address, port: inbound.port, weight: 1, tags: inbound.tags.clone() });
                }
            }
        }
        out
    }
}

/// An inbound takes traffic unless its health says not ready or its state is NotReady or Ignored.
fn inbound_ready(inbound: &model::kinds::dataplane::Inbound) -> bool {
    inbound.health.as_ref().is_none_or(|h| h.ready) && inbound.state.is_none_or(|s| s == InboundState::Ready)
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
