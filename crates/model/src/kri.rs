//! Kuma Resource Identifiers: `kri_<shortName>_<mesh>_<zone>_<namespace>_<name>_<sectionName>`.
//! Empty components stay empty, so several underscores can follow each other.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kri {
    pub short_name: String,
    pub mesh: String,
    pub zone: String,
    pub namespace: String,
    pub name: String,
    pub section: String,
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

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid KRI {0:?}: expected kri_<type>_<mesh>_<zone>_<namespace>_<name>_<section>")]
pub struct KriParseError(pub String);

impl FromStr for Kri {
    type Err = KriParseError;

    /// Parses a KRI. Names may not contain `_` (the charset of every name component excludes it except
    /// the section, which is the last component and takes the rest).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || KriParseError(s.to_owned());
        let rest = s.strip_prefix("kri_").ok_or_else(err)?;
        let parts: Vec<&str> = rest.splitn(6, '_').collect();
        let [short, mesh, zone, namespace, name, section] = parts.as_slice() else {
            return Err(err());
        };
        if short.is_empty() || name.is_empty() {
            return Err(err());
        }
        Ok(Kri {
            short_name: (*short).to_owned(),
            mesh: (*mesh).to_owned(),
            zone: (*zone).to_owned(),
            namespace: (*namespace).to_owned(),
            name: (*name).to_owned(),
            section: (*section).to_owned(),
        })
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
}
