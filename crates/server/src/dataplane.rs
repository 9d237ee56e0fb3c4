//! A Dataplane a proxy sends as text (kuma-dp's bootstrap request, Envoy's node metadata): parsed and
//! validated once, here, for both.

use model::{Kind, Valid};

/// Why the text is not a valid Dataplane; `field` names where the text came from.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DataplaneError {
    pub field: String,
    pub message: String,
}

/// The one Dataplane of `text`, valid.
pub fn parse_dataplane(text: &str, field: &str) -> Result<Valid, DataplaneError> {
    let error = |message: String| DataplaneError { field: field.to_owned(), message };
    let docs = model::parse_resources(text).map_err(|e| error(e.to_string()))?;
    let resource = match docs.into_iter().next() {
        Some(Ok(parsed)) if parsed.resource.kind() == Kind::Dataplane => parsed.resource,
        Some(Err(e)) => return Err(error(e.to_string())),
        _ => return Err(error("not a Dataplane".to_owned())),
    };
    Valid::check(resource).map(|(valid, _)| valid).map_err(|report| error(report.errors.to_string()))
}
