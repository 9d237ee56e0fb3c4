//! The control plane shared by the ADS server, the store reconciler and the API. It composes five
//! single-purpose pieces, each with its own lock:
//!
//! ```text
//!  API writes ───────────► Written (validated resources, until the feed reports them)
//!  store feed / folder ─► Served (resources per mesh, validated once; snapshots of touched meshes)
//!  ADS connect/disconnect ─┘   │ MeshChange (mesh, old/new snapshot, changed names)
//!                              ▼
//!                          Wakeups (per-proxy generations; policy::impact decides whom to wake)
//!  ADS verdicts ─────────► XdsStatus (connected, ACKed versions, last NACK)
//!  registrations ────────► Outbox ─► reconcile::register writes them to the store
//! ```

use std::sync::{Arc, PoisonError, RwLock};

use model::{Kind, Resource, Valid};
use policy::warning::Warning;
use policy::{MeshSnapshot, PlanOptions};
use tokio::sync::{mpsc, watch};
use xds::ResourceSet;

use crate::outbox::Outbox;
pub use crate::outbox::Registration;
use crate::proxy_id::ProxyId;
pub use crate::served::Incoming;
use crate::served::{MeshChange, Served};
use crate::status::XdsStatus;
pub use crate::status::{Nack, ProxyStatus};
use crate::wakeups::Wakeups;
use crate::written::Written;

/// Why a proxy has no resources.
#[derive(Debug, thiserror::Error)]
pub enum ResourcesError {
    #[error("no mesh {0:?}")]
    NoMesh(String),
    #[error(transparent)]
    Plan(#[from] policy::PlanError),
    #[error("cannot encode Envoy resources: {0}")]
    Encode(#[from] xds::CanonicalError),
}

/// How proxies prove who they are, at `/bootstrap` and on ADS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DpAuth {
    /// A dataplane token for the Dataplane the proxy claims (the default).
    Tokens,
    /// Nobody is checked: for local development (`--dp-auth none`) and tests.
    None,
}

/// Why a proxy's stream is refused after its token was accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "Dataplane {mesh}/{name} was applied by a user (through the API or files); a proxy may not replace it with a different one: connect without a Dataplane in the node metadata, or send the applied one"
    )]
    UserApplied { mesh: String, name: String },
}

pub struct ControlPlane {
    pub metrics: Arc<crate::metrics::Metrics>,
    served: RwLock<Served>,
    /// Bumped on every load, for readiness.
    loads: watch::Sender<u64>,
    wakeups: Wakeups,
    status: XdsStatus,
    outbox: Outbox,
    /// What this instance's API wrote, validated, for the reconcile loop to serve without a read-back.
    pub written: Written,
    pub dp_auth: DpAuth,
}

impl ControlPlane {
    /// A control plane whose proxies must show dataplane tokens.
    pub fn new() -> Arc<Self> {
        Self::with_dp_auth(DpAuth::Tokens)
    }

    /// A control plane that lets any proxy in: local development and tests only.
    pub fn without_dp_auth() -> Arc<Self> {
        Self::with_dp_auth(DpAuth::None)
    }

    pub fn with_dp_auth(dp_auth: DpAuth) -> Arc<Self> {
        Arc::new(Self {
            dp_auth,
            metrics: Arc::default(),
            served: RwLock::new(Served::default()),
            loads: watch::channel(0).0,
            wakeups: Wakeups::default(),
            status: XdsStatus::default(),
            outbox: Outbox::default(),
            written: Written::default(),
        })
    }

    /// Replaces the served resources (a full load).
    pub fn replace_resources(&self, resources: Vec<Resource>) {
        self.written.clear();
        let changes = self.served.write().unwrap_or_else(PoisonError::into_inner).replace(resources);
        self.loaded(&changes);
    }

    /// Updates some served resources: each key gets its new resource, or goes with None.
    pub fn apply_changes(&self, updates: Vec<(store::Key, Option<Incoming>)>) {
        let changes = self.served.write().unwrap_or_else(PoisonError::into_inner).apply(updates);
        self.loaded(&changes);
    }

    fn loaded(&self, changes: &[MeshChange]) {
        self.wakeups.notify(changes);
        self.loads.send_modify(|g| *g += 1);
    }

    /// A proxy's stream opened, with the Dataplane it sent in its node metadata, if any (kuma-dp sends it
    /// on Universal). A proxy may have several streams (a reconnect overlaps the old one); it stays
    /// registered until the last one ends.
    pub fn connect(&self, proxy: &ProxyId, dataplane: Option<Valid>) -> Result<(), ConnectError> {
        let mut served = self.served.write().unwrap_or_else(PoisonError::into_inner);
        let (registered, changes) = match served.connect(proxy, dataplane.clone()) {
            Ok(c) => c,
            Err(e) => {
                drop(served);
                tracing::warn!(proxy = %proxy, "refused: {e}");
                self.status.update(proxy, |s| s.refused = Some(e.to_string()));
                return Err(e);
            }
        };
        if registered && let Some(dp) = dataplane {
            self.outbox.send(Registration::Connected(Resource::clone(&dp)));
        }
        // Under the served lock, so a concurrent disconnect of an older stream cannot overwrite it.
        self.status.update(proxy, |s| {
            s.connected = true;
            s.refused = None;
        });
        drop(served);
        self.wakeups.notify(&changes);
        Ok(())
    }

