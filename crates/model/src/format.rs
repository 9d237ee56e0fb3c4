//! Kuma's two document forms, read and written for every kind through its descriptor.
//!
//! Universal: `type`, `name`, `mesh`, `labels`, then `spec:` (policies, services) or the spec fields at the
//! top level (Mesh, Dataplane, MeshGateway, ExternalService, TrafficRoute).
//! Kubernetes: `apiVersion: kuma.io/v1alpha1`, `kind`, `metadata{name, namespace, labels}`, `spec`; the mesh
//! comes from the `kuma.io/mesh` label (or a top-level `mesh` on the proto-based kinds), and a namespaced
//! object becomes `<name>.<namespace>` with the display-name and namespace labels set.

use serde_json::{Map, Value};

use crate::defaults::apply_defaults;
use crate::kind::{Kind, Scope, Spec, UniversalLayout};
use crate::node::{Node, NodeValue, PathSegment, parse_documents};
use crate::path::FieldPath;
use crate::resource::{DEFAULT_MESH, Meta, Resource, labels};

/// The Kubernetes API version of every kind.
pub const API_VERSION: &str = "kuma.io/v1alpha1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Universal,
    Kubernetes,
}

/// A resource read from one document of a file.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedResource {
    /// The document's position in its file, from 0.
    pub document: usize,
    pub line: u32,
    pub format: Format,
    pub resource: Resource,
}

/// Why a text or one of its documents could not be read, with where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {}{message}", if path.is_root() { String::new() } else { format!("{path}: ") })]
pub struct ParseError {
    pub document: usize,
    pub line: u32,
    pub column: u32,
    pub path: FieldPath,
    pub message: String,
}

/// Reads every document of a YAML or JSON text. A syntax error fails the whole text; otherwise each
/// document succeeds or fails on its own.
pub fn parse_resources(text: &str) -> Result<Vec<Result<ParsedResource, ParseError>>, ParseError> {
    let docs = parse_documents(text).map_err(|e| ParseError {
        document: 0,
        line: e.line,
        column: e.column,
        path: FieldPath::root(),
        message: e.message,
    })?;
    Ok(docs.iter().enumerate().map(|(i, doc)| parse_document(i, doc)).collect())
}

/// Reads one resource from a document tree.
pub fn parse_document(document: usize, doc: &Node) -> Result<ParsedResource, ParseError> {
    let fail = |segments: &[PathSegment], path: FieldPath, message: String| {
        let at = doc.locate(segments);
        ParseError { document, line: at.line, column: at.column, path, message }
    };
    let NodeValue::Map(_) = &doc.value else {
        return Err(fail(&[], FieldPath::root(), "a resource must be a mapping".into()));
    };
    let (format, resource) = if doc.get("apiVersion").is_some() || doc.get("metadata").is_some() {
        (Format::Kubernetes, read_kubernetes(doc))
    } else {
        (Format::Universal, read_universal(doc))
    };
    match resource {
        Ok(mut resource) => {
            apply_defaults(&mut resource);
            Ok(ParsedResource { document, line: doc.line, format, resource })
        }
        Err(e) => Err(fail(&e.segments, e.path, e.message)),
    }
}

/// An envelope error before it is placed in the file.
struct EnvelopeError {
    segments: Vec<PathSegment>,
    path: FieldPath,
    message: String,
}

impl EnvelopeError {
    fn at(keys: &[&str], message: impl Into<String>) -> Self {
        let mut path = FieldPath::root();
        for k in keys {
            path = path.field(k);
        }
        Self {
            segments: keys.iter().map(|k| PathSegment::Key((*k).to_owned())).collect(),
            path,
            message: message.into(),
        }
    }
}

