//! The wire formats: envelopes of both forms, error paths and positions, multi-document files.

use model::kind::Spec;
use model::{Format, parse_resources, to_format};

fn first_error(text: &str) -> model::ParseError {
    let docs = parse_resources(text).expect("valid YAML");
    docs.into_iter().find_map(Result::err).expect("a document fails")
}

#[test]
fn unknown_spec_field_names_its_wire_path_and_position() {
    let e = first_error(
        "type: MeshTCPRoute\nname: r\nspec:\n  to:\n  - targetRef:\n      kind: MeshService\n      nmae: backend\n    rules: []\n",
    );
    assert_eq!(e.path.as_str(), "spec.to[0].targetRef.nmae");
    assert!(e.message.starts_with("unknown field `nmae`"), "{}", e.message);
    assert_eq!((e.line, e.column), (7, 13));
}

#[test]
fn wrong_type_names_its_path() {
    let e = first_error(
        "type: MeshTCPRoute\nname: r\nspec:\n  to:\n  - targetRef: {kind: MeshService, name: b}\n    rules:\n    - default:\n        backendRefs:\n        - {kind: MeshService, name: a, weight: heavy}\n",
    );
    assert_eq!(e.path.as_str(), "spec.to[0].rules[0].default.backendRefs[0].weight");
    assert!(e.message.contains("invalid type"), "{}", e.message);
    assert_eq!(e.line, 9);
}

#[test]
fn unknown_envelope_fields_are_errors() {
    let e = first_error("type: MeshTCPRoute\nname: r\nspce: {}\n");
    assert_eq!(e.path.as_str(), "spce");
    let e = first_error("type: Mesh\nname: m\nmesh: default\n");
    assert_eq!(e.path.as_str(), "mesh");
    let e = first_error("type: Dataplane\nname: dp\nnetworking:\n  address: 1.1.1.1\n  inbounds: []\n");
    assert_eq!(e.path.as_str(), "networking.inbounds");
    let e =
        first_error("apiVersion: kuma.io/v1alpha1\nkind: MeshTCPRoute\nmetadata: {name: r, nmespace: x}\nspec: {}\n");
    assert_eq!(e.path.as_str(), "metadata.nmespace");
    let e = first_error("type: MeshRoute\nname: r\n");
    assert_eq!(e.path.as_str(), "type");
    assert!(e.message.contains("known kinds: Mesh, Dataplane"), "{}", e.message);
}

#[test]
fn each_document_of_a_file_stands_alone() {
    let docs = parse_resources(
        "type: Mesh\nname: default\n---\ntype: MeshTCPRoute\nname: bad\nspec: {oops: 1}\n---\ntype: MeshService\nname: redis\nspec:\n  ports: [{port: 6379, appProtocol: tcp}]\n",
    )
    .expect("valid YAML");
    assert_eq!(docs.len(), 3);
    assert!(docs[0].is_ok() && docs[1].is_err() && docs[2].is_ok());
    assert_eq!(docs[1].as_ref().err().map(|e| e.document), Some(1));
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let e = parse_resources("type: Mesh\nname: [unclosed\n").expect_err("syntax error");
    assert!(e.line >= 2, "{e:?}");
}

#[test]
fn universal_layouts_follow_the_descriptor() {
    let docs = parse_resources(
        "type: MeshGateway\nmesh: default\nname: edge\nselectors: [{match: {kuma.io/service: edge}}]\nconf:\n  listeners: [{port: 9080, protocol: TCP}]\n",
    )
    .expect("yaml");
    let r = &docs[0].as_ref().expect("parses").resource;
    let Spec::MeshGateway(gw) = &r.spec else { panic!("a MeshGateway") };
    assert_eq!(gw.conf.as_ref().map(|c| c.listeners[0].port), Some(9080));
    let u = to_format(r, Format::Universal);
    assert!(u.get("spec").is_none() && u.get("selectors").is_some(), "{u}");
    let k = to_format(r, Format::Kubernetes);
    assert_eq!(k["mesh"], "default");
    assert!(k["spec"].get("selectors").is_some(), "{k}");
}

#[test]
fn kubernetes_mesh_comes_from_the_label_and_defaults() {
    let docs = parse_resources(
        "apiVersion: kuma.io/v1alpha1\nkind: MeshTCPRoute\nmetadata:\n  name: r\n  namespace: ns\n  labels: {kuma.io/mesh: payments, team: core}\nspec: {}\n---\napiVersion: kuma.io/v1alpha1\nkind: MeshTCPRoute\nmetadata: {name: r2}\nspec: {}\n",
    )
    .expect("yaml");
    let a = &docs[0].as_ref().expect("parses").resource;
    assert_eq!((a.meta.mesh.as_str(), a.meta.name.as_str()), ("payments", "r.ns"));
    assert_eq!(a.label("team"), Some("core"));
    assert_eq!(a.label("kuma.io/mesh"), None, "the mesh lives in meta.mesh");
    let b = &docs[1].as_ref().expect("parses").resource;
    assert_eq!((b.meta.mesh.as_str(), b.meta.name.as_str()), ("default", "r2"));
}

#[test]
fn scalar_tag_values_read_as_strings() {
    let docs = parse_resources(
        "type: MeshTCPRoute\nname: r\nspec:\n  targetRef: {kind: MeshGateway, name: edge, tags: {port: 6000, tls: true}}\n",
    )
    .expect("yaml");
    let r = &docs[0].as_ref().expect("parses").resource;
    let Spec::MeshTcpRoute(spec) = &r.spec else { panic!("a MeshTCPRoute") };
    let tags = spec.target_ref.as_ref().and_then(|t| t.tags.clone()).expect("tags");
    assert_eq!(tags.get("port").map(String::as_str), Some("6000"));
    assert_eq!(tags.get("tls").map(String::as_str), Some("true"));
}
