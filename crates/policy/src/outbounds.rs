//! Sidecar (and delegated gateway) outbounds: each destination, who owns it, and its splits (spec
//! meshtcproute.md §4.2-§4.3, §5.1).

use model::common::SERVICE_TAG;
use model::kind::Kind;
use model::kinds::dataplane::{Outbound, OutboundBackendRef};
use model::kri::Kri;
use model::resource::Resource;
use model::{BackendRef, Tags, TargetRefKind};

use crate::backends::{Backend, ClusterRegistry, make_splits, resolve_backend};
use crate::compiled::{PolicyId, RoutePolicy, kri_for_name, resource_kind};
use crate::index::real_ports;
use crate::names::{outbound_listener_name, real_destination_name, sanitize_stat_prefix};
use crate::plan::BackendRefs;
use crate::plan::{AppliedRoute, LeftOut, OutboundListener, OutboundPlan, Owner, Unsupported};
use crate::protocol::Protocol;
use crate::rules::{Origin, ToRules};
use crate::selection::Proxy;
use crate::snapshot::MeshSnapshot;
use crate::warning::{Warning, WarningCode};

/// An outbound's destination.
enum Destination {
    Legacy { service: String, tags: Tags },
    Real { kri: Kri, service: String, protocol: Protocol },
}

/// The rules a destination decision reads.
pub struct RouteRules<'a> {
    pub tcp: &'a ToRules,
    pub http: &'a ToRules,
}

/// Plans the outbounds of one proxy; clusters and warnings accumulate across its destinations.
pub struct OutboundPlanner<'a> {
    pub snap: &'a MeshSnapshot,
    pub rules: RouteRules<'a>,
    /// Spec §5.2: TrafficRoute keeps the outbounds of this proxy.
    pub traffic_route_owns: bool,
    /// The receiving Envoy has the kafka_broker filter (contrib builds).
    pub kafka_filter: bool,
    pub registry: &'a mut ClusterRegistry,
    pub warnings: &'a mut Vec<Warning>,
}

