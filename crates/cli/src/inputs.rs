//! Resource inputs named on the command line: files, folders (their .yaml, .yml and .json files, sorted,
//! recursively) and `-` for standard input.

use std::io::Read;
use std::path::{Path, PathBuf};

/// One input text and the name to report it under.
pub struct Input {
    pub name: String,
    pub text: Result<String, String>,
}

pub fn read_inputs(paths: &[String]) -> Vec<Input> {
    let mut inputs = Vec::new();
    for p in paths {
        if p == "-" {
            let mut text = String::new();
            let read = std::io::stdin().read_to_string(&mut text).map(|_| text).map_err(|e| e.to_string());
            inputs.push(Input { name: "<stdin>".into(), text: read });
            continue;
        }
        let path = Path::new(p);
        if path.is_dir() {
            match resource_files(path) {
                Ok(files) => inputs.extend(files.iter().map(|f| read_file(f))),
                Err(e) => inputs.push(Input { name: p.clone(), text: Err(e.to_string()) }),
            }
        } else {
            inputs.push(read_file(path));
        }
    }
    inputs
}

fn read_file(path: &Path) -> Input {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string());
    Input { name: path.display().to_string(), text }
}

fn resource_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            found.extend(resource_files(&entry)?);
        } else if entry.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json")) {
            found.push(entry);
        }
    }
    Ok(found)
}
