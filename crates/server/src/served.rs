//! The resources the control plane serves, per mesh: those of the store (or the declarative folder),
//! validated once as they arrive, and the Dataplanes connected proxies registered (which stand in for a
//! served Dataplane of the same name). A change names its keys; only the meshes they belong to are
//! rebuilt, and the keys go on to `policy::impact` to decide whom to wake.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use model::{Kind, Resource, Valid};
use policy::MeshSnapshot;
use policy::snapshot::{invalid_resource, mesh_of};
use policy::warning::Warning;
use xds::SharedResources;

use crate::control::ConnectError;
use crate::leader::REGISTERED_BY;
use crate::proxy_id::ProxyId;

/// A resource's place in its mesh.
type Name = (Kind, String);

/// What a mesh is built from.
#[derive(Default)]
struct MeshInputs {
    served: BTreeMap<Name, Valid>,
    /// Served resources left out because they are invalid.
    invalid: BTreeMap<Name, Warning>,
    /// Dataplanes of connected proxies, by name.
    registered: BTreeMap<String, Valid>,
}

impl MeshInputs {
    /// What the snapshot sees under a name: a registered Dataplane before a served one.
    fn effective(&self, name: &Name) -> Option<&Valid> {
        let registered = (name.0 == Kind::Dataplane).then(|| self.registered.get(&name.1)).flatten();
        registered.or_else(|| self.served.get(name))
    }

    fn is_empty(&self) -> bool {
        self.served.is_empty() && self.invalid.is_empty() && self.registered.is_empty()
    }

    fn snapshot(&self, mesh: &str) -> MeshSnapshot {
        let registered = self.registered.values();
        let served = self.served.iter().filter(|(n, _)| n.0 != Kind::Dataplane || !self.registered.contains_key(&n.1));
        MeshSnapshot::from_valid(
            mesh,
            registered.chain(served.map(|(_, v)| v)).cloned(),
            self.invalid.values().cloned().collect(),
        )
    }
}

/// One mesh as served: its snapshot and the Envoy clusters already encoded from it.
pub struct MeshState {
    pub snapshot: Arc<MeshSnapshot>,
    pub shared: Arc<SharedResources>,
}

/// What a rebuild changed in one mesh, for deciding which proxies to wake.
pub struct MeshChange {
    pub mesh: String,
    /// Both snapshots when the mesh existed before and after; otherwise every proxy of it is affected.
    pub snapshots: Option<(Arc<MeshSnapshot>, Arc<MeshSnapshot>)>,
    pub changed: Vec<(Kind, String)>,
}

/// A resource arriving at the served state.
pub enum Incoming {
    /// Read from the store or a file: validated on arrival.
    Read(Box<Resource>),
    /// Validated where it was written (this instance's API): served as it is.
    Valid(Valid),
}

/// Which names of which meshes a change touched.
type Touched = BTreeMap<String, BTreeSet<Name>>;

#[derive(Default)]
pub struct Served {
    inputs: HashMap<String, MeshInputs>,
    meshes: HashMap<String, MeshState>,
    /// Open ADS streams per proxy.
    streams: BTreeMap<ProxyId, usize>,
    /// Secrets and GlobalSecrets (mesh "" for the latter), kept apart: no snapshot sees them, and a
    /// change to one wakes no proxy.
    secrets: BTreeMap<SecretName, Valid>,
}

/// (kind, mesh, name) of a Secret or GlobalSecret.
type SecretName = (Kind, String, String);

fn secret_name(resource: &Resource) -> SecretName {
    (resource.kind(), resource.meta.mesh.clone(), resource.meta.name.clone())
}

