//! The API's OpenAPI 3.1 document (`GET /openapi.json`), made from the kind descriptors and the model's
//! JSON Schemas, so it cannot drift from what the API accepts.

use serde_json::{Map, Value, json};

use model::Kind;
use model::kind::Scope;

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn list_parameters() -> Value {
    json!([
        { "name": "size", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } },
        { "name": "offset", "in": "query", "schema": { "type": "integer", "minimum": 0 } },
        { "name": "name", "in": "query", "description": "Only names containing this", "schema": { "type": "string" } },
        { "name": "filter", "in": "query", "style": "deepObject", "explode": true,
          "description": "filter[labels.<key>]=<value>", "schema": { "type": "object", "additionalProperties": { "type": "string" } } },
    ])
}

fn path_parameter(name: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } })
}

/// `$ref: "#/$defs/X"` inside a kind's schema, rewritten to point into its place in the document.
fn rebase_refs(value: &mut Value, base: &str) {
    match value {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get_mut("$ref")
                && let Some(rest) = r.strip_prefix("#/$defs/")
            {
                *r = format!("{base}/$defs/{rest}");
            }
            o.values_mut().for_each(|v| rebase_refs(v, base));
        }
        Value::Array(a) => a.iter_mut().for_each(|v| rebase_refs(v, base)),
        _ => {}
    }
}

pub fn document() -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        json!({ "type": "object", "required": ["status", "title", "detail"], "properties": {
            "type": { "type": "string" }, "status": { "type": "integer" }, "title": { "type": "string" },
            "detail": { "type": "string" },
            "invalid_parameters": { "type": "array", "items": { "type": "object", "properties": {
                "field": { "type": "string" }, "reason": { "type": "string" } } } } } }),
    );
    for kind in Kind::ALL {
        let d = kind.descriptor();
        let mut schema = model::schema::document_schema(*kind);
        if let Some(o) = schema.as_object_mut() {
            o.remove("$schema");
        }
        rebase_refs(&mut schema, &format!("#/components/schemas/{}", d.wire_name));
        schemas.insert(d.wire_name.to_owned(), schema);
        let item = json!({ "$ref": format!("#/components/schemas/{}", d.wire_name) });
        let list = json!({ "type": "object", "properties": {
            "total": { "type": "integer" }, "items": { "type": "array", "items": item }, "next": { "type": ["string", "null"] } } });
        let (collection, single, mut params) = if d.scope == Scope::Mesh {
            (
                format!("/meshes/{{mesh}}/{}", d.rest_path),
                format!("/meshes/{{mesh}}/{}/{{name}}", d.rest_path),
                vec![path_parameter("mesh")],
            )
        } else {
            (format!("/{}", d.rest_path), format!("/{}/{{name}}", d.rest_path), Vec::new())
        };
        let tag = d.wire_name;
        let list_params: Vec<Value> =
            params.iter().cloned().chain(list_parameters().as_array().cloned().unwrap_or_default()).collect();
        paths.insert(
            collection,
            json!({ "get": { "tags": [tag], "summary": format!("List {}", d.display_plural), "parameters": list_params,
                "responses": { "200": { "description": "A page", "content": { "application/json": { "schema": list } } },
                               "400": error_response("Bad paging or filter"), "404": error_response("No such mesh") } } }),
        );
        params.push(path_parameter("name"));
        paths.insert(
            single,
            json!({
                "parameters": params,
                "get": { "tags": [tag], "summary": format!("Get a {}", d.display_singular),
                    "responses": { "200": { "description": "The resource", "content": { "application/json": { "schema": item } } },
                                   "404": error_response("Not found") } },
                "put": { "tags": [tag], "summary": format!("Create or update a {}", d.display_singular),
                    "parameters": [{ "name": "If-Match", "in": "header", "description": "Update only this version (from ETag)", "schema": { "type": "string" } }],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": item } } },
                    "responses": {
                        "201": { "description": "Created", "content": { "application/json": { "schema": { "type": "object", "properties": { "warnings": { "type": "array", "items": { "type": "string" } } } } } } },
                        "200": { "description": "Updated", "content": { "application/json": { "schema": { "type": "object", "properties": { "warnings": { "type": "array", "items": { "type": "string" } } } } } } },
                        "400": error_response("Invalid resource (invalid_parameters names each field)"),
                        "409": error_response("The stored version is not the one in If-Match") } },
                "delete": { "tags": [tag], "summary": format!("Delete a {}", d.display_singular),
                    "responses": { "200": { "description": "Deleted" }, "404": error_response("Not found"), "409": error_response("Version conflict") } },
            }),
        );
    }
    let any = json!({ "description": "OK", "content": { "application/json": { "schema": { "type": "object" } } } });
    for (path, summary) in [
        ("/", "Control plane identity"),
        ("/config", "Effective configuration"),
        ("/_resources", "Resource type catalogue"),
        ("/policies", "Policy types"),
        ("/meshes/{mesh}/dataplanes/{name}/_rules", "Policies and rules that apply to a Dataplane"),
        ("/meshes/{mesh}/dataplanes/{name}/_config", "The Envoy resources sent to a Dataplane"),
        ("/meshes/{mesh}/dataplanes/{name}/_xds", "A Dataplane's xDS status: connected, ACKed versions, last NACK"),
        ("/meshes/{mesh}/dataplanes/{name}/_outbounds/{kri}/_routes", "Routes of one outbound"),
        ("/meshes/{mesh}/meshtcproutes/{name}/_resources/dataplanes", "Dataplanes a MeshTCPRoute applies to"),
    ] {
        let params: Vec<Value> = ["mesh", "name", "kri"]
            .into_iter()
            .filter(|p| path.contains(&format!("{{{p}}}")))
            .map(path_parameter)
            .collect();
        paths.insert(path.to_owned(), json!({ "get": { "summary": summary, "parameters": params, "responses": { "200": any, "404": error_response("Not found") } } }));
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "meshroute API", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Kuma-compatible control plane API. Off loopback, every request needs Authorization: Bearer <token>." },
        "components": { "schemas": schemas, "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } } },
        "security": [{ "bearer": [] }, {}],
        "paths": paths,
    })
}
