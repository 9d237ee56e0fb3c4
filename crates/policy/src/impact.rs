//! Which proxies of a mesh a change can affect, so the control plane replans only those.
//!
//! The answer may be too wide (a proxy replanned for nothing pushes nothing, since streams compare what
//! they computed with what they sent) but never too narrow. Policies and Dataplanes, the resources that
//! change most, are judged precisely:
//!
//! - a MeshTCPRoute or MeshHTTPRoute affects the proxies its old or its new version applies to;
//! - a Dataplane affects itself and every proxy that reaches a service it serves, through an outbound or
//!   through a backendRef of a policy that applies to the proxy.
//!
//! Any other kind (Mesh, MeshGateway, services, ExternalService, TrafficRoute), and a Dataplane in a mesh
//! with real service resources, affect the whole mesh.

use std::cell::OnceCell;
use std::collections::BTreeSet;

use model::common::SERVICE_TAG;
use model::kind::{Kind, Spec};
use model::resource::Resource;
use model::{BackendRef, Tags};

use crate::compiled::RoutePolicy;
use crate::selection::{Proxy, applies_to};
use crate::snapshot::MeshSnapshot;

/// The proxies a set of changed resources can affect.
pub struct Impact<'s> {
    new: &'s MeshSnapshot,
    whole_mesh: bool,
    /// Changed Dataplanes, by name.
    dataplanes: BTreeSet<String>,
    /// Services (`kuma.io/service`) served by a changed Dataplane, before or after.
    services: BTreeSet<String>,
    /// Changed policies, each in the snapshot it belongs to.
    policies: Vec<(&'s MeshSnapshot, &'s RoutePolicy)>,
    /// Unchanged policies (in `new`) whose backendRefs may name one of `services`.
    referencing: Vec<&'s RoutePolicy>,
}

impl<'s> Impact<'s> {
    /// `changed` lists the `(kind, name)` of every resource added, removed or modified between `old` and
    /// `new`, two snapshots of the same mesh.
    pub fn new(old: &'s MeshSnapshot, new: &'s MeshSnapshot, changed: &[(Kind, String)]) -> Self {
        let mut impact = Self {
            new,
            whole_mesh: false,
            dataplanes: BTreeSet::new(),
            services: BTreeSet::new(),
            policies: Vec::new(),
            referencing: Vec::new(),
        };
        let mut changed_policies = BTreeSet::new();
        for (kind, name) in changed {
            match kind {
                Kind::Dataplane => {
                    impact.dataplanes.insert(name.clone());
                    for snap in [old, new] {
                        if let Some(dp) = snap.index.dataplane(name) {
                            impact.services.extend(served_services(dp));
                        }
                    }
                }
                Kind::MeshTcpRoute | Kind::MeshHttpRoute => {
                    changed_policies.insert((*kind, name.as_str()));
                    for snap in [old, new] {
                        let list = if *kind == Kind::MeshTcpRoute { snap.tcp_routes() } else { snap.http_routes() };
                        impact
                            .policies
                            .extend(list.iter().filter(|p| p.resource.meta.name == *name).map(|p| (snap, p)));
                    }
                }
                _ => impact.whole_mesh = true,
            }
        }
        // Endpoints of real services are chosen by selectors; a changed Dataplane may enter or leave any.
        if !impact.dataplanes.is_empty() && (old.index.has_real_services() || new.index.has_real_services()) {
            impact.whole_mesh = true;
        }
        if !impact.services.is_empty() {
            impact.referencing = new
                .tcp_routes()
                .iter()
                .filter(|p| !changed_policies.contains(&(Kind::MeshTcpRoute, p.resource.meta.name.as_str())))
                .filter(|p| p.to.iter().flat_map(|t| t.backend_refs.iter()).any(|b| names_any(b, &impact.services)))
                .collect();
        }
        impact
    }

    /// Whether the change can affect proxy `name`'s plan.
    pub fn affects(&self, name: &str) -> bool {
        if self.whole_mesh || self.dataplanes.contains(name) {
            return true;
        }
        // The proxy as each snapshot sees it, made at most once.
        let (in_old, in_new) = (OnceCell::new(), OnceCell::new());
        let applies = |snap: &'s MeshSnapshot, policy: &RoutePolicy| {
            let cell = if std::ptr::eq(snap, self.new) { &in_new } else { &in_old };
            cell.get_or_init(|| snap.index.dataplane(name).and_then(|dp| Proxy::new(snap, dp)))
                .as_ref()
                .is_some_and(|proxy| applies_to(snap, policy, proxy))
        };
        if self.policies.iter().any(|(snap, policy)| applies(snap, policy)) {
            return true;
        }
        if self.services.is_empty() {
            return false;
        }
        let reaches = self
            .new
            .index
            .dataplane(name)
            .is_some_and(|dp| outbound_services(dp).any(|n| self.services.iter().any(|s| may_name(&n, s))));
        reaches || self.referencing.iter().any(|policy| applies(self.new, policy))
    }
}

/// The `kuma.io/service` values a Dataplane serves (inbounds and gateway).
fn served_services(dp: &Resource) -> Vec<String> {
    let Spec::Dataplane(spec) = &dp.spec else { return Vec::new() };
    let Some(net) = &spec.networking else { return Vec::new() };
    net.inbound
        .iter()
        .map(|i| &i.tags)
        .chain(net.gateway.as_ref().map(|g| &g.tags))
        .filter_map(|tags| tags.get(SERVICE_TAG).cloned())
        .collect()
}

/// Every name a Dataplane's outbounds reach by: service tags, the deprecated `service` and backendRef names.
fn outbound_services(dp: &Resource) -> impl Iterator<Item = String> + '_ {
    let outbounds = match &dp.spec {
        Spec::Dataplane(spec) => spec.networking.as_ref().map(|n| n.outbound.as_slice()).unwrap_or_default(),
        _ => &[],
    };
    outbounds.iter().flat_map(|o| {
        let tagged = o.tags.as_ref().and_then(|t| t.get(SERVICE_TAG)).cloned();
        let by_ref = o.backend_ref.as_ref().map(|r| r.name.clone());
        tagged.into_iter().chain(o.service.clone()).chain(by_ref)
    })
}

/// Whether a backendRef may name one of `services`: by `kuma.io/service` tag, or by a name that is the
/// service or becomes it as `<name>_<namespace>_svc_<port>` on Kubernetes.
fn names_any(backend: &BackendRef, services: &BTreeSet<String>) -> bool {
    let tagged = backend.tags.as_ref().and_then(|t: &Tags| t.get(SERVICE_TAG));
    services.iter().any(|s| tagged == Some(s) || backend.name.as_deref().is_some_and(|n| may_name(n, s)))
}

fn may_name(name: &str, service: &str) -> bool {
    service.strip_prefix(name).is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
}
