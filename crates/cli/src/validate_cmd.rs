//! `meshroute validate`: one line per problem, `<file>: <Kind>/<name>: <path>: <message>`.

use std::process::ExitCode;

use crate::inputs::{parse_inputs, read_inputs};

#[derive(Default)]
struct Tally {
    resources: usize,
    invalid: usize,
    unreadable: usize,
}

pub fn run(paths: &[String]) -> ExitCode {
    let mut tally = Tally::default();
    let parsed = parse_inputs(read_inputs(paths));
    for problem in &parsed.problems {
        println!("{problem}");
    }
    tally.unreadable = parsed.problems.len();
    for (input, resource) in &parsed.resources {
        check(input, resource, &mut tally);
    }
    eprintln!(
        "meshroute: {} resource(s) checked, {} invalid, {} document(s) could not be read",
        tally.resources, tally.invalid, tally.unreadable
    );
    if tally.unreadable > 0 {
        ExitCode::from(2)
    } else if tally.invalid > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn check(file: &str, resource: &model::Resource, tally: &mut Tally) {
    tally.resources += 1;
    let report = model::validate(resource);
    let subject = format!("{file}: {}/{}", resource.kind().wire_name(), resource.meta.name);
    for warning in &report.warnings {
        println!("{subject}: warning: {warning}");
    }
    for violation in report.errors.iter() {
        println!("{subject}: {violation}");
    }
    if !report.is_valid() {
        tally.invalid += 1;
    }
}
