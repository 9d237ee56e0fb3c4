//! The incremental (Delta) side of one ADS stream: per type URL, the versions Envoy holds, what it
//! subscribed to, what is in flight, and which (name, version) pairs it rejected. Only changed resources
//! and removals are sent.

use std::collections::{BTreeMap, HashMap, HashSet};

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, Resource as DeltaResource,
};
use envoy_types::pb::google::protobuf::Any;
use xds::ResourceSet;
use xds::resources::is_named_subscription;

use crate::push_order;
use crate::sotw::Verdict;

#[derive(Default)]
struct TypeState {
    subscribed: bool,
    wildcard: bool,
    names: HashSet<String>,
    /// What Envoy holds (accepted), by name.
    known: HashMap<String, String>,
    /// Sent and not yet acknowledged.
    pending: BTreeMap<String, String>,
    pending_removed: Vec<String>,
    nonce: String,
    rejected: HashSet<(String, String)>,
}

#[derive(Default)]
pub struct DeltaSession {
    types: HashMap<String, TypeState>,
    next_nonce: u64,
    /// The push order of the last change. While a type waits for Envoy's answer, the types after it
    /// wait too, so the order holds.
    order: Option<[&'static str; 4]>,
}

impl DeltaSession {
    pub fn on_request(
        &mut self,
        req: &DeltaDiscoveryRequest,
        current: &ResourceSet,
    ) -> (Vec<DeltaDiscoveryResponse>, Option<Verdict>) {
        let state = self.types.entry(req.type_url.clone()).or_default();
        let mut verdict = None;
        if !req.response_nonce.is_empty() {
            if req.response_nonce != state.nonce {
                return (Vec::new(), None);
            }
            let version = current.type_version(&req.type_url);
            if let Some(status) = &req.error_detail {
                let pending = std::mem::take(&mut state.pending);
                state.rejected.extend(pending);
                state.pending_removed.clear();
                verdict =
                    Some(Verdict::Nack { type_url: req.type_url.clone(), version, error: status.message.clone() });
            } else {
                let pending = std::mem::take(&mut state.pending);
                state.known.extend(pending);
                for name in state.pending_removed.drain(..) {
                    state.known.remove(&name);
                }
                verdict = Some(Verdict::Ack { type_url: req.type_url.clone(), version });
            }
        }
        if !state.subscribed {
            state.subscribed = true;
            state.known.extend(req.initial_resource_versions.iter().map(|(k, v)| (k.clone(), v.clone())));
            state.wildcard = !is_named_subscription(&req.type_url)
                && (req.resource_names_subscribe.is_empty() || req.resource_names_subscribe.iter().any(|n| n == "*"));
        }
        for name in &req.resource_names_subscribe {
            if name != "*" {
                state.names.insert(name.clone());
            }
        }
        for name in &req.resource_names_unsubscribe {
            state.names.remove(name);
            state.known.remove(name);
        }
        let mut out: Vec<DeltaDiscoveryResponse> = Vec::new();
        if !self.order.is_some_and(|o| o.contains(&req.type_url.as_str())) {
            out.extend(self.response_for(&req.type_url, current));
        }
        out.extend(self.flush(current));
        (out, verdict)
    }

    pub fn on_change(&mut self, previous: Option<&ResourceSet>, current: &ResourceSet) -> Vec<DeltaDiscoveryResponse> {
        self.order = Some(push_order(previous, current));
        self.flush(current)
    }

    /// Sends the types of the pending change in order, stopping at one still waiting for Envoy.
    fn flush(&mut self, current: &ResourceSet) -> Vec<DeltaDiscoveryResponse> {
        let Some(order) = self.order else { return Vec::new() };
        let mut out = Vec::new();
        for type_url in order {
            if self.types.get(type_url).is_some_and(|t| !t.pending.is_empty() || !t.pending_removed.is_empty()) {
                return out;
            }
            out.extend(self.response_for(type_url, current));
        }
        self.order = None;
        out
    }

    fn response_for(&mut self, type_url: &str, current: &ResourceSet) -> Option<DeltaDiscoveryResponse> {
        let state = self.types.get_mut(type_url)?;
        if !state.subscribed || !state.pending.is_empty() || !state.pending_removed.is_empty() {
            // One response in flight per type: the next one goes out after Envoy answers.
            return None;
        }
        let wanted: Vec<&xds::Resource> =
            current.of_type(type_url).iter().filter(|r| state.wildcard || state.names.contains(&r.name)).collect();
        let changed: Vec<&xds::Resource> = wanted
            .iter()
            .copied()
            .filter(|r| state.known.get(&r.name) != Some(&r.version))
            .filter(|r| !state.rejected.contains(&(r.name.clone(), r.version.clone())))
            .collect();
        let present: HashSet<&str> = wanted.iter().map(|r| r.name.as_str()).collect();
        let mut removed: Vec<String> = state.known.keys().filter(|n| !present.contains(n.as_str())).cloned().collect();
        removed.sort();
        if changed.is_empty() && removed.is_empty() {
            return None;
        }
        self.next_nonce += 1;
        state.nonce = self.next_nonce.to_string();
        state.pending = changed.iter().map(|r| (r.name.clone(), r.version.clone())).collect();
        state.pending_removed.clone_from(&removed);
        Some(DeltaDiscoveryResponse {
            system_version_info: current.type_version(type_url),
            resources: changed
                .iter()
                .map(|r| DeltaResource {
                    name: r.name.clone(),
                    version: r.version.clone(),
                    resource: Some(Any { type_url: type_url.to_owned(), value: r.body.clone() }),
                    ..DeltaResource::default()
                })
                .collect(),
            type_url: type_url.to_owned(),
            removed_resources: removed,
            nonce: state.nonce.clone(),
            ..DeltaDiscoveryResponse::default()
        })
    }
}
