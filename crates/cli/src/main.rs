//! The `meshroute` command.
//!
//! ```text
//!  meshroute validate -f PATH...   files/folders/stdin ─► model::parse ─► model::validate ─► report
//!  meshroute schema KIND           model::schema ─► JSON Schema
//!  meshroute inspect rules -f ... --dataplane [MESH/]NAME
//!                                  files ─► policy::MeshSnapshot ─► plan ─► Kuma-shaped inspect view
//! ```

mod api_cmds;
mod demo_cmd;
mod generate_cmd;
mod inputs;
mod inspect_cmd;
mod logging;
mod output;
mod proxy_cmd;
mod render_cmd;
mod run_cmd;
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
    /// See it work: a control plane, two TCP backends and an Envoy proxy; a 90/10 MeshTCPRoute, then
    /// 50/50, with a live line of the split observed over real connections. Ctrl-C stops it.
    Demo {
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long)]
        duration: Option<u64>,
        /// Seconds of 90/10 before the change to 50/50.
        #[arg(long, default_value_t = 10)]
        switch_after: u64,
    },
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
        #[command(flatten)]
        source: DataplaneSource,
        /// The Envoy build has contrib extensions (emit the kafka_broker filter for kafka destinations).
        #[arg(long)]
        envoy_contrib: bool,
    },
    /// Run the control plane: ADS for Envoy, the HTTP API on the store (SQLite by default) and
    /// diagnostics; or, with --resources, ADS from a folder of resource files.
    Run(run_cmd::RunArgs),
    /// Run Envoy for a Dataplane, as kuma-dp does: bootstrap to the control plane, Envoy as a child.
    Proxy(proxy_cmd::ProxyArgs),
    /// Create or update resources on a control plane (files, folders or `-`).
    Apply {
        #[command(flatten)]
        api: ApiTarget,
        #[arg(short = 'f', long = "file", required = true, num_args = 1..)]
        paths: Vec<String>,
        /// Print what would be applied, send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Replace `{{ key }}` in the files with a value.
        #[arg(short = 'v', long = "var")]
        vars: Vec<String>,
    },
    /// List resources of a type, or show one.
    Get {
        #[command(flatten)]
        api: ApiTarget,
        /// A type: MeshTCPRoute, meshtcproutes, mtcpr, dataplanes, meshes, ...
        kind: String,
        name: Option<String>,
        #[arg(short = 'm', long, default_value = "default")]
        mesh: String,
        /// table (default), yaml or json.
        #[arg(short = 'o', long = "output", value_enum)]
        output: Option<output::OutputFormat>,
    },
    /// Delete a resource.
    Delete {
        #[command(flatten)]
        api: ApiTarget,
        kind: String,
        name: String,
        #[arg(short = 'm', long, default_value = "default")]
        mesh: String,
    },
    /// Explain what applies to a proxy: offline from files (`rules`) or from a control plane.
    Inspect {
        #[command(subcommand)]
        what: InspectCommand,
    },
    /// Tokens and signing keys.
    Generate {
        #[command(subcommand)]
        what: generate_cmd::GenerateCommand,
    },
}

/// A Dataplane among resource files, and how to print what is computed for it.
#[derive(clap::Args)]
struct DataplaneSource {
    /// Files, folders or `-` holding the mesh's resources (Mesh, Dataplanes, services, policies).
    #[arg(short = 'f', long = "file", required = true, num_args = 1..)]
    paths: Vec<String>,
    /// The Dataplane, as NAME or MESH/NAME.
    #[arg(long)]
    dataplane: String,
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    output: output::OutputFormat,
}

/// The control plane's HTTP API.
#[derive(clap::Args)]
pub struct ApiTarget {
    #[arg(long, env = "MESHROUTE_API_ADDRESS", default_value = "http://localhost:5681")]
    cp_address: String,
    /// Seconds to wait for the control plane.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// The API token, needed when the API listens off loopback (the admin token is in the control
    /// plane's data directory, file admin-token).
    #[arg(long, env = "MESHROUTE_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// The CA certificate (PEM) that an https:// --cp-address is verified with (the control plane's
    /// <data-dir>/tls/ca.crt, unless it was given a certificate of its own).
    #[arg(long, env = "MESHROUTE_CA_CERT_FILE")]
    ca_cert_file: Option<std::path::PathBuf>,
}

impl ApiTarget {
    pub fn target(&self) -> api_cmds::Target {
        api_cmds::Target {
            cp_address: self.cp_address.clone(),
            timeout: std::time::Duration::from_secs(self.timeout),
            token: self.api_token.clone(),
            ca_cert_file: self.ca_cert_file.clone(),
        }
    }
}

#[derive(Subcommand)]
enum InspectCommand {
    /// The MeshTCPRoutes matched to a Dataplane in priority order, the merged rule of each destination with
    /// its origins (Kuma's `_rules` and `_routes` shapes), the resulting splits and warnings.
    Rules {
        #[command(flatten)]
        source: DataplaneSource,
        /// Include policies labelled kuma.io/effect: shadow.
        #[arg(long)]
        shadow: bool,
    },
    /// Every Dataplane of a mesh with its xDS connection status.
    Dataplanes {
        #[command(flatten)]
        api: ApiTarget,
        #[arg(short = 'm', long, default_value = "default")]
        mesh: String,
    },
    /// One Dataplane: its rules, the Envoy config sent, or its xDS status.
    Dataplane {
        #[command(flatten)]
        api: ApiTarget,
        name: String,
        #[arg(short = 'm', long, default_value = "default")]
        mesh: String,
        /// rules (or policies), config, xds.
        #[arg(long = "type", default_value = "rules")]
        view: String,
        #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
        output: output::OutputFormat,
    },
    /// The Dataplanes a MeshTCPRoute affects.
    Meshtcproute {
        #[command(flatten)]
        api: ApiTarget,
        name: String,
        #[arg(short = 'm', long, default_value = "default")]
        mesh: String,
        #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
        output: output::OutputFormat,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { paths } => validate_cmd::run(&paths),
        Command::Demo { duration, switch_after } => demo_cmd::run(duration, switch_after),
        Command::Schema { kind } => print_schema(&kind),
        Command::Run(args) => run_cmd::run(args),
        Command::Proxy(args) => proxy_cmd::run(&args),
        Command::Render { source, envoy_contrib } => {
            render_cmd::run(&source.paths, &source.dataplane, source.output, envoy_contrib)
        }
        Command::Apply { api, paths, dry_run, vars } => api_cmds::apply(&api.target(), &paths, dry_run, &vars),
        Command::Get { api, kind, name, mesh, output } => {
            api_cmds::get(&api.target(), &kind, name.as_deref(), &mesh, output)
        }
        Command::Delete { api, kind, name, mesh } => api_cmds::delete(&api.target(), &kind, &name, &mesh),
        Command::Inspect { what: InspectCommand::Dataplanes { api, mesh } } => {
            api_cmds::inspect_dataplanes(&api.target(), &mesh)
        }
        Command::Inspect { what: InspectCommand::Dataplane { api, name, mesh, view, output } } => {
            api_cmds::inspect_dataplane(&api.target(), &name, &mesh, &view, output)
        }
        Command::Inspect { what: InspectCommand::Meshtcproute { api, name, mesh, output } } => {
            api_cmds::inspect_policy(&api.target(), "meshtcproutes", &name, &mesh, output)
        }
        Command::Generate { what } => generate_cmd::run(what),
        Command::Inspect { what: InspectCommand::Rules { source, shadow } } => {
            inspect_cmd::run_rules(&source.paths, &source.dataplane, source.output, shadow)
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
