//! The declarative mode: every resource file in a folder (.yaml, .yml, .json, recursively), re-read when
//! anything changes. A file that cannot be read or parsed keeps the last good set in place; invalid
//! resources are left out by the snapshot with a warning.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use model::Resource;

use crate::control::ControlPlane;

/// The folder's contents, as (path, text) pairs in path order.
pub fn read_dir(dir: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let paths = support::files::resource_files(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    paths
        .into_iter()
        .map(|p| std::fs::read_to_string(&p).map(|t| (p.clone(), t)).map_err(|e| format!("{}: {e}", p.display())))
        .collect()
}

/// Parses every document of every file; any error fails the whole read.
pub fn parse(files: &[(PathBuf, String)]) -> Result<Vec<Resource>, String> {
    let mut resources = Vec::new();
    for (path, text) in files {
        let docs = model::parse_resources(text).map_err(|e| format!("{}: {e}", path.display()))?;
        for doc in docs {
            resources.push(doc.map_err(|e| format!("{}: document {}: {e}", path.display(), e.document + 1))?.resource);
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
