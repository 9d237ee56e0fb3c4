//! A Dataplane a proxy sends as text (kuma-dp's bootstrap request, Envoy's node metadata): parsed and
//! validated once, here, for both.

use model::{Kind, Valid};

/// The one Dataplane of `text`, valid; errors name `field`, the place the text came from.
pub fn parse_dataplane(text: &str, field: &str) -> Result<Valid, String> {
    let docs = model::parse_resources(text).map_err(|e| format!("{field}: {e}"))?;
    let resource = match docs.into_iter().next() {
        Some(Ok(parsed)) if parsed.resource.kind() == Kind::Dataplane => parsed.resource,
        Some(Err(e)) => return Err(format!("{field}: {e}")),
        _ => return Err(format!("{field}: not a Dataplane")),
    };
    Valid::check(resource).map(|(valid, _)| valid).map_err(|report| format!("{field}: {}", report.errors))
}
