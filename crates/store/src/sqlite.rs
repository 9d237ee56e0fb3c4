//! The embedded default store: one SQLite file (WAL, synchronous=FULL), so an acknowledged write survives
//! a crash of the process. Optimistic concurrency is a conditional UPDATE on the version.

use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use model::{Kind, Resource};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::broadcast;

use crate::{Change, ChangeOp, Expect, Key, Store, StoreError, Stored, conflict, decode, encode, time, written};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL,
    mesh TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, mesh, name)
)";

pub struct SqliteStore {
    pool: SqlitePool,
    changes: broadcast::Sender<Change>,
    /// SQLite has one writer at a time; writes queue here rather than fail with SQLITE_BUSY when two
    /// transactions both try to upgrade, so a stale write gets a version conflict, never a storage error.
    writes: tokio::sync::Mutex<()>,
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(backend)`
fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    /// Opens (or creates) the database at `path`. Its files are the owner's only (0600): SQLite gives the
    /// `-wal` and `-shm` files the mode of the database file, so that file is made 0600 first.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        restrict(path).map_err(|e| StoreError::Backend(format!("{}: {e}", path.display())))?;
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(backend)?;
        sqlx::query(SCHEMA).execute(&pool).await.map_err(backend)?;
        Ok(Self { pool, changes: broadcast::channel(1024).0, writes: tokio::sync::Mutex::new(()) })
    }

    fn row_to_stored(row: &sqlx::sqlite::SqliteRow) -> Result<Stored, StoreError> {
        let version: i64 = row.try_get("version").map_err(backend)?;
        decode(
            &row.try_get::<String, _>("body").map_err(backend)?,
            u64::try_from(version).unwrap_or(0),
            row.try_get("created").map_err(backend)?,
            row.try_get("modified").map_err(backend)?,
        )
    }
}

/// Makes the database file (empty, 0600) if missing, and 0600 if it was there.
fn restrict(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    drop(options.open(path)?);
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

fn kind_name(kind: Kind) -> &'static str {
    kind.wire_name()
}

/// The stored version and creation time of a key, read inside the write's transaction.
async fn stored_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    key: &Key,
) -> Result<Option<(i64, String)>, StoreError> {
    sqlx::query_as("SELECT version, created FROM resources WHERE kind = ? AND mesh = ? AND name = ?")
        .bind(kind_name(key.kind))
        .bind(&key.mesh)
        .bind(&key.name)
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)
}

fn version_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &Key) -> Result<Option<Stored>, StoreError> {
        let row = sqlx::query(
            "SELECT version, created, modified, body FROM resources WHERE kind = ? AND mesh = ? AND name = ?",
        )
        .bind(kind_name(key.kind))
        .bind(&key.mesh)
        .bind(&key.name)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(Self::row_to_stored).transpose()
    }

    async fn list(&self, kind: Kind, mesh: Option<&str>) -> Result<Vec<Stored>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, created, modified, body FROM resources WHERE kind = ? AND (? IS NULL OR mesh = ?) ORDER BY mesh, name",
        )
        .bind(kind_name(kind))
        .bind(mesh)
        .bind(mesh)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(Self::row_to_stored).collect()
    }

    async fn put(&self, resource: Resource, expect: Expect) -> Result<Stored, StoreError> {
        let key = Key::of(&resource);
        let body = encode(&resource);
        let now = time::now_rfc3339();
        let _writing = self.writes.lock().await;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let current = stored_version(&mut tx, &key).await?;
        let (version, created) = match (&current, expect) {
            (Some(_), Expect::Absent) => return Err(conflict(&key, "already exists")),
            (None, Expect::Version(_)) => return Err(StoreError::NotFound(key.kind, key.mesh, key.name)),
            (Some((v, _)), Expect::Version(want)) if *v != version_i64(want) => {
                return Err(conflict(&key, &format!("stored version is {v}, not {want}")));
            }
            (Some((v, c)), _) => (*v + 1, c.clone()),
            (None, _) => (1, now.clone()),
        };
        // The conditional write makes a concurrent writer that read the same version lose.
        let result = match current {
            None => sqlx::query(
                "INSERT INTO resources (kind, mesh, name, version, created, modified, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(kind_name(key.kind))
            .bind(&key.mesh)
            .bind(&key.name)
            .bind(version)
            .bind(&created)
            .bind(&now)
            .bind(&body)
            .execute(&mut *tx)
            .await
            .map_err(|e| if e.as_database_error().is_some_and(sqlx::error::DatabaseError::is_unique_violation) { conflict(&key, "already exists") } else { backend(e) })?,
            Some((previous, _)) => sqlx::query(
                "UPDATE resources SET version = ?, modified = ?, body = ? WHERE kind = ? AND mesh = ? AND name = ? AND version = ?",
            )
            .bind(version)
            .bind(&now)
            .bind(&body)
            .bind(kind_name(key.kind))
            .bind(&key.mesh)
            .bind(&key.name)
            .bind(previous)
            .execute(&mut *tx)
            .await
            .map_err(backend)?,
        };
        if result.rows_affected() != 1 {
            return Err(conflict(&key, "changed concurrently"));
        }
        tx.commit().await.map_err(backend)?;
        let stored = written(resource, u64::try_from(version).unwrap_or(0), created, now);
        let _ = self.changes.send(Change { key, op: ChangeOp::Upsert, version: stored.version, revision: None });
        Ok(stored)
    }

    async fn delete(&self, key: &Key, version: Option<u64>) -> Result<(), StoreError> {
        let _writing = self.writes.lock().await;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let Some((stored, _)) = stored_version(&mut tx, key).await? else {
            return Err(StoreError::NotFound(key.kind, key.mesh.clone(), key.name.clone()));
        };
        if version.is_some_and(|v| version_i64(v) != stored) {
            return Err(conflict(key, &format!("stored version is {stored}")));
        }
        sqlx::query("DELETE FROM resources WHERE kind = ? AND mesh = ? AND name = ? AND version = ?")
            .bind(kind_name(key.kind))
            .bind(&key.mesh)
            .bind(&key.name)
            .bind(stored)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let _ = self.changes.send(Change {
            key: key.clone(),
            op: ChangeOp::Delete,
            version: u64::try_from(stored).unwrap_or(0),
            revision: None,
        });
        Ok(())
    }

    fn watch(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}
