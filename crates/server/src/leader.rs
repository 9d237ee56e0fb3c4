//! The work only one control plane may do, and the lease that decides which one.
//!
//! Every second each instance heartbeats and takes or renews the leader lease (5 s, as Kuma). The leader
//! then creates the `default` mesh if it is missing, and removes Dataplanes that proxies registered
//! through instances that are gone (no heartbeat for [`INSTANCE_TIMEOUT`]). Each of those writes is fenced
//! by the lease term, so an instance that lost the lease without noticing cannot act. The `leader` gauge
//! says which instance leads.

use std::sync::Arc;
use std::time::Duration;

use model::Kind;
use store::{Coordination, Expect, Fence, Key, Store, StoreError};

use crate::ControlPlane;
use crate::tokens::keys::KeySet;

/// The (Global)Secret holding a signing key of `set` with `serial`.
pub fn signing_key_secret(set: &KeySet, serial: u32, pem: &[u8]) -> model::Resource {
    let spec = model::kinds::secret::SecretSpec::from_bytes(pem);
    let spec = match set {
        KeySet::Dataplane { .. } => model::Spec::Secret(spec),
        KeySet::User => model::Spec::GlobalSecret(model::kinds::secret::GlobalSecretSpec(spec)),
    };
    model::Resource::new(
        model::Meta { name: set.key_name(serial), mesh: set.mesh().to_owned(), ..model::Meta::default() },
        spec,
    )
}

/// How long the leader lease lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(5);
/// How often instances heartbeat and the leader renews.
pub const TICK: Duration = Duration::from_secs(1);
/// An instance without a heartbeat this long is gone; its proxies' registrations are removed.
pub const INSTANCE_TIMEOUT: Duration = Duration::from_secs(15);
/// The label on a Dataplane a proxy registered: which instance it is connected to.
pub const REGISTERED_BY: &str = "meshroute.io/registered-by";

pub struct Leader {
    pub coordination: Arc<dyn Coordination>,
    pub store: Arc<dyn Store>,
    pub control: Arc<ControlPlane>,
    pub instance: String,
    /// Since when this instance has led without a break (a failed or lost heartbeat resets it).
    pub leading_since: std::sync::Mutex<Option<std::time::Instant>>,
}

/// A name for this process among the instances: host, pid and a random suffix.
pub fn instance_id() -> String {
    use std::io::Read;
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    let mut random = [0u8; 3];
    let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut random));
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let host = if host.is_empty() { "meshroute".to_owned() } else { host };
    format!("{host}-{}-{suffix}", std::process::id())
}

impl Leader {
    /// The leader of a control plane alone on its store (memory, SQLite).
    pub fn alone(store: Arc<dyn Store>, control: Arc<ControlPlane>, instance: String) -> Self {
        Self::new(Arc::new(store::Alone { store: store.clone() }), store, control, instance)
    }

    pub fn new(
        coordination: Arc<dyn Coordination>,
        store: Arc<dyn Store>,
        control: Arc<ControlPlane>,
        instance: String,
    ) -> Self {
        Self { coordination, store, control, instance, leading_since: std::sync::Mutex::new(None) }
    }

    /// Heartbeats, and does the leader's work if this instance leads.
    pub async fn tick(&self) -> Result<bool, StoreError> {
        let fence = match self.coordination.heartbeat(&self.instance, LEASE).await {
            Ok(f) => f,
            Err(e) => {
                // Without the database this instance cannot prove it leads, so it does not.
                self.control.metrics.set_leader(false);
                *self.leading_since.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                return Err(e);
            }
        };
        self.control.metrics.set_leader(fence.is_some());
        let since = {
            let mut since = self.leading_since.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *since = fence.as_ref().map(|_| since.unwrap_or_else(std::time::Instant::now));
            *since
        };
        let Some(fence) = fence else { return Ok(false) };
        self.ensure_default_mesh(&fence).await?;
        self.ensure_signing_keys(&fence).await?;
        // Only judge other instances gone once they had INSTANCE_TIMEOUT to heartbeat to this leader: after
        // an outage of the database, every heartbeat is old, yet the instances are alive.
        if since.is_some_and(|s| s.elapsed() >= INSTANCE_TIMEOUT) {
            self.remove_gone_registrations(&fence).await?;
        }
        Ok(true)
    }

