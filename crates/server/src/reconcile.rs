//! Keeps the control plane in step with the store: a full load at start, then a reload after each burst
//! of changes from the store's change feed. Unchanged proxies are not re-pushed: each ADS stream
//! compares the resources it computes with what it sent.

use std::sync::Arc;
use std::time::Duration;

use model::Kind;
use store::Store;
use tokio::sync::broadcast::error::RecvError;

use crate::ControlPlane;

/// Every resource of the store.
pub async fn load_all(store: &dyn Store) -> Result<Vec<model::Resource>, store::StoreError> {
    let mut all = Vec::new();
    for kind in Kind::ALL {
        all.extend(store.list(*kind, None).await?.into_iter().map(|s| s.resource));
    }
    Ok(all)
}

/// Loads the store into the control plane now and after every change; a failed read keeps the last good
/// resources in place.
pub async fn run(store: Arc<dyn Store>, control: Arc<ControlPlane>) {
    let mut changes = store.watch();
    loop {
        match load_all(store.as_ref()).await {
            Ok(resources) => control.replace_resources(resources),
            Err(e) => tracing::error!("keeping the last good resources: {e}"),
        }
        match changes.recv().await {
            Ok(_) | Err(RecvError::Lagged(_)) => {
                // Let a burst of writes land, then load once.
                tokio::time::sleep(Duration::from_millis(20)).await;
                while changes.try_recv().is_ok() {}
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Creates the `default` mesh if the store has no mesh of that name.
pub async fn ensure_default_mesh(store: &dyn Store) -> Result<(), store::StoreError> {
    let key = store::Key { kind: Kind::Mesh, mesh: String::new(), name: model::resource::DEFAULT_MESH.to_owned() };
    if store.get(&key).await?.is_none() {
        let mesh = model::Resource::new(
            model::Meta { name: model::resource::DEFAULT_MESH.to_owned(), ..model::Meta::default() },
            model::Spec::Mesh(model::kinds::mesh::MeshSpec::default()),
        );
        match store.put(mesh, store::Expect::Absent).await {
            Ok(_) | Err(store::StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
