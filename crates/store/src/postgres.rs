//! The shared store for several control planes: PostgreSQL.
//!
//! - Migrations run at start, one instance at a time (an advisory lock), recorded in
//!   `meshroute_migrations`.
//! - Optimistic concurrency is a conditional `UPDATE ... WHERE version = $n`.
//! - Every write bumps one store-wide revision in its transaction (so writers serialise on that row, and
//!   any change, a delete included, moves the revision) and `pg_notify`s the change. This instance's
//!   watchers hear of its own writes at once; other instances' come through `LISTEN`. A missed
//!   notification is caught by polling [`Store::revision`].
//! - Writes and single-row reads give up after [`OPERATION_TIMEOUT`] (lists after [`LIST_TIMEOUT`]) with
//!   [`StoreError::Unavailable`], so an unreachable database fails a write fast instead of hanging it.
//! - The leader lease and instance heartbeats live in `meshroute_lease` and `meshroute_instances`, timed by
//!   the database's clock so instances' clocks need not agree.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use model::{Kind, Resource};
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use tokio::sync::broadcast;

use crate::coordination::{Coordination, Fence};
use crate::{Change, ChangeOp, Expect, Key, Store, StoreError, Stored, conflict, decode, encode, time, written};

/// The longest a write or a single-row read may take.
pub const OPERATION_TIMEOUT: Duration = Duration::from_millis(900);
/// The longest a list may take: a big store's kind takes longer to read than one row.
pub const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// Schema changes, in order; each runs once per schema.
const MIGRATIONS: &[&str] = &["CREATE TABLE resources (
        kind TEXT NOT NULL,
        mesh TEXT NOT NULL,
        name TEXT NOT NULL,
        version BIGINT NOT NULL,
        created TEXT NOT NULL,
        modified TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, mesh, name)
    );
    CREATE TABLE meshroute_revision (id INT PRIMARY KEY, value BIGINT NOT NULL);
    INSERT INTO meshroute_revision VALUES (1, 0);
    CREATE TABLE meshroute_lease (
        name TEXT PRIMARY KEY, holder TEXT NOT NULL, term BIGINT NOT NULL, expires_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE meshroute_instances (id TEXT PRIMARY KEY, heartbeat TIMESTAMPTZ NOT NULL);"];

pub struct PostgresStore {
    pool: PgPool,
    changes: broadcast::Sender<Change>,
    /// The NOTIFY channel of this schema (channels are per database, schemas share them).
    channel: String,
    /// This instance, so it can tell its own notifications from others'.
    instance: String,
}

fn backend(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
            StoreError::Unavailable(format!("PostgreSQL is unreachable: {e}"))
        }
        e => StoreError::Backend(e.to_string()),
    }
}

/// Runs a read with a deadline.
async fn timed<T>(limit: Duration, operation: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    tokio::time::timeout(limit, operation).await.unwrap_or_else(|_| {
        Err(StoreError::Unavailable(format!("PostgreSQL did not answer within {} ms", limit.as_millis())))
    })
}

/// Runs a write with the deadline. When it passes, the commit may or may not have happened.
async fn timed_write<T>(operation: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    tokio::time::timeout(OPERATION_TIMEOUT, operation).await.unwrap_or_else(|_| {
        Err(StoreError::Unavailable(format!(
            "PostgreSQL did not answer within {} ms; the write may or may not have been stored, read it before retrying",
            OPERATION_TIMEOUT.as_millis()
        )))
    })
}

