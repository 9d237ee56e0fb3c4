//! From backendRefs to weighted clusters (spec meshtcproute.md §4.4-§4.5): resolving references relative
//! to the policy that won, and registering one cluster per distinct backend for the whole proxy.

use std::collections::HashSet;
use std::sync::Arc;

use model::common::SERVICE_TAG;
use model::kind::Kind;
use model::kri::Kri;
use model::resource::Resource;
use model::{BackendRef, Tags, TargetRefKind};

use crate::compiled::{kri_for_name, resource_kind};
use crate::index::{Endpoint, RealPort, find_port};
use crate::names::{real_destination_name, subset_cluster_name};
use crate::plan::{ClusterKind, ClusterPlan, Resolution, Split};
use crate::protocol::Protocol;
use crate::snapshot::{BackendKey, ClusterOutcome, MeshSnapshot};
use crate::warning::{Warning, WarningCode};

/// A backendRef after name resolution. Weights are already defaulted (the schema's 1 for an absent
/// weight) and non-negative (validation refuses negative ones).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A port of a real resource: the KRI with its section.
    Real { kri: Kri, weight: i64 },
    /// A `kuma.io/service` reference (MeshService by name, MeshServiceSubset), kept as written.
    Legacy { name: String, tags: Tags, weight: i64 },
}

/// Spec §4.4: resolves a backendRef; `None` when a real reference names nothing (it is dropped).
/// `policy` is the impactful policy: names are relative to its mesh, zone and namespace.
pub fn resolve_backend(snap: &MeshSnapshot, policy: Option<&Resource>, b: &BackendRef) -> Option<Backend> {
    if !b.is_real_resource_ref() {
        return Some(Backend::Legacy {
            name: b.name.clone().unwrap_or_default(),
            tags: b.tags.clone().unwrap_or_default(),
            weight: b.effective_weight(),
        });
    }
    let kind = resource_kind(&b.kind)?;
    let mut kri =
        policy.map(|p| kri_for_name(p, kind, b.name.as_deref().unwrap_or(""), b.namespace.as_deref().unwrap_or("")));
    if let Some(labels) = b.labels.as_ref().filter(|l| !l.is_empty()) {
        kri = snap.index.real_resources_by_labels(kind, labels).next().map(|r| r.kri_id());
    }
    let kri = kri.filter(|k| !k.name().is_empty())?;
    let kri = match (&b.section_name, b.port) {
        (Some(s), _) if !s.is_empty() => kri.with_section(s),
        (_, Some(p)) if p > 0 => kri.with_section(&p.to_string()),
        _ => kri,
    };
    Some(Backend::Real { kri, weight: b.effective_weight() })
}

/// The clusters of one proxy, shared by all its destinations: one per distinct backend.
#[derive(Default)]
pub struct ClusterRegistry {
    names: HashSet<String>,
    clusters: Vec<Arc<ClusterPlan>>,
}

impl ClusterRegistry {
    /// Adds a cluster unless one of that name is there already; returns its name.
    pub fn add(&mut self, cluster: Arc<ClusterPlan>) -> String {
        let name = cluster.name.clone();
        if self.names.insert(name.clone()) {
            self.clusters.push(cluster);
        }
        name
    }

    /// Clusters sorted by service, then in registration order (spec §4.7).
    pub fn into_clusters(self) -> Vec<Arc<ClusterPlan>> {
        let mut clusters = self.clusters;
        clusters.sort_by(|a, b| a.service.cmp(&b.service));
        clusters
    }
}

/// What splitting a backend list produced: the splits and why any backend was left out.
pub struct Splits {
    pub splits: Vec<Split>,
    pub warnings: Vec<Warning>,
    /// How many backends were left out because their cluster needs what is not supported yet.
    pub unsupported: usize,
}

