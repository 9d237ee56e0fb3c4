//! `meshroute run`: the control plane, serving ADS to Envoy from a folder of resource files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

pub struct RunArgs {
    pub resources: PathBuf,
    pub address: String,
    pub dp_server_port: u16,
}

pub fn run(args: RunArgs) -> ExitCode {
    crate::logging::init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("meshroute: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        if !args.resources.is_dir() {
            eprintln!("meshroute: --resources {}: not a folder", args.resources.display());
            return ExitCode::from(2);
        }
        let address: SocketAddr = match format!("{}:{}", args.address, args.dp_server_port).parse() {
            Ok(a) => a,
            Err(e) => {
                eprintln!("meshroute: bad address {}:{}: {e}", args.address, args.dp_server_port);
                return ExitCode::from(2);
            }
        };
        let listener = match tokio::net::TcpListener::bind(address).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("meshroute: cannot listen on {address}: {e}");
                return ExitCode::from(1);
            }
        };
        let control = server::ControlPlane::new();
        tokio::spawn(server::files::watch(control.clone(), args.resources.clone(), Duration::from_millis(250)));
        tracing::info!("dataplane server (ADS) on {address}, resources from {}", args.resources.display());
        match server::serve_ads(control, listener, crate::logging::shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("meshroute: ADS server failed: {e}");
                ExitCode::from(1)
            }
        }
    })
}