impl OutboundPlanner<'_> {
    /// Plans every outbound of the proxy, in the Dataplane's order.
    pub fn plan_all(&mut self, proxy: &Proxy<'_>) -> Vec<OutboundPlan> {
        let mut plans = Vec::new();
        for (i, outbound) in proxy.networking.outbound.iter().enumerate() {
            let address = outbound.listen_address().to_owned();
            match destination(self.snap, proxy.dataplane, outbound) {
                Some(destination) => {
                    let mut plan = self.plan_destination(address, outbound.port, &destination);
                    plan.listener = self.decide_listener(&plan);
                    plans.push(plan);
                }
                None => self.warnings.push(Warning::new(
                    WarningCode::MissingDestination,
                    format!("outbound[{i}]"),
                    format!("outbound[{i}] {address}:{}: its destination does not exist; no listener", outbound.port),
                )),
            }
        }
        plans
    }

    /// The listener Envoy gets for a planned destination.
    fn decide_listener(&mut self, plan: &OutboundPlan) -> OutboundListener {
        match &plan.listener {
            OutboundListener::LeftOut(_) => return plan.listener.clone(),
            _ if plan.owner == Owner::Nobody => return OutboundListener::LeftOut(LeftOut::Unresolved),
            _ => {}
        }
        if plan.protocol.is_http_family() && plan.owner != Owner::MeshTcpRoute && !plan.splits.is_empty() {
            return OutboundListener::Http;
        }
        if plan.protocol == Protocol::Kafka && plan.owner == Owner::MeshTcpRoute {
            if self.kafka_filter {
                return OutboundListener::Kafka;
            }
            self.warnings.push(Warning::new(
                WarningCode::KafkaFilterUnavailable,
                &plan.name,
                format!(
                    "{}: the kafka_broker filter is left out because this Envoy build has no contrib extensions; kafka traffic is proxied as plain TCP",
                    plan.name
                ),
            ));
        }
        OutboundListener::TcpProxy
    }

    /// Takes the splits of `backends` into the plan; a destination all of whose backends are unsupported
    /// gets no listener.
    fn take_splits(&mut self, plan: &mut OutboundPlan, backends: &[Backend]) {
        let splits = make_splits(self.snap, backends, self.registry);
        self.warnings.extend(splits.warnings.into_iter().map(|w| w.within(&plan.name)));
        if splits.splits.is_empty() && splits.unsupported > 0 {
            self.warnings.push(Warning::new(
                WarningCode::DestinationLeftOut,
                &plan.name,
                format!("{}: every backend needs what is not supported yet; destination left out", plan.name),
            ));
            plan.listener = OutboundListener::LeftOut(LeftOut::Unsupported(Unsupported::EveryBackend));
        }
        plan.splits = splits.splits;
    }

    fn plan_destination(&mut self, address: String, port: u32, destination: &Destination) -> OutboundPlan {
        let mut plan = outbound_shell(self.snap, address, port, destination);
        if self.traffic_route_owns {
            plan.owner = Owner::TrafficRoute;
            self.route_to_itself(&mut plan, destination);
            return plan;
        }
        let kri = destination.kri();
        let tcp = conf_for(self.rules.tcp, &plan.service, kri);
        if plan.protocol.is_http_family() {
            if let Some(http) = conf_for(self.rules.http, &plan.service, kri) {
                plan.http_routes =
                    http.origins.iter().map(|o| self.snap.http_routes()[*o].display_name().to_owned()).collect();
            }
            if tcp.is_none() || !plan.http_routes.is_empty() {
                plan.owner = Owner::MeshHttpRoute;
                if !plan.http_routes.is_empty() {
                    self.warnings.push(Warning::new(
                        WarningCode::HttpRoutingNotImplemented,
                        &plan.name,
                        format!(
                            "{}: MeshHTTPRoute {} targets this destination; MeshHTTPRoute routing is not implemented yet, so it routes to itself",
                            plan.name,
                            plan.http_routes.join(", ")
                        ),
                    ));
                }
                self.route_to_itself(&mut plan, destination);
                return plan;
            }
        }
        let backends = match &tcp {
            None => vec![destination.default_backend()],
            Some(conf) => self.resolve_route(&mut plan, conf),
        };
        if backends.is_empty() {
            plan.owner = Owner::Nobody;
            let by =
                tcp.as_ref().map(|c| self.snap.tcp_routes()[c.impactful.policy].display_name()).unwrap_or_default();
            self.warnings.push(Warning::new(
                WarningCode::NoBackendResolves,
                &plan.name,
                format!("{}: no backendRef of MeshTCPRoute {by} resolves; no listener", plan.name),
            ));
            return plan;
        }
        self.take_splits(&mut plan, &backends);
        plan
    }

    /// The default route of a destination another owner keeps: to itself.
    fn route_to_itself(&mut self, plan: &mut OutboundPlan, destination: &Destination) {
        self.take_splits(plan, &[destination.default_backend()]);
    }

    /// Records the applied rule and resolves its backendRefs relative to the policy that won.
    fn resolve_route(&mut self, plan: &mut OutboundPlan, conf: &DestinationConf) -> Vec<Backend> {
        let policy: &RoutePolicy = &self.snap.tcp_routes()[conf.impactful.policy];
        plan.route = Some(AppliedRoute {
            origins: conf.origins.iter().map(|o| self.snap.tcp_routes()[*o].kri.to_string()).collect(),
            backend_refs: conf.backend_refs.clone(),
        });
        conf.backend_refs
            .iter()
            .filter_map(|b| resolve_or_warn(self.snap, &policy.resource, b, &plan.name, self.warnings))
            .collect()
    }
}

impl Destination {
    fn kri(&self) -> Option<&Kri> {
        match self {
            Destination::Legacy { .. } => None,
            Destination::Real { kri, .. } => Some(kri),
        }
    }

    /// The backend of a destination without a rule: itself, weight 100 (spec §4.3).
    fn default_backend(&self) -> Backend {
        match self {
            Destination::Legacy { service, tags } => {
                let mut subset = tags.clone();
                subset.remove(SERVICE_TAG);
                Backend::Legacy { name: service.clone(), tags: subset, weight: 100 }
            }
            Destination::Real { kri, .. } => Backend::Real { kri: kri.clone(), weight: 100 },
        }
    }
}

