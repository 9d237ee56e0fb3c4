//! JSON Schema of each kind's document, as `meshroute schema <Kind>` prints it: the spec schema from the
//! types, wrapped in the Universal envelope of that kind.

use serde_json::{Value, json};

use crate::kind::{Kind, Scope, UniversalLayout};

/// The JSON Schema (draft 2020-12) of a Universal document of `kind`.
pub fn document_schema(kind: Kind) -> Value {
    let d = kind.descriptor();
    let mut spec = kind.spec_schema().to_value();
    let defs = spec.as_object_mut().and_then(|o| o.remove("$defs"));
    let mut envelope = json!({
        "type": { "type": "string", "enum": [d.wire_name] },
        "name": { "type": "string" },
        "labels": { "type": "object", "additionalProperties": { "type": "string" } },
    });
    if d.scope == Scope::Mesh {
        envelope["mesh"] = json!({ "type": "string", "default": "default" });
    }
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": d.wire_name,
        "type": "object",
        "required": ["type", "name"],
    });
    let properties = match d.universal_layout {
        UniversalLayout::SpecField => {
            envelope["spec"] = strip_meta(spec);
            envelope
        }
        UniversalLayout::TopLevel => {
            let mut props = spec.get("properties").cloned().unwrap_or_else(|| json!({}));
            if let (Some(p), Some(e)) = (props.as_object_mut(), envelope.as_object()) {
                p.extend(e.clone());
            }
            props
        }
    };
    schema["properties"] = properties;
    schema["additionalProperties"] = Value::Bool(false);
    if let Some(defs) = defs {
        schema["$defs"] = defs;
    }
    schema
}

fn strip_meta(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
    }
    v
}
