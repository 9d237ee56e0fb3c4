//! `apply`, `get`, `delete` and the online `inspect` commands against a real control plane.

use std::path::Path;
use std::process::{Command, Output};

use testkit::processes::{ControlPlaneProcess, free_port};

fn meshroute(api: u16, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshroute"))
        .args(args)
        .args(["--cp-address", &format!("http://127.0.0.1:{api}")])
        .output()
        .expect("runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

const ROUTE: &str = "type: MeshTCPRoute\nname: {{ name }}\nmesh: default\nspec:\n  to:\n  - targetRef: {kind: MeshService, name: backend}\n    rules: [{default: {backendRefs: [{kind: MeshService, name: backend-v2}]}}]\n";

#[test]
fn apply_get_delete_and_inspect_against_a_real_server() {
    let cp = ControlPlaneProcess::start_with_api(Path::new(env!("CARGO_BIN_EXE_meshroute")));
    let api = cp.api_port.expect("API");
    let file = cp.dir.join("route.yaml");
    std::fs::write(&file, ROUTE).expect("write");
    let f = file.to_str().expect("utf-8");

    let dry = meshroute(api, &["apply", "-f", f, "-v", "name=canary", "--dry-run"]);
    assert!(dry.status.success() && text(&dry).contains("name: canary"), "{}", text(&dry));
    let out = meshroute(api, &["get", "meshtcproutes"]);
    assert_eq!(text(&out).lines().count(), 1, "dry run sent nothing: {}", text(&out));

    let out = meshroute(api, &["apply", "-f", f, "-v", "name=canary"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("MeshTCPRoute canary applied"));

    let out = meshroute(api, &["get", "meshtcproutes"]);
    let listing = text(&out);
    assert!(listing.starts_with("MESH") && listing.contains("NAME") && listing.contains("AGE"), "{listing}");
    assert!(listing.lines().nth(1).is_some_and(|l| l.starts_with("default") && l.contains("canary")), "{listing}");
    let out = meshroute(api, &["get", "mtcpr", "canary", "-o", "json"]);
    let item: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(item["kri"], "kri_mtcpr_default___canary_");

    let dp = cp.dir.join("dp.yaml");
    std::fs::write(&dp, format!("type: Dataplane\nmesh: default\nname: web-1\nnetworking:\n  address: 127.0.0.1\n  inbound: [{{port: {}, tags: {{kuma.io/service: web}}}}]\n  outbound: [{{port: {}, tags: {{kuma.io/service: backend}}}}]\n", free_port(), free_port())).expect("write");
    assert!(meshroute(api, &["apply", "-f", dp.to_str().expect("utf-8")]).status.success());
    let mut affected = String::new();
    for _ in 0..50 {
        affected = text(&meshroute(api, &["inspect", "meshtcproute", "canary"]));
        if affected.contains("web-1") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(affected.contains("name: web-1"), "{affected}");
    let rules = text(&meshroute(api, &["inspect", "dataplane", "web-1", "--type", "rules"]));
    assert!(rules.contains("name: canary"), "{rules}");
    let status = text(&meshroute(api, &["inspect", "dataplanes"]));
    assert!(status.contains("web-1") && status.contains("Offline"), "{status}");

    let out = meshroute(api, &["delete", "meshtcproute", "canary"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = meshroute(api, &["delete", "meshtcproute", "canary"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("404 Could not delete a resource: Not found"), "{}", text(&out));
}

#[test]
fn field_errors_and_a_missing_server_are_one_clear_message() {
    let cp = ControlPlaneProcess::start_with_api(Path::new(env!("CARGO_BIN_EXE_meshroute")));
    let api = cp.api_port.expect("API");
    let file = cp.dir.join("bad.yaml");
    std::fs::write(&file, "type: MeshTCPRoute\nname: bad\nmesh: default\nspec:\n  to:\n  - targetRef: {kind: MeshService, name: b}\n    rules: [{default: {backendRefs: [{kind: MeshMultiZoneService, name: x}]}}]\n").expect("write");
    let out = meshroute(api, &["apply", "-f", file.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let message = text(&out);
    assert!(message.contains("400 Could not process a resource: Resource is not valid"), "{message}");
    assert!(
        message.contains(
            "spec.to[0].rules[0].default.backendRefs[0].port: must be defined with kind MeshMultiZoneService"
        ),
        "{message}"
    );

    let out = meshroute(free_port(), &["get", "meshes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("connection refused (is `meshroute run` running?)"), "{}", text(&out));
}

#[test]
fn off_loopback_the_api_needs_the_admin_token_made_on_first_start() {
    let cp =
        ControlPlaneProcess::start_with_api_args(Path::new(env!("CARGO_BIN_EXE_meshroute")), &["--address", "0.0.0.0"]);
    let api = cp.api_port.expect("API");
    let token_file = cp.dir.join("data/admin-token");
    let token = std::fs::read_to_string(&token_file).expect("the admin token is in the data directory");
    assert_eq!(token.len(), 64, "{token}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner reads the token");
    }

    let out = meshroute(api, &["get", "meshes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("401 Unauthenticated: pass --api-token"), "{}", text(&out));

    let out = meshroute(api, &["get", "meshes", "--api-token", &token]);
    assert!(out.status.success() && text(&out).contains("default"), "{}", text(&out));
    let out = Command::new(env!("CARGO_BIN_EXE_meshroute"))
        .args(["get", "meshes", "--cp-address", &format!("http://127.0.0.1:{api}")])
        .env("MESHROUTE_API_TOKEN", &token)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));

    let (status, _, config) =
        testkit::http::request(api, "GET", "/config", &[("Authorization", &format!("Bearer {token}"))], "");
    assert_eq!(status, 200);
    let config: serde_json::Value = serde_json::from_str(&config).expect("json");
    assert_eq!(config["apiServer"]["authn"]["type"], "tokens");
    assert_eq!(config["address"], "0.0.0.0");
    assert!(!config.to_string().contains(token.as_str()), "no secrets in /config");
}