/// Spec §4.2: the destination of an outbound, legacy (by tags) or a real resource port (by backendRef).
fn destination(snap: &MeshSnapshot, dp: &Resource, outbound: &Outbound) -> Option<Destination> {
    match &outbound.backend_ref {
        None => {
            let mut tags = outbound.tags.clone().unwrap_or_default();
            if let Some(service) = outbound.service.as_ref().filter(|s| !s.is_empty()) {
                tags.entry(SERVICE_TAG.to_owned()).or_insert_with(|| service.clone());
            }
            let service = tags.get(SERVICE_TAG)?.clone();
            tags.remove(model::resource::labels::MESH);
            Some(Destination::Legacy { service, tags })
        }
        Some(backend) => real_destination(snap, dp, backend),
    }
}

/// A real-resource outbound: the resource by name (relative to the Dataplane's mesh and namespace) or by
/// labels, and its port by number (a MeshExternalService has one).
fn real_destination(snap: &MeshSnapshot, dp: &Resource, backend: &OutboundBackendRef) -> Option<Destination> {
    let kind = resource_kind(&TargetRefKind::parse(&backend.kind))?;
    let resource = match backend.labels.as_ref().filter(|l| !l.is_empty()) {
        Some(labels) => snap.index.real_resources_by_labels(kind, labels).next()?,
        None => snap.index.real_resource(&kri_for_name(dp, kind, &backend.name, ""))?,
    };
    let ports = real_ports(resource);
    let port = if kind == Kind::MeshExternalService {
        ports.into_iter().next()?
    } else {
        ports.into_iter().find(|p| p.number == backend.port)?
    };
    let kri = resource.kri_id().with_section(&port.section);
    let service = real_destination_name(resource, port.number);
    Some(Destination::Real { kri, service, protocol: port.protocol })
}

/// The listener identity of a destination, before any routing decision (spec §4.6).
fn outbound_shell(snap: &MeshSnapshot, address: String, port: u32, destination: &Destination) -> OutboundPlan {
    let (service, tags, protocol) = match destination {
        Destination::Legacy { service, tags } => (service.clone(), tags.clone(), snap.index.service_protocol(service)),
        Destination::Real { kri, service, protocol } => {
            let mut tags = Tags::new();
            tags.insert("kuma.io/unified-name".to_owned(), kri.to_string());
            (service.clone(), tags, *protocol)
        }
    };
    OutboundPlan {
        name: outbound_listener_name(&address, port),
        address,
        port,
        stat_prefix: sanitize_stat_prefix(&service),
        service,
        kri: destination.kri().cloned(),
        tags,
        protocol,
        owner: Owner::MeshTcpRoute,
        listener: OutboundListener::TcpProxy,
        route: None,
        http_routes: Vec::new(),
        splits: Vec::new(),
    }
}

fn resolve_or_warn(
    snap: &MeshSnapshot,
    policy: &Resource,
    b: &BackendRef,
    listener: &str,
    warnings: &mut Vec<Warning>,
) -> Option<Backend> {
    let resolved = resolve_backend(snap, Some(policy), b);
    if resolved.is_none() {
        let what = if let Some(name) = &b.name {
            name.clone()
        } else {
            let labels = b.labels.iter().flatten().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>();
            format!("with labels {}", labels.join(","))
        };
        warnings.push(Warning::new(
            WarningCode::UnresolvedBackendRef,
            listener,
            format!("{listener}: backendRef {} {what} names no resource; dropped", b.kind),
        ));
    }
    resolved
}

/// The merged conf of one policy type for a destination (spec §4.3): a resource rule for a real
/// destination overrides the legacy rule.
pub struct DestinationConf {
    pub backend_refs: BackendRefs,
    /// Policy indexes in merge order.
    pub origins: Vec<PolicyId>,
    pub impactful: Origin,
}

fn conf_for(rules: &ToRules, service: &str, kri: Option<&Kri>) -> Option<DestinationConf> {
    if let Some(rule) = kri.and_then(|k| rules.resource_for(k)) {
        let mut origins = Vec::new();
        for o in &rule.origins {
            if !origins.contains(&o.policy) {
                origins.push(o.policy);
            }
        }
        let impactful = *rule.origins.last()?;
        return Some(DestinationConf { backend_refs: rule.backend_refs.clone(), origins, impactful });
    }
    rules.legacy_for(service).map(|rule| DestinationConf {
        backend_refs: rule.backend_refs.clone(),
        origins: rule.origins.clone(),
        impactful: rule.impactful,
    })
}
