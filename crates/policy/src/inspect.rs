//! Inspect views of a plan in the shapes of Kuma's inspect API (spec meshtcproute.md §6): `_rules` for the
//! proxy and `_routes` per real-resource outbound, plus the matched policies in priority order and
//! meshroute's warnings.

use serde_json::{Value, json};

use model::kri::Kri;
use model::resource::Resource;

use crate::rules::ResourceRule;
use crate::snapshot::MeshSnapshot;
use crate::{Planned, plan::OutboundPlan};

fn resource_meta(r: &Resource) -> Value {
    json!({
        "labels": r.meta.labels,
        "mesh": r.meta.mesh,
        "name": r.meta.name,
        "type": r.kind().wire_name(),
    })
}

fn conf(backend_refs: &[model::BackendRef]) -> Value {
    json!({ "backendRefs": backend_refs })
}

/// The `_rules` answer for MeshTCPRoute, with the matched policies and the per-outbound outcome.
///
/// Unlike Kuma 2.13, the MeshTCPRoute entry is shown even when it has only resource rules, so a route
/// that targets only MeshExternalServices or MeshMultiZoneServices is visible too.
pub fn rules_view(snap: &MeshSnapshot, planned: &Planned<'_>) -> Value {
    let dataplane = snap.index.dataplane(&planned.plan.dataplane);
    let exclusive = snap.index.mesh_spec().mesh_services_mode() == model::kinds::mesh::MeshServicesMode::Exclusive;
    let to_rules: Vec<Value> = if exclusive {
        Vec::new()
    } else {
        planned
            .tcp_rules
            .legacy
            .iter()
            .map(|r| {
                json!({
                    "conf": conf(&r.backend_refs),
                    "matchers": r.subset.iter().map(|(k, v)| json!({"key": k, "not": false, "value": v})).collect::<Vec<_>>(),
                    "origin": r.origins.iter().map(|o| resource_meta(&snap.tcp_routes()[*o].resource)).collect::<Vec<_>>(),
                })
            })
            .collect()
    };
    let mut resource_rules: Vec<&ResourceRule> = planned.tcp_rules.resource.values().collect();
    resource_rules.sort_by(|a, b| (&a.resource.meta.name, &a.section).cmp(&(&b.resource.meta.name, &b.section)));
    let to_resource_rules: Vec<Value> = resource_rules
        .iter()
        .map(|r| {
            json!({
                "conf": [conf(&r.backend_refs)],
                "origin": r.origins.iter().map(|o| json!({
                    "resourceMeta": resource_meta(&snap.tcp_routes()[o.policy].resource),
                    "ruleIndex": o.to_index,
                })).collect::<Vec<_>>(),
                "resourceMeta": resource_meta(&r.resource),
                "resourceSectionName": r.section,
            })
        })
        .collect();
    json!({
        "resource": dataplane.map(|d| resource_meta(d)),
        "policies": planned.plan.policies,
        "rules": [{
            "type": "MeshTCPRoute",
            "toRules": to_rules,
            "toResourceRules": to_resource_rules,
            "fromRules": [],
            "inboundRules": [],
            "warnings": [],
        }],
        "httpMatches": [],
        "outbounds": planned.plan.outbounds.iter().map(|o| outbound_view(snap, planned, o)).collect::<Vec<_>>(),
        "warnings": planned.plan.warnings,
    })
}

fn outbound_view(snap: &MeshSnapshot, planned: &Planned<'_>, o: &OutboundPlan) -> Value {
    let mut view = json!({
        "name": o.name,
        "service": o.service,
        "protocol": o.protocol,
        "owner": o.owner,
        "splits": o.splits,
    });
    if let Some(route) = &o.route {
        view["rule"] = json!({ "conf": conf(&route.backend_refs), "origins": route.origins });
    }
    if !o.http_routes.is_empty() {
        view["httpRoutes"] = json!(o.http_routes);
    }
    if let Some(kri) = &o.kri {
        view["kri"] = json!(kri);
        view["routes"] = routes_view(snap, planned, kri);
    }
    view
}

/// The `_routes` answer for one outbound KRI: only resource rules, with the section and Mesh fallbacks;
/// backendRefs echoed as stored, not resolved.
pub fn routes_view(snap: &MeshSnapshot, planned: &Planned<'_>, kri: &Kri) -> Value {
    let routes: Vec<Value> = planned
        .tcp_rules
        .resource_for(kri)
        .map(|rule| {
            let mut origins: Vec<String> = Vec::new();
            for o in &rule.origins {
                let k = snap.tcp_routes()[o.policy].kri.to_string();
                if !origins.contains(&k) {
                    origins.push(k);
                }
            }
            json!({
                "kind": "MeshTCPRoute",
                "origins": origins.iter().map(|k| json!({"kri": k})).collect::<Vec<_>>(),
                "rules": [{ "conf": conf(&rule.backend_refs), "kri": "", "matches": null }],
            })
        })
        .into_iter()
        .collect();
    json!({ "routes": routes })
}