fn read_universal(doc: &Node) -> Result<Resource, EnvelopeError> {
    let kind = read_kind(doc, "type")?;
    let d = kind.descriptor();
    let mut envelope = vec!["type", "name", "labels", "creationTime", "modificationTime", "kri"];
    if d.scope == Scope::Mesh {
        envelope.push("mesh");
    }
    if d.has_status {
        envelope.push("status");
    }
    let spec_json = match d.universal_layout {
        UniversalLayout::SpecField => {
            envelope.push("spec");
            reject_unknown_keys(doc, &[], &envelope)?;
            doc.get("spec").map_or(Value::Object(Map::new()), Node::to_json)
        }
        UniversalLayout::TopLevel => {
            let entries = match &doc.value {
                NodeValue::Map(entries) => entries.as_slice(),
                _ => &[],
            };
            Value::Object(
                entries
                    .iter()
                    .filter(|(k, _)| !envelope.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            )
        }
    };
    let spec_prefix: &[&str] = match d.universal_layout {
        UniversalLayout::SpecField => &["spec"],
        UniversalLayout::TopLevel => &[],
    };
    let mesh = match d.scope {
        Scope::Global => String::new(),
        Scope::Mesh => read_string(doc, &["mesh"])?.unwrap_or_else(|| DEFAULT_MESH.to_owned()),
    };
    let mut meta = Meta {
        name: read_string(doc, &["name"])?.unwrap_or_default(),
        mesh,
        labels: read_labels(doc, &["labels"])?,
        creation_time: read_string(doc, &["creationTime"])?,
        modification_time: read_string(doc, &["modificationTime"])?,
    };
    meta.labels.remove(labels::MESH);
    let spec = decode_spec(kind, spec_json, spec_prefix)?;
    Ok(Resource { meta, spec, status: doc.get("status").map(Node::to_json) })
}

fn read_kubernetes(doc: &Node) -> Result<Resource, EnvelopeError> {
    match read_string(doc, &["apiVersion"])? {
        Some(v) if v == API_VERSION => {}
        Some(v) => {
            return Err(EnvelopeError::at(
                &["apiVersion"],
                format!("unsupported apiVersion {v:?}, expected {API_VERSION:?}"),
            ));
        }
        None => return Err(EnvelopeError::at(&["apiVersion"], "must be defined")),
    }
    let kind = read_kind(doc, "kind")?;
    let d = kind.descriptor();
    let mut envelope = vec!["apiVersion", "kind", "metadata", "spec"];
    if d.universal_layout == UniversalLayout::TopLevel && d.scope == Scope::Mesh {
        envelope.push("mesh");
    }
    if d.has_status {
        envelope.push("status");
    }
    reject_unknown_keys(doc, &[], &envelope)?;
    let metadata = doc.get("metadata").ok_or_else(|| EnvelopeError::at(&["metadata"], "must be defined"))?;
    reject_unknown_keys(metadata, &["metadata"], &K8S_METADATA_FIELDS)?;
    let name = read_string(doc, &["metadata", "name"])?.unwrap_or_default();
    let namespace = read_string(doc, &["metadata", "namespace"])?.unwrap_or_default();
    let mut labels = read_labels(doc, &["metadata", "labels"])?;
    let mesh = match d.scope {
        Scope::Global => String::new(),
        Scope::Mesh => {
            labels.remove(labels::MESH).or(read_string(doc, &["mesh"])?).unwrap_or_else(|| DEFAULT_MESH.to_owned())
        }
    };
    let core_name = if namespace.is_empty() {
        name
    } else {
        labels.entry(labels::DISPLAY_NAME.to_owned()).or_insert_with(|| name.clone());
        labels.insert(labels::K8S_NAMESPACE.to_owned(), namespace.clone());
        format!("{name}.{namespace}")
    };
    let meta = Meta { name: core_name, mesh, labels, creation_time: None, modification_time: None };
    let spec_json = doc.get("spec").map_or(Value::Object(Map::new()), Node::to_json);
    let spec = decode_spec(kind, spec_json, &["spec"])?;
    Ok(Resource { meta, spec, status: doc.get("status").map(Node::to_json) })
}

/// The Kubernetes object metadata we accept; server-managed fields are read and ignored.
const K8S_METADATA_FIELDS: [&str; 9] = [
    "name",
    "namespace",
    "labels",
    "annotations",
    "creationTimestamp",
    "resourceVersion",
    "uid",
    "generation",
    "managedFields",
];

fn read_kind(doc: &Node, key: &str) -> Result<Kind, EnvelopeError> {
    let Some(node) = doc.get(key) else {
        return Err(EnvelopeError::at(&[key], "must be defined"));
    };
    let NodeValue::Str(name) = &node.value else {
        return Err(EnvelopeError::at(&[key], "must be a string"));
    };
    Kind::from_wire_name(name).ok_or_else(|| {
        let known: Vec<&str> = Kind::ALL.iter().map(|k| k.wire_name()).collect();
        EnvelopeError::at(&[key], format!("unknown kind {name:?}; known kinds: {}", known.join(", ")))
    })
}

fn reject_unknown_keys(node: &Node, at: &[&str], allowed: &[&str]) -> Result<(), EnvelopeError> {
    let NodeValue::Map(entries) = &node.value else {
        return Err(EnvelopeError::at(at, "must be a mapping"));
    };
    match entries.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some((k, _)) => {
            let mut keys = at.to_vec();
            keys.push(k);
            Err(EnvelopeError::at(&keys, format!("unknown field `{k}`, expected one of {}", quote_list(allowed))))
        }
    }
}

fn quote_list(items: &[&str]) -> String {
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

fn find<'a>(doc: &'a Node, keys: &[&str]) -> Option<&'a Node> {
    keys.iter().try_fold(doc, |node, k| node.get(k))
}

fn read_string(doc: &Node, keys: &[&str]) -> Result<Option<String>, EnvelopeError> {
    match find(doc, keys).map(|n| &n.value) {
        None | Some(NodeValue::Null) => Ok(None),
        Some(NodeValue::Str(s)) => Ok(Some(s.clone())),
        Some(_) => Err(EnvelopeError::at(keys, "must be a string")),
    }
}