    /// Whether the caller holding `token` may be the proxy of `dataplane`. A refusal is counted by reason
    /// (never by anything the caller sent).
    pub fn authenticate_proxy(
        &self,
        token: Option<&str>,
        dataplane: &Resource,
    ) -> Result<(), crate::tokens::AuthError> {
        if self.dp_auth == DpAuth::None {
            return Ok(());
        }
        let result = crate::tokens::dataplane::authenticate(token.unwrap_or_default(), dataplane, self);
        if let Err(e) = &result {
            self.metrics.auth_failure(e.reason());
        }
        result
    }

    /// A proxy's stream ended; with its last stream, its registered Dataplane goes away, and so does
    /// everything kept about the proxy.
    pub fn disconnect(&self, proxy: &ProxyId) {
        let mut served = self.served.write().unwrap_or_else(PoisonError::into_inner);
        let Some((gone, changes)) = served.disconnect(proxy) else { return };
        if let Some(dp) = gone {
            self.outbox.send(Registration::Disconnected(Resource::clone(&dp)));
        }
        self.status.forget(proxy);
        self.wakeups.forget(proxy);
        drop(served);
        self.wakeups.notify(&changes);
    }

    /// The Dataplanes connected proxies registered, for writing them back to the store.
    pub fn connected_dataplanes(&self) -> Vec<Resource> {
        self.served.read().unwrap_or_else(PoisonError::into_inner).registered()
    }

    /// Waits until resources were loaded once: before that, a proxy's plan would be built from nothing.
    pub async fn wait_ready(&self) {
        let mut loads = self.loads.subscribe();
        let _ = loads.wait_for(|g| *g > 0).await;
    }

    /// Where (re)registrations go from now on: the store writer reads them (see `reconcile::register`).
    pub fn registrations(&self) -> mpsc::UnboundedReceiver<Registration> {
        self.outbox.receiver()
    }

    /// Whether resources were loaded at least once.
    pub fn is_ready(&self) -> bool {
        *self.loads.borrow() > 0
    }

    /// A receiver that sees every change that can affect `proxy`.
    pub fn subscribe_proxy(&self, proxy: &ProxyId) -> watch::Receiver<u64> {
        self.wakeups.subscribe(proxy)
    }

    /// The resources of a proxy now, with every warning about them.
    pub fn resources_for(
        &self,
        proxy: &ProxyId,
        options: PlanOptions,
    ) -> Result<(ResourceSet, Vec<Warning>), ResourcesError> {
        let (snapshot, shared) = self
            .served
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .mesh(&proxy.mesh)
            .map(|m| (m.snapshot.clone(), m.shared.clone()))
            .ok_or_else(|| ResourcesError::NoMesh(proxy.mesh.clone()))?;
        let started = std::time::Instant::now();
        let plan = policy::plan_proxy(&snapshot, &proxy.name, options)?;
        let set = xds::generate_shared(&plan, Some(&shared))?;
        self.metrics.regenerated(started.elapsed());
        Ok((set, plan.warnings))
    }

    /// A served resource (from the store or the folder), or a Dataplane a connected proxy registered.
    pub fn served(&self, kind: Kind, mesh: &str, name: &str) -> Option<Resource> {
        self.served.read().unwrap_or_else(PoisonError::into_inner).get(kind, mesh, name).map(|v| Resource::clone(v))
    }

    pub fn snapshot(&self, mesh: &str) -> Option<Arc<MeshSnapshot>> {
        self.served.read().unwrap_or_else(PoisonError::into_inner).mesh(mesh).map(|m| m.snapshot.clone())
    }

    pub fn update_status(&self, proxy: &ProxyId, change: impl FnOnce(&mut ProxyStatus)) {
        self.status.update(proxy, change);
    }

    pub fn status(&self, proxy: &ProxyId) -> Option<ProxyStatus> {
        self.status.get(proxy)
    }
}

impl ControlPlane {
    /// The served signing keys of `set`, as (secret name, bytes).
    pub fn signing_keys(&self, set: &crate::tokens::keys::KeySet) -> Vec<(String, Vec<u8>)> {
        let served = self.served.read().unwrap_or_else(PoisonError::into_inner);
        served
            .secrets(set.kind(), set.mesh())
            .filter(|(name, _)| set.serial_of(name).is_some())
            .filter_map(|(name, valid)| Some((name.to_owned(), secret_bytes(valid)?)))
            .collect()
    }
}

fn secret_bytes(resource: &Resource) -> Option<Vec<u8>> {
    match &resource.spec {
        model::Spec::Secret(s) => s.bytes(),
        model::Spec::GlobalSecret(s) => s.bytes(),
        _ => None,
    }
}

impl crate::tokens::SecretSource for ControlPlane {
    fn secret(&self, kind: Kind, mesh: &str, name: &str) -> Option<Vec<u8>> {
        let served = self.served.read().unwrap_or_else(PoisonError::into_inner);
        secret_bytes(served.get(kind, mesh, name)?)
    }
}
