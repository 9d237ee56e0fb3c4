//! The registration outbox: Dataplanes that proxies brought or took away, for the store writer
//! (`reconcile::register`) to record.

use std::sync::{Mutex, PoisonError};

use model::Resource;
use tokio::sync::mpsc;

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

#[derive(Default)]
pub struct Outbox(Mutex<Option<mpsc::UnboundedSender<Registration>>>);

impl Outbox {
    /// Where registrations go from now on (the last caller's receiver gets them).
    pub fn receiver(&self) -> mpsc::UnboundedReceiver<Registration> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx);
        rx
    }

    /// Sends a registration; without a receiver (declarative mode) it is dropped.
    pub fn send(&self, registration: Registration) {
        if let Some(tx) = self.0.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            let _ = tx.send(registration);
        }
    }
}
