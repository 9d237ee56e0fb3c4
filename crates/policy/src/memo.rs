//! A memo shared by every proxy's plan of one snapshot: work that depends only on the snapshot and a
//! typed key (a service's endpoints, a backend's cluster) is done once.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

#[derive(Debug)]
pub struct Memo<K, V>(Mutex<HashMap<K, V>>);

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<K: Hash + Eq, V: Clone> Memo<K, V> {
    /// The value for `key`, computed on first use. The lock is not held while computing, so a computation
    /// may use other memos (two threads may then compute the same value once each; both are equal).
    pub fn get_or(&self, key: K, compute: impl FnOnce() -> V) -> V {
        if let Some(hit) = self.0.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return hit.clone();
        }
        let value = compute();
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(key, value.clone());
        value
    }
}
