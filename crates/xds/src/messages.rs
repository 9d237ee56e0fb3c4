//! Small builders for the Envoy messages every generator uses: addresses, typed configs, metadata.

use envoy_types::pb::envoy::config::core::v3::{Address, Metadata, SocketAddress, address, socket_address};
use envoy_types::pb::envoy::config::listener::v3::{Filter, filter};
use envoy_types::pb::google::protobuf::{Any, Struct, Value, value};
use model::Tags;

/// Packs a message into an `Any` with its type URL.
pub fn any<M: prost::Message + prost::Name>(message: &M) -> Any {
    Any { type_url: M::type_url(), value: message.encode_to_vec() }
}

/// A TCP socket address.
pub fn socket_address(ip: &str, port: u32) -> Address {
    Address {
        address: Some(address::Address::SocketAddress(SocketAddress {
            protocol: socket_address::Protocol::Tcp.into(),
            address: ip.to_owned(),
            port_specifier: Some(socket_address::PortSpecifier::PortValue(port)),
            ..SocketAddress::default()
        })),
    }
}

/// A network filter with a typed config.
pub fn network_filter<M: prost::Message + prost::Name>(name: &str, config: &M) -> Filter {
    Filter { name: name.to_owned(), config_type: Some(filter::ConfigType::TypedConfig(any(config))) }
}

/// A `Struct` of string values.
pub fn string_struct(tags: &Tags) -> Struct {
    Struct {
        fields: tags
            .iter()
            .map(|(k, v)| (k.clone(), Value { kind: Some(value::Kind::StringValue(v.clone())) }))
            .collect(),
    }
}

/// Metadata with one or more filter namespaces holding the same string map.
pub fn metadata(namespaces: &[&str], tags: &Tags) -> Metadata {
    Metadata {
        filter_metadata: namespaces.iter().map(|ns| ((*ns).to_owned(), string_struct(tags))).collect(),
        ..Metadata::default()
    }
}

/// A protobuf Duration of whole seconds.
pub fn seconds(s: i64) -> envoy_types::pb::google::protobuf::Duration {
    envoy_types::pb::google::protobuf::Duration { seconds: s, nanos: 0 }
}
