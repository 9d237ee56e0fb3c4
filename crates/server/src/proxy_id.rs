//! A proxy's identity: its mesh and Dataplane name, which Envoy's node id writes `<mesh>.<name>`.

use std::fmt;

/// A proxy's mesh and Dataplane name. Ordered by mesh first, so a mesh's proxies are one range.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProxyId {
    pub mesh: String,
    pub name: String,
}

impl ProxyId {
    pub fn new(mesh: impl Into<String>, name: impl Into<String>) -> Self {
        Self { mesh: mesh.into(), name: name.into() }
    }

    /// Reads a node id: split at the first dot (a mesh name has none; a Dataplane name may).
    pub fn parse(node_id: &str) -> Option<Self> {
        let (mesh, name) = node_id.split_once('.')?;
        (!mesh.is_empty() && !name.is_empty()).then(|| Self::new(mesh, name))
    }

    /// The first id of a mesh in [`Ord`] order: `range(ProxyId::first_of(m)..)` starts at its proxies.
    pub fn first_of(mesh: &str) -> Self {
        Self::new(mesh, "")
    }
}

impl fmt::Display for ProxyId {
    /// The node id form, `<mesh>.<name>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.mesh, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_round_trip() {
        let id = ProxyId::parse("default.web-1.zone").expect("valid");
        assert_eq!((id.mesh.as_str(), id.name.as_str()), ("default", "web-1.zone"));
        assert_eq!(id.to_string(), "default.web-1.zone");
        assert_eq!(ProxyId::parse("nodot"), None);
        assert_eq!(ProxyId::parse(".name"), None);
        assert_eq!(ProxyId::parse("mesh."), None);
    }
}
