//! The PostgreSQL store against the real server at `MESHROUTE_TEST_POSTGRES_URL` (see `testkit::postgres`),
//! each test in a schema of its own: the shared conformance suite, changes between two instances,
//! revisions, migrations, the leader lease and fencing. A missing PostgreSQL fails these tests.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{conformance, key, route};
use store::{Coordination, Expect, PostgresStore, Store, StoreError};
use testkit::postgres::{Schema, url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_conforms() {
    let schema = Schema::new("conformance");
    let store = PostgresStore::open(&url(), &schema.0, "one").await.expect(testkit::postgres::UNREACHABLE);
    conformance(Arc::new(store)).await;
    // Reopening runs no migration twice and finds everything.
    let reopened = PostgresStore::open(&url(), &schema.0, "one").await.expect("reopen");
    let counter = reopened.get(&key("counter")).await.expect("get").expect("kept");
    assert_eq!(counter.version, 101);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_instance_reaches_the_other_and_moves_the_revision() {
    let schema = Schema::new("two");
    let a = PostgresStore::open(&url(), &schema.0, "a").await.expect("a");
    let b = PostgresStore::open(&url(), &schema.0, "b").await.expect("b");
    let mut b_changes = b.watch();
    // LISTEN is set up in the background; give it a moment before writing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = b.revision().await.expect("revision").expect("postgres has one");
    a.put(route("shared", 10), Expect::Absent).await.expect("put");
    let change =
        tokio::time::timeout(Duration::from_secs(5), b_changes.recv()).await.expect("in time").expect("change");
    assert_eq!((change.key.name.as_str(), change.version), ("shared", 1));
    assert_eq!(b.get(&key("shared")).await.expect("get").expect("there").version, 1);
    let after_put = b.revision().await.expect("revision").expect("some");
    assert!(after_put > before);
    assert_eq!(change.revision, Some(after_put), "a change carries the revision it made");
    a.delete(&key("shared"), None).await.expect("delete");
    let change =
        tokio::time::timeout(Duration::from_secs(5), b_changes.recv()).await.expect("in time").expect("change");
    assert_eq!(change.op, store::ChangeOp::Delete);
    assert!(b.revision().await.expect("revision").expect("some") > after_put, "a delete moves the revision too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_at_a_time_and_a_deposed_leader_is_fenced() {
    let schema = Schema::new("lease");
    let a = PostgresStore::open(&url(), &schema.0, "a").await.expect("a");
    let b = PostgresStore::open(&url(), &schema.0, "b").await.expect("b");
    let ttl = Duration::from_secs(1);
    let fence_a = a.heartbeat("a", ttl).await.expect("heartbeat").expect("a leads: the lease was free");
    assert_eq!(b.heartbeat("b", ttl).await.expect("heartbeat"), None, "b does not lead while a's lease holds");
    assert_eq!(a.heartbeat("a", ttl).await.expect("renew"), Some(fence_a.clone()), "renewing keeps the term");
    a.put_fenced(route("by-leader", 1), Expect::Any, &fence_a).await.expect("the leader writes");
    let live = a.live_instances(Duration::from_secs(10)).await.expect("live");
    assert_eq!(live.into_iter().collect::<Vec<_>>(), ["a", "b"]);

    // a stops renewing; after the lease expires, b takes it with a new term and a is fenced off.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let fence_b = b.heartbeat("b", ttl).await.expect("heartbeat").expect("b takes the expired lease");
    assert_eq!(fence_b.term, fence_a.term + 1);
    assert!(matches!(a.put_fenced(route("by-leader", 2), Expect::Any, &fence_a).await, Err(StoreError::Fenced(_))));
    assert!(matches!(a.delete_fenced(&key("by-leader"), None, &fence_a).await, Err(StoreError::Fenced(_))));
    assert_eq!(a.heartbeat("a", ttl).await.expect("heartbeat"), None, "a is not the leader any more");
    b.delete_fenced(&key("by-leader"), None, &fence_b).await.expect("the new leader acts");
    let within = Duration::from_millis(500);
    tokio::time::sleep(within).await;
    assert!(b.live_instances(within).await.expect("live").is_empty(), "no heartbeat within the last 0.5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_fails_fast_as_unavailable() {
    // Nothing listens on this port: the pool cannot connect.
    let started = std::time::Instant::now();
    let opened = PostgresStore::open("postgres://postgres@127.0.0.1:1/test", "unreachable", "x").await;
    assert!(matches!(opened, Err(StoreError::Unavailable(_))), "{:?}", opened.err());
    assert!(started.elapsed() < Duration::from_secs(6));
}
