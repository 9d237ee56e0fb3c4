//! The control plane's state: the resources it serves, one snapshot per mesh, the Dataplanes that
//! registered themselves when they connected, and each proxy's xDS status. Every change bumps a
//! generation that proxy streams watch.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use model::{Kind, Resource};
use policy::{MeshSnapshot, PlanOptions};
use tokio::sync::watch;
use xds::{GenerateOptions, ResourceSet, SharedResources};

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
    /// Resources from the declarative folder (or, later, the store).
    resources: Vec<Resource>,
    /// Dataplanes registered by connected proxies, by proxy id.
    connected: BTreeMap<String, Resource>,
    /// Per mesh: the snapshot and the Envoy clusters already encoded from it.
    snapshots: HashMap<String, (Arc<MeshSnapshot>, Arc<SharedResources>)>,
}

/// Shared by the ADS server, the resource loader and (later) the API.
pub struct ControlPlane {
    pub metrics: crate::metrics::Metrics,
    state: RwLock<State>,
    generation: watch::Sender<u64>,
    status: Mutex<BTreeMap<String, ProxyStatus>>,
}

impl ControlPlane {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            metrics: crate::metrics::Metrics::default(),
            state: RwLock::new(State::default()),
            generation: watch::channel(0).0,
            status: Mutex::new(BTreeMap::new()),
        })
    }

    /// Replaces the served resources.
    pub fn replace_resources(&self, resources: Vec<Resource>) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.resources = resources;
        rebuild(&mut state);
        drop(state);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Registers the Dataplane a proxy sent in its node metadata (as kuma-dp does on Universal).
    pub fn connect_dataplane(&self, proxy_id: &str, dataplane: Resource) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if state.connected.get(proxy_id) == Some(&dataplane) {
            return;
        }
        state.connected.insert(proxy_id.to_owned(), dataplane);
        rebuild(&mut state);
        drop(state);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Forgets a proxy's registered Dataplane when its stream ends.
    pub fn disconnect(&self, proxy_id: &str) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let removed = state.connected.remove(proxy_id).is_some();
        if removed {
            rebuild(&mut state);
        }
        drop(state);
        if removed {
            self.generation.send_modify(|g| *g += 1);
        }
        self.update_status(proxy_id, |s| s.connected = false);
    }

    /// Whether resources were loaded at least once.
    pub fn is_ready(&self) -> bool {
        *self.generation.borrow() > 0
    }

    /// A receiver that sees every generation change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// The resources of proxy `mesh`/`name` now, with every warning about them.
    pub fn resources_for(
        &self,
        mesh: &str,
        name: &str,
        options: GenerateOptions,
    ) -> Result<(ResourceSet, Vec<String>), String> {
        let (snapshot, shared) = self
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .snapshots
            .get(mesh)
            .cloned()
            .ok_or_else(|| format!("no mesh {mesh:?}"))?;
        let started = std::time::Instant::now();
        let plan = policy::plan_proxy(&snapshot, name, PlanOptions::default()).map_err(|e| e.to_string())?;
        let set = xds::generate_shared(&plan, options, Some(&shared)).map_err(|e| e.to_string())?;
        self.metrics.regenerated(started.elapsed());
        let warnings = plan.warnings.iter().chain(&set.warnings).cloned().collect();
        Ok((set, warnings))
    }

    pub fn snapshot(&self, mesh: &str) -> Option<Arc<MeshSnapshot>> {
        self.state.read().unwrap_or_else(PoisonError::into_inner).snapshots.get(mesh).map(|(s, _)| s.clone())
    }

    pub fn update_status(&self, proxy_id: &str, change: impl FnOnce(&mut ProxyStatus)) {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        change(status.entry(proxy_id.to_owned()).or_default());
    }

    pub fn status(&self, proxy_id: &str) -> Option<ProxyStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).get(proxy_id).cloned()
    }
}

/// Rebuilds every mesh's snapshot from the served and the registered resources.
fn rebuild(state: &mut State) {
    let mut all: Vec<Resource> = state.resources.clone();
    for dp in state.connected.values() {
        all.retain(|r| !(r.kind() == Kind::Dataplane && r.meta.mesh == dp.meta.mesh && r.meta.name == dp.meta.name));
        all.push(dp.clone());
    }
    let mut meshes: Vec<String> =
        all.iter().map(|r| if r.kind() == Kind::Mesh { r.meta.name.clone() } else { r.meta.mesh.clone() }).collect();
    meshes.sort();
    meshes.dedup();
    state.snapshots = meshes
        .into_iter()
        .map(|m| {
            let snapshot = Arc::new(MeshSnapshot::build(&m, all.iter().cloned()));
            (m, (snapshot, Arc::new(SharedResources::new())))
        })
        .collect();
}
