//! A parsed YAML/JSON document with the line and column of every node.
//!
//! ```text
//!  text ──serde-saphyr (budgeted: depth, aliases, size)──► Vec<Node> ──► serde_json::Value ──► typed spec
//!                                                            │
//!                                                            └─ locate(path) → line:column for errors
//! ```
//!
//! Typed decoding errors carry a wire path; the node tree turns that path back into a position in the file.

use serde::Deserialize;
use serde_saphyr::Spanned;

/// One YAML node and where it starts (1-based; 0 when unknown).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: NodeValue,
    pub line: u32,
    pub column: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order; duplicate keys are rejected by the parser.
    Map(Vec<(String, Node)>),
}

/// A parse failure of the YAML text itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    pub message: String,
    pub line: u32,
    pub column: u32,
}

/// How deep a document may nest. Kuma's deepest resource (a MeshHTTPRoute mirror filter's tags) nests
/// about 12 levels; each level costs stack in the decoder, and 32 stays well inside a 2 MiB thread stack
/// even in debug builds.
const MAX_DEPTH: usize = 32;

/// Parses every document of a YAML (or JSON) text. Empty documents are dropped.
///
/// The parser's budget bounds what a hostile text can cost: nesting depth, alias count and expansion
/// (billion-laughs documents are refused), nodes and documents.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_documents: 100_000,
            max_nodes: 2_000_000,
            max_events: 4_000_000,
        },
        alias_limits: serde_saphyr::alias_limits! { max_total_replayed_events: 100_000 },
        with_snippet: false,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        // YAML 1.2 booleans only: `n`, `no`, `off` stay strings (`namespace: n` is a name).
        strict_booleans: true,
    };
    let docs: Vec<Option<Node>> = serde_saphyr::from_multiple_with_options(text, options).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (line_u32(l.line()), line_u32(l.column())));
        SyntaxError { message: first_line(&e.to_string()), line, column }
    })?;
    Ok(docs.into_iter().flatten().filter(|n| n.value != NodeValue::Null).collect())
}

fn line_u32(v: impl TryInto<u32>) -> u32 {
    v.try_into().unwrap_or(0)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_owned()
}

impl Node {
    /// The child at a map key, if this is a map that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            NodeValue::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string value at a map key, if it is a scalar string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key).map(|n| &n.value) {
            Some(NodeValue::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// The deepest node along a serde path (`spec.to[0].rules`), for error positions. Stops where the
    /// path leaves the tree, so an unknown or missing field points at its parent.
    pub fn locate(&self, segments: &[PathSegment]) -> &Node {
        let mut node = self;
        for segment in segments {
            let next = match (segment, &node.value) {
                (PathSegment::Key(k), NodeValue::Map(_)) => node.get(k),
                (PathSegment::Index(i), NodeValue::Seq(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node
    }

    /// The same tree as plain JSON, the form typed decoding reads.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::from(*i),
            NodeValue::UInt(u) => Value::from(*u),
            NodeValue::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            NodeValue::Str(s) => Value::String(s.clone()),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => Value::Object(entries.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }
}

/// One step of a path into a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<NodeValue>::deserialize(d)?;
        Ok(Node {
            value: spanned.value,
            line: line_u32(spanned.referenced.line()),
            column: line_u32(spanned.referenced.column()),
        })
    }
}

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> serde::de::Visitor<'de> for NodeVisitor {
    type Value = NodeValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_none<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<NodeValue, D::Error> {
        NodeValue::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<NodeValue, E> {
        Ok(NodeValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<NodeValue, E> {
        Ok(NodeValue::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<NodeValue, E> {
        Ok(NodeValue::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<NodeValue, E> {
        Ok(NodeValue::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<NodeValue, E> {
        Ok(NodeValue::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<NodeValue, E> {
        Ok(NodeValue::Str(v))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(NodeValue::Seq(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<KeyText>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key.0, value));
        }
        Ok(NodeValue::Map(entries))
    }
}

/// A mapping key read as text, whatever scalar type YAML gives it (`6000:` is the key "6000").
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let node = NodeValue::deserialize(d)?;
        match node {
            NodeValue::Str(s) => Ok(KeyText(s)),
            NodeValue::Int(i) => Ok(KeyText(i.to_string())),
            NodeValue::UInt(u) => Ok(KeyText(u.to_string())),
            NodeValue::Float(f) => Ok(KeyText(f.to_string())),
            NodeValue::Bool(b) => Ok(KeyText(b.to_string())),
            NodeValue::Null => Ok(KeyText(String::new())),
            NodeValue::Seq(_) | NodeValue::Map(_) => Err(serde::de::Error::custom("a mapping key must be a scalar")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_of_nested_nodes() {
        let docs = parse_documents("a: 1\nb:\n  - x\n  - c: true\n---\nz: null\n").expect("parses");
        assert_eq!(docs.len(), 2);
        let b = docs[0].get("b").expect("b");
        let NodeValue::Seq(items) = &b.value else { panic!("b is a sequence") };
        assert_eq!((items[1].line, items[1].get("c").map(|n| n.line)), (4, Some(4)));
        let found = docs[0].locate(&[PathSegment::Key("b".into()), PathSegment::Index(1)]);
        assert_eq!(found.line, 4);
    }

    #[test]
    fn rejects_duplicate_keys_with_position() {
        let err = parse_documents("a: 1\na: 2\n").expect_err("duplicate");
        assert_eq!(err.line, 2);
    }

    #[test]
    fn reads_json_too() {
        let docs = parse_documents(r#"{"type": "Mesh", "name": "default"}"#).expect("json");
        assert_eq!(docs[0].get_str("type"), Some("Mesh"));
    }
}
