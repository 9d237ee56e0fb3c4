//! The reconcile loop on the real PostgreSQL: a change whose notification never arrives is still picked
//! up, through the store revision poll; one that does arrive is applied without reloading everything.

use std::sync::Arc;
use std::time::{Duration, Instant};

use model::Kind;
use server::ControlPlane;
use store::{Expect, PostgresStore, Store};
use testkit::postgres::{Schema, url};

fn route(name: &str) -> model::Resource {
    let text = format!(
        "type: MeshTCPRoute\nname: {name}\nmesh: default\nspec:\n  to:\n  - targetRef: {{kind: MeshService, name: backend}}\n    rules: [{{default: {{backendRefs: [{{kind: MeshService, name: v2}}]}}}}]\n"
    );
    model::parse_resources(&text).expect("yaml").remove(0).expect("valid").resource
}

async fn served_within(control: &ControlPlane, name: &str, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if control.served(Kind::MeshTcpRoute, "default", name).is_some() {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_notification_is_caught_by_the_revision_poll() {
    let schema = Schema::new("lost_notify");
    let a: Arc<dyn Store> =
        Arc::new(PostgresStore::open(&url(), &schema.0, "a").await.expect(testkit::postgres::UNREACHABLE));
    let b: Arc<dyn Store> =
        Arc::new(PostgresStore::open(&url(), &schema.0, "b").await.expect(testkit::postgres::UNREACHABLE));
    a.put(route("first"), Expect::Any).await.expect("put");
    let control = ControlPlane::new();
    tokio::spawn(server::reconcile::run(b.clone(), control.clone()));
    assert!(served_within(&control, "first", Duration::from_secs(5)).await.is_some(), "the initial load");

    // Through A: the notification reaches B, which reads just that resource.
    a.put(route("notified"), Expect::Any).await.expect("put");
    let took = served_within(&control, "notified", Duration::from_secs(5)).await.expect("applied");
    assert!(took < Duration::from_secs(1), "by notification, not by the 1 s poll: {took:?}");

    // Written behind the store's back, as if its NOTIFY were lost: a row and a revision, no notification.
    let pool = sqlx::PgPool::connect(&schema.url()).await.expect("pool");
    let body = r#"{"type":"MeshTCPRoute","name":"silent","mesh":"default","spec":{"to":[{"targetRef":{"kind":"MeshService","name":"backend"},"rules":[{"default":{"backendRefs":[{"kind":"MeshService","name":"v2"}]}}]}]}}"#;
    sqlx::query("INSERT INTO resources VALUES ('MeshTCPRoute', 'default', 'silent', 1, 'now', 'now', $1)")
        .bind(body)
        .execute(&pool)
        .await
        .expect("insert");
    sqlx::query("UPDATE meshroute_revision SET value = value + 1").execute(&pool).await.expect("revision");
    let took = served_within(&control, "silent", Duration::from_secs(5)).await.expect("caught by the poll");
    assert!(took >= Duration::from_millis(900), "no notification, so only the poll found it: {took:?}");
    assert!(control.served(Kind::MeshTcpRoute, "default", "first").is_some(), "the reload kept everything else");
}
