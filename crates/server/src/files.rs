//! The declarative mode: every resource file in a folder (.yaml, .yml, .json, recursively), re-read when
//! anything changes. A file that cannot be read or parsed keeps the last good set in place; invalid
//! resources are left out by the snapshot with a warning.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use model::Resource;

use crate::control::ControlPlane;

/// Why the folder could not be read whole (the last good set stays).
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
}

/// The folder's contents, as (path, text) pairs in path order.
pub fn read_dir(dir: &Path) -> Result<Vec<(PathBuf, String)>, FolderError> {
    let paths =
        support::files::resource_files(dir).map_err(|source| FolderError::Read { path: dir.to_owned(), source })?;
    paths
        .into_iter()
        .map(|p| match std::fs::read_to_string(&p) {
            Ok(text) => Ok((p, text)),
            Err(source) => Err(FolderError::Read { path: p, source }),
        })
        .collect()
}

/// Parses every document of every file; any error fails the whole read.
pub fn parse(files: &[(PathBuf, String)]) -> Result<Vec<Resource>, FolderError> {
    let mut resources = Vec::new();
    for (path, text) in files {
        let parse = |message: String| FolderError::Parse { path: path.clone(), message };
        let docs = model::parse_resources(text).map_err(|e| parse(e.to_string()))?;
        for doc in docs {
            resources.push(doc.map_err(|e| parse(format!("document {}: {e}", e.document + 1)))?.resource);
        }
    }
    Ok(resources)
}

/// Loads the folder into the control plane now, then again whenever its contents change.
pub async fn watch(control: Arc<ControlPlane>, dir: PathBuf, every: Duration) {
    let mut last: Option<Vec<(PathBuf, String)>> = None;
    loop {
        match read_dir(&dir) {
            Ok(contents) if last.as_ref() != Some(&contents) => {
                match parse(&contents) {
                    Ok(resources) => {
                        tracing::info!(resources = resources.len(), "loaded {}", dir.display());
                        control.replace_resources(resources);
                    }
                    Err(e) => tracing::error!("keeping the last good resources: {e}"),
                }
                last = Some(contents);
            }
            Ok(_) => {}
            Err(e) => tracing::error!("keeping the last good resources: {e}"),
        }
        tokio::time::sleep(every).await;
    }
}