fn version_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn as_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A schema name safe to quote: letters, digits and underscores.
fn checked_schema(schema: &str) -> Result<&str, StoreError> {
    let ok = !schema.is_empty()
        && schema.len() <= 48
        && schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !schema.starts_with(|c: char| c.is_ascii_digit());
    if ok { Ok(schema) } else { Err(StoreError::Backend(format!("invalid schema name {schema:?}"))) }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Notice {
    instance: String,
    kind: String,
    mesh: String,
    name: String,
    delete: bool,
    version: u64,
    revision: u64,
}

impl PostgresStore {
    /// Connects to `url`, keeps everything in `schema` (created if missing), and migrates it.
    pub async fn open(url: &str, schema: &str, instance: &str) -> Result<Self, StoreError> {
        let schema = checked_schema(schema)?;
        let base: PgConnectOptions = url.parse().map_err(backend)?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(base.clone())
            .await
            .map_err(backend)?;
        // Instances starting together on a fresh database would race to create the schema: one at a time.
        let mut tx = admin.begin().await.map_err(backend)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('meshroute schema creation'))")
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        // The name was checked to be a plain identifier, so quoting it is enough.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        admin.close().await;
        let options = base.options([("search_path", schema)]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(OPERATION_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(backend)?;
        migrate(&pool).await?;
        let store = Self {
            pool,
            changes: broadcast::channel(1024).0,
            channel: format!("meshroute_{schema}"),
            instance: instance.to_owned(),
        };
        tokio::spawn(listen(store.pool.clone(), store.channel.clone(), store.instance.clone(), store.changes.clone()));
        Ok(store)
    }

    fn row_to_stored(row: &sqlx::postgres::PgRow) -> Result<Stored, StoreError> {
        decode(
            &row.try_get::<String, _>("body").map_err(backend)?,
            as_u64(row.try_get("version").map_err(backend)?),
            row.try_get("created").map_err(backend)?,
            row.try_get("modified").map_err(backend)?,
        )
    }

    /// Bumps the store revision and announces the change, inside the write's transaction; returns the
    /// revision.
    async fn announce(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        key: &Key,
        op: ChangeOp,
        version: u64,
    ) -> Result<u64, StoreError> {
        let revision: i64 =
            sqlx::query_scalar("UPDATE meshroute_revision SET value = value + 1 WHERE id = 1 RETURNING value")
                .fetch_one(&mut **tx)
                .await
                .map_err(backend)?;
        let revision = as_u64(revision);
        let notice = Notice {
            instance: self.instance.clone(),
            kind: key.kind.wire_name().to_owned(),
            mesh: key.mesh.clone(),
            name: key.name.clone(),
            delete: op == ChangeOp::Delete,
            version,
            revision,
        };
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&self.channel)
            .bind(serde_json::to_string(&notice).unwrap_or_default())
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        Ok(revision)
    }

    /// Fails unless `fence` holds the lease now; locks the lease row until the transaction ends, so no
    /// other instance can take the lease in between.
    async fn check_fence(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, fence: &Fence) -> Result<(), StoreError> {
        let held: Option<(i64,)> = sqlx::query_as(
            "SELECT term FROM meshroute_lease WHERE name = 'leader' AND holder = $1 AND term = $2 AND expires_at > now() FOR SHARE",
        )
        .bind(&fence.instance)
        .bind(version_i64(fence.term))
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?;
        match held {
            Some(_) => Ok(()),
            None => Err(StoreError::Fenced(format!(
                "{} no longer holds the leader lease of term {}",
                fence.instance, fence.term
            ))),
        }
    }

    async fn put_in(&self, resource: Resource, expect: Expect, fence: Option<&Fence>) -> Result<Stored, StoreError> {
        let key = Key::of(&resource);
        let body = encode(&resource);
        let now = time::now_rfc3339();
        let kind = key.kind.wire_name();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        if let Some(fence) = fence {
            Self::check_fence(&mut tx, fence).await?;
        }
        let row = match expect {
            Expect::Absent => sqlx::query(
                "INSERT INTO resources (kind, mesh, name, version, created, modified, body) VALUES ($1, $2, $3, 1, $4, $4, $5)
                 ON CONFLICT DO NOTHING RETURNING version, created",
            )
            .bind(kind)
            .bind(&key.mesh)
            .bind(&key.name)
            .bind(&now)
            .bind(&body)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?
            .ok_or_else(|| conflict(&key, "already exists"))?,
            Expect::Any => sqlx::query(
                "INSERT INTO resources (kind, mesh, name, version, created, modified, body) VALUES ($1, $2, $3, 1, $4, $4, $5)
                 ON CONFLICT (kind, mesh, name) DO UPDATE SET version = resources.version + 1, modified = $4, body = $5
                 RETURNING version, created",
            )
            .bind(kind)
            .bind(&key.mesh)
            .bind(&key.name)
            .bind(&now)
            .bind(&body)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?,
            Expect::Version(want) => {
                let updated = sqlx::query(
                    "UPDATE resources SET version = version + 1, modified = $4, body = $5
                     WHERE kind = $1 AND mesh = $2 AND name = $3 AND version = $6 RETURNING version, created",
                )
                .bind(kind)
                .bind(&key.mesh)
                .bind(&key.name)
                .bind(&now)
                .bind(&body)
                .bind(version_i64(want))
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
                match updated {
                    Some(row) => row,
                    None => return Err(self.why_not(&mut tx, &key).await),
                }
            }
        };
        let version = as_u64(row.try_get("version").map_err(backend)?);
        let created: String = row.try_get("created").map_err(backend)?;
        let revision = self.announce(&mut tx, &key, ChangeOp::Upsert, version).await?;
        tx.commit().await.map_err(backend)?;
        let stored = written(resource, version, created, now);
        let _ = self.changes.send(Change { key, op: ChangeOp::Upsert, version, revision: Some(revision) });
        Ok(stored)
    }

    /// Why a conditional write matched no row: the key is missing, or at another version.
    async fn why_not(&self, tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, key: &Key) -> StoreError {
        let current: Result<Option<(i64,)>, _> =
            sqlx::query_as("SELECT version FROM resources WHERE kind = $1 AND mesh = $2 AND name = $3")
                .bind(key.kind.wire_name())
                .bind(&key.mesh)
                .bind(&key.name)
                .fetch_optional(&mut **tx)
                .await;
        match current {
            Ok(Some((v,))) => conflict(key, &format!("stored version is {v}")),
            Ok(None) => StoreError::NotFound(key.kind, key.mesh.clone(), key.name.clone()),
            Err(e) => backend(e),
        }
    }

    async fn delete_in(&self, key: &Key, version: Option<u64>, fence: Option<&Fence>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        if let Some(fence) = fence {
            Self::check_fence(&mut tx, fence).await?;
        }
        let deleted: Option<(i64,)> = sqlx::query_as(
            "DELETE FROM resources WHERE kind = $1 AND mesh = $2 AND name = $3 AND ($4::BIGINT IS NULL OR version = $4)
             RETURNING version",
        )
        .bind(key.kind.wire_name())
        .bind(&key.mesh)
        .bind(&key.name)
        .bind(version.map(version_i64))
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some((stored,)) = deleted else {
            return Err(self.why_not(&mut tx, key).await);
        };
        let revision = self.announce(&mut tx, key, ChangeOp::Delete, as_u64(stored)).await?;
        tx.commit().await.map_err(backend)?;
        let _ = self.changes.send(Change {
            key: key.clone(),
            op: ChangeOp::Delete,
            version: as_u64(stored),
            revision: Some(revision),
        });
        Ok(())
    }
}

/// Applies the migrations this schema lacks, one instance at a time.
async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(backend)?;
    // Serialise instances starting together: the lock is released at commit.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema()))").execute(&mut *tx).await.map_err(backend)?;
    sqlx::query("CREATE TABLE IF NOT EXISTS meshroute_migrations (version INT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    let applied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM meshroute_migrations").fetch_one(&mut *tx).await.map_err(backend)?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(usize::try_from(applied).unwrap_or(0)) {
        sqlx::raw_sql(*migration).execute(&mut *tx).await.map_err(backend)?;
        sqlx::query("INSERT INTO meshroute_migrations (version) VALUES ($1)")
            .bind(i32::try_from(index + 1).unwrap_or(i32::MAX))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    tx.commit().await.map_err(backend)
}

/// Forwards other instances' changes from `LISTEN` to this instance's watchers, reconnecting as needed.
async fn listen(pool: PgPool, channel: String, instance: String, changes: broadcast::Sender<Change>) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                if matches!(e, sqlx::Error::PoolClosed) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if listener.listen(&channel).await.is_err() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    let Ok(notice) = serde_json::from_str::<Notice>(notification.payload()) else { continue };
                    if notice.instance == instance {
                        continue;
                    }
                    let Some(kind) = Kind::lookup(&notice.kind) else { continue };
                    let op = if notice.delete { ChangeOp::Delete } else { ChangeOp::Upsert };
                    let key = Key { kind, mesh: notice.mesh, name: notice.name };
                    let _ = changes.send(Change { key, op, version: notice.version, revision: Some(notice.revision) });
                }
                // The connection dropped: what was missed in between is caught by the revision poll.
                Ok(None) => {}
                Err(sqlx::Error::PoolClosed) => return,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            }
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn get(&self, key: &Key) -> Result<Option<Stored>, StoreError> {
        timed(OPERATION_TIMEOUT, async {
            let row = sqlx::query(
                "SELECT version, created, modified, body FROM resources WHERE kind = $1 AND mesh = $2 AND name = $3",
            )
            .bind(key.kind.wire_name())
            .bind(&key.mesh)
            .bind(&key.name)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
            row.as_ref().map(Self::row_to_stored).transpose()
        })
        .await
    }

    async fn list(&self, kind: Kind, mesh: Option<&str>) -> Result<Vec<Stored>, StoreError> {
        timed(LIST_TIMEOUT, async {
            let rows = sqlx::query(
                "SELECT version, created, modified, body FROM resources WHERE kind = $1 AND ($2::TEXT IS NULL OR mesh = $2)
                 ORDER BY mesh, name",
            )
            .bind(kind.wire_name())
            .bind(mesh)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
            rows.iter().map(Self::row_to_stored).collect()
        })
        .await
    }

    async fn put(&self, resource: Resource, expect: Expect) -> Result<Stored, StoreError> {
        timed_write(self.put_in(resource, expect, None)).await
    }

    async fn delete(&self, key: &Key, version: Option<u64>) -> Result<(), StoreError> {
        timed_write(self.delete_in(key, version, None)).await
    }

    fn watch(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    async fn revision(&self) -> Result<Option<u64>, StoreError> {
        timed(OPERATION_TIMEOUT, async {
            let value: i64 = sqlx::query_scalar("SELECT value FROM meshroute_revision WHERE id = 1")
                .fetch_one(&self.pool)
                .await
                .map_err(backend)?;
            Ok(Some(as_u64(value)))
        })
        .await
    }
}

