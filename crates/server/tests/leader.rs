//! The leader's judgement of who is gone, against the real PostgreSQL: right after it takes the lease
//! (as after an outage, when every heartbeat is old), it removes nobody's registrations.

use std::sync::Arc;

use server::ControlPlane;
use server::leader::{Leader, REGISTERED_BY};
use store::{Expect, Key, PostgresStore, Store};
use testkit::postgres::{Schema, url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_waits_before_judging_other_instances_gone() {
    let schema = Schema::new("leader_guard");
    let a = Arc::new(PostgresStore::open(&url(), &schema.0, "a").await.expect(testkit::postgres::UNREACHABLE));
    let mut dp = model::parse_resources(
        "type: Dataplane\nmesh: default\nname: web-1\nnetworking: {address: 127.0.0.1, inbound: [{port: 7000, tags: {kuma.io/service: web}}]}\n",
    )
    .expect("yaml")
    .remove(0)
    .expect("valid")
    .resource;
    dp.meta.labels.insert(REGISTERED_BY.into(), "b".into());
    a.put(dp, Expect::Any).await.expect("b's registration");
    // b's last heartbeat is a minute old, as after a long outage of the database.
    let pool = sqlx::PgPool::connect(&schema.url()).await.expect("pool");
    sqlx::query("INSERT INTO meshroute_instances (id, heartbeat) VALUES ('b', now() - interval '1 minute')")
        .execute(&pool)
        .await
        .expect("old heartbeat");

    let store: Arc<dyn Store> = a.clone();
    let leader = Leader::new(a.clone(), store.clone(), ControlPlane::new(), "a".into());
    assert!(leader.tick().await.expect("tick"), "a takes the free lease");
    assert!(leader.tick().await.expect("tick"), "and keeps it");
    let key = Key { kind: model::Kind::Dataplane, mesh: "default".into(), name: "web-1".into() };
    assert!(store.get(&key).await.expect("get").is_some(), "b's registration stays until b had time to heartbeat");
    assert!(
        store
            .get(&Key { kind: model::Kind::Mesh, mesh: String::new(), name: "default".into() })
            .await
            .expect("get")
            .is_some(),
        "the leader made the default mesh"
    );
}
