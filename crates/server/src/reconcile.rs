//! Keeps the control plane in step with the store: a full load at start, then a reload after each burst
//! of changes from the store's change feed. Unchanged proxies are not re-pushed: each ADS stream
//! compares the resources it computes with what it sent.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use model::Kind;
use store::Store;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::ControlPlane;
use crate::control::Registration;

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

/// Records in the store the Dataplanes proxies register when they connect, so the API lists them, and
/// removes those it created when their proxy goes (Kuma's Universal dataplane lifecycle). A Dataplane
/// that was in the store before its proxy connected stays.
pub async fn register(store: Arc<dyn Store>, mut registrations: mpsc::UnboundedReceiver<Registration>) {
    let mut created: BTreeSet<store::Key> = BTreeSet::new();
    while let Some(registration) = registrations.recv().await {
        let outcome = match registration {
            Registration::Connected(dp) => {
                let key = store::Key::of(&dp);
                match store.get(&key).await {
                    Ok(Some(stored))
                        if stored.resource.spec == dp.spec && stored.resource.meta.labels == dp.meta.labels =>
                    {
                        Ok(())
                    }
                    Ok(existing) => store.put(dp, store::Expect::Any).await.map(|_| {
                        if existing.is_none() {
                            created.insert(key);
                        }
                    }),
                    Err(e) => Err(e),
                }
            }
            Registration::Disconnected(dp) => {
                let key = store::Key::of(&dp);
                if created.remove(&key) {
                    match store.delete(&key, None).await {
                        Ok(()) | Err(store::StoreError::NotFound(..)) => Ok(()),
                        Err(e) => Err(e),
                    }
                } else {
                    Ok(())
                }
            }
        };
        if let Err(e) = outcome {
            tracing::warn!("could not record a proxy's Dataplane: {e}");
        }
    }
}
