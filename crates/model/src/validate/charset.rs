//! The character-set checks Kuma expresses as regular expressions, written as plain predicates.

fn all_chars(s: &str, ok: impl Fn(char) -> bool) -> bool {
    s.chars().all(ok)
}

/// `^[0-9a-z.\-_]*$`: names inside targetRefs.
pub fn is_ref_name(s: &str) -> bool {
    all_chars(s, |c| c.is_ascii_digit() || c.is_ascii_lowercase() || matches!(c, '.' | '-' | '_'))
}

/// `^[a-zA-Z0-9.\-_:/]*$`: tag keys.
pub fn is_tag_name(s: &str) -> bool {
    all_chars(s, |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/'))
}

/// `^[a-zA-Z0-9.\-_:]*$`: plain tag values.
pub fn is_tag_value(s: &str) -> bool {
    all_chars(s, |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
}

/// `^([a-zA-Z0-9.\-_:/]*|\*)$`: selector tag values.
pub fn is_selector_value(s: &str) -> bool {
    s == "*" || is_tag_name(s)
}

/// `^[0-9a-z-_.]*$`: mesh names.
pub fn is_mesh_name(s: &str) -> bool {
    is_ref_name(s)
}

/// An RFC 1123 subdomain: dot-separated labels of `[a-z0-9-]`, each starting and ending alphanumeric.
pub fn is_rfc1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
            label.chars().next().is_some_and(alnum)
                && label.chars().last().is_some_and(alnum)
                && label.chars().all(|c| alnum(c) || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_match_kuma_patterns() {
        assert!(is_ref_name("backend_kuma-demo_svc_3001"));
        assert!(!is_ref_name("Backend"));
        assert!(is_tag_name("kuma.io/service"));
        assert!(!is_tag_value("x/y"));
        assert!(is_selector_value("*") && is_selector_value("tcp/9080"));
        assert!(!is_selector_value("a b"));
        assert!(is_rfc1123_subdomain("tcp-route-1.kong-mesh-system"));
        for bad in ["", "-a", "a-", "a..b", "A", "a_b"] {
            assert!(!is_rfc1123_subdomain(bad), "{bad}");
        }
    }
}
