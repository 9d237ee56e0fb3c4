//! The control plane's state: the resources it serves, one snapshot per mesh, the Dataplanes that
//! registered themselves when they connected, and each proxy's xDS status. A change rebuilds only the
//! meshes it touches and wakes only the proxies it can affect (see `policy::impact`); each proxy's
//! streams watch a generation of their own.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use model::{Kind, Resource};
use policy::impact::Impact;
use policy::{MeshSnapshot, PlanOptions};
use tokio::sync::{mpsc, watch};
use xds::{ResourceSet, SharedResources};

/// What one proxy's ADS stream reports about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyStatus {
    pub connected: bool,
    /// Last version Envoy accepted, per type URL.
    pub acked: BTreeMap<String, String>,
    /// The last rejection: type URL, version and Envoy's error.
    pub last_nack: Option<Nack>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Nack {
    pub type_url: String,
    pub version: String,
    pub error: String,
}

#[derive(Default)]
struct State {
    /// Resources from the store or the declarative folder, by key.
    resources: BTreeMap<store::Key, Resource>,
    /// Dataplanes registered by connected proxies, by proxy id.
    connected: BTreeMap<String, Resource>,
    /// Open ADS streams per proxy id.
    streams: BTreeMap<String, usize>,
    meshes: HashMap<String, MeshState>,
}

/// One mesh: the resources it was built from, its snapshot and the Envoy clusters already encoded from it.
struct MeshState {
    inputs: BTreeMap<(Kind, String), Resource>,
    snapshot: Arc<MeshSnapshot>,
    shared: Arc<SharedResources>,
}

/// What a rebuild changed in one mesh, for deciding which proxies to replan.
struct MeshChange {
    mesh: String,
    /// Both snapshots when the mesh existed before and after; otherwise every proxy of it is affected.
    snapshots: Option<(Arc<MeshSnapshot>, Arc<MeshSnapshot>)>,
    changed: Vec<(Kind, String)>,
}

/// Shared by the ADS server, the store reconciler and the API.
pub struct ControlPlane {
    pub metrics: Arc<crate::metrics::Metrics>,
    state: RwLock<State>,
    /// Bumped on every load, for readiness.
    loads: watch::Sender<u64>,
    /// Per proxy id: bumped when a change can affect that proxy; its ADS streams watch it.
    proxies: Mutex<BTreeMap<String, watch::Sender<u64>>>,
    status: Mutex<BTreeMap<String, ProxyStatus>>,
    registrar: Mutex<Option<mpsc::UnboundedSender<Registration>>>,
}

/// A Dataplane a proxy brought or took away, for the store to record.
#[derive(Clone, Debug)]
pub enum Registration {
    Connected(Resource),
    Disconnected(Resource),
}

impl Registration {
    pub fn key(&self) -> store::Key {
        match self {
            Self::Connected(dp) | Self::Disconnected(dp) => store::Key::of(dp),
        }
    }
}

