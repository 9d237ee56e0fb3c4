//! The Go-validator layer of MeshTCPRoute (spec meshtcproute.md §2.3-§2.6) and MeshHTTPRoute
//! (meshhttproute.md §2.2-§2.3; filters are not modelled yet, so their checks wait with them).

use crate::common::TargetRefKind;
use crate::kinds::routes::{HeaderMatchType, HttpMatch, MeshHttpRouteSpec, MeshTcpRouteSpec, PathMatchType};
use crate::path::{FieldPath, Violations};
use crate::validate::messages as msg;
use crate::validate::policy::{PolicyRole, validate_backend_ref, validate_to_target_ref, validate_top_level};

/// Validates a MeshTCPRoute spec for a policy of `role`, collecting every violation.
pub fn validate_mesh_tcp_route(spec: &MeshTcpRouteSpec, role: PolicyRole) -> Violations {
    let top = spec.target_ref.as_ref();
    let mut v = validate_top_level(top, role);
    for (i, to) in spec.to.iter().flatten().enumerate() {
        let to_path = FieldPath::at("spec").field("to").index(i);
        v.extend(validate_to_target_ref(&to_path, &to.target_ref, top));
        // Every rule is checked, although only the first takes effect (the schema allows one).
        for (j, rule) in to.rules.iter().flatten().enumerate() {
            let refs_path = to_path.field("rules").index(j).field("default").field("backendRefs");
            match rule.conf.backend_refs.as_deref() {
                None | Some([]) => v.add(refs_path, msg::MUST_BE_DEFINED),
                Some(refs) => {
                    for (k, backend) in refs.iter().enumerate() {
                        v.extend(validate_backend_ref(&refs_path.index(k), backend, false));
                    }
                }
            }
        }
    }
    v
}

/// Validates a MeshHTTPRoute spec: targetRefs, hostnames, matches and backendRefs.
pub fn validate_mesh_http_route(spec: &MeshHttpRouteSpec, role: PolicyRole) -> Violations {
    let top = spec.target_ref.as_ref();
    let gateway = top.is_some_and(|t| t.kind == TargetRefKind::MeshGateway);
    let mut v = validate_top_level(top, role);
    for (i, to) in spec.to.iter().flatten().enumerate() {
        let to_path = FieldPath::at("spec").field("to").index(i);
        v.extend(validate_to_target_ref(&to_path, &to.target_ref, top));
        for (j, rule) in to.rules.iter().flatten().enumerate() {
            let rule_path = to_path.field("rules").index(j);
            for (k, m) in rule.matches.iter().flatten().enumerate() {
                v.extend(validate_http_match(&rule_path.field("matches").index(k), m));
            }
            let refs_path = rule_path.field("default").field("backendRefs");
            let refs = rule.conf.backend_refs.as_deref().unwrap_or_default();
            let redirects = rule
                .conf
                .filters
                .iter()
                .flatten()
                .any(|f| f.get("type").and_then(|t| t.as_str()) == Some("RequestRedirect"));
            if gateway && refs.is_empty() && !redirects {
                v.add(refs_path.clone(), "must not be empty");
            }
            for (k, backend) in refs.iter().enumerate() {
                v.extend(validate_backend_ref(&refs_path.index(k), backend, true));
            }
        }
        if !gateway && to.hostnames.as_ref().is_some_and(|h| !h.is_empty()) {
            v.add(to_path.field("hostnames"), "must not be defined");
        }
    }
    v
}

fn validate_http_match(path: &FieldPath, m: &HttpMatch) -> Violations {
    let mut v = Violations::new();
    if let Some(p) = &m.path {
        let value_path = path.field("path").field("value");
        let absolute = p.value.starts_with('/');
        match p.match_type {
            PathMatchType::Exact if !absolute => v.add(value_path, "must be an absolute path"),
            PathMatchType::PathPrefix if p.value != "/" => {
                if p.value.ends_with('/') {
                    v.add(
                        value_path.clone(),
                        "does not need a trailing slash because only a `/`-separated prefix or an entire path is matched",
                    );
                }
                if !absolute {
                    v.add(value_path, "must be an absolute path");
                }
            }
            _ => {}
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (q, param) in m.query_params.iter().flatten().enumerate() {
        if !seen.insert(param.name.as_str()) {
            v.add(
                path.field("queryParams").index(q).field("name"),
                format!("multiple entries for name {}", param.name),
            );
        }
    }
    for (h, header) in m.headers.iter().flatten().enumerate() {
        let presence = matches!(header.match_type, Some(HeaderMatchType::Present | HeaderMatchType::Absent));
        if presence && header.value.as_deref().is_some_and(|s| !s.is_empty()) {
            v.add(path.field("headers").index(h).field("value"), "must not be defined");
        }
    }
    v
}