    /// Ticks forever.
    pub async fn run(self) {
        let mut was_leader = None;
        loop {
            match self.tick().await {
                Ok(leads) if was_leader != Some(leads) => {
                    tracing::info!(instance = %self.instance, "{}", if leads { "leading" } else { "following" });
                    was_leader = Some(leads);
                }
                Ok(_) => {}
                Err(e) => {
                    if was_leader != Some(false) {
                        tracing::warn!(instance = %self.instance, "not leading: {e}");
                    }
                    was_leader = Some(false);
                }
            }
            tokio::time::sleep(TICK).await;
        }
    }

    async fn ensure_default_mesh(&self, fence: &Fence) -> Result<(), StoreError> {
        let name = model::resource::DEFAULT_MESH;
        let key = Key { kind: Kind::Mesh, mesh: String::new(), name: name.to_owned() };
        if self.store.get(&key).await?.is_some() {
            return Ok(());
        }
        let mesh = model::Resource::new(
            model::Meta { name: name.to_owned(), ..model::Meta::default() },
            model::Spec::Mesh(model::kinds::mesh::MeshSpec::default()),
        );
        match self.coordination.put_fenced(mesh, Expect::Absent, fence).await {
            Ok(_) => {
                tracing::info!("default Mesh created");
                Ok(())
            }
            Err(StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every mesh gets a dataplane-token signing key, and the control plane one user-token signing key,
    /// the first time the leader sees them without one (Kuma makes them with the mesh).
    async fn ensure_signing_keys(&self, fence: &Fence) -> Result<(), StoreError> {
        let mut sets = vec![KeySet::User];
        sets.extend(
            self.store
                .list(Kind::Mesh, None)
                .await?
                .into_iter()
                .map(|m| KeySet::Dataplane { mesh: m.resource.meta.name }),
        );
        let mut existing = self.store.list(Kind::Secret, None).await?;
        existing.extend(self.store.list(Kind::GlobalSecret, None).await?);
        for set in sets {
            let has_key = existing.iter().any(|s| {
                s.resource.kind() == set.kind()
                    && s.resource.meta.mesh == set.mesh()
                    && set.serial_of(&s.resource.meta.name).is_some()
            });
            if has_key {
                continue;
            }
            let pem = tokio::task::spawn_blocking(crate::tokens::keys::new_signing_key)
                .await
                .map_err(|e| StoreError::Backend(e.to_string()))?
                .map_err(StoreError::Backend)?;
            let secret = signing_key_secret(&set, crate::tokens::keys::FIRST_SERIAL, &pem);
            match self.coordination.put_fenced(secret, Expect::Absent, fence).await {
                Ok(_) => tracing::info!("signing key {} created", set.key_name(crate::tokens::keys::FIRST_SERIAL)),
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn remove_gone_registrations(&self, fence: &Fence) -> Result<(), StoreError> {
        let mut live = self.coordination.live_instances(INSTANCE_TIMEOUT).await?;
        live.insert(self.instance.clone());
        for stored in self.store.list(Kind::Dataplane, None).await? {
            let Some(owner) = stored.resource.label(REGISTERED_BY) else { continue };
            if live.contains(owner) {
                continue;
            }
            let key = Key::of(&stored.resource);
            match self.coordination.delete_fenced(&key, Some(stored.version), fence).await {
                Ok(()) => tracing::info!(
                    "removed Dataplane {}/{}: its proxy's control plane {owner} is gone",
                    key.mesh,
                    key.name
                ),
                Err(StoreError::NotFound(..) | StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
