//! Resources this instance wrote through its API, validated there once. The reconcile loop takes one when
//! the store's feed reports that very write, and serves it without reading it back or validating it
//! again. A change of the key by anyone else (another version) finds no match and is read back as
//! before. At most one entry per key, so the map is bounded by the store's own size; a full reload
//! empties it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use model::Valid;
use store::Key;

#[derive(Default)]
pub struct Written(Mutex<HashMap<Key, (u64, Valid)>>);

impl Written {
    /// `valid` was stored under `key` at `version`.
    pub fn record(&self, key: Key, version: u64, valid: Valid) {
        self.lock().insert(key, (version, valid));
    }

    /// The resource this instance wrote as `version` of `key`, if it is that one. The entry goes either
    /// way: a change of the key at another version superseded it.
    pub fn take(&self, key: &Key, version: u64) -> Option<Valid> {
        self.lock().remove(key).filter(|(v, _)| *v == version).map(|(_, valid)| valid)
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (u64, Valid)>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(name: &str) -> Valid {
        let text = format!("type: Mesh\nname: {name}\n");
        let resource = model::parse_resources(&text).expect("yaml").remove(0).expect("valid").resource;
        Valid::check(resource).expect("valid").0
    }

    #[test]
    fn only_the_recorded_version_is_taken_and_the_entry_goes_either_way() {
        let written = Written::default();
        let key = Key::of(&valid("m"));
        written.record(key.clone(), 2, valid("m"));
        assert!(written.take(&key, 3).is_none(), "another version was read back");
        assert!(written.take(&key, 2).is_none(), "the entry went with the mismatch");
        written.record(key.clone(), 4, valid("m"));
        assert_eq!(written.take(&key, 4).map(|v| v.meta.name.clone()), Some("m".to_owned()));
        assert!(written.take(&key, 4).is_none(), "taken once");
    }
}
