//! Keeps the control plane in step with the store: a full load at start, then, for each burst of changes
//! from the store's change feed, only the changed resources are read again. A shared store's changes
//! carry its revision; when the revision polled every [`POLL`] is ahead of what the feed delivered and
//! stays ahead for a whole poll (a notification was lost), everything is loaded again, as after the feed
//! lagged. A failed read keeps the last good resources and marks the store unavailable until a read
//! succeeds again. Unchanged proxies are not re-pushed: each ADS stream compares the resources it computes
//! with what it sent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use model::{Kind, Resource};
use store::{Change, ChangeOp, Store, StoreError};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::ControlPlane;
use crate::control::{Incoming, Registration};
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

/// Which store revisions the control plane has applied: all up to `through`, and some after it.
#[derive(Default)]
struct Applied {
    through: u64,
    after: BTreeSet<u64>,
}

impl Applied {
    fn reset(&mut self, through: u64) {
        self.through = through;
        self.after.clear();
    }

    fn record(&mut self, revision: u64) {
        if revision > self.through {
            self.after.insert(revision);
        }
        while self.after.remove(&(self.through + 1)) {
            self.through += 1;
        }
    }
}

/// Loads the store into the control plane now, then follows its changes.
pub async fn run(store: Arc<dyn Store>, control: Arc<ControlPlane>) {
    let mut changes = store.watch();
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut applied = Applied::default();
    // A revision the feed had not delivered at the last poll; still missing at the next, it was lost.
    let mut awaited: Option<u64> = None;
    let mut reload = true;
    loop {
        if reload {
            // Read the revision first: a write landing during the load is delivered again by the feed.
            let revision = store.revision().await;
            match load_all(store.as_ref()).await {
                Ok(resources) => {
                    control.replace_resources(resources);
                    available(&control);
                    applied.reset(revision.ok().flatten().unwrap_or(0));
                    awaited = None;
                    reload = false;
                }
                Err(e) => unavailable(&control, &e),
            }
        }
        tokio::select! {
            change = changes.recv() => match change {
                Ok(first) => {
                    // Let a burst of writes land, then read each changed resource once.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let mut burst = vec![first];
                    loop {
                        match changes.try_recv() {
                            Ok(c) => burst.push(c),
                            Err(TryRecvError::Lagged(_)) => reload = true,
                            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                        }
                    }
                    if !reload {
                        reload = !apply(store.as_ref(), &control, &burst).await;
                    }
                    burst.iter().filter_map(|c| c.revision).for_each(|r| applied.record(r));
                }
                Err(RecvError::Lagged(_)) => reload = true,
                Err(RecvError::Closed) => return,
            },
            _ = poll.tick() => match store.revision().await {
                Ok(Some(revision)) if revision > applied.through => {
                    reload = awaited.is_some_and(|a| a > applied.through);
                    awaited = if reload { None } else { Some(revision) };
                    if reload {
                        tracing::warn!("missed changes up to store revision {revision}: reloading everything");
                    }
                }
                Ok(_) => {
                    awaited = None;
                    if !control.metrics.store_available() {
                        reload = true;
                    }
                }
                Err(e) => {
                    unavailable(&control, &e);
                    reload = true;
                }
            },
        }
    }
}

fn available(control: &ControlPlane) {
    if !control.metrics.store_available() {
        tracing::info!("the store is back; resources reloaded");
    }
    control.metrics.set_store_available(true);
}

/// Marks the store unavailable, saying so once per outage.
fn unavailable(control: &ControlPlane, e: &StoreError) {
    if control.metrics.store_available() {
        tracing::error!("the store is unavailable, serving the last good resources: {e}");
    }
    control.metrics.set_store_available(false);
}

/// Applies the changed resources: what this instance's API wrote as is, the rest read again from the
/// store; false when the store could not be read.
async fn apply(store: &dyn Store, control: &ControlPlane, burst: &[Change]) -> bool {
    // The last change of each key says what it is now.
    let last: BTreeMap<&store::Key, &Change> = burst.iter().map(|c| (&c.key, c)).collect();
    let mut updates = Vec::with_capacity(last.len());
    for (key, change) in last {
        let written = control.written.take(key, change.version);
        if let (ChangeOp::Upsert, Some(valid)) = (change.op, written) {
            updates.push((key.clone(), Some(Incoming::Valid(valid))));
            continue;
        }
        match store.get(key).await {
            Ok(stored) => updates.push((key.clone(), stored.map(|s| Incoming::Read(Box::new(s.resource))))),
            Err(e) => {
                unavailable(control, &e);
                return false;
            }
        }
    }
    control.apply_changes(updates);
    true
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
