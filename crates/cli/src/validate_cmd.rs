//! `meshroute validate`: one line per problem, `<file>: <Kind>/<name>: <path>: <message>`.

use std::process::ExitCode;

use crate::inputs::read_inputs;

#[derive(Default)]
struct Tally {
    resources: usize,
    invalid: usize,
    unreadable: usize,
}

pub fn run(paths: &[String]) -> ExitCode {
    let mut tally = Tally::default();
    for input in read_inputs(paths) {
        let text = match input.text {
            Ok(text) => text,
            Err(e) => {
                println!("{}: cannot read: {e}", input.name);
                tally.unreadable += 1;
                continue;
            }
        };
        let documents = match model::parse_resources(&text) {
            Ok(docs) => docs,
            Err(e) => {
                println!("{}:{}:{}: {}", input.name, e.line, e.column, e.message);
                tally.unreadable += 1;
                continue;
            }
        };
        for doc in documents {
            match doc {
                Ok(parsed) => check(&input.name, &parsed.resource, &mut tally),
                Err(e) => {
                    let path = if e.path.is_root() { String::new() } else { format!("{}: ", e.path) };
                    println!(
                        "{}:{}:{}: document {}: {path}{}",
                        input.name,
                        e.line,
                        e.column,
                        e.document + 1,
                        e.message
                    );
                    tally.unreadable += 1;
                }
            }
        }
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
