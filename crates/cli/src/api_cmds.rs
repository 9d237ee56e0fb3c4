//! The commands that talk to a running control plane through its HTTP API, as kumactl does:
//! `apply`, `get`, `delete` and the online `inspect` views.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;
use support::client::{self, Response};

use crate::output::{OutputFormat, render};

/// Where the API is and how long to wait for it.
pub struct Target {
    pub cp_address: String,
    pub timeout: Duration,
    pub token: Option<String>,
    pub ca_cert_file: Option<std::path::PathBuf>,
}

impl Target {
    pub fn call(&self, method: &str, path: &str, body: &str) -> Result<Response, String> {
        let ca = match &self.ca_cert_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| format!("--ca-cert-file {}: {e}", path.display()))?),
            None => None,
        };
        let to = client::Target::parse(&self.cp_address, ca.as_deref()).map_err(|e| e.to_string())?;
        let authorization = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = authorization.iter().map(|a| ("Authorization", a.as_str())).collect();
        let response =
            client::request_to(&to, method, path, &headers, body, self.timeout).map_err(|e| e.to_string())?;
        if response.status == 401 {
            return Err(format!(
                "{method} {path}: 401 Unauthenticated: pass --api-token (or MESHROUTE_API_TOKEN) with the admin token from the control plane's data directory (file admin-token)"
            ));
        }
        Ok(response)
    }

    /// A call that must succeed (2xx); the error says what the API said, with field errors one a line.
    fn call_ok(&self, method: &str, path: &str, body: &str) -> Result<Value, String> {
        let response = self.call(method, path, body)?;
        if (200..300).contains(&response.status) {
            return Ok(serde_json::from_str(&response.body).unwrap_or(Value::Null));
        }
        Err(describe_error(method, path, &response))
    }
}

/// What an API error answer says: status, title, detail, and each invalid field on a line.
pub fn describe_error(method: &str, path: &str, response: &Response) -> String {
    let json: Value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    let mut message = format!(
        "{} {path}: {} {}: {}",
        method,
        response.status,
        json["title"].as_str().unwrap_or("error"),
        json["detail"].as_str().unwrap_or(&response.body)
    );
    for p in json["invalid_parameters"].as_array().into_iter().flatten() {
        message.push_str(&format!("\n  {}: {}", p["field"].as_str().unwrap_or(""), p["reason"].as_str().unwrap_or("")));
    }
    message
}

fn done(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meshroute: {e}");
            ExitCode::from(1)
        }
    }
}

/// The API path of a resource.
fn resource_path(resource: &model::Resource) -> String {
    let d = resource.kind().descriptor();
    match d.scope {
        model::kind::Scope::Global => format!("/{}/{}", d.rest_path, resource.meta.name),
        model::kind::Scope::Mesh => format!("/meshes/{}/{}/{}", resource.meta.mesh, d.rest_path, resource.meta.name),
    }
}

/// Replaces `{{ key }}` (spaces optional) with each `-v key=value`, as kumactl does.
fn substitute(text: &str, vars: &[String]) -> Result<String, String> {
    let mut out = text.to_owned();
    for var in vars {
        let (key, value) = var.split_once('=').ok_or_else(|| format!("-v {var}: expected key=value"))?;
        for pattern in [format!("{{{{ {key} }}}}"), format!("{{{{{key}}}}}")] {
            out = out.replace(&pattern, value);
        }
    }
    Ok(out)
}

pub fn apply(target: &Target, paths: &[String], dry_run: bool, vars: &[String]) -> ExitCode {
    done((|| {
        let mut inputs = crate::inputs::read_inputs(paths);
        for input in &mut inputs {
            if let Ok(text) = &input.text {
                input.text = Ok(substitute(text, vars)?);
            }
        }
        let parsed = crate::inputs::parse_inputs(inputs);
        if !parsed.problems.is_empty() {
            return Err(parsed.problems.join("\n"));
        }
        for (_, resource) in parsed.resources {
            let path = resource_path(&resource);
            if dry_run {
                print!("{}", model::format::to_yaml_documents(&[model::to_universal(&resource)]));
                println!("---");
                continue;
            }
            let reply = target.call_ok("PUT", &path, &model::to_universal(&resource).to_string())?;
            for warning in reply["warnings"].as_array().into_iter().flatten() {
                eprintln!("meshroute: warning: {}", warning.as_str().unwrap_or_default());
            }
            println!("{} {} applied", resource.kind().wire_name(), resource.meta.name);
        }
        Ok(())
    })())
}

