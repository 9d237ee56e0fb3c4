//! The store conformance suite: every `Store` implementation passes the same checks.

#![allow(dead_code)] // each test binary uses its part

use std::sync::Arc;

use model::Kind;
use store::{ChangeOp, Expect, Key, Store, StoreError};

pub fn route(name: &str, weight: u32) -> model::Resource {
    let text = format!(
        "type: MeshTCPRoute\nname: {name}\nmesh: default\nlabels: {{n: \"{weight}\"}}\nspec:\n  to:\n  - targetRef: {{kind: MeshService, name: backend}}\n    rules: [{{default: {{backendRefs: [{{kind: MeshService, name: v2, weight: {weight}}}]}}}}]\n"
    );
    model::parse_resources(&text).expect("yaml").remove(0).expect("valid").resource
}

pub fn key(name: &str) -> Key {
    Key { kind: Kind::MeshTcpRoute, mesh: "default".into(), name: name.into() }
}

pub async fn conformance(store: Arc<dyn Store>) {
    let mut changes = store.watch();
    // Create, read back the same resource with version 1 and times.
    let created = store.put(route("a", 90), Expect::Absent).await.expect("create");
    assert_eq!(created.version, 1);
    let read = store.get(&key("a")).await.expect("get").expect("present");
    assert_eq!(read.resource.spec, route("a", 90).spec);
    assert_eq!(read.creation_time, created.creation_time);
    assert_eq!(read.resource, created.resource, "a put returns what a read gives, times included");
    assert!(matches!(store.put(route("a", 1), Expect::Absent).await, Err(StoreError::Conflict { .. })), "create twice");

    // Update at the right version; a stale version conflicts; creation time stays.
    let updated = store.put(route("a", 50), Expect::Version(1)).await.expect("update");
    assert_eq!(updated.version, 2);
    assert_eq!(updated.creation_time, created.creation_time);
    assert!(updated.modification_time >= created.modification_time);
    assert!(matches!(store.put(route("a", 10), Expect::Version(1)).await, Err(StoreError::Conflict { .. })));
    assert!(matches!(store.put(route("zz", 10), Expect::Version(1)).await, Err(StoreError::NotFound(..))));
    assert_eq!(store.put(route("a", 40), Expect::Any).await.expect("upsert").version, 3);

    // Lists are per kind and mesh, ordered by name.
    store.put(route("b", 1), Expect::Any).await.expect("b");
    let names: Vec<String> = store
        .list(Kind::MeshTcpRoute, Some("default"))
        .await
        .expect("list")
        .iter()
        .map(|s| s.resource.meta.name.clone())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert!(store.list(Kind::MeshTcpRoute, Some("other")).await.expect("list").is_empty());
    assert!(store.list(Kind::MeshService, None).await.expect("list").is_empty());

    // Deletes check the version too.
    assert!(matches!(store.delete(&key("b"), Some(7)).await, Err(StoreError::Conflict { .. })));
    store.delete(&key("b"), Some(1)).await.expect("delete");
    assert!(store.get(&key("b")).await.expect("get").is_none());
    assert!(matches!(store.delete(&key("b"), None).await, Err(StoreError::NotFound(..))));

    // The change feed saw every committed write, in order.
    let mut seen = Vec::new();
    while let Ok(change) = changes.try_recv() {
        seen.push((change.key.name, change.op, change.version));
    }
    assert_eq!(
        seen,
        [
            ("a".into(), ChangeOp::Upsert, 1),
            ("a".into(), ChangeOp::Upsert, 2),
            ("a".into(), ChangeOp::Upsert, 3),
            ("b".into(), ChangeOp::Upsert, 1),
            ("b".into(), ChangeOp::Delete, 1),
        ]
    );

    // Concurrent read-modify-write: conflicts, never lost updates.
    store.put(route("counter", 0), Expect::Any).await.expect("counter");
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..25 {
                loop {
                    let current = store.get(&key("counter")).await.expect("get").expect("present");
                    let n: u32 = current.resource.label("n").and_then(|n| n.parse().ok()).expect("n");
                    match store.put(route("counter", n + 1), Expect::Version(current.version)).await {
                        Ok(_) => break,
                        Err(StoreError::Conflict { .. }) => conflicts += 1,
                        Err(e) => panic!("unexpected: {e}"),
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.expect("task");
    }
    let counter = store.get(&key("counter")).await.expect("get").expect("present");
    assert_eq!(counter.resource.label("n"), Some("100"), "every increment kept ({conflicts} conflicts retried)");
    assert_eq!(counter.version, 101);
}
