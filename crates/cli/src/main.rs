//! The `meshroute` command.
//!
//! ```text
//!  meshroute validate -f PATH...   files/folders/stdin ─► model::parse ─► model::validate ─► report
//!  meshroute schema KIND           model::schema ─► JSON Schema
//!  meshroute inspect rules -f ... --dataplane [MESH/]NAME
//!                                  files ─► policy::MeshSnapshot ─► plan ─► Kuma-shaped inspect view
//! ```

mod inputs;
mod inspect_cmd;
mod output;
mod render_cmd;
mod validate_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "meshroute", version, about = "An L4 traffic-routing control plane for Kuma's MeshTCPRoute")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check resource files: exit 0 when all are valid, 1 when any is invalid, 2 when input can't be read.
    Validate {
        /// Files, folders (searched for .yaml, .yml and .json) or `-` for standard input.
        #[arg(short = 'f', long = "file", required = true, num_args = 1..)]
        paths: Vec<String>,
    },
    /// Print the JSON Schema of a resource kind (e.g. MeshTCPRoute, meshtcproute, mtcpr).
    Schema { kind: String },
    /// Print the Envoy resources meshroute sends a Dataplane, offline from resource files:
    /// `{"listeners": [...], "clusters": [...], "endpoints": [...]}` in Envoy's canonical JSON.
    Render {
        #[arg(short = 'f', long = "file", required = true, num_args = 1..)]
        paths: Vec<String>,
        /// The Dataplane, as NAME or MESH/NAME.
        #[arg(long)]
        dataplane: String,
        #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
        output: output::OutputFormat,
        /// The Envoy build has contrib extensions (emit the kafka_broker filter for kafka destinations).
        #[arg(long)]
        envoy_contrib: bool,
    },
    /// Explain what applies to a proxy, offline from resource files.
    Inspect {
        #[command(subcommand)]
        what: InspectCommand,
    },
}

#[derive(Subcommand)]
enum InspectCommand {
    /// The MeshTCPRoutes matched to a Dataplane in priority order, the merged rule of each destination with
    /// its origins (Kuma's `_rules` and `_routes` shapes), the resulting splits and warnings.
    Rules {
        /// Files, folders or `-` holding the mesh's resources (Mesh, Dataplanes, services, policies).
        #[arg(short = 'f', long = "file", required = true, num_args = 1..)]
        paths: Vec<String>,
        /// The Dataplane, as NAME or MESH/NAME.
        #[arg(long)]
        dataplane: String,
        #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
        output: output::OutputFormat,
        /// Include policies labelled kuma.io/effect: shadow.
        #[arg(long)]
        shadow: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { paths } => validate_cmd::run(&paths),
        Command::Schema { kind } => print_schema(&kind),
        Command::Render { paths, dataplane, output, envoy_contrib } => {
            render_cmd::run(&paths, &dataplane, output, envoy_contrib)
        }
        Command::Inspect { what: InspectCommand::Rules { paths, dataplane, output, shadow } } => {
            inspect_cmd::run_rules(&paths, &dataplane, output, shadow)
        }
    }
}

fn print_schema(name: &str) -> ExitCode {
    let Some(kind) = model::Kind::lookup(name) else {
        let known: Vec<&str> = model::Kind::ALL.iter().map(|k| k.wire_name()).collect();
        eprintln!("meshroute: unknown kind {name:?}; known kinds: {}", known.join(", "));
        return ExitCode::from(2);
    };
    let schema = model::schema::document_schema(kind);
    match serde_json::to_string_pretty(&schema) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("meshroute: cannot print the schema: {e}");
            ExitCode::from(2)
        }
    }
}
