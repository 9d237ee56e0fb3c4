//! The real `meshroute` binary as tests run it: a control plane on a resources folder, and proxies
//! (Envoy through `meshroute proxy`). Processes are stopped with SIGTERM when dropped, so `meshroute
//! proxy` stops its Envoy too.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::echo::who_answers;

/// A free loopback port (bound and released) below the kernel's ephemeral range (32768+), so that no
/// outgoing connection of a concurrently running test can take it before our server binds it. Each test
/// process starts at its own place (from its pid) and walks forward.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id() % 600 * 20;
    for _ in 0..12_000 {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % 12_000;
        let port = u16::try_from(20_000 + offset).expect("below 32000");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 20000-31999")
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits until `check` holds, polling; false on timeout.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Where a test's resources go: files in the declarative folder, or the HTTP API (memory store).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Files,
    Api,
}

/// `meshroute run` on free ports: from a resources folder, or from a memory store behind the HTTP API.
/// `write` and `remove` work on "files" either way: through the API, a file's resources are PUT, and
/// those it no longer holds are DELETEd.
pub struct ControlPlaneProcess {
    child: Child,
    /// In API mode, the API paths of the resources each "file" holds.
    api_files: std::sync::Mutex<BTreeMap<String, Vec<String>>>,
    pub port: u16,
    /// The HTTP API port (store mode only).
    pub api_port: Option<u16>,
    /// The HTTPS API port (store mode only).
    pub https_port: Option<u16>,
    /// The diagnostics port (/metrics, /ready, /healthy).
    pub diagnostics_port: u16,
    pub dir: PathBuf,
    log: PathBuf,
}

impl ControlPlaneProcess {
    /// Starts a control plane serving `resources` (one YAML text, written as `mesh.yaml`) from `source`.
    pub fn start_from(source: Source, meshroute: &Path, resources: &str) -> Self {
        match source {
            Source::Files => Self::start(meshroute, resources),
            Source::Api => {
                let cp = Self::start_with_api(meshroute);
                cp.write("mesh.yaml", resources);
                cp
            }
        }
    }

