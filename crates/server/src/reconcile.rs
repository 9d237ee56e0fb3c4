//! Keeps the control plane in step with the store: a full load at start, then a reload after each burst
//! of changes from the store's change feed, and whenever the store's revision moves without one (a
//! shared store whose notifications were missed). A failed read keeps the last good resources and marks
//! the store unavailable until a read succeeds again. Unchanged proxies are not re-pushed: each ADS
//! stream compares the resources it computes with what it sent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use model::{Kind, Resource};
use store::{Store, StoreError};
use tokio::sync::broadcast::error::RecvError;

use crate::ControlPlane;
use crate::control::Registration;
use crate::leader::REGISTERED_BY;

/// How often the store's revision is checked (and, while it is unavailable, a reload retried).
pub const POLL: Duration = Duration::from_secs(1);

/// Every resource of the store.
pub async fn load_all(store: &dyn Store) -> Result<Vec<Resource>, StoreError> {
    let mut all = Vec::new();
    for kind in Kind::ALL {
        all.extend(store.list(*kind, None).await?.into_iter().map(|s| s.resource));
    }
    Ok(all)
}

/// Loads the store into the control plane now, after every change, and on every revision move.
pub async fn run(store: Arc<dyn Store>, control: Arc<ControlPlane>) {
    let mut changes = store.watch();
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The revision the loaded resources are at; None before the first load (or for stores without one).
    let mut loaded: Option<u64> = None;
    let mut stale = true;
    loop {
        if stale {
            // Read the revision first: a write landing during the load moves it again, and is loaded next.
            let revision = store.revision().await;
            match load_all(store.as_ref()).await {
                Ok(resources) => {
                    control.replace_resources(resources);
                    if !control.metrics.store_available() {
                        tracing::info!("the store is back; resources reloaded");
                    }
                    control.metrics.set_store_available(true);
                    loaded = revision.ok().flatten();
                    stale = false;
                }
                Err(e) => {
                    if control.metrics.store_available() {
                        tracing::error!("the store is unavailable, serving the last good resources: {e}");
                    }
                    control.metrics.set_store_available(false);
                }
            }
        }
        tokio::select! {
            change = changes.recv() => match change {
                Ok(_) | Err(RecvError::Lagged(_)) => {
                    // Let a burst of writes land, then load once.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    while changes.try_recv().is_ok() {}
                    stale = true;
                }
                Err(RecvError::Closed) => return,
            },
            _ = poll.tick() => match store.revision().await {
                Ok(Some(revision)) if loaded != Some(revision) => stale = true,
                Ok(_) => {}
                Err(_) => {
                    control.metrics.set_store_available(false);
                    stale = true;
                }
            },
        }
    }
}

/// Records in the store the Dataplanes proxies register when they connect, labelled with this instance,
/// so the API lists them; removes them when their proxy goes (Kuma's Universal dataplane lifecycle). A
/// Dataplane that was in the store without that label (applied by a user) keeps its labels and stays.
///
/// Writes that fail (the store is unavailable) are retried every [`POLL`]; every [`REASSERT`] each
/// connected proxy's Dataplane is checked and written back if it went missing; once, [`OWN_GRACE`] after
/// start, Dataplanes labelled with this instance whose proxies did not come back are removed (the
/// instance restarted under the same id). If this instance dies, the leader removes what it registered.
pub async fn register(store: Arc<dyn Store>, control: Arc<ControlPlane>, instance: String) {
    let mut registrations = control.registrations();
    let started = tokio::time::Instant::now();
    let mut pending: BTreeMap<store::Key, Registration> = BTreeMap::new();
    let mut retry = tokio::time::interval(POLL);
    let mut reassert = tokio::time::interval_at(started + REASSERT, REASSERT);
    let mut swept_own = false;
    loop {
        tokio::select! {
            next = registrations.recv() => {
                let Some(registration) = next else { return };
                let key = registration.key();
                pending.remove(&key);
                if let Err(e) = record(store.as_ref(), &instance, &registration).await {
                    tracing::warn!("could not record {}/{} in the store, will retry: {e}", key.mesh, key.name);
                    pending.insert(key, registration);
                }
            }
            _ = retry.tick() => {
                for (key, registration) in std::mem::take(&mut pending) {
                    if record(store.as_ref(), &instance, &registration).await.is_err() {
                        pending.insert(key, registration);
                    }
                }
                if !swept_own && started.elapsed() >= OWN_GRACE {
                    swept_own = sweep_own(store.as_ref(), &control, &instance).await.is_ok();
                }
            }
            _ = reassert.tick() => {
                for dp in control.connected_dataplanes() {
                    let registration = Registration::Connected(dp);
                    if record(store.as_ref(), &instance, &registration).await.is_err() {
                        pending.insert(registration.key(), registration);
                    }
                }
            }
        }
    }
}

/// How often connected proxies' Dataplanes are checked in the store.
pub const REASSERT: Duration = Duration::from_secs(30);
/// How long after start proxies have to reconnect before their registrations by this instance are removed.
pub const OWN_GRACE: Duration = Duration::from_secs(30);

/// Removes Dataplanes labelled with this instance whose proxies are not connected to it.
async fn sweep_own(store: &dyn Store, control: &ControlPlane, instance: &str) -> Result<(), StoreError> {
    let connected: std::collections::BTreeSet<store::Key> =
        control.connected_dataplanes().iter().map(store::Key::of).collect();
    for stored in store.list(Kind::Dataplane, None).await? {
        let key = store::Key::of(&stored.resource);
        if stored.resource.label(REGISTERED_BY) == Some(instance) && !connected.contains(&key) {
            match store.delete(&key, Some(stored.version)).await {
                Ok(()) | Err(StoreError::NotFound(..) | StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

async fn record(store: &dyn Store, instance: &str, registration: &Registration) -> Result<(), StoreError> {
    match registration {
        Registration::Connected(dp) => connected(store, instance, dp.clone()).await,
        Registration::Disconnected(dp) => {
            let key = store::Key::of(dp);
            match store.get(&key).await? {
                Some(stored) if stored.resource.label(REGISTERED_BY) == Some(instance) => {
                    match store.delete(&key, Some(stored.version)).await {
                        Ok(()) | Err(StoreError::NotFound(..) | StoreError::Conflict { .. }) => Ok(()),
                        Err(e) => Err(e),
                    }
                }
                _ => Ok(()),
            }
        }
    }
}

async fn connected(store: &dyn Store, instance: &str, mut dp: Resource) -> Result<(), StoreError> {
    let key = store::Key::of(&dp);
    let existing = store.get(&key).await?;
    let user_owned = existing.as_ref().is_some_and(|s| s.resource.label(REGISTERED_BY).is_none());
    if user_owned {
        if let Some(s) = &existing {
            dp.meta.labels.clone_from(&s.resource.meta.labels);
        }
    } else {
        dp.meta.labels.insert(REGISTERED_BY.to_owned(), instance.to_owned());
    }
    let unchanged =
        existing.as_ref().is_some_and(|s| s.resource.spec == dp.spec && s.resource.meta.labels == dp.meta.labels);
    if unchanged {
        return Ok(());
    }
    store.put(dp, existing.map_or(store::Expect::Absent, |s| store::Expect::Version(s.version))).await.map(|_| ())
}
