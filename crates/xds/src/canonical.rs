//! Deterministic bytes and canonical JSON for Envoy resources.
//!
//! The generated Envoy types keep protobuf maps (`Metadata.filter_metadata`, `Struct.fields`) in hash
//! maps, so plain encoding orders map entries at random and the same config would get different bytes
//! and versions. Any change in a listener's bytes makes Envoy drain it, so every resource is re-encoded
//! here with map entries sorted by key (recursively, through `Any` payloads), the way protobuf's
//! deterministic serialisation does. The same descriptors render Envoy's canonical JSON mapping.

use std::sync::OnceLock;

use prost::Message;
use prost::bytes::Buf;
use prost::encoding::{WireType, decode_key, decode_varint, encode_key, encode_varint};
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MessageDescriptor, SerializeOptions};

/// The descriptor set `envoy-types` was generated from (copied by build.rs).
static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/envoy_types.bin"));

/// The pool of every Envoy message type, plus the contrib types meshroute emits.
pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut pool = DescriptorPool::decode(DESCRIPTORS).unwrap_or_default();
        // The contrib kafka_broker filter is not in envoy-types; its config is one string field.
        let _ = pool.add_file_descriptor_proto(crate::kafka::descriptor());
        pool
    })
}

/// Errors of canonical encoding and rendering: only a type missing from the pool or bytes that are not
/// that type, both bugs in the generator rather than input problems.
#[derive(Debug)]
pub struct CanonicalError(pub String);

impl std::fmt::Display for CanonicalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CanonicalError {}

fn descriptor(full_name: &str) -> Result<MessageDescriptor, CanonicalError> {
    pool().get_message_by_name(full_name).ok_or_else(|| CanonicalError(format!("unknown message type {full_name}")))
}

/// The type name inside a type URL (`type.googleapis.com/<name>`).
pub fn type_name(type_url: &str) -> &str {
    type_url.rsplit('/').next().unwrap_or(type_url)
}

/// Encodes `message` deterministically: map entries sorted by key at every depth.
pub fn encode<M: Message + prost::Name>(message: &M) -> Result<Vec<u8>, CanonicalError> {
    let plan = plan();
    let root = plan.id(&M::full_name())?;
    let raw = message.encode_to_vec();
    let mut out = Vec::with_capacity(raw.len());
    plan.canonicalize(root, &raw, &mut out)?;
    Ok(out)
}

fn bad(what: &str) -> CanonicalError {
    CanonicalError(format!("malformed protobuf: {what}"))
}

/// What canonicalisation does with a field.
#[derive(Clone, Copy)]
enum Action {
    Message(usize),
    Map(usize),
    Any,
}

struct TypePlan {
    /// The type holds a map or an `Any` somewhere below; otherwise its bytes are copied as they are.
    needs: bool,
    /// Fields that need work, by field number; every other field is copied.
    fields: Vec<(u32, Action)>,
}

/// A canonicalisation plan of every message type of the pool, compiled once: the hot path makes no
/// descriptor look-ups.
struct Plan {
    types: Vec<TypePlan>,
    by_name: std::collections::HashMap<String, usize>,
}

fn plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        let messages: Vec<MessageDescriptor> = pool().all_messages().collect();
        let by_name: std::collections::HashMap<String, usize> =
            messages.iter().enumerate().map(|(i, m)| (m.full_name().to_owned(), i)).collect();
        let mut types: Vec<TypePlan> = messages
            .iter()
            .map(|m| {
                let mut fields = Vec::new();
                for f in m.fields() {
                    if let Kind::Message(inner) = f.kind() {
                        let id = by_name.get(inner.full_name()).copied().unwrap_or(usize::MAX);
                        let action = if f.is_map() {
                            Action::Map(id)
                        } else if inner.full_name() == "google.protobuf.Any" {
                            Action::Any
                        } else {
                            Action::Message(id)
                        };
                        fields.push((f.number(), action));
                    }
                }
                let needs = fields.iter().any(|(_, a)| matches!(a, Action::Map(_) | Action::Any));
                TypePlan { needs, fields }
            })
            .collect();
        // A type needs work when any message below it does: propagate to a fixed point.
        loop {
            let mut changed = false;
            for i in 0..types.len() {
                if types[i].needs {
                    continue;
                }
                let below = types[i]
                    .fields
                    .iter()
                    .any(|(_, a)| matches!(a, Action::Message(id) if types.get(*id).is_some_and(|t| t.needs)));
                if below {
                    types[i].needs = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        for t in &mut types {
            t.fields.sort_by_key(|(n, _)| *n);
        }
        Plan { types, by_name }
    })
}

impl Plan {
    fn id(&self, full_name: &str) -> Result<usize, CanonicalError> {
        self.by_name.get(full_name).copied().ok_or_else(|| CanonicalError(format!("unknown message type {full_name}")))
    }

    fn action(&self, id: usize, number: u32) -> Option<Action> {
        let fields = &self.types.get(id)?.fields;
        fields.binary_search_by_key(&number, |(n, _)| *n).ok().map(|i| fields[i].1)
    }