    /// Starts a control plane serving `resources` (one YAML text, written as `mesh.yaml`).
    pub fn start(meshroute: &Path, resources: &str) -> Self {
        let (port, diagnostics_port) = (free_port(), free_port());
        let dir = std::env::temp_dir().join(format!("meshroute-e2e-{}-{port}", std::process::id()));
        std::fs::create_dir_all(dir.join("resources")).expect("temp dir");
        let log = dir.join("control-plane.log");
        // Proxies authenticate here too: the folder holds the mesh's signing key, and proxies get tokens
        // signed offline with it (see `ProxyProcess::start`).
        let key = generate(meshroute, &["generate", "signing-key"]);
        std::fs::write(dir.join(SIGNING_KEY_FILE), &key).expect("signing key");
        std::fs::write(
            dir.join("resources").join("signing-key.yaml"),
            format!("type: Secret\nmesh: default\nname: dataplane-token-signing-key-default-1\ndata: {key}\n"),
        )
        .expect("signing key secret");
        let cp = Self {
            api_files: std::sync::Mutex::default(),
            child: Command::new(meshroute)
                .args(["run", "--resources"])
                .arg(dir.join("resources"))
                .arg("--data-dir")
                .arg(dir.join("data"))
                .args(["--dp-server-port", &port.to_string(), "--diagnostics-port", &diagnostics_port.to_string()])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log file"))
                .spawn()
                .expect("meshroute run starts"),
            port,
            api_port: None,
            https_port: None,
            diagnostics_port,
            dir,
            log,
        };
        cp.write("mesh.yaml", resources);
        assert!(
            eventually(Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", port)).is_ok()),
            "the control plane did not listen on {port}"
        );
        cp
    }

    /// Starts a control plane on a memory store, with its HTTP API.
    pub fn start_with_api(meshroute: &Path) -> Self {
        Self::start_with_api_args(meshroute, &[])
    }

    /// Starts a control plane with its HTTP API and data directory `<dir>/data`, with more arguments
    /// (the store defaults to memory).
    pub fn start_with_api_args(meshroute: &Path, extra: &[&str]) -> Self {
        let (port, api_port, diagnostics_port, https_port) = (free_port(), free_port(), free_port(), free_port());
        let dir = std::env::temp_dir().join(format!("meshroute-e2e-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let log = dir.join("control-plane.log");
        let store: &[&str] = if extra.contains(&"--store") { &[] } else { &["--store", "memory"] };
        let child = Command::new(meshroute)
            .arg("run")
            .args(store)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(extra)
            .args([
                "--dp-server-port",
                &port.to_string(),
                "--api-port",
                &api_port.to_string(),
                "--diagnostics-port",
                &diagnostics_port.to_string(),
                "--api-https-port",
                &https_port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("meshroute run starts");
        let cp = Self {
            https_port: Some(https_port),
            child,
            api_files: std::sync::Mutex::default(),
            port,
            api_port: Some(api_port),
            diagnostics_port,
            dir,
            log,
        };
        assert!(
            eventually(Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", api_port)).is_ok()),
            "the API did not listen on {api_port}"
        );
        cp
    }

    /// Writes (or replaces) a resource file atomically; through the API, applies what it holds.
    pub fn write(&self, file: &str, text: &str) {
        if let Some(api) = self.api_port {
            let resources: Vec<model::Resource> =
                model::parse_resources(text).expect("yaml").into_iter().map(|d| d.expect("valid").resource).collect();
            let paths: Vec<String> = resources.iter().map(api_path).collect();
            for (resource, path) in resources.iter().zip(&paths) {
                let (status, body) = crate::http::json(api, "PUT", path, &model::to_universal(resource).to_string());
                assert!(status == 200 || status == 201, "PUT {path}: {status} {body}");
            }
            let before = self.files().insert(file.to_owned(), paths.clone()).unwrap_or_default();
            for gone in before.iter().filter(|p| !paths.contains(p)) {
                let (status, body) = crate::http::json(api, "DELETE", gone, "");
                assert_eq!(status, 200, "DELETE {gone}: {body}");
            }
            return;
        }
        let tmp = self.dir.join(format!(".{file}.tmp"));
        std::fs::write(&tmp, text).expect("write resources");
        std::fs::rename(&tmp, self.dir.join("resources").join(file)).expect("move resources in place");
    }

    /// Removes a resource file; through the API, deletes what it held.
    pub fn remove(&self, file: &str) {
        if let Some(api) = self.api_port {
            for path in self.files().remove(file).unwrap_or_default() {
                let (status, body) = crate::http::json(api, "DELETE", &path, "");
                assert_eq!(status, 200, "DELETE {path}: {body}");
            }
            return;
        }
        std::fs::remove_file(self.dir.join("resources").join(file)).expect("remove resources");
    }

    fn files(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<String>>> {
        self.api_files.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The control plane's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The dataplane server over TLS.
    pub fn tls_address(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The CA certificate the control plane made on first start.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("data/tls/ca.crt")
    }

    /// A dataplane token for `mesh/name`, valid for an hour: from the API when there is one, else
    /// signed offline with the folder's signing key.
    pub fn dataplane_token(&self, meshroute: &Path, mesh: &str, name: &str) -> String {
        if let Some(api) = self.api_port {
            let body = format!(r#"{{"mesh":"{mesh}","name":"{name}","validFor":"1h"}}"#);
            let (status, _, token) = crate::http::request(api, "POST", "/tokens/dataplane", &[], &body);
            assert_eq!(status, 200, "POST /tokens/dataplane: {token}");
            return token.trim().to_owned();
        }
        let key = self.dir.join(SIGNING_KEY_FILE);
        let key = key.to_str().expect("utf-8 path");
        generate(
            meshroute,
            &[
                "generate",
                "dataplane-token",
                "--mesh",
                mesh,
                "--name",
                name,
                "--valid-for",
                "1h",
                "--signing-key-path",
                key,
                "--kid",
                "1",
            ],
        )
    }

    /// kill -9: no chance to clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The diagnostics `/metrics` text.
    pub fn metrics(&self) -> String {
        crate::http::request(self.diagnostics_port, "GET", "/metrics", &[], "").2
    }

    /// The value of an unlabelled integer metric line, e.g. `leader`.
    pub fn metric(&self, name: &str) -> Option<i64> {
        self.metrics().lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    }
}

impl Drop for ControlPlaneProcess {
    fn drop(&mut self) {
        terminate(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where the API keeps a resource.
fn api_path(resource: &model::Resource) -> String {
    let d = resource.kind().descriptor();
    if resource.kind() == model::Kind::Mesh {
        format!("/meshes/{}", resource.meta.name)
    } else {
        format!("/meshes/{}/{}/{}", resource.meta.mesh, d.rest_path, resource.meta.name)
    }
}

/// `meshroute proxy` for a Dataplane: a real Envoy.
pub struct ProxyProcess {
    child: Child,
    pub admin_port: u16,
}

impl ProxyProcess {
    /// `meshroute proxy` for a Dataplane, with a dataplane token for it (unless `extra` brings its own).
    pub fn start(meshroute: &Path, cp: &ControlPlaneProcess, name: &str, dataplane: &str, extra: &[&str]) -> Self {
        let file = cp.dir.join(format!("{name}.dataplane.yaml"));
        std::fs::write(&file, dataplane).expect("dataplane file");
        let token_file = cp.dir.join(format!("{name}.token"));
        let mut extra: Vec<&str> = extra.to_vec();
        if !extra.iter().any(|a| a.starts_with("--dataplane-token")) {
            let dp = model::parse_resources(dataplane).expect("yaml").remove(0).expect("dataplane").resource;
            std::fs::write(&token_file, cp.dataplane_token(meshroute, &dp.meta.mesh, &dp.meta.name))
                .expect("token file");
            extra.extend(["--dataplane-token-file", token_file.to_str().expect("utf-8 path")]);
        }
        let admin_port = free_port();
        let log = std::fs::File::create(cp.dir.join(format!("{name}.envoy.log"))).expect("log file");
        let child = Command::new(meshroute)
            .args(["proxy", "--cp-address", &cp.address(), "--dataplane-file"])
            .arg(&file)
            .args(["--admin-port", &admin_port.to_string()])
            .arg("--envoy-binary")
            .arg(crate::envoy::binary())
            .args(&extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("meshroute proxy starts");
        Self { child, admin_port }
    }

    /// A GET on Envoy's admin interface.
    pub fn admin(&self, path: &str) -> Option<String> {
        let response =
            support::client::request("127.0.0.1", self.admin_port, "GET", path, &[], "", Duration::from_secs(5))
                .ok()?;
        Some(response.body)
    }

    /// Envoy's whole config dump.
    pub fn config(&self) -> String {
        self.admin("/config_dump").unwrap_or_default()
    }

    /// The listener section of Envoy's config dump.
    pub fn listeners(&self) -> String {
        self.admin("/config_dump?resource=dynamic_listeners").unwrap_or_default()
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// Where a files-mode control plane's test folder keeps the mesh's signing key (PEM, base64).
const SIGNING_KEY_FILE: &str = "signing-key.b64";

/// Runs `meshroute` and returns its trimmed stdout; it must succeed.
fn generate(meshroute: &Path, args: &[&str]) -> String {
    let out = Command::new(meshroute).args(args).output().expect("meshroute runs");
    assert!(out.status.success(), "meshroute {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Opens `n` connections to `port` and counts which server answered each (`<none>` for none).
pub fn tally(port: u16, n: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        let who = who_answers(port, Duration::from_secs(2)).unwrap_or_else(|| "<none>".to_owned());
        *counts.entry(who).or_insert(0) += 1;
    }
    counts
}

/// The share (percent) of `name` in a tally.
#[allow(clippy::cast_precision_loss)]
pub fn share(counts: &BTreeMap<String, usize>, name: &str) -> f64 {
    let total: usize = counts.values().sum();
    let n = counts.get(name).copied().unwrap_or(0);
    if total == 0 { 0.0 } else { 100.0 * n as f64 / total as f64 }
}
