//! Field paths and violations, in Kuma's wire-path format.
//!
//! A path is built as Kuma's `validators.PathBuilder` builds it: `.field` (no dot at the root), `[i]` for an
//! index and `["key"]` for a map key. Parse errors and validation errors share this format.

use std::fmt;

/// A wire path such as `spec.to[0].rules[0].default.backendRefs[1].port`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(String);

impl FieldPath {
    /// The empty path (the document root).
    pub fn root() -> Self {
        Self(String::new())
    }

    /// A path rooted at one field, e.g. `spec`.
    pub fn at(field: &str) -> Self {
        Self::root().field(field)
    }

    #[must_use]
    pub fn field(&self, name: &str) -> Self {
        if self.0.is_empty() { Self(name.to_owned()) } else { Self(format!("{}.{name}", self.0)) }
    }

    #[must_use]
    pub fn index(&self, i: usize) -> Self {
        Self(format!("{}[{i}]", self.0))
    }

    /// A map key, quoted as Go's `%q` quotes it.
    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        Self(format!("{}[{}]", self.0, go_quote(key)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Quotes a string the way Go's `%q` does for printable text: double quotes, with `"` and `\` escaped.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One problem: the field it is about and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Violation {
    pub field: FieldPath,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_root() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.field, self.message) }
    }
}

/// Every violation found, in the order found. Validators collect; they never stop at the first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Violations(Vec<Violation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: FieldPath, message: impl Into<String>) {
        self.0.push(Violation { field, message: message.into() });
    }

    pub fn extend(&mut self, other: Violations) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Violation> {
        self.0.iter()
    }

    pub fn into_vec(self) -> Vec<Violation> {
        self.0
    }
}

impl IntoIterator for Violations {
    type Item = Violation;
    type IntoIter = std::vec::IntoIter<Violation>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for Violations {
    /// Kuma's error string: violations joined by `; `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_kuma_paths() {
        let p = FieldPath::at("spec").field("to").index(0).field("targetRef").field("tags").key("a\"b");
        assert_eq!(p.as_str(), r#"spec.to[0].targetRef.tags["a\"b"]"#);
        assert_eq!(FieldPath::root().index(2).as_str(), "[2]");
    }

    #[test]
    fn joins_violations_like_kuma() {
        let mut v = Violations::new();
        v.add(FieldPath::at("a"), "x");
        v.add(FieldPath::at("b").index(1), "y");
        assert_eq!(v.to_string(), "a: x; b[1]: y");
    }
}