#[async_trait]
impl Coordination for PostgresStore {
    async fn heartbeat(&self, instance: &str, ttl: Duration) -> Result<Option<Fence>, StoreError> {
        timed(OPERATION_TIMEOUT, async {
            let mut tx = self.pool.begin().await.map_err(backend)?;
            sqlx::query(
                "INSERT INTO meshroute_instances (id, heartbeat) VALUES ($1, now())
                 ON CONFLICT (id) DO UPDATE SET heartbeat = now()",
            )
            .bind(instance)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            // Take the lease if it is free or expired (a new term), or renew it if it is ours.
            let term: Option<i64> = sqlx::query_scalar(
                "INSERT INTO meshroute_lease (name, holder, term, expires_at)
                 VALUES ('leader', $1, 1, now() + make_interval(secs => $2))
                 ON CONFLICT (name) DO UPDATE SET
                     holder = EXCLUDED.holder,
                     term = CASE WHEN meshroute_lease.holder = EXCLUDED.holder AND meshroute_lease.expires_at > now()
                                 THEN meshroute_lease.term ELSE meshroute_lease.term + 1 END,
                     expires_at = EXCLUDED.expires_at
                 WHERE meshroute_lease.holder = EXCLUDED.holder OR meshroute_lease.expires_at <= now()
                 RETURNING term",
            )
            .bind(instance)
            .bind(ttl.as_secs_f64())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            Ok(term.map(|t| Fence { instance: instance.to_owned(), term: as_u64(t) }))
        })
        .await
    }

    async fn live_instances(&self, within: Duration) -> Result<BTreeSet<String>, StoreError> {
        timed(OPERATION_TIMEOUT, async {
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM meshroute_instances WHERE heartbeat > now() - make_interval(secs => $1)",
            )
            .bind(within.as_secs_f64())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
            Ok(ids.into_iter().collect())
        })
        .await
    }

    async fn put_fenced(&self, resource: Resource, expect: Expect, fence: &Fence) -> Result<Stored, StoreError> {
        timed_write(self.put_in(resource, expect, Some(fence))).await
    }

    async fn delete_fenced(&self, key: &Key, version: Option<u64>, fence: &Fence) -> Result<(), StoreError> {
        timed_write(self.delete_in(key, version, Some(fence))).await
    }
}
