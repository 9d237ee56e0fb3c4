//! Kuma Resource Identifiers: `kri_<shortName>_<mesh>_<zone>_<namespace>_<name>_<sectionName>`.
//! Empty components stay empty, so several underscores can follow each other.

use std::fmt;
use std::str::FromStr;

/// A resource's identity in Kuma's KRI terms. The fields are private: a `Kri` is made by [`Kri::new`] or
/// parsed, and it is compared, hashed and used as a key as a struct, never as text. Its printed form is
/// Kuma's; parsing accepts only text with exactly seven `_`-separated components, so a component holding
/// `_` (a name like `my_route` may) can never be misread as a different identity: such text is refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kri {
    short_name: String,
    mesh: String,
    zone: String,
    namespace: String,
    name: String,
    section: String,
}

impl Kri {
    /// The identifier of resource `name` of the kind with `short_name`, without section: the one place
    /// KRIs are made.
    pub fn new(short_name: &str, mesh: &str, zone: &str, namespace: &str, name: &str) -> Self {
        Self {
            short_name: short_name.to_owned(),
            mesh: mesh.to_owned(),
            zone: zone.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            section: String::new(),
        }
    }

    /// The same identifier with a section name.
    #[must_use]
    pub fn with_section(&self, section: &str) -> Self {
        Self { section: section.to_owned(), ..self.clone() }
    }

    /// The same identifier without its section name.
    #[must_use]
    pub fn without_section(&self) -> Self {
        Self { section: String::new(), ..self.clone() }
    }

    pub fn short_name(&self) -> &str {
        &self.short_name
    }

    pub fn mesh(&self) -> &str {
        &self.mesh
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The section name; empty for none.
    pub fn section(&self) -> &str {
        &self.section
    }
}

impl fmt::Display for Kri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kri_{}_{}_{}_{}_{}_{}",
            self.short_name, self.mesh, self.zone, self.namespace, self.name, self.section
        )
    }
}

/// Printed as text, as Kuma's API shows it.
impl serde::Serialize for Kri {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid KRI {0:?}: expected kri_<type>_<mesh>_<zone>_<namespace>_<name>_<section>")]
pub struct KriParseError(pub String);

impl FromStr for Kri {
    type Err = KriParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || KriParseError(s.to_owned());
        let rest = s.strip_prefix("kri_").ok_or_else(err)?;
        let parts: Vec<&str> = rest.split('_').collect();
        let [short, mesh, zone, namespace, name, section] = parts.as_slice() else {
            return Err(err());
        };
        if short.is_empty() || name.is_empty() {
            return Err(err());
        }
        Ok(Kri::new(short, mesh, zone, namespace, name).with_section(section))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_spec_examples() {
        for s in [
            "kri_msvc_default___backend_test-port",
            "kri_extsvc_default___example_",
            "kri_mtcpr_default___split-90-10_",
        ] {
            let kri: Kri = s.parse().expect("valid");
            assert_eq!(kri.to_string(), s);
        }
        let kri: Kri = "kri_mhttpr_default_zone-east_kuma-demo_mypolicy1_".parse().expect("valid");
        assert_eq!((kri.zone.as_str(), kri.namespace.as_str()), ("zone-east", "kuma-demo"));
        assert!("kri_msvc_default".parse::<Kri>().is_err());
        assert!("msvc_default___a_".parse::<Kri>().is_err());
    }

    /// Whether the printed form of `kri` can parse back to it: no component holds `_`, and the type and
    /// name are present. Written from the components, independently of the parser it checks.
    fn round_trips(kri: &Kri) -> bool {
        [&kri.short_name, &kri.mesh, &kri.zone, &kri.namespace, &kri.name, &kri.section]
            .iter()
            .all(|c| !c.contains('_'))
            && !kri.short_name.is_empty()
            && !kri.name.is_empty()
    }

    #[test]
    fn printed_identities_parse_back_or_are_refused_never_misread() {
        let names = ["backend", "my_route", "a_b_c", "", "x-1.y"];
        for short in ["msvc", "mtcpr"] {
            for mesh in ["default", "my_mesh"] {
                for name in names {
                    for section in ["", "http", "http_port"] {
                        let kri = Kri::new(short, mesh, "", "ns", name).with_section(section);
                        let parsed = kri.to_string().parse::<Kri>();
                        if round_trips(&kri) {
                            assert_eq!(parsed.as_ref(), Ok(&kri), "{kri}");
                        } else {
                            assert!(parsed.is_err(), "{kri} must be refused, got {parsed:?}");
                        }
                    }
                }
            }
        }
    }
}
