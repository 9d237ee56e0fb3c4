//! Where meshroute keeps resources: a `Store` trait with versioned, optimistic-concurrency writes and a
//! change feed, and its memory (tests), SQLite (the embedded default) and PostgreSQL (several control
//! planes) implementations, with the coordination several instances need (leases, fencing).
//!
//! ```text
//!  put(resource, Expect) ──► version check ──► write ──► Change{kind, mesh, name, op, version} ─► watchers
//!  get / list ◄── stored resources with version, creation and modification times
//! ```
//!
//! Resources are stored in their canonical Universal JSON; what is read back parses to the same resource.

pub mod coordination;
pub mod memory;
pub mod postgres;
pub mod sqlite;
mod time;

use async_trait::async_trait;
use model::{Kind, Resource};
use tokio::sync::broadcast;

pub use coordination::{Alone, Coordination, Fence};
pub use memory::MemoryStore;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Identifies a resource: kind, mesh (empty for Mesh) and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub kind: Kind,
    pub mesh: String,
    pub name: String,
}

impl Key {
    pub fn of(resource: &Resource) -> Self {
        Self { kind: resource.kind(), mesh: resource.meta.mesh.clone(), name: resource.meta.name.clone() }
    }
}

/// A resource as stored: its version counts its writes; times are RFC 3339 UTC.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    pub resource: Resource,
    pub version: u64,
    pub creation_time: String,
    pub modification_time: String,
}

/// What a write expects to find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Create or replace, whatever is there.
    Any,
    /// Create: nothing of that key may exist.
    Absent,
    /// Update: the stored version must be this one.
    Version(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeOp {
    Upsert,
    Delete,
}

/// One committed change, for the reconcile loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub key: Key,
    pub op: ChangeOp,
    pub version: u64,
    /// The store revision this change made (see [`Store::revision`]), for stores that have one.
    pub revision: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0:?} {1}/{2} not found")]
    NotFound(Kind, String, String),
    /// The stored version is not the expected one (or the resource exists on create): HTTP 409.
    #[error("{kind:?} {mesh}/{name}: {reason}")]
    Conflict { kind: Kind, mesh: String, name: String, reason: String },
    #[error("storage failed: {0}")]
    Backend(String),
    /// The store cannot be reached now (HTTP 503); what it holds is not lost.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// A leader-only write by an instance that no longer holds the lease.
    #[error("fenced: {0}")]
    Fenced(String),
    #[error("stored resource is unreadable: {0}")]
    Corrupt(String),
}

#[async_trait]
pub trait Store: Send + Sync {
    async fn get(&self, key: &Key) -> Result<Option<Stored>, StoreError>;
    /// Resources of a kind, in one mesh or all, ordered by mesh then name.
    async fn list(&self, kind: Kind, mesh: Option<&str>) -> Result<Vec<Stored>, StoreError>;
    /// Writes a resource if `expect` holds; returns what is now stored.
    async fn put(&self, resource: Resource, expect: Expect) -> Result<Stored, StoreError>;
    /// Deletes a resource, at `version` if given.
    async fn delete(&self, key: &Key, version: Option<u64>) -> Result<(), StoreError>;
    /// Every change committed from now on.
    fn watch(&self) -> broadcast::Receiver<Change>;
    /// A number that moves whenever anything stored changes, for stores shared with other instances whose
    /// change feed can miss events (a dropped notification connection); `None` when `watch` sees all.
    async fn revision(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
}

/// The canonical stored form of a resource.
fn encode(resource: &Resource) -> String {
    let mut value = model::to_universal(resource);
    if let Some(o) = value.as_object_mut() {
        o.remove("creationTime");
        o.remove("modificationTime");
    }
    value.to_string()
}

/// What a put returns: the resource it was given with the stored times. Parsing what was just encoded
/// would give the same resource again (the model's write → parse identity), at the cost of a parse.
fn written(mut resource: Resource, version: u64, created: String, modified: String) -> Stored {
    resource.meta.creation_time = Some(created.clone());
    resource.meta.modification_time = Some(modified.clone());
    Stored { resource, version, creation_time: created, modification_time: modified }
}

fn decode(body: &str, version: u64, created: String, modified: String) -> Result<Stored, StoreError> {
    let docs = model::parse_resources(body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut resource = docs
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::Corrupt("empty".into()))?
        .map_err(|e| StoreError::Corrupt(e.to_string()))?
        .resource;
    resource.meta.creation_time = Some(created.clone());
    resource.meta.modification_time = Some(modified.clone());
    Ok(Stored { resource, version, creation_time: created, modification_time: modified })
}

fn conflict(key: &Key, reason: &str) -> StoreError {
    StoreError::Conflict { kind: key.kind, mesh: key.mesh.clone(), name: key.name.clone(), reason: reason.to_owned() }
}