    /// Re-encodes `bytes` of type `id` into `out` with sorted map entries. Reordering never changes a
    /// length, so nested payloads are written in place after their original length.
    fn canonicalize(&self, id: usize, mut bytes: &[u8], out: &mut Vec<u8>) -> Result<(), CanonicalError> {
        if !self.types.get(id).is_some_and(|t| t.needs) {
            out.extend_from_slice(bytes);
            return Ok(());
        }
        let mut map: Option<(u32, usize)> = None;
        let mut entries: Vec<(&[u8], &[u8])> = Vec::new();
        while !bytes.is_empty() {
            let field = next_field(&mut bytes)?;
            if let Some((number, entry_id)) = map
                && number != field.number
            {
                self.write_entries(number, entry_id, &mut entries, out)?;
                map = None;
            }
            let action =
                if field.wire_type == WireType::LengthDelimited { self.action(id, field.number) } else { None };
            match action {
                Some(Action::Map(entry_id)) => {
                    entries.push((map_key(field.payload)?, field.payload));
                    map = Some((field.number, entry_id));
                }
                Some(Action::Any) => {
                    Self::nested(out, field.number, field.payload, |out| self.canonicalize_any(field.payload, out))?;
                }
                Some(Action::Message(inner)) => {
                    Self::nested(out, field.number, field.payload, |out| self.canonicalize(inner, field.payload, out))?;
                }
                None => {
                    encode_key(field.number, field.wire_type, out);
                    if field.wire_type == WireType::LengthDelimited {
                        encode_varint(field.payload.len() as u64, out);
                    }
                    out.extend_from_slice(field.payload);
                }
            }
        }
        if let Some((number, entry_id)) = map {
            self.write_entries(number, entry_id, &mut entries, out)?;
        }
        Ok(())
    }

    /// Writes a length-delimited field whose canonical payload has the original length.
    fn nested(
        out: &mut Vec<u8>,
        number: u32,
        payload: &[u8],
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), CanonicalError>,
    ) -> Result<(), CanonicalError> {
        encode_key(number, WireType::LengthDelimited, out);
        encode_varint(payload.len() as u64, out);
        let start = out.len();
        write(out)?;
        if out.len() - start != payload.len() {
            return Err(bad("canonical payload changed length"));
        }
        Ok(())
    }

    fn write_entries(
        &self,
        number: u32,
        entry_id: usize,
        entries: &mut Vec<(&[u8], &[u8])>,
        out: &mut Vec<u8>,
    ) -> Result<(), CanonicalError> {
        entries.sort_by(|a, b| a.0.cmp(b.0));
        for (_, payload) in entries.drain(..) {
            Self::nested(out, number, payload, |out| self.canonicalize(entry_id, payload, out))?;
        }
        Ok(())
    }

    /// An `Any`: its payload is canonicalised with the type its URL names.
    fn canonicalize_any(&self, mut bytes: &[u8], out: &mut Vec<u8>) -> Result<(), CanonicalError> {
        let mut type_url: &[u8] = &[];
        let mut value: &[u8] = &[];
        while !bytes.is_empty() {
            let field = next_field(&mut bytes)?;
            match field.number {
                1 => type_url = field.payload,
                2 => value = field.payload,
                _ => {}
            }
        }
        let name = type_name(std::str::from_utf8(type_url).map_err(|_| bad("type URL"))?);
        let id = self.id(name)?;
        if !type_url.is_empty() {
            write_field(out, 1, WireType::LengthDelimited, type_url);
        }
        if !value.is_empty() {
            Self::nested(out, 2, value, |out| self.canonicalize(id, value, out))?;
        }
        Ok(())
    }
}

/// One field as read off the wire.
struct Field<'a> {
    number: u32,
    wire_type: WireType,
    /// For length-delimited fields, the payload; otherwise the raw value bytes.
    payload: &'a [u8],
}

fn next_field<'a>(buf: &mut &'a [u8]) -> Result<Field<'a>, CanonicalError> {
    let (number, wire_type) = decode_key(buf).map_err(|_| bad("key"))?;
    let start = *buf;
    let len = match wire_type {
        WireType::Varint => {
            decode_varint(buf).map_err(|_| bad("varint"))?;
            return Ok(Field { number, wire_type, payload: &start[..start.len() - buf.len()] });
        }
        WireType::SixtyFourBit => 8,
        WireType::ThirtyTwoBit => 4,
        WireType::LengthDelimited => {
            usize::try_from(decode_varint(buf).map_err(|_| bad("length"))?).map_err(|_| bad("length"))?
        }
        WireType::StartGroup | WireType::EndGroup => return Err(bad("groups are not used")),
    };
    if buf.remaining() < len {
        return Err(bad("truncated field"));
    }
    let payload = &buf[..len];
    buf.advance(len);
    Ok(Field { number, wire_type, payload })
}

fn write_field(out: &mut Vec<u8>, number: u32, wire_type: WireType, payload: &[u8]) {
    encode_key(number, wire_type, out);
    if wire_type == WireType::LengthDelimited {
        encode_varint(payload.len() as u64, out);
    }
    out.extend_from_slice(payload);
}

/// The key of a map entry: the raw bytes of its field 1.
fn map_key(mut entry: &[u8]) -> Result<&[u8], CanonicalError> {
    while !entry.is_empty() {
        let field = next_field(&mut entry)?;
        if field.number == 1 {
            return Ok(field.payload);
        }
    }
    Ok(&[])
}

/// Envoy's canonical JSON of `bytes` of type `full_name`: camelCase fields, `@type` on typed configs,
/// default values left out, object keys sorted.
pub fn to_json(full_name: &str, bytes: &[u8]) -> Result<serde_json::Value, CanonicalError> {
    let message = DynamicMessage::decode(descriptor(full_name)?, bytes).map_err(|e| CanonicalError(e.to_string()))?;
    let options = SerializeOptions::new().skip_default_fields(true);
    let value = message
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|e| CanonicalError(e.to_string()))?;
    Ok(sort_keys(value))
}

fn sort_keys(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(String, serde_json::Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sort_keys(v))).collect())
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}
