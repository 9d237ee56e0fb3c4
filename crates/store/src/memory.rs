//! An in-memory store, for tests and the declarative mode.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use model::{Kind, Resource};
use tokio::sync::broadcast;

use crate::{Change, ChangeOp, Expect, Key, Store, StoreError, Stored, conflict, decode, encode, time, written};

struct Row {
    body: String,
    version: u64,
    created: String,
    modified: String,
}

pub struct MemoryStore {
    rows: Mutex<BTreeMap<Key, Row>>,
    changes: broadcast::Sender<Change>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self { rows: Mutex::new(BTreeMap::new()), changes: broadcast::channel(1024).0 }
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, Row>> {
        self.rows.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &Key) -> Result<Option<Stored>, StoreError> {
        let rows = self.rows();
        rows.get(key).map(|r| decode(&r.body, r.version, r.created.clone(), r.modified.clone())).transpose()
    }

    async fn list(&self, kind: Kind, mesh: Option<&str>) -> Result<Vec<Stored>, StoreError> {
        let rows = self.rows();
        rows.iter()
            .filter(|(k, _)| k.kind == kind && mesh.is_none_or(|m| k.mesh == m))
            .map(|(_, r)| decode(&r.body, r.version, r.created.clone(), r.modified.clone()))
            .collect()
    }

    async fn put(&self, resource: Resource, expect: Expect) -> Result<Stored, StoreError> {
        let key = Key::of(&resource);
        let body = encode(&resource);
        let now = time::now_rfc3339();
        let stored = {
            let mut rows = self.rows();
            let (version, created) = match (rows.get(&key), expect) {
                (Some(_), Expect::Absent) => return Err(conflict(&key, "already exists")),
                (None, Expect::Version(_)) => return Err(StoreError::NotFound(key.kind, key.mesh, key.name)),
                (Some(r), Expect::Version(v)) if r.version != v => {
                    return Err(conflict(&key, &format!("stored version is {}, not {v}", r.version)));
                }
                (Some(r), _) => (r.version + 1, r.created.clone()),
                (None, _) => (1, now.clone()),
            };
            rows.insert(key.clone(), Row { body, version, created: created.clone(), modified: now.clone() });
            written(resource, version, created, now)
        };
        let _ = self.changes.send(Change { key, op: ChangeOp::Upsert, version: stored.version, revision: None });
        Ok(stored)
    }

    async fn delete(&self, key: &Key, version: Option<u64>) -> Result<(), StoreError> {
        let removed = {
            let mut rows = self.rows();
            match rows.get(key) {
                None => return Err(StoreError::NotFound(key.kind, key.mesh.clone(), key.name.clone())),
                Some(r) if version.is_some_and(|v| v != r.version) => {
                    return Err(conflict(key, &format!("stored version is {}", r.version)));
                }
                Some(_) => rows.remove(key).map(|r| r.version).unwrap_or_default(),
            }
        };
        let _ = self.changes.send(Change { key: key.clone(), op: ChangeOp::Delete, version: removed, revision: None });
        Ok(())
    }

    fn watch(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}