impl Served {
    /// Replaces every served resource (a full load): the one place that compares everything, since a full
    /// load does not say what changed.
    pub fn replace(&mut self, resources: Vec<Resource>) -> Vec<MeshChange> {
        let mut fresh: HashMap<String, MeshInputs> = HashMap::new();
        self.secrets.clear();
        for resource in resources {
            if resource.kind().is_confidential() {
                if let Ok((valid, _)) = Valid::check(resource) {
                    self.secrets.insert(secret_name(&valid), valid);
                }
                continue;
            }
            let inputs = fresh.entry(mesh_of(&resource).to_owned()).or_default();
            insert(inputs, Incoming::Read(Box::new(resource)));
        }
        let mut touched = Touched::new();
        let meshes: BTreeSet<String> = self.inputs.keys().chain(fresh.keys()).cloned().collect();
        for mesh in meshes {
            let mut new = fresh.remove(&mesh).unwrap_or_default();
            let old = self.inputs.remove(&mesh).unwrap_or_default();
            new.registered = old.registered.clone();
            let names: BTreeSet<&Name> = old
                .served
                .keys()
                .chain(old.invalid.keys())
                .chain(new.served.keys())
                .chain(new.invalid.keys())
                .collect();
            let changed: BTreeSet<Name> = names
                .into_iter()
                .filter(|n| old.effective(n) != new.effective(n) || old.invalid.get(*n) != new.invalid.get(*n))
                .cloned()
                .collect();
            if !changed.is_empty() || !self.meshes.contains_key(&mesh) {
                touched.insert(mesh.clone(), changed);
            }
            if !new.is_empty() {
                self.inputs.insert(mesh, new);
            }
        }
        self.rebuild(touched)
    }

    /// Applies changed keys: each gets its new resource, or goes with None.
    pub fn apply(&mut self, updates: Vec<(store::Key, Option<Incoming>)>) -> Vec<MeshChange> {
        let mut touched = Touched::new();
        for (key, resource) in updates {
            if key.kind.is_confidential() {
                let name = (key.kind, key.mesh, key.name);
                self.secrets.remove(&name);
                let valid = match resource {
                    Some(Incoming::Valid(valid)) => Some(valid),
                    Some(Incoming::Read(resource)) => Valid::check(*resource).ok().map(|(valid, _)| valid),
                    None => None,
                };
                if let Some(valid) = valid {
                    self.secrets.insert(name, valid);
                }
                continue;
            }
            let mesh = if key.kind == Kind::Mesh { key.name.clone() } else { key.mesh.clone() };
            let name: Name = (key.kind, key.name);
            let inputs = self.inputs.entry(mesh.clone()).or_default();
            let before = (inputs.effective(&name).cloned(), inputs.invalid.get(&name).cloned());
            inputs.served.remove(&name);
            inputs.invalid.remove(&name);
            if let Some(resource) = resource {
                insert(inputs, resource);
            }
            if (inputs.effective(&name).cloned(), inputs.invalid.get(&name).cloned()) != before {
                touched.entry(mesh).or_default().insert(name);
            }
        }
        self.rebuild(touched)
    }

    /// A proxy's stream opened, with the (valid) Dataplane it brought, if any. True when that Dataplane
    /// is new or changed.
    /// A proxy may not stand in for a Dataplane a user applied (no registration label) with a different
    /// spec: that would redirect the traffic of every client of its services.
    pub fn connect(
        &mut self,
        proxy: &ProxyId,
        dataplane: Option<Valid>,
    ) -> Result<(bool, Vec<MeshChange>), ConnectError> {
        if let Some(dp) = &dataplane
            && let Some(applied) =
                self.inputs.get(&proxy.mesh).and_then(|i| i.served.get(&(Kind::Dataplane, proxy.name.clone())))
            && applied.label(REGISTERED_BY).is_none()
            && applied.spec != dp.spec
        {
            return Err(ConnectError::UserApplied { mesh: proxy.mesh.clone(), name: proxy.name.clone() });
        }
        *self.streams.entry(proxy.clone()).or_default() += 1;
        let Some(dp) = dataplane else { return Ok((false, Vec::new())) };
        let inputs = self.inputs.entry(proxy.mesh.clone()).or_default();
        if inputs.registered.get(&proxy.name) == Some(&dp) {
            return Ok((false, Vec::new()));
        }
        inputs.registered.insert(proxy.name.clone(), dp);
        Ok((true, self.rebuild(one(proxy))))
    }

    /// A proxy's stream ended. With its last stream, its registered Dataplane goes (returned).
    pub fn disconnect(&mut self, proxy: &ProxyId) -> Option<(Option<Valid>, Vec<MeshChange>)> {
        let streams = self.streams.entry(proxy.clone()).or_default();
        *streams = streams.saturating_sub(1);
        if *streams > 0 {
            return None;
        }
        self.streams.remove(proxy);
        let gone = self.inputs.get_mut(&proxy.mesh).and_then(|i| i.registered.remove(&proxy.name));
        let changes = if gone.is_some() { self.rebuild(one(proxy)) } else { Vec::new() };
        Some((gone, changes))
    }

