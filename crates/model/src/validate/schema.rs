//! The structural-schema layer (spec meshtcproute.md §2.1, meshhttproute.md §2.1): what Kuma's REST
//! schema and CRDs check before the Go validator runs, in kube-openapi wording. It runs first; when it
//! finds anything, the Go layer does not run, as with Kuma's REST API.

use crate::common::{BackendRef, TargetRef, TargetRefKind};
use crate::kinds::routes::{
    HeaderMatchType, HttpMethod, MeshHttpRouteSpec, MeshTcpRouteSpec, PathMatchType, QueryParamsMatchType,
};
use crate::path::{FieldPath, Violations};
use crate::validate::messages as msg;

pub fn schema_mesh_tcp_route(spec: &MeshTcpRouteSpec) -> Violations {
    let mut v = Violations::new();
    let spec_path = FieldPath::at("spec");
    if let Some(top) = &spec.target_ref {
        check_target_ref(&mut v, &spec_path.field("targetRef"), top);
    }
    if spec.to.as_ref().is_some_and(Vec::is_empty) {
        v.add(spec_path.field("to"), msg::schema_min_items(1));
    }
    for (i, to) in spec.to.iter().flatten().enumerate() {
        let to_path = spec_path.field("to").index(i);
        check_target_ref(&mut v, &to_path.field("targetRef"), &to.target_ref);
        match &to.rules {
            None => v.add(to_path.field("rules"), msg::SCHEMA_REQUIRED),
            Some(rules) if rules.len() > 1 => {
                v.add(to_path.field("rules"), msg::schema_max_items(1));
            }
            Some(_) => {}
        }
        for (j, rule) in to.rules.iter().flatten().enumerate() {
            let refs_path = to_path.field("rules").index(j).field("default").field("backendRefs");
            for (k, backend) in rule.conf.backend_refs.iter().flatten().enumerate() {
                check_backend_ref(&mut v, &refs_path.index(k), backend);
            }
        }
    }
    v
}

pub fn schema_mesh_http_route(spec: &MeshHttpRouteSpec) -> Violations {
    let mut v = Violations::new();
    let spec_path = FieldPath::at("spec");
    if let Some(top) = &spec.target_ref {
        check_target_ref(&mut v, &spec_path.field("targetRef"), top);
    }
    for (i, to) in spec.to.iter().flatten().enumerate() {
        let to_path = spec_path.field("to").index(i);
        check_target_ref(&mut v, &to_path.field("targetRef"), &to.target_ref);
        if to.rules.is_none() {
            v.add(to_path.field("rules"), msg::SCHEMA_REQUIRED);
        }
        for (j, rule) in to.rules.iter().flatten().enumerate() {
            let rule_path = to_path.field("rules").index(j);
            match &rule.matches {
                None => v.add(rule_path.field("matches"), msg::SCHEMA_REQUIRED),
                Some(m) if m.is_empty() => {
                    v.add(rule_path.field("matches"), msg::schema_min_items(1));
                }
                Some(_) => {}
            }
            for (k, m) in rule.matches.iter().flatten().enumerate() {
                let m_path = rule_path.field("matches").index(k);
                if let Some(p) = &m.path {
                    check_enum(&mut v, &m_path.field("path").field("type"), &p.match_type, PathMatchType::VALUES);
                    if p.value.is_empty() {
                        v.add(m_path.field("path").field("value"), "in body should be at least 1 chars long");
                    }
                }
                if let Some(method) = &m.method {
                    check_enum(&mut v, &m_path.field("method"), method, HttpMethod::VALUES);
                }
                for (q, param) in m.query_params.iter().flatten().enumerate() {
                    let q_path = m_path.field("queryParams").index(q);
                    check_enum(&mut v, &q_path.field("type"), &param.match_type, QueryParamsMatchType::VALUES);
                }
                for (h, header) in m.headers.iter().flatten().enumerate() {
                    if let Some(t) = &header.match_type {
                        check_enum(&mut v, &m_path.field("headers").index(h).field("type"), t, HeaderMatchType::VALUES);
                    }
                }
            }
            let refs_path = rule_path.field("default").field("backendRefs");
            for (k, backend) in rule.conf.backend_refs.iter().flatten().enumerate() {
                check_backend_ref(&mut v, &refs_path.index(k), backend);
            }
        }
    }
    v
}

/// Something with an enum value and its schema's allowed values.
trait EnumValue {
    fn wire(&self) -> &str;
    fn known(&self) -> bool;
}

macro_rules! enum_value {
    ($($t:ty),+) => {$(
        impl EnumValue for $t {
            fn wire(&self) -> &str { self.as_str() }
            fn known(&self) -> bool { self.is_known() }
        }
    )+};
}
enum_value!(TargetRefKind, PathMatchType, HttpMethod, QueryParamsMatchType, HeaderMatchType, crate::common::ProxyType);

fn check_enum(v: &mut Violations, path: &FieldPath, value: &impl EnumValue, allowed: &[&str]) {
    if !value.known() && !value.wire().is_empty() {
        v.add(path.clone(), msg::schema_one_of(allowed));
    }
}

fn check_kind(v: &mut Violations, path: &FieldPath, kind: &TargetRefKind) {
    if kind.as_str().is_empty() {
        v.add(path.field("kind"), msg::SCHEMA_REQUIRED);
    } else {
        check_enum(v, &path.field("kind"), kind, TargetRefKind::VALUES);
    }
}

fn check_target_ref(v: &mut Violations, path: &FieldPath, r: &TargetRef) {
    check_kind(v, path, &r.kind);
    for (i, p) in r.proxy_types.iter().flatten().enumerate() {
        check_enum(v, &path.field("proxyTypes").index(i), p, crate::common::ProxyType::VALUES);
    }
}

fn check_backend_ref(v: &mut Violations, path: &FieldPath, backend: &BackendRef) {
    check_kind(v, path, &backend.kind);
    if backend.weight.is_some_and(|w| w < 0) {
        v.add(path.field("weight"), msg::SCHEMA_NON_NEGATIVE);
    }
}
