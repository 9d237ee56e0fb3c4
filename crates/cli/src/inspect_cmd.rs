//! `meshroute inspect rules`: the policy engine's answer for one Dataplane, offline from files.

use std::process::ExitCode;

use crate::inputs::read_resources;
use crate::output::{OutputFormat, render};

/// Splits `MESH/NAME`; a bare name is looked up in every mesh.
fn find_dataplane(resources: &[model::Resource], wanted: &str) -> Result<(String, String), String> {
    let (mesh, name) = match wanted.split_once('/') {
        Some((m, n)) => (Some(m), n),
        None => (None, wanted),
    };
    let mut found: Vec<&model::Resource> = resources
        .iter()
        .filter(|r| r.kind() == model::Kind::Dataplane && r.meta.name == name && mesh.is_none_or(|m| r.meta.mesh == m))
        .collect();
    found.dedup_by(|a, b| a.meta.mesh == b.meta.mesh);
    match found.as_slice() {
        [one] => Ok((one.meta.mesh.clone(), one.meta.name.clone())),
        [] => Err(format!("no Dataplane {wanted:?} in the given resources")),
        _ => Err(format!("Dataplane {name:?} exists in several meshes; name it as MESH/{name}")),
    }
}

/// The snapshot of the mesh of a Dataplane named on the command line, and its name; or the exit code
/// after saying what is wrong. Snapshot warnings (left-out resources) are printed.
pub fn load_snapshot(paths: &[String], dataplane: &str) -> Result<(policy::MeshSnapshot, String), ExitCode> {
    let resources = read_resources(paths).map_err(|problems| {
        eprintln!("{problems}");
        ExitCode::from(2)
    })?;
    let (mesh, name) = find_dataplane(&resources, dataplane).map_err(|e| {
        eprintln!("meshroute: {e}");
        ExitCode::from(1)
    })?;
    let snapshot = policy::MeshSnapshot::build(&mesh, resources);
    for warning in &snapshot.warnings {
        eprintln!("meshroute: warning[{}]: {warning}", warning.code.as_str());
    }
    Ok((snapshot, name))
}

pub fn run_rules(paths: &[String], dataplane: &str, format: OutputFormat, shadow: bool) -> ExitCode {
    let (snapshot, name) = match load_snapshot(paths, dataplane) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    match policy::plan_proxy_detailed(
        &snapshot,
        &name,
        policy::PlanOptions { include_shadow: shadow, ..policy::PlanOptions::default() },
    ) {
        Ok(planned) => {
            print!("{}", render(&policy::inspect::rules_view(&snapshot, &planned), format));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("meshroute: {e}");
            ExitCode::from(1)
        }
    }
}
