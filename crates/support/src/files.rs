//! Resource files in a folder: its .yaml, .yml and .json files, recursively, in path order. The one
//! folder walker of `meshroute validate`/`apply`/`inspect`/`render` and of the declarative mode.

use std::path::{Path, PathBuf};

/// Whether a path names a resource file by its extension.
pub fn is_resource_file(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
}

/// The resource files under `dir`, sorted by path (a folder's files and subfolders in name order).
pub fn resource_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    walk(dir, &mut found)?;
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            walk(&entry, found)?;
        } else if is_resource_file(&entry) {
            found.push(entry);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_resource_files_recursively_in_path_order() {
        let dir = std::env::temp_dir().join(format!("support-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("b/inner")).expect("dirs");
        for f in ["z.yaml", "a.json", "notes.txt", "b/inner/c.yml", "b/d.yaml"] {
            std::fs::write(dir.join(f), "").expect("file");
        }
        let found: Vec<String> = resource_files(&dir)
            .expect("walk")
            .iter()
            .map(|p| p.strip_prefix(&dir).expect("inside").display().to_string())
            .collect();
        assert_eq!(found, ["a.json", "b/d.yaml", "b/inner/c.yml", "z.yaml"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