    /// The Dataplanes connected proxies registered.
    pub fn registered(&self) -> Vec<Resource> {
        self.inputs.values().flat_map(|i| i.registered.values()).map(|v| Resource::clone(v)).collect()
    }

    /// What is served under a name: from the store or the folder, or a registered Dataplane.
    pub fn get(&self, kind: Kind, mesh: &str, name: &str) -> Option<&Valid> {
        if kind.is_confidential() {
            return self.secrets.get(&(kind, mesh.to_owned(), name.to_owned()));
        }
        let mesh = if kind == Kind::Mesh { name } else { mesh };
        self.inputs.get(mesh)?.effective(&(kind, name.to_owned()))
    }

    /// The served Secrets (`Kind::Secret`, in `mesh`) or GlobalSecrets (`mesh` ""), by name.
    pub fn secrets(&self, kind: Kind, mesh: &str) -> impl Iterator<Item = (&str, &Valid)> {
        let from = (kind, mesh.to_owned(), String::new());
        self.secrets
            .range(from..)
            .take_while(move |((k, m, _), _)| *k == kind && m == mesh)
            .map(|((_, _, name), v)| (name.as_str(), v))
    }

    pub fn mesh(&self, mesh: &str) -> Option<&MeshState> {
        self.meshes.get(mesh)
    }

    /// Rebuilds the meshes a change touched, from their inputs.
    fn rebuild(&mut self, touched: Touched) -> Vec<MeshChange> {
        let mut changes = Vec::new();
        for (mesh, changed) in touched {
            let old = self.meshes.remove(&mesh).map(|m| m.snapshot);
            let inputs = self.inputs.get(&mesh).filter(|i| !i.is_empty());
            let Some(inputs) = inputs else {
                self.inputs.remove(&mesh);
                if old.is_some() {
                    changes.push(MeshChange { mesh, snapshots: None, changed: Vec::new() });
                }
                continue;
            };
            let snapshot = Arc::new(inputs.snapshot(&mesh));
            let snapshots = old.map(|old| (old, snapshot.clone()));
            self.meshes.insert(mesh.clone(), MeshState { snapshot, shared: Arc::new(SharedResources::new()) });
            changes.push(MeshChange { mesh, snapshots, changed: changed.into_iter().collect() });
        }
        changes
    }
}

/// Puts a served resource into its mesh's inputs: valid (validated here unless it already was), or left
/// out with a warning.
fn insert(inputs: &mut MeshInputs, incoming: Incoming) {
    let (name, checked): (Name, _) = match incoming {
        Incoming::Read(resource) => ((resource.kind(), resource.meta.name.clone()), Valid::check(*resource)),
        Incoming::Valid(valid) => ((valid.kind(), valid.meta.name.clone()), Ok((valid, Vec::new()))),
    };
    match checked {
        Ok((valid, _)) => {
            inputs.served.insert(name, valid);
        }
        Err(report) => {
            let warning = invalid_resource(name.0, &name.1, &report);
            inputs.invalid.insert(name, warning);
        }
    }
}