fn kind_of(name: &str) -> Result<model::Kind, String> {
    model::Kind::lookup(name)
        .or_else(|| model::Kind::lookup(name.trim_end_matches('s')))
        .or_else(|| model::Kind::lookup(name.trim_end_matches("es")))
        .ok_or_else(|| format!("unknown resource type {name:?}"))
}

fn collection(kind: model::Kind, mesh: &str) -> String {
    let d = kind.descriptor();
    match d.scope {
        model::kind::Scope::Global => format!("/{}", d.rest_path),
        model::kind::Scope::Mesh => format!("/meshes/{mesh}/{}", d.rest_path),
    }
}

/// `MESH  NAME  AGE`, as kumactl prints policies.
fn table(items: &[Value], with_mesh: bool) -> String {
    let mut rows = vec![
        if with_mesh { vec!["MESH", "NAME", "AGE"] } else { vec!["NAME", "AGE"] }
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>(),
    ];
    for item in items {
        let age = item["creationTime"].as_str().unwrap_or("").to_owned();
        let mut row = Vec::new();
        if with_mesh {
            row.push(item["mesh"].as_str().unwrap_or("").to_owned());
        }
        row.push(item["name"].as_str().unwrap_or("").to_owned());
        row.push(age);
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len()).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect::<Vec<_>>()
                .join("   ")
                .trim_end()
                .to_owned()
                + "\n"
        })
        .collect()
}

pub fn get(target: &Target, kind: &str, name: Option<&str>, mesh: &str, output: Option<OutputFormat>) -> ExitCode {
    done((|| {
        let kind = kind_of(kind)?;
        let with_mesh = kind.descriptor().scope == model::kind::Scope::Mesh;
        let base = collection(kind, mesh);
        let items: Vec<Value> = match name {
            Some(n) => vec![target.call_ok("GET", &format!("{base}/{n}"), "")?],
            None => target.call_ok("GET", &base, "")?["items"].as_array().cloned().unwrap_or_default(),
        };
        match output {
            None => print!("{}", table(&items, with_mesh)),
            Some(format) => {
                let value =
                    if name.is_some() { items.into_iter().next().unwrap_or(Value::Null) } else { Value::Array(items) };
                print!("{}", render(&value, format));
            }
        }
        Ok(())
    })())
}

pub fn delete(target: &Target, kind: &str, name: &str, mesh: &str) -> ExitCode {
    done((|| {
        let kind = kind_of(kind)?;
        target.call_ok("DELETE", &format!("{}/{name}", collection(kind, mesh)), "")?;
        println!("deleted {} {name}", kind.wire_name());
        Ok(())
    })())
}

pub fn inspect_dataplane(target: &Target, name: &str, mesh: &str, view: &str, output: OutputFormat) -> ExitCode {
    done((|| {
        let suffix = match view {
            "rules" | "policies" => "_rules",
            "config" => "_config",
            "xds" | "status" => "_xds",
            other => return Err(format!("--type {other}: use rules, policies, config or xds")),
        };
        let value = target.call_ok("GET", &format!("/meshes/{mesh}/dataplanes/{name}/{suffix}"), "")?;
        print!("{}", render(&value, output));
        Ok(())
    })())
}

/// Every Dataplane of the mesh with its xDS connection status.
pub fn inspect_dataplanes(target: &Target, mesh: &str) -> ExitCode {
    done((|| {
        let items = target.call_ok("GET", &format!("/meshes/{mesh}/dataplanes"), "")?["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        println!("{:<30} {:<10} LAST NACK", "NAME", "STATUS");
        for item in items {
            let name = item["name"].as_str().unwrap_or_default();
            let status = target.call_ok("GET", &format!("/meshes/{mesh}/dataplanes/{name}/_xds"), "")?;
            let online = if status["connected"].as_bool() == Some(true) { "Online" } else { "Offline" };
            let nack = status["lastNack"]["error"].as_str().unwrap_or("-");
            println!("{name:<30} {online:<10} {nack}");
        }
        Ok(())
    })())
}

/// The Dataplanes a policy affects.
pub fn inspect_policy(target: &Target, kind: &str, name: &str, mesh: &str, output: OutputFormat) -> ExitCode {
    done((|| {
        let kind = kind_of(kind)?;
        let value = target.call_ok("GET", &format!("{}/{name}/_resources/dataplanes", collection(kind, mesh)), "")?;
        print!("{}", render(&value, output));
        Ok(())
    })())
}