fn read_labels(doc: &Node, keys: &[&str]) -> Result<crate::common::Tags, EnvelopeError> {
    match find(doc, keys) {
        None => Ok(crate::common::Tags::new()),
        Some(node) => crate::common::string_map(node.to_json()).map_err(|e| EnvelopeError::at(keys, e.to_string())),
    }
}

/// Decodes a spec, turning a decoding error into the wire path of the field it is about.
fn decode_spec(kind: Kind, json: Value, prefix: &[&str]) -> Result<Spec, EnvelopeError> {
    Spec::from_json(kind, json).map_err(|err| {
        let mut segments: Vec<PathSegment> = prefix.iter().map(|k| PathSegment::Key((*k).to_owned())).collect();
        for seg in err.path() {
            match seg {
                serde_path_to_error::Segment::Seq { index } => {
                    segments.push(PathSegment::Index(*index));
                }
                serde_path_to_error::Segment::Map { key } => {
                    segments.push(PathSegment::Key(key.clone()));
                }
                serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
            }
        }
        let message = err.inner().to_string();
        let mut path = FieldPath::root();
        for seg in &segments {
            path = match seg {
                PathSegment::Key(k) => path.field(k),
                PathSegment::Index(i) => path.index(*i),
            };
        }
        EnvelopeError { segments, path, message }
    })
}

/// The canonical Universal form of a resource.
pub fn to_universal(resource: &Resource) -> Value {
    let d = resource.kind().descriptor();
    let mut out = Map::new();
    out.insert("type".into(), d.wire_name.into());
    out.insert("name".into(), resource.meta.name.clone().into());
    if d.scope == Scope::Mesh {
        out.insert("mesh".into(), resource.meta.mesh.clone().into());
    }
    if !resource.meta.labels.is_empty() {
        out.insert("labels".into(), labels_json(&resource.meta.labels));
    }
    if let Some(t) = &resource.meta.creation_time {
        out.insert("creationTime".into(), t.clone().into());
    }
    if let Some(t) = &resource.meta.modification_time {
        out.insert("modificationTime".into(), t.clone().into());
    }
    match (d.universal_layout, resource.spec.to_json()) {
        (UniversalLayout::TopLevel, Value::Object(fields)) => out.extend(fields),
        (_, spec) => {
            out.insert("spec".into(), spec);
        }
    }
    if let Some(status) = &resource.status {
        out.insert("status".into(), status.clone());
    }
    Value::Object(out)
}

/// The canonical Kubernetes form of a resource.
pub fn to_kubernetes(resource: &Resource) -> Value {
    let d = resource.kind().descriptor();
    let namespace = resource.namespace();
    let mut labels = resource.meta.labels.clone();
    let name = if namespace.is_empty() {
        resource.meta.name.clone()
    } else {
        labels.remove(labels::K8S_NAMESPACE);
        labels.remove(labels::DISPLAY_NAME).unwrap_or_else(|| resource.meta.name.clone())
    };
    let legacy_mesh_field = d.universal_layout == UniversalLayout::TopLevel && d.scope == Scope::Mesh;
    if d.scope == Scope::Mesh && !legacy_mesh_field {
        labels.insert(labels::MESH.into(), resource.meta.mesh.clone());
    }
    let mut metadata = Map::new();
    metadata.insert("name".into(), name.into());
    if !namespace.is_empty() {
        metadata.insert("namespace".into(), namespace.into());
    }
    if !labels.is_empty() {
        metadata.insert("labels".into(), labels_json(&labels));
    }
    let mut out = Map::new();
    out.insert("apiVersion".into(), API_VERSION.into());
    out.insert("kind".into(), d.wire_name.into());
    if legacy_mesh_field {
        out.insert("mesh".into(), resource.meta.mesh.clone().into());
    }
    out.insert("metadata".into(), Value::Object(metadata));
    out.insert("spec".into(), resource.spec.to_json());
    if let Some(status) = &resource.status {
        out.insert("status".into(), status.clone());
    }
    Value::Object(out)
}

/// Writes a resource in the given form.
pub fn to_format(resource: &Resource, format: Format) -> Value {
    match format {
        Format::Universal => to_universal(resource),
        Format::Kubernetes => to_kubernetes(resource),
    }
}

fn labels_json(labels: &crate::common::Tags) -> Value {
    Value::Object(labels.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

/// Renders JSON values as a multi-document YAML text, in key order as given.
pub fn to_yaml_documents(values: &[Value]) -> String {
    let mut out = String::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        // serde_json::Value always serialises; an error here would be a bug in the YAML writer.
        out.push_str(&serde_saphyr::to_string(v).unwrap_or_default());
    }
    out
}
