//! Waking proxies: each proxy id has a generation its ADS streams watch, bumped when a change can affect
//! that proxy (and only then; see `policy::impact`).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use policy::impact::Impact;
use tokio::sync::watch;

use crate::proxy_id::ProxyId;
use crate::served::MeshChange;

#[derive(Default)]
pub struct Wakeups(Mutex<BTreeMap<ProxyId, watch::Sender<u64>>>);

impl Wakeups {
    /// A receiver that sees every change that can affect `proxy`.
    pub fn subscribe(&self, proxy: &ProxyId) -> watch::Receiver<u64> {
        let mut proxies = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        proxies.entry(proxy.clone()).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    /// Drops a proxy's generation once no stream watches it.
    pub fn forget(&self, proxy: &ProxyId) {
        let mut proxies = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if proxies.get(proxy).is_some_and(|g| g.receiver_count() == 0) {
            proxies.remove(proxy);
        }
    }

    /// Wakes the proxies each change can affect, and no other.
    pub fn notify(&self, changes: &[MeshChange]) {
        let proxies = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for change in changes {
            let impact = change.snapshots.as_ref().map(|(old, new)| Impact::new(old, new, &change.changed));
            let of_mesh = proxies.range(ProxyId::first_of(&change.mesh)..).take_while(|(id, _)| id.mesh == change.mesh);
            for (id, generation) in of_mesh {
                if impact.as_ref().is_none_or(|i| i.affects(&id.name)) {
                    generation.send_modify(|g| *g += 1);
                }
            }
        }
    }
}
