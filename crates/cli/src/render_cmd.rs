//! `meshroute render`: the Envoy resources of one Dataplane, offline from resource files.

use std::process::ExitCode;

use crate::inspect_cmd::load_snapshot;
use crate::output::{OutputFormat, render};

pub fn run(paths: &[String], dataplane: &str, format: OutputFormat, envoy_contrib: bool) -> ExitCode {
    let (snapshot, name) = match load_snapshot(paths, dataplane) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let options = policy::PlanOptions { kafka_filter: envoy_contrib, ..policy::PlanOptions::default() };
    let plan = match policy::plan_proxy(&snapshot, &name, options) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("meshroute: {e}");
            return ExitCode::from(1);
        }
    };
    let set = match xds::generate(&plan) {
        Ok(set) => set,
        Err(e) => {
            eprintln!("meshroute: cannot generate Envoy resources: {e}");
            return ExitCode::from(1);
        }
    };
    for warning in &plan.warnings {
        eprintln!("meshroute: warning[{}]: {warning}", warning.code.as_str());
    }
    match set.to_json() {
        Ok(json) => {
            print!("{}", render(&json, format));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("meshroute: cannot render: {e}");
            ExitCode::from(1)
        }
    }
}
