//! What several control planes on one store agree on: who is alive, who leads, and writes that only the
//! leader may make (fenced by the lease term, so a leader that lost its lease cannot act any more).
//!
//! One control plane on its own store (memory, SQLite) is always the only live instance and the leader:
//! [`Alone`].

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use model::Resource;

use crate::{Expect, Key, Store, StoreError, Stored};

/// Proof of leadership: the lease term an instance won. A fenced write checks it is still current.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub instance: String,
    pub term: u64,
}

#[async_trait]
pub trait Coordination: Send + Sync {
    /// Records that `instance` is alive, and takes or renews the leader lease for `ttl` if it is free or
    /// already ours. Returns the fence while `instance` leads.
    async fn heartbeat(&self, instance: &str, ttl: Duration) -> Result<Option<Fence>, StoreError>;
    /// Instances whose last heartbeat is within `within`.
    async fn live_instances(&self, within: Duration) -> Result<BTreeSet<String>, StoreError>;
    /// `put`, only if `fence` still holds the lease.
    async fn put_fenced(&self, resource: Resource, expect: Expect, fence: &Fence) -> Result<Stored, StoreError>;
    /// `delete`, only if `fence` still holds the lease.
    async fn delete_fenced(&self, key: &Key, version: Option<u64>, fence: &Fence) -> Result<(), StoreError>;
}

/// One control plane on a store of its own: it alone is alive and leads.
pub struct Alone<S> {
    pub store: S,
}

#[async_trait]
impl<S: std::ops::Deref<Target = dyn Store> + Send + Sync> Coordination for Alone<S> {
    async fn heartbeat(&self, instance: &str, _ttl: Duration) -> Result<Option<Fence>, StoreError> {
        Ok(Some(Fence { instance: instance.to_owned(), term: 1 }))
    }

    async fn live_instances(&self, _within: Duration) -> Result<BTreeSet<String>, StoreError> {
        Ok(BTreeSet::new())
    }

    async fn put_fenced(&self, resource: Resource, expect: Expect, _fence: &Fence) -> Result<Stored, StoreError> {
        self.store.put(resource, expect).await
    }

    async fn delete_fenced(&self, key: &Key, version: Option<u64>, _fence: &Fence) -> Result<(), StoreError> {
        self.store.delete(key, version).await
    }
}
