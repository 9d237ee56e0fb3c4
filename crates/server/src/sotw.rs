//! The state-of-the-world side of one ADS stream: per type URL, what was sent (nonce and version),
//! what Envoy accepted, which versions it rejected, and which EDS names it asked for.
//!
//! A rejected version is never sent again: the last accepted config stays in Envoy and the error is
//! kept for inspection. A reconnecting Envoy that reports the current version gets nothing new.

use std::collections::{HashMap, HashSet};

use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use envoy_types::pb::google::protobuf::Any;
use xds::ResourceSet;
use xds::resources::is_named_subscription;

use crate::push_order;

#[derive(Default)]
struct TypeState {
    subscribed: bool,
    /// EDS and ECDS: the names Envoy asked for.
    names: Vec<String>,
    nonce: String,
    sent_version: String,
    rejected: HashSet<String>,
}

/// An acknowledgement or rejection read from a request, for status reporting.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Ack { type_url: String, version: String },
    Nack { type_url: String, version: String, error: String },
}

#[derive(Default)]
pub struct SotwSession {
    types: HashMap<String, TypeState>,
    next_nonce: u64,
}

impl SotwSession {
    /// Handles one request; returns what to send and what Envoy said about the last response.
    pub fn on_request(
        &mut self,
        req: &DiscoveryRequest,
        current: &ResourceSet,
    ) -> (Vec<DiscoveryResponse>, Option<Verdict>) {
        let state = self.types.entry(req.type_url.clone()).or_default();
        let mut verdict = None;
        if !req.response_nonce.is_empty() {
            if req.response_nonce != state.nonce {
                // An answer to an older response: the newer one is still in flight.
                return (Vec::new(), None);
            }
            verdict = Some(match &req.error_detail {
                Some(status) => {
                    state.rejected.insert(state.sent_version.clone());
                    Verdict::Nack {
                        type_url: req.type_url.clone(),
                        version: state.sent_version.clone(),
                        error: status.message.clone(),
                    }
                }
                None => Verdict::Ack { type_url: req.type_url.clone(), version: req.version_info.clone() },
            });
        } else if !state.subscribed && !req.version_info.is_empty() {
            // A reconnecting Envoy tells what it has: if that is current, nothing is sent.
            state.sent_version.clone_from(&req.version_info);
        }
        state.subscribed = true;
        state.names.clone_from(&req.resource_names);
        let response = self.response_for(&req.type_url, current);
        (response.into_iter().collect(), verdict)
    }

    /// What to send after the resources changed, in a safe order.
    pub fn on_change(&mut self, previous: Option<&ResourceSet>, current: &ResourceSet) -> Vec<DiscoveryResponse> {
        push_order(previous, current).into_iter().filter_map(|t| self.response_for(t, current)).collect()
    }

    fn response_for(&mut self, type_url: &str, current: &ResourceSet) -> Option<DiscoveryResponse> {
        let state = self.types.get_mut(type_url)?;
        if !state.subscribed {
            return None;
        }
        let resources: Vec<&xds::Resource> = if is_named_subscription(type_url) {
            current.of_type(type_url).iter().filter(|r| state.names.contains(&r.name)).collect()
        } else {
            current.of_type(type_url).iter().collect()
        };
        let version = xds::resources::version_of(resources.iter().copied());
        if version == state.sent_version || state.rejected.contains(&version) {
            return None;
        }
        self.next_nonce += 1;
        state.nonce = self.next_nonce.to_string();
        state.sent_version.clone_from(&version);
        Some(DiscoveryResponse {
            version_info: version,
            resources: resources.iter().map(|r| Any { type_url: type_url.to_owned(), value: r.body.clone() }).collect(),
            type_url: type_url.to_owned(),
            nonce: state.nonce.clone(),
            ..DiscoveryResponse::default()
        })
    }
}
