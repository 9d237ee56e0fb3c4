//! `meshroute run`: the control plane. ADS for Envoy on the dataplane server port and, with the store,
//! the HTTP API; or, in declarative mode, ADS from a folder of resource files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    Sqlite,
    Memory,
    Postgres,
}

/// How proxies authenticate (`--dp-auth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DpAuthArg {
    /// A dataplane token for the Dataplane a proxy claims (Kuma's dpToken).
    Tokens,
    /// No check at all: local development only.
    None,
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// Declarative mode: serve the resource files of this folder (.yaml, .yml, .json), re-read when
    /// they change, instead of the store (no HTTP API).
    #[arg(long, env = "MESHROUTE_RESOURCES")]
    pub resources: Option<PathBuf>,
    /// Where the embedded store keeps its data (default: the user's data directory).
    #[arg(long, env = "MESHROUTE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The store: sqlite (embedded, durable), memory (lost on exit) or postgres (shared by several
    /// control planes).
    #[arg(long, env = "MESHROUTE_STORE", value_enum, default_value = "sqlite")]
    pub store: StoreKind,
    /// The PostgreSQL database of `--store postgres`, e.g. postgres://user@host:5432/meshroute.
    #[arg(long, env = "MESHROUTE_POSTGRES_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
    /// A file holding the PostgreSQL URL (so its password is not on the command line).
    #[arg(long, env = "MESHROUTE_POSTGRES_URL_FILE", conflicts_with = "postgres_url")]
    pub postgres_url_file: Option<PathBuf>,
    /// The schema meshroute keeps its tables in (created if missing).
    #[arg(long, env = "MESHROUTE_POSTGRES_SCHEMA", default_value = "meshroute")]
    pub postgres_schema: String,
    /// This instance's name among the control planes on one store (default: host, pid, random).
    #[arg(long, env = "MESHROUTE_INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// The address the dataplane server, the API and diagnostics listen on.
    #[arg(long, env = "MESHROUTE_ADDRESS", default_value = "127.0.0.1")]
    pub address: String,
    /// The dataplane server port (ADS).
    #[arg(long, env = "MESHROUTE_DP_SERVER_PORT", default_value_t = 5678)]
    pub dp_server_port: u16,
    /// The HTTP API port.
    #[arg(long, env = "MESHROUTE_API_PORT", default_value_t = 5681)]
    pub api_port: u16,
    /// The HTTPS API port (the same API as --api-port, over TLS).
    #[arg(long, env = "MESHROUTE_API_HTTPS_PORT", default_value_t = 5682)]
    pub api_https_port: u16,
    /// The diagnostics port: /metrics, /ready, /healthy.
    #[arg(long, env = "MESHROUTE_DIAGNOSTICS_PORT", default_value_t = 5680)]
    pub diagnostics_port: u16,
    /// How proxies authenticate at /bootstrap and on ADS: tokens (dataplane tokens, the default) or
    /// none (anyone may claim any Dataplane: local development only).
    #[arg(long, env = "MESHROUTE_DP_AUTH", value_enum, default_value = "tokens")]
    pub dp_auth: DpAuthArg,
    /// The TLS certificate (PEM chain) of the dataplane server and the HTTPS API (default: one made on
    /// first start in <data-dir>/tls, with its CA in <data-dir>/tls/ca.crt).
    #[arg(long, env = "MESHROUTE_TLS_CERT_FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// The key of --tls-cert-file (PEM).
    #[arg(long, env = "MESHROUTE_TLS_KEY_FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
    /// More names (DNS names or IP addresses) for the certificate made on first start.
    #[arg(long = "tls-san")]
    pub tls_sans: Vec<String>,
}

/// `$XDG_DATA_HOME/meshroute`, else `~/.local/share/meshroute`.
fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir)
        .join("meshroute")
}

