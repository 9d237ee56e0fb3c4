//! Test support for the durability test: writes MeshTCPRoutes `r0`, `r1`, ... into the SQLite database
//! named by its argument, printing `acked <name>` after each write returns, until it is killed.

use store::{Expect, SqliteStore, Store};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: store-writer DATABASE");
        std::process::exit(2);
    };
    let store = match SqliteStore::open(std::path::Path::new(&path)).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("store-writer: {e}");
            std::process::exit(1);
        }
    };
    for i in 0u32.. {
        let text = format!(
            "type: MeshTCPRoute\nname: r{i}\nmesh: default\nspec:\n  to:\n  - targetRef: {{kind: MeshService, name: backend}}\n    rules: [{{default: {{backendRefs: [{{kind: MeshService, name: v2, weight: {i}}}]}}}}]\n"
        );
        let resource = match model::parse_resources(&text).map(|mut d| d.remove(0)) {
            Ok(Ok(parsed)) => parsed.resource,
            _ => std::process::exit(1),
        };
        if let Err(e) = store.put(resource, Expect::Absent).await {
            eprintln!("store-writer: {e}");
            std::process::exit(1);
        }
        println!("acked r{i}");
    }
}
