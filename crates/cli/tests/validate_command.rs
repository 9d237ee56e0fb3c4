//! `meshroute validate` and `meshroute schema` as a user runs them: the real binary, real files, stdin.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn meshroute(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshroute"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("meshroute runs");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("meshroute finishes")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn seeds_folder_is_valid_and_exits_zero() {
    let seeds = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/examples/seeds");
    let out = meshroute(&["validate", "-f", seeds], "");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("10 resource(s) checked, 0 invalid"));
    // Deprecation warnings are reported but do not fail validation.
    assert!(
        stdout(&out).contains("MeshTCPRoute/tcp-route-1: warning: MeshSubset value for 'targetRef.kind' is deprecated")
    );
}

#[test]
fn invalid_resource_prints_each_problem_and_exits_one() {
    let doc = "type: MeshTCPRoute\nname: route-1\nmesh: default\nspec:\n  targetRef: {kind: Mesh, name: x}\n  to:\n  - targetRef: {kind: MeshService, name: backend}\n    rules:\n    - default:\n        backendRefs:\n        - {kind: MeshMultiZoneService, name: other}\n";
    let out = meshroute(&["validate", "-f", "-"], doc);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(
        lines,
        [
            "<stdin>: MeshTCPRoute/route-1: spec.targetRef.name: using name with kind Mesh is not yet supported",
            "<stdin>: MeshTCPRoute/route-1: spec.to[0].rules[0].default.backendRefs[0].port: must be defined with kind MeshMultiZoneService",
        ]
    );
}

#[test]
fn unparseable_input_exits_two_with_position_and_path() {
    let out = meshroute(
        &["validate", "-f", "-"],
        "type: MeshTCPRoute\nname: r\nspec:\n  to:\n  - targetRef: {kind: MeshService, name: b, colour: red}\n    rules: []\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).starts_with("<stdin>:5:"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("document 1: spec.to[0].targetRef.colour: unknown field `colour`"),
        "{}",
        stdout(&out)
    );

    let out = meshroute(&["validate", "-f", "-"], "type: [\n");
    assert_eq!(out.status.code(), Some(2));
    let out = meshroute(&["validate", "-f", "/nonexistent/file.yaml"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("/nonexistent/file.yaml: cannot read"));
}

#[test]
fn unreadable_wins_over_invalid() {
    let dir = std::env::temp_dir().join(format!("meshroute-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("a-invalid.yaml"), "type: MeshTCPRoute\nname: r\nspec:\n  to: []\n").expect("write");
    std::fs::write(dir.join("b-broken.json"), "{\"type\": ").expect("write");
    std::fs::write(dir.join("c-ignored.txt"), "not a resource").expect("write");
    let out = meshroute(&["validate", "-f", dir.to_str().expect("utf-8")], "");
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert!(text.contains("a-invalid.yaml: MeshTCPRoute/r: spec.to: in body should have at least 1 items"), "{text}");
    assert!(text.contains("b-broken.json:"), "{text}");
    assert!(!text.contains("c-ignored"), "{text}");
}

#[test]
fn schema_prints_the_kind_document_schema() {
    let out = meshroute(&["schema", "mtcpr"], "");
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(schema["title"], "MeshTCPRoute");
    assert_eq!(schema["properties"]["type"]["enum"][0], "MeshTCPRoute");
    let text = stdout(&out);
    assert!(text.contains("\"minItems\": 1") && text.contains("\"maxItems\": 1"), "schema keeps the constraints");
    let out = meshroute(&["schema", "Dataplane"], "");
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(schema["properties"].get("networking").is_some(), "top-level layout: {schema}");
    let out = meshroute(&["schema", "NoSuchKind"], "");
    assert_eq!(out.status.code(), Some(2));
}