/// The store and how instances on it coordinate.
async fn open_store(
    args: &RunArgs,
    dir: &std::path::Path,
    instance: &str,
) -> Result<(Arc<dyn store::Store>, Arc<dyn store::Coordination>), String> {
    let alone = |store: Arc<dyn store::Store>| {
        let coordination: Arc<dyn store::Coordination> = Arc::new(store::Alone { store: store.clone() });
        (store, coordination)
    };
    match args.store {
        StoreKind::Memory => Ok(alone(Arc::new(store::MemoryStore::new()))),
        StoreKind::Sqlite => store::SqliteStore::open(&dir.join("meshroute.db"))
            .await
            .map(|s| alone(Arc::new(s)))
            .map_err(|e| format!("cannot open the store in {}: {e}", dir.display())),
        StoreKind::Postgres => {
            let from_file = match &args.postgres_url_file {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map(|t| t.trim().to_owned())
                        .map_err(|e| format!("--postgres-url-file {}: {e}", path.display()))?,
                ),
                None => None,
            };
            let url = args
                .postgres_url
                .clone()
                .or(from_file)
                .ok_or("--store postgres needs --postgres-url-file, MESHROUTE_POSTGRES_URL or --postgres-url")?;
            let store = store::PostgresStore::open(&url, &args.postgres_schema, instance)
                .await
                .map_err(|e| format!("cannot open the PostgreSQL store: {e}"))?;
            let store = Arc::new(store);
            Ok((store.clone(), store))
        }
    }
}

/// What `GET /config` shows: every setting in effect, no secrets.
fn effective_config(args: &RunArgs, data_dir: &std::path::Path, token_required: bool) -> serde_json::Value {
    serde_json::json!({
        "environment": "universal",
        "store": {
            "type": match args.store { StoreKind::Sqlite => "sqlite", StoreKind::Memory => "memory", StoreKind::Postgres => "postgres" },
            "postgres": { "schema": args.postgres_schema, "urlSet": args.postgres_url.is_some() || args.postgres_url_file.is_some() },
        },
        "dataDir": data_dir.display().to_string(),
        "address": args.address,
        "dpServer": {
            "port": args.dp_server_port,
            "authn": { "dpProxy": { "type": match args.dp_auth { DpAuthArg::Tokens => "dpToken", DpAuthArg::None => "none" } } },
            "tls": { "plaintextFromLoopback": true, "certFileSet": args.tls_cert_file.is_some() },
        },
        "apiServer": {
            "http": { "port": args.api_port },
            "https": { "port": args.api_https_port },
            "authn": { "type": if token_required { "tokens" } else { "none" }, "localhostOnly": !token_required },
        },
        "diagnostics": { "serverPort": args.diagnostics_port },
    })
}

/// The store, the leader, the reconcile loops and the API (HTTP on loopback, HTTPS on `--address`).
async fn start_store_mode(
    args: &RunArgs,
    dir: &std::path::Path,
    control: &Arc<server::ControlPlane>,
    tls: &tokio_rustls::TlsAcceptor,
) -> Result<(), String> {
    let instance = args.instance_id.clone().unwrap_or_else(server::leader::instance_id);
    let (store, coordination) = open_store(args, dir, &instance).await?;
    let store: Arc<dyn store::Store> =
        Arc::new(server::metered_store::MeteredStore::new(store, control.metrics.clone()));
    let leader = server::leader::Leader::new(coordination, store.clone(), control.clone(), instance.clone());
    // The first tick creates the default mesh (if this instance leads) before the API opens.
    if let Err(e) = leader.tick().await {
        return Err(format!("cannot reach the store: {e}"));
    }
    tokio::spawn(leader.run());
    tokio::spawn(server::reconcile::run(store.clone(), control.clone()));
    tokio::spawn(server::reconcile::register(store.clone(), control.clone(), instance.clone()));
    let on_loopback = server::auth::is_loopback(&args.address);
    // Plaintext HTTP never leaves this machine: off loopback it listens on 127.0.0.1 only, and the
    // network gets the HTTPS port.
    let api = listen(if on_loopback { &args.address } else { "127.0.0.1" }, args.api_port).await?;
    let api_https = listen(&args.address, args.api_https_port).await?;
    // Off loopback anyone on the network could call the API: require a token.
    let token = if on_loopback {
        None
    } else {
        match server::auth::admin_token(dir) {
            Ok(t) => Some(Arc::from(t.as_str())),
            Err(e) => return Err(format!("cannot make the admin token in {}: {e}", dir.display())),
        }
    };
    let mut api_state = server::api::Api::new(store, control.clone());
    api_state.config = Arc::new(effective_config(args, dir, token.is_some()));
    api_state.token = token;
    let https_state = api_state.clone();
    tokio::spawn(async move {
        if let Err(e) = server::serve_api(api_state, api, crate::logging::shutdown_signal()).await {
            tracing::error!("API server failed: {e}");
        }
    });
    let api_tls = tls.clone();
    tokio::spawn(async move {
        if let Err(e) = server::serve_api_tls(https_state, api_https, api_tls, crate::logging::shutdown_signal()).await
        {
            tracing::error!("HTTPS API server failed: {e}");
        }
    });
    tracing::info!(
        "instance {instance}: API on {}:{} (HTTPS {}:{}), dataplane server (ADS, TLS) on {}:{}",
        if on_loopback { args.address.as_str() } else { "127.0.0.1" },
        args.api_port,
        args.address,
        args.api_https_port,
        args.address,
        args.dp_server_port
    );
    Ok(())
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("meshroute: {message}");
    ExitCode::from(code)
}

