//! Kuma's validation messages, kept verbatim in one place.

pub const MUST_BE_DEFINED: &str = "must be defined";
pub const MUST_BE_SET: &str = "must be set";
pub const MUST_NOT_BE_SET: &str = "must not be set";

pub fn not_supported(value: &str) -> String {
    format!("value '{value}' is not supported")
}
pub fn name_with_kind_not_supported(kind: &str) -> String {
    format!("using name with kind {kind} is not yet supported")
}
pub fn must_be_set_with(kind: &str) -> String {
    format!("{MUST_BE_SET} with kind {kind}")
}
pub fn must_not_be_set_with(kind: &str) -> String {
    format!("{MUST_NOT_BE_SET} with kind {kind}")
}

pub const LABELS_OR_NAME_AND_NAMESPACE: &str = "either labels or name and namespace must be specified";
pub const LABELS_OR_NAME: &str = "either labels or name must be specified";
pub const ONLY_INBOUND_POLICIES: &str = "can only be used with inbound policies";
pub const PROXY_TYPES_EMPTY: &str = "must be undefined or have at least one element";
pub const NAME_CHARSET: &str =
    "invalid characters: must consist of lower case alphanumeric characters, '-', '.' and '_'.";
pub const MMZS_PORT_REQUIRED: &str = "must be defined with kind MeshMultiZoneService";
pub const MIXED_ROLES: &str = "it's not allowed to mix producer and consumer items in the same policy";

pub const TAG_NAME_EMPTY: &str = "tag name must be non-empty";
pub const TAG_NAME_CHARSET: &str =
    "tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores";
pub const TAG_VALUE_EMPTY: &str = "tag value must be non-empty";
pub const TAG_VALUE_CHARSET: &str = "tag value must consist of alphanumeric characters, dots, dashes and underscores";
pub const SELECTOR_VALUE_CHARSET: &str =
    "tag value must consist of alphanumeric characters, dots, dashes, slashes and underscores or be \"*\"";
pub const SERVICE_TAG_MISSING: &str = "mandatory tag \"kuma.io/service\" is missing";

pub const RESOURCE_NAME_CHARSET: &str = "invalid characters. A lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
pub const CANNOT_BE_EMPTY: &str = "cannot be empty";
pub const NAME_TOO_LONG: &str = "value length must less or equal 253";
pub const MESH_NAME_CHARSET: &str =
    "invalid characters. Valid characters are numbers, lowercase latin letters and '-', '_', '.' symbols.";

pub const SCHEMA_REQUIRED: &str = "in body is required";
pub fn schema_min_items(n: usize) -> String {
    format!("in body should have at least {n} items")
}
pub fn schema_max_items(n: usize) -> String {
    format!("in body should have at most {n} items")
}
pub const SCHEMA_NON_NEGATIVE: &str = "in body should be greater than or equal to 0";
pub fn schema_one_of(values: &[&str]) -> String {
    format!("in body should be one of [{}]", values.join(" "))
}

pub fn deprecated_kind(kind: &str) -> String {
    format!("{kind} value for 'targetRef.kind' is deprecated, use Dataplane with labels instead")
}
pub const DEPRECATED_HTTP_ROUTE_KIND: &str =
    "MeshHTTPRoute value for 'targetRef.kind' is deprecated, use MeshHTTPRoute in spec.to[].targetRef";

pub const PORT_RANGE: &str = "port must be in the range [1, 65535]";