/// Spec §4.5, plus one meshroute rule: a backend whose cluster has no ready endpoints is left out of the
/// split with a warning, so the other backends keep taking all new connections.
pub fn make_splits(snap: &MeshSnapshot, backends: &[Backend], registry: &mut ClusterRegistry) -> Splits {
    let mut out = Splits { splits: Vec::new(), warnings: Vec::new(), unsupported: 0 };
    for backend in backends {
        let (weight, outcome) = match backend {
            Backend::Real { weight: 0, .. } | Backend::Legacy { weight: 0, .. } => continue,
            Backend::Real { kri, weight } => {
                (*weight, snap.cluster(BackendKey::Real(kri.clone()), || real_cluster(snap, kri)))
            }
            Backend::Legacy { name, tags, weight } => {
                let key = BackendKey::Legacy { service: name.clone(), tags: tags.clone() };
                (*weight, snap.cluster(key, || legacy_cluster(snap, name, tags)))
            }
        };
        match outcome {
            Ok(cluster) if let Some(why) = unsupported_cluster(&cluster) => {
                out.warnings.push(Warning::new(
                    WarningCode::UnsupportedBackend,
                    &cluster.name,
                    format!("cluster {}: {why}, which is not supported yet; left out", cluster.name),
                ));
                out.unsupported += 1;
            }
            Ok(cluster) => {
                let weight = clamp_weight(weight, &cluster.name, &mut out.warnings);
                out.splits.push(Split { cluster: registry.add(cluster), weight });
            }
            Err(why) => out.warnings.push(why),
        }
    }
    out
}

/// Why a cluster cannot be served yet (zone egress for MeshExternalService, cross-mesh mTLS): such a
/// backend is left out rather than sent as config Envoy would wait on or reject.
fn unsupported_cluster(cluster: &ClusterPlan) -> Option<String> {
    match (&cluster.kind, &cluster.cross_mesh) {
        (ClusterKind::MeshExternalService, _) => Some("MeshExternalService traffic goes through a zone egress".into()),
        (_, Some(mesh)) => Some(format!("it is in mesh {mesh} (cross-mesh traffic)")),
        _ => None,
    }
}

/// A backendRef weight as a split takes it; one above what Envoy takes is used as the maximum, with a
/// warning. (Validation has made it at least 0.)
pub(crate) fn clamp_weight(weight: i64, what: &str, warnings: &mut Vec<Warning>) -> u32 {
    u32::try_from(weight).unwrap_or_else(|_| {
        warnings.push(Warning::new(
            WarningCode::WeightClamped,
            what,
            format!("backend {what}: weight {weight} is above {}, used {}", u32::MAX, u32::MAX),
        ));
        u32::MAX
    })
}

/// The real resource and port a KRI (with section) names.
pub fn lookup_real<'a>(snap: &'a MeshSnapshot, kri: &Kri) -> Result<(&'a Arc<Resource>, RealPort), Warning> {
    let unknown = |message: String| Warning::new(WarningCode::UnknownBackend, kri.to_string(), message);
    let resource = snap
        .index
        .real_resource(kri)
        .ok_or_else(|| unknown(format!("backend {kri}: no such {}", short_kind(kri.short_name()))))?;
    let port = find_port(resource, kri.section())
        .ok_or_else(|| unknown(format!("backend {kri}: no port {:?}", kri.section())))?;
    Ok((resource, port))
}

fn short_kind(short: &str) -> &'static str {
    Kind::ALL.iter().find(|k| k.descriptor().short_name == short).map_or("resource", |k| k.wire_name())
}

/// A real-resource backend's cluster, named after the port's legacy destination name.
fn real_cluster(snap: &MeshSnapshot, kri: &Kri) -> ClusterOutcome {
    let (resource, port) = lookup_real(snap, kri)
        .map_err(|w| Warning { message: format!("{}; left out of the split", w.message), ..w })?;
    if !port.protocol.accepted_in_tcp_split() {
        return Err(not_splittable(&kri.to_string(), port.protocol));
    }
    let endpoints = snap.index.real_endpoints(resource, &port);
    if endpoints.is_empty() {
        return Err(no_ready_endpoints(&kri.to_string()));
    }
    let service = real_destination_name(resource, port.number);
    let mut tags = Tags::new();
    tags.insert(SERVICE_TAG.to_owned(), service.clone());
    let kind =
        if resource.kind() == Kind::MeshExternalService { ClusterKind::MeshExternalService } else { ClusterKind::Eds };
    Ok(Arc::new(ClusterPlan {
        name: service.clone(),
        service,
        tags,
        protocol: port.protocol,
        kind,
        cross_mesh: None,
        gateway: false,
        endpoints,
    }))
}

