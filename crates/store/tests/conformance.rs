//! The store conformance suite (tests/common) on the memory and SQLite stores, plus SQLite durability
//! across restart and kill -9. PostgreSQL runs the same suite in tests/postgres.rs.

mod common;

use std::sync::Arc;

use common::{conformance, key, route};
use store::{MemoryStore, SqliteStore, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conforms() {
    conformance(Arc::new(MemoryStore::new())).await;
}

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("meshroute-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("meshroute.db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_conforms_and_keeps_data_across_restart() {
    let path = temp_db("conformance");
    conformance(Arc::new(SqliteStore::open(&path).await.expect("open"))).await;
    let reopened = SqliteStore::open(&path).await.expect("reopen");
    let a = reopened.get(&key("a")).await.expect("get").expect("kept");
    assert_eq!((a.version, a.resource.spec), (3, route("a", 40).spec));
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[test]
fn sqlite_keeps_every_acknowledged_write_across_kill_9() {
    use std::io::BufRead;
    let path = temp_db("kill9");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_store-writer"))
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("writer");
    let stdout = child.stdout.take().expect("stdout");
    let mut acked = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(name) = line.strip_prefix("acked ") {
            acked.push(name.to_owned());
            if acked.len() == 300 {
                // Mid-stream: the writer is busy writing the next ones.
                child.kill().expect("kill -9");
                break;
            }
        }
    }
    let _ = child.wait();
    assert_eq!(acked.len(), 300, "the writer acknowledged writes");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = SqliteStore::open(&path).await.expect("reopen after kill -9");
        for name in &acked {
            assert!(store.get(&key(name)).await.expect("get").is_some(), "{name} was acknowledged and must survive");
        }
    });
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}
