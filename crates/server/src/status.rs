//! What each proxy's ADS streams report about it, for `_xds`.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use crate::proxy_id::ProxyId;

/// What one proxy's ADS stream reports about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyStatus {
    pub connected: bool,
    /// Last version Envoy accepted, per type URL.
    pub acked: BTreeMap<String, String>,
    /// The last rejection: type URL, version and Envoy's error.
    pub last_nack: Option<Nack>,
    /// Why the last stream that claimed this proxy was refused after authenticating (a Dataplane that
    /// conflicts with the one a user applied).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Nack {
    pub type_url: String,
    pub version: String,
    pub error: String,
}

/// The status of every connected proxy. A proxy that is gone leaves nothing behind (any client may pick a
/// proxy id, so this must not grow with ids that come and go).
#[derive(Default)]
pub struct XdsStatus(Mutex<BTreeMap<ProxyId, ProxyStatus>>);

impl XdsStatus {
    pub fn update(&self, proxy: &ProxyId, change: impl FnOnce(&mut ProxyStatus)) {
        let mut status = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        change(status.entry(proxy.clone()).or_default());
    }

    pub fn get(&self, proxy: &ProxyId) -> Option<ProxyStatus> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).get(proxy).cloned()
    }

    pub fn forget(&self, proxy: &ProxyId) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(proxy);
    }
}