/// A legacy backend's cluster: the service, or a subset of it named with the tag hash.
fn legacy_cluster(snap: &MeshSnapshot, name: &str, ref_tags: &Tags) -> ClusterOutcome {
    let protocol = snap.index.service_protocol(name);
    if !protocol.accepted_in_tcp_split() {
        return Err(not_splittable(name, protocol));
    }
    let mut tags = ref_tags.clone();
    tags.insert(SERVICE_TAG.to_owned(), name.to_owned());
    let cross_mesh = tags.remove(model::resource::labels::MESH);
    let (kind, endpoints) = legacy_cluster_source(snap, name, &tags);
    if endpoints.is_empty() && cross_mesh.is_none() {
        return Err(no_ready_endpoints(&describe(name, &tags)));
    }
    let mut cluster_name = subset_cluster_name(name, &tags, &Tags::new());
    if let Some(mesh) = &cross_mesh {
        cluster_name = format!("{cluster_name}_{mesh}");
    }
    Ok(Arc::new(ClusterPlan {
        name: cluster_name,
        service: name.to_owned(),
        tags,
        protocol,
        kind,
        cross_mesh,
        gateway: false,
        endpoints,
    }))
}

/// Where a legacy service's endpoints come from: an ExternalService's address, or the mesh's Dataplanes.
pub fn legacy_cluster_source(snap: &MeshSnapshot, service: &str, tags: &Tags) -> (ClusterKind, Arc<Vec<Endpoint>>) {
    if let Some(es) = snap.index.external_service(service)
        && let model::Spec::ExternalService(spec) = &es.spec
        && let Some((host, port)) = spec.networking.address.rsplit_once(':')
        && let Ok(port) = port.parse::<u32>()
    {
        let resolution =
            if host.parse::<std::net::IpAddr>().is_ok() { Resolution::Static } else { Resolution::StrictDns };
        let endpoint = Endpoint { address: host.to_owned(), port, weight: 1, tags: spec.tags.clone() };
        return (ClusterKind::ExternalService { resolution }, Arc::new(vec![endpoint]));
    }
    (ClusterKind::Eds, snap.index.legacy_endpoints(service, tags))
}

fn not_splittable(backend: &str, protocol: Protocol) -> Warning {
    Warning::new(
        WarningCode::ProtocolNotSplittable,
        backend,
        format!("backend {backend}: protocol {} cannot be split by MeshTCPRoute; left out", protocol.as_str()),
    )
}

pub(crate) fn no_ready_endpoints(backend: &str) -> Warning {
    Warning::new(
        WarningCode::NoReadyEndpoints,
        backend,
        format!("backend {backend}: no ready endpoints; left out of the split"),
    )
}

/// `name` or `name{k=v,…}` for messages.
pub fn describe(name: &str, tags: &Tags) -> String {
    let extra: Vec<String> = tags.iter().filter(|(k, _)| *k != SERVICE_TAG).map(|(k, v)| format!("{k}={v}")).collect();
    if extra.is_empty() { name.to_owned() } else { format!("{name}{{{}}}", extra.join(",")) }
}

/// The tags a gateway destination selects for a backendRef (spec §4.10 item 2).
pub fn gateway_destination_tags(snap: &MeshSnapshot, backend: &Backend, b: &BackendRef) -> Option<Tags> {
    let mut tags = Tags::new();
    match backend {
        Backend::Real { kri, .. } => {
            let (resource, port) = lookup_real(snap, kri).ok()?;
            let service = real_destination_name(resource, port.number);
            tags.insert(SERVICE_TAG.to_owned(), service);
        }
        Backend::Legacy { name, .. } => match b.kind {
            TargetRefKind::Mesh => {
                tags.insert(SERVICE_TAG.to_owned(), "*".to_owned());
            }
            TargetRefKind::MeshSubset => {
                tags.insert(SERVICE_TAG.to_owned(), "*".to_owned());
                tags.extend(b.tags.clone().unwrap_or_default());
            }
            TargetRefKind::MeshServiceSubset => {
                tags.insert(SERVICE_TAG.to_owned(), name.clone());
                tags.extend(b.tags.clone().unwrap_or_default());
            }
            _ => {
                tags.insert(SERVICE_TAG.to_owned(), name.clone());
            }
        },
    }
    Some(tags)
}
