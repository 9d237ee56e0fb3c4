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
    let desc = descriptor(&M::full_name())?;
    let mut out = Vec::new();
    canonicalize(&desc, &message.encode_to_vec(), &mut out)?;
    Ok(out)
}

fn bad(what: &str) -> CanonicalError {
    CanonicalError(format!("malformed protobuf: {what}"))
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

/// Re-encodes `bytes` of message type `desc` into `out` with sorted map entries.
fn canonicalize(desc: &MessageDescriptor, mut bytes: &[u8], out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    // Entries of the map field being read: (key bytes, canonical entry bytes), flushed sorted.
    let mut map_field: Option<u32> = None;
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let flush = |field: Option<u32>, entries: &mut Vec<(Vec<u8>, Vec<u8>)>, out: &mut Vec<u8>| {
        if let Some(number) = field {
            entries.sort();
            for (_, entry) in entries.drain(..) {
                write_field(out, number, WireType::LengthDelimited, &entry);
            }
        }
    };
    while !bytes.is_empty() {
        let field = next_field(&mut bytes)?;
        let field_desc = desc.get_field(field.number);
        if map_field.is_some() && map_field != Some(field.number) {
            flush(map_field.take(), &mut entries, out);
        }
        let message_kind = field_desc.as_ref().and_then(|f| match f.kind() {
            Kind::Message(m) if field.wire_type == WireType::LengthDelimited => Some((f.is_map(), m)),
            _ => None,
        });
        match message_kind {
            Some((true, entry_desc)) => {
                let mut entry = Vec::new();
                canonicalize(&entry_desc, field.payload, &mut entry)?;
                entries.push((map_key(field.payload)?, entry));
                map_field = Some(field.number);
            }
            Some((false, m)) if m.full_name() == "google.protobuf.Any" => {
                let mut any = Vec::new();
                canonicalize_any(field.payload, &mut any)?;
                write_field(out, field.number, field.wire_type, &any);
            }
            Some((false, m)) => {
                let mut inner = Vec::new();
                canonicalize(&m, field.payload, &mut inner)?;
                write_field(out, field.number, field.wire_type, &inner);
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
    flush(map_field, &mut entries, out);
    Ok(())
}

/// The key of a map entry: the raw bytes of its field 1.
fn map_key(mut entry: &[u8]) -> Result<Vec<u8>, CanonicalError> {
    while !entry.is_empty() {
        let field = next_field(&mut entry)?;
        if field.number == 1 {
            return Ok(field.payload.to_vec());
        }
    }
    Ok(Vec::new())
}

/// An `Any`: its payload is canonicalised with the descriptor its type URL names.
fn canonicalize_any(mut bytes: &[u8], out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    let mut type_url = "";
    let mut value: &[u8] = &[];
    while !bytes.is_empty() {
        let field = next_field(&mut bytes)?;
        match field.number {
            1 => type_url = std::str::from_utf8(field.payload).map_err(|_| bad("type URL"))?,
            2 => value = field.payload,
            _ => {}
        }
    }
    let mut canonical = Vec::new();
    canonicalize(&descriptor(type_name(type_url))?, value, &mut canonical)?;
    write_field(out, 1, WireType::LengthDelimited, type_url.as_bytes());
    write_field(out, 2, WireType::LengthDelimited, &canonical);
    Ok(())
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