/// The change of one proxy's registered Dataplane.
fn one(proxy: &ProxyId) -> Touched {
    Touched::from([(proxy.mesh.clone(), BTreeSet::from([(Kind::Dataplane, proxy.name.clone())]))])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Resource {
        model::parse_resources(yaml).expect("yaml").remove(0).expect("parses").resource
    }

    fn key(r: &Resource) -> store::Key {
        store::Key::of(r)
    }

    const DP: &str = "type: Dataplane\nmesh: default\nname: web-1\nnetworking:\n  address: 127.0.0.1\n  inbound: [{port: 8080, tags: {kuma.io/service: web}}]\n";
    /// Invalid: `to` needs at least one item.
    const BROKEN: &str = "type: MeshTCPRoute\nmesh: default\nname: broken\nspec:\n  to: []\n";

    #[test]
    fn only_touched_meshes_rebuild_and_invalid_resources_are_left_out_once() {
        let mut served = Served::default();
        let dp = parse(DP);
        let other = parse(&DP.replace("mesh: default", "mesh: other"));
        let changes = served.replace(vec![dp.clone(), other.clone()]);
        assert_eq!(
            changes.iter().map(|c| c.mesh.as_str()).collect::<BTreeSet<_>>(),
            BTreeSet::from(["default", "other"])
        );

        // The same resource again changes nothing and rebuilds nothing.
        let before = served.mesh("default").map(|m| Arc::as_ptr(&m.snapshot));
        assert!(served.apply(vec![(key(&dp), Some(Incoming::Read(Box::new(dp.clone()))))]).is_empty());
        assert_eq!(served.mesh("default").map(|m| Arc::as_ptr(&m.snapshot)), before, "snapshot kept");

        // An invalid policy: its mesh alone is rebuilt, the policy is left out with a warning.
        let broken = parse(BROKEN);
        let changes = served.apply(vec![(key(&broken), Some(Incoming::Read(Box::new(broken.clone()))))]);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].mesh, "default");
        assert_eq!(changes[0].changed, vec![(Kind::MeshTcpRoute, "broken".to_owned())]);
        let snapshot = &served.mesh("default").expect("mesh").snapshot;
        assert!(snapshot.tcp_routes().is_empty());
        assert_eq!(snapshot.warnings.len(), 1, "{:?}", snapshot.warnings);
        assert_eq!(snapshot.warnings[0].code, policy::warning::WarningCode::InvalidResource);
        assert!(snapshot.index.dataplane("web-1").is_some(), "the rest is served");

        // Removing the last resource of a mesh removes the mesh.
        let changes = served.apply(vec![(key(&other), None)]);
        assert_eq!((changes.len(), changes[0].snapshots.is_none()), (1, true));
        assert!(served.mesh("other").is_none());
    }

    #[test]
    fn a_registered_dataplane_stands_in_for_the_served_one_until_its_proxy_goes() {
        let mut served = Served::default();
        // What the store holds from an earlier registration of this proxy (labelled by its instance).
        let mut dp = parse(DP);
        dp.meta.labels.insert(REGISTERED_BY.to_owned(), "cp-1".to_owned());
        served.replace(vec![dp.clone()]);
        let proxy = ProxyId::new("default", "web-1");
        let registered = parse(&DP.replace("127.0.0.1", "127.0.0.9"));
        let (valid, _) = Valid::check(registered).expect("valid");
        let (new, changes) = served.connect(&proxy, Some(valid.clone())).expect("a registration may be replaced");
        assert!(new && changes.len() == 1);
        assert_eq!(served.get(Kind::Dataplane, "default", "web-1"), Some(&valid));
        // A second stream of the same proxy, then the first one ends: still registered.
        assert!(!served.connect(&proxy, Some(valid.clone())).expect("same proxy").0);
        assert!(served.disconnect(&proxy).is_none());
        let (gone, changes) = served.disconnect(&proxy).expect("last stream");
        assert_eq!((gone.as_ref(), changes.len()), (Some(&valid), 1));
        assert_eq!(served.get(Kind::Dataplane, "default", "web-1").map(|v| Resource::clone(v)), Some(dp));
    }

    #[test]
    fn a_proxy_may_not_replace_a_dataplane_a_user_applied() {
        let mut served = Served::default();
        let applied = parse(DP);
        served.replace(vec![applied.clone()]);
        let proxy = ProxyId::new("default", "web-1");
        let (forged, _) = Valid::check(parse(&DP.replace("127.0.0.1", "127.0.0.9"))).expect("valid");
        let refused = served.connect(&proxy, Some(forged));
        assert_eq!(refused.err(), Some(ConnectError::UserApplied { mesh: "default".into(), name: "web-1".into() }));
        assert_eq!(served.get(Kind::Dataplane, "default", "web-1").map(|v| Resource::clone(v)), Some(applied.clone()));
        assert!(!served.streams.contains_key(&proxy), "a refused stream is not counted");
        // The proxy of the applied Dataplane may bring it as it is, or bring none.
        let (same, _) = Valid::check(applied.clone()).expect("valid");
        assert!(served.connect(&proxy, Some(same)).is_ok());
        assert!(served.connect(&proxy, None).is_ok());
    }
}