impl ControlPlane {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            metrics: Arc::default(),
            state: RwLock::new(State::default()),
            loads: watch::channel(0).0,
            proxies: Mutex::new(BTreeMap::new()),
            status: Mutex::new(BTreeMap::new()),
            registrar: Mutex::new(None),
        })
    }

    /// Replaces the served resources.
    pub fn replace_resources(&self, resources: Vec<Resource>) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.resources = resources.into_iter().map(|r| (store::Key::of(&r), r)).collect();
        let changes = rebuild(&mut state);
        drop(state);
        self.notify(&changes);
        self.loads.send_modify(|g| *g += 1);
    }

    /// Updates some served resources: each key gets its new resource, or goes with None.
    pub fn apply_changes(&self, updates: Vec<(store::Key, Option<Resource>)>) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        for (key, resource) in updates {
            match resource {
                Some(r) => state.resources.insert(key, r),
                None => state.resources.remove(&key),
            };
        }
        let changes = rebuild(&mut state);
        drop(state);
        self.notify(&changes);
        self.loads.send_modify(|g| *g += 1);
    }

    /// A proxy's stream opened, with the Dataplane it sent in its node metadata, if any (kuma-dp sends it
    /// on Universal). A proxy may have several streams (a reconnect overlaps the old one); it stays
    /// registered until the last one ends.
    pub fn connect(&self, proxy_id: &str, dataplane: Option<Resource>) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        *state.streams.entry(proxy_id.to_owned()).or_default() += 1;
        let changes = match dataplane {
            Some(dp) if state.connected.get(proxy_id) != Some(&dp) => {
                state.connected.insert(proxy_id.to_owned(), dp.clone());
                self.register(Registration::Connected(dp));
                rebuild(&mut state)
            }
            _ => Vec::new(),
        };
        // Under the state lock, so a concurrent disconnect of an older stream cannot overwrite it.
        self.update_status(proxy_id, |s| s.connected = true);
        drop(state);
        self.notify(&changes);
    }

    /// A proxy's stream ended; with its last stream, its registered Dataplane goes away.
    pub fn disconnect(&self, proxy_id: &str) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let streams = state.streams.entry(proxy_id.to_owned()).or_default();
        *streams = streams.saturating_sub(1);
        if *streams > 0 {
            return;
        }
        state.streams.remove(proxy_id);
        let changes = match state.connected.remove(proxy_id) {
            Some(dp) => {
                self.register(Registration::Disconnected(dp));
                rebuild(&mut state)
            }
            None => Vec::new(),
        };
        // A proxy that is gone leaves nothing behind: any client may pick a proxy id.
        self.status.lock().unwrap_or_else(PoisonError::into_inner).remove(proxy_id);
        let mut proxies = self.proxies.lock().unwrap_or_else(PoisonError::into_inner);
        if proxies.get(proxy_id).is_some_and(|g| g.receiver_count() == 0) {
            proxies.remove(proxy_id);
        }
        drop(proxies);
        drop(state);
        self.notify(&changes);
    }

    /// The Dataplanes connected proxies registered, for writing them back to the store.
    pub fn connected_dataplanes(&self) -> Vec<Resource> {
        self.state.read().unwrap_or_else(PoisonError::into_inner).connected.values().cloned().collect()
    }

    /// Waits until resources were loaded once: before that, a proxy's plan would be built from nothing.
    pub async fn wait_ready(&self) {
        let mut loads = self.loads.subscribe();
        let _ = loads.wait_for(|g| *g > 0).await;
    }

    /// Where (re)registrations go from now on: the store writer reads them (see `reconcile::register`).
    pub fn registrations(&self) -> mpsc::UnboundedReceiver<Registration> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.registrar.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx);
        rx
    }

    fn register(&self, registration: Registration) {
        if let Some(tx) = self.registrar.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            let _ = tx.send(registration);
        }
    }

    /// Whether resources were loaded at least once.
    pub fn is_ready(&self) -> bool {
        *self.loads.borrow() > 0
    }

    /// A receiver that sees every change that can affect proxy `proxy_id` (`<mesh>.<name>`).
    pub fn subscribe_proxy(&self, proxy_id: &str) -> watch::Receiver<u64> {
        let mut proxies = self.proxies.lock().unwrap_or_else(PoisonError::into_inner);
        proxies.entry(proxy_id.to_owned()).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    /// Wakes the proxies each change can affect, and no other.
    fn notify(&self, changes: &[MeshChange]) {
        let proxies = self.proxies.lock().unwrap_or_else(PoisonError::into_inner);
        for change in changes {
            let prefix = format!("{}.", change.mesh);
            let impact = change.snapshots.as_ref().map(|(old, new)| Impact::new(old, new, &change.changed));
            for (id, generation) in proxies.range(prefix.clone()..).take_while(|(id, _)| id.starts_with(&prefix)) {
                let name = &id[prefix.len()..];
                if impact.as_ref().is_none_or(|i| i.affects(name)) {
                    generation.send_modify(|g| *g += 1);
                }
            }
        }
    }

    /// The resources of proxy `mesh`/`name` now, with every warning about them.
    pub fn resources_for(
        &self,
        mesh: &str,
        name: &str,
        options: PlanOptions,
    ) -> Result<(ResourceSet, Vec<policy::warning::Warning>), String> {
        let (snapshot, shared) = self
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .meshes
            .get(mesh)
            .map(|m| (m.snapshot.clone(), m.shared.clone()))
            .ok_or_else(|| format!("no mesh {mesh:?}"))?;
        let started = std::time::Instant::now();
        let plan = policy::plan_proxy(&snapshot, name, options).map_err(|e| e.to_string())?;
        let set = xds::generate_shared(&plan, Some(&shared)).map_err(|e| e.to_string())?;
        self.metrics.regenerated(started.elapsed());
        Ok((set, plan.warnings))
    }

    /// A served resource (from the store or the folder), or a Dataplane a connected proxy registered.
    pub fn served(&self, kind: Kind, mesh: &str, name: &str) -> Option<Resource> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let key = (kind, name.to_owned());
        let mesh = if kind == Kind::Mesh { name } else { mesh };
        state.meshes.get(mesh).and_then(|m| m.inputs.get(&key)).cloned()
    }

    pub fn snapshot(&self, mesh: &str) -> Option<Arc<MeshSnapshot>> {
        self.state.read().unwrap_or_else(PoisonError::into_inner).meshes.get(mesh).map(|m| m.snapshot.clone())
    }

    pub fn update_status(&self, proxy_id: &str, change: impl FnOnce(&mut ProxyStatus)) {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        change(status.entry(proxy_id.to_owned()).or_default());
    }

    pub fn status(&self, proxy_id: &str) -> Option<ProxyStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).get(proxy_id).cloned()
    }
}

/// Rebuilds the snapshot of every mesh whose resources changed, served and registered together (a
/// registered Dataplane replaces a served one of the same name), and says what changed where.
fn rebuild(state: &mut State) -> Vec<MeshChange> {
    let mut inputs: BTreeMap<String, BTreeMap<(Kind, String), Resource>> = BTreeMap::new();
    for r in state.resources.values().chain(state.connected.values()) {
        let mesh = if r.kind() == Kind::Mesh { &r.meta.name } else { &r.meta.mesh };
        inputs.entry(mesh.clone()).or_default().insert((r.kind(), r.meta.name.clone()), r.clone());
    }
    let mut changes = Vec::new();
    let gone: Vec<String> = state.meshes.keys().filter(|m| !inputs.contains_key(*m)).cloned().collect();
    for mesh in gone {
        state.meshes.remove(&mesh);
        changes.push(MeshChange { mesh, snapshots: None, changed: Vec::new() });
    }
    for (mesh, inputs) in inputs {
        let old = state.meshes.get(&mesh);
        if old.is_some_and(|o| o.inputs == inputs) {
            continue;
        }
        let snapshot = Arc::new(MeshSnapshot::build(&mesh, inputs.values().cloned()));
        let change = match old {
            Some(o) => {
                let changed = o
                    .inputs
                    .keys()
                    .chain(inputs.keys())
                    .filter(|k| o.inputs.get(*k) != inputs.get(*k))
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                MeshChange { mesh: mesh.clone(), snapshots: Some((o.snapshot.clone(), snapshot.clone())), changed }
            }
            None => MeshChange { mesh: mesh.clone(), snapshots: None, changed: Vec::new() },
        };
        changes.push(change);
        state.meshes.insert(mesh, MeshState { inputs, snapshot, shared: Arc::new(SharedResources::new()) });
    }
    changes
}
