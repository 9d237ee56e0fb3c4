//! MeshTCPRoute (complete, spec meshtcproute.md §1) and MeshHTTPRoute (the model the TCP route needs:
//! targetRefs, hostnames, matches and backendRefs; filters stay opaque for now).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{BackendRef, TargetRef};
use crate::open_enum::open_enum;

/// `spec` of a MeshTCPRoute.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeshTcpRouteSpec {
    /// Absent means `{kind: Mesh}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<TargetRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub to: Option<Vec<TcpTo>>,
}

/// One destination of a MeshTCPRoute.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpTo {
    #[serde(default)]
    pub target_ref: TargetRef,
    /// The schema requires the key (at most one rule); the Go layer accepts it absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1))]
    pub rules: Option<Vec<TcpRule>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpRule {
    #[serde(rename = "default", default)]
    pub conf: TcpRuleConf,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpRuleConf {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_refs: Option<Vec<BackendRef>>,
}

impl TcpTo {
    /// The rule this to-item contributes to merging (spec §1.6): `rules[0]`, or, without rules, a route
    /// to the destination itself with weight 1.
    pub fn effective_rule(&self) -> TcpRule {
        match self.rules.as_deref() {
            Some([first, ..]) => first.clone(),
            _ => TcpRule { conf: TcpRuleConf { backend_refs: Some(vec![BackendRef::to_target(&self.target_ref, 1)]) } },
        }
    }
}

/// `spec` of a MeshHTTPRoute.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeshHttpRouteSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<TargetRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<HttpTo>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpTo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostnames: Option<Vec<String>>,
    #[serde(default)]
    pub target_ref: TargetRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<HttpRule>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<Vec<HttpMatch>>,
    #[serde(rename = "default", default)]
    pub conf: HttpRuleConf,
}

/// One match of a rule; its criteria are ANDed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<HttpMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_params: Option<Vec<QueryParamsMatch>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<HeaderMatch>>,
}

open_enum! {
    pub enum HttpMethod {
        Connect => "CONNECT", Delete => "DELETE", Get => "GET", Head => "HEAD", Options => "OPTIONS",
        Patch => "PATCH", Post => "POST", Put => "PUT", Trace => "TRACE",
    }
}

open_enum! {
    pub enum PathMatchType { Exact => "Exact", PathPrefix => "PathPrefix", RegularExpression => "RegularExpression" }
}

open_enum! {
    pub enum QueryParamsMatchType { Exact => "Exact", RegularExpression => "RegularExpression" }
}

open_enum! {
    pub enum HeaderMatchType {
        Exact => "Exact", Present => "Present", RegularExpression => "RegularExpression", Absent => "Absent",
        Prefix => "Prefix",
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PathMatch {
    pub value: String,
    #[serde(rename = "type")]
    pub match_type: PathMatchType,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueryParamsMatch {
    #[serde(rename = "type")]
    pub match_type: QueryParamsMatchType,
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderMatch {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub match_type: Option<HeaderMatchType>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRuleConf {
    /// Kept as written until MeshHTTPRoute filters are implemented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_refs: Option<Vec<BackendRef>>,
}
