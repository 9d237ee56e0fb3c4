//! A `Store` that times every operation into the control plane's metrics (Kuma's `store` histogram, by
//! operation and resource type) and counts conflicts (`store_conflicts`).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use model::{Kind, Resource};
use store::{Change, Expect, Key, Store, StoreError, Stored};
use tokio::sync::broadcast;

use crate::metrics::Metrics;

pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    fn record<T>(&self, operation: &'static str, kind: Kind, started: Instant, result: &Result<T, StoreError>) {
        self.metrics.store_operation(operation, kind.wire_name(), started.elapsed());
        if matches!(result, Err(StoreError::Conflict { .. })) {
            self.metrics.store_conflict(kind.wire_name());
        }
    }
}

#[async_trait]
impl Store for MeteredStore {
    async fn get(&self, key: &Key) -> Result<Option<Stored>, StoreError> {
        let started = Instant::now();
        let result = self.inner.get(key).await;
        self.record("get", key.kind, started, &result);
        result
    }

    async fn list(&self, kind: Kind, mesh: Option<&str>) -> Result<Vec<Stored>, StoreError> {
        let started = Instant::now();
        let result = self.inner.list(kind, mesh).await;
        self.record("list", kind, started, &result);
        result
    }

    async fn put(&self, resource: Resource, expect: Expect) -> Result<Stored, StoreError> {
        let kind = resource.kind();
        let operation = match expect {
            Expect::Absent => "create",
            Expect::Any | Expect::Version(_) => "update",
        };
        let started = Instant::now();
        let result = self.inner.put(resource, expect).await;
        self.record(operation, kind, started, &result);
        result
    }

    async fn delete(&self, key: &Key, version: Option<u64>) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.delete(key, version).await;
        self.record("delete", key.kind, started, &result);
        result
    }

    fn watch(&self) -> broadcast::Receiver<Change> {
        self.inner.watch()
    }

    async fn revision(&self) -> Result<Option<u64>, StoreError> {
        self.inner.revision().await
    }
}
