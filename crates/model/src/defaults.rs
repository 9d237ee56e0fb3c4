//! Schema defaulting, as Kuma's REST layer and CRDs apply it before a resource is stored: a backendRef
//! weight defaults to 1, a header match type to `Exact`. The canonical form is the defaulted one.

use crate::common::BackendRef;
use crate::kind::Spec;
use crate::kinds::routes::HeaderMatchType;
use crate::resource::Resource;

pub fn apply_defaults(resource: &mut Resource) {
    match &mut resource.spec {
        Spec::MeshTcpRoute(spec) => {
            let rules = spec.to.iter_mut().flatten().flat_map(|to| to.rules.iter_mut().flatten());
            rules.flat_map(|r| r.conf.backend_refs.iter_mut().flatten()).for_each(default_weight);
        }
        Spec::MeshHttpRoute(spec) => {
            for rule in spec.to.iter_mut().flatten().flat_map(|to| to.rules.iter_mut().flatten()) {
                rule.conf.backend_refs.iter_mut().flatten().for_each(default_weight);
                let headers = rule.matches.iter_mut().flatten().flat_map(|m| m.headers.iter_mut().flatten());
                for header in headers {
                    header.match_type.get_or_insert(HeaderMatchType::Exact);
                }
            }
        }
        _ => {}
    }
}

fn default_weight(backend: &mut BackendRef) {
    backend.weight.get_or_insert(1);
}