async fn listen(address: &str, port: u16) -> Result<tokio::net::TcpListener, String> {
    let socket: SocketAddr =
        format!("{address}:{port}").parse().map_err(|e| format!("bad address {address}:{port}: {e}"))?;
    tokio::net::TcpListener::bind(socket).await.map_err(|e| format!("cannot listen on {socket}: {e}"))
}

pub fn run(args: RunArgs) -> ExitCode {
    crate::logging::init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return fail(1, &format!("cannot start: {e}")),
    };
    runtime.block_on(async move {
        let control = server::ControlPlane::with_dp_auth(match args.dp_auth {
            DpAuthArg::Tokens => server::control::DpAuth::Tokens,
            DpAuthArg::None => server::control::DpAuth::None,
        });
        if args.dp_auth == DpAuthArg::None {
            tracing::warn!("--dp-auth none: any proxy may claim any Dataplane; for local development only");
        }
        let dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
        if let Err(e) = support::private::private_dir(&dir) {
            return fail(1, &format!("--data-dir {}: {e}", dir.display()));
        }
        let given = args.tls_cert_file.as_deref().zip(args.tls_key_file.as_deref());
        let sans = server::tls::default_sans(&args.address, &args.tls_sans);
        let tls = match server::tls::server_identity(given, &dir, &sans).and_then(|id| server::tls::acceptor(&id)) {
            Ok(t) => t,
            Err(e) => return fail(1, &e),
        };
        let ads = match listen(&args.address, args.dp_server_port).await {
            Ok(l) => l,
            Err(e) => return fail(1, &e),
        };
        let diagnostics = match listen(&args.address, args.diagnostics_port).await {
            Ok(l) => l,
            Err(e) => return fail(1, &e),
        };
        let diagnostics_control = control.clone();
        tokio::spawn(async move {
            if let Err(e) =
                server::serve_diagnostics(diagnostics_control, diagnostics, crate::logging::shutdown_signal()).await
            {
                tracing::error!("diagnostics server failed: {e}");
            }
        });
        if let Some(resources) = &args.resources {
            if !resources.is_dir() {
                return fail(2, &format!("--resources {}: not a folder", resources.display()));
            }
            tokio::spawn(server::files::watch(control.clone(), resources.clone(), Duration::from_millis(250)));
            tracing::info!(
                "dataplane server (ADS, TLS) on {}:{}, resources from {}",
                args.address,
                args.dp_server_port,
                resources.display()
            );
        } else if let Err(e) = start_store_mode(&args, &dir, &control, &tls).await {
            return fail(1, &e);
        }
        match server::serve_ads_tls(control, ads, tls, crate::logging::shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(1, &format!("dataplane server failed: {e}")),
        }
    })
}
