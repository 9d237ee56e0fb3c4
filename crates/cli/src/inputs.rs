//! Resource inputs named on the command line: files, folders (their .yaml, .yml and .json files, sorted,
//! recursively) and `-` for standard input; and the one loop that parses them and reports what cannot
//! be read, for every command that reads resources.

use std::io::Read;
use std::path::Path;

use model::Resource;

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
            match support::files::resource_files(path) {
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

/// The resources of some inputs, each with the input it came from, and one line per input or document
/// that could not be read: `<input>: cannot read: <why>`, `<input>:<line>:<column>: <message>` for a
/// file that is not YAML or JSON, `<input>:<line>:<column>: document N: [<path>: ]<message>` for a
/// document that is not a resource.
#[derive(Default)]
pub struct Parsed {
    pub resources: Vec<(String, Resource)>,
    pub problems: Vec<String>,
}

/// Parses every document of every input.
pub fn parse_inputs(inputs: Vec<Input>) -> Parsed {
    let mut parsed = Parsed::default();
    for input in inputs {
        let text = match input.text {
            Ok(text) => text,
            Err(e) => {
                parsed.problems.push(format!("{}: cannot read: {e}", input.name));
                continue;
            }
        };
        let documents = match model::parse_resources(&text) {
            Ok(docs) => docs,
            Err(e) => {
                parsed.problems.push(format!("{}:{}:{}: {}", input.name, e.line, e.column, e.message));
                continue;
            }
        };
        for doc in documents {
            match doc {
                Ok(doc) => parsed.resources.push((input.name.clone(), doc.resource)),
                Err(e) => {
                    let path = if e.path.is_root() { String::new() } else { format!("{}: ", e.path) };
                    parsed.problems.push(format!(
                        "{}:{}:{}: document {}: {path}{}",
                        input.name,
                        e.line,
                        e.column,
                        e.document + 1,
                        e.message
                    ));
                }
            }
        }
    }
    parsed
}

/// Every resource of the inputs at `paths`; any problem fails, with every problem's line.
pub fn read_resources(paths: &[String]) -> Result<Vec<Resource>, String> {
    let parsed = parse_inputs(read_inputs(paths));
    if parsed.problems.is_empty() {
        Ok(parsed.resources.into_iter().map(|(_, r)| r).collect())
    } else {
        Err(parsed.problems.join("\n"))
    }
}
