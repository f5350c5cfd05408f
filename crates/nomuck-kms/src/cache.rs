//! Keys (and aliases) recently read by the cryptographic operations. Every
//! SSE-KMS GET opens its object's data key (every PUT makes one), and reading
//! the key document from the store and parsing its policy cost far more than
//! the cryptography.
//!
//! An entry is dropped by every change this KMS commits (so a `DisableKey`
//! answered here is in force for the next request) and trusted for at most
//! [`TTL`] otherwise, the bound on anything else that writes the store (AWS
//! KMS itself calls key state changes eventually consistent, within seconds).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nomuck_policy::KeyPolicy;
use zeroize::Zeroizing;

use crate::KeyDoc;
use crate::cipher::MATERIAL_LEN;

/// How long an entry is trusted without a change made here.
pub(crate) const TTL: Duration = Duration::from_secs(5);
/// More keys than any working set; past it the cache starts over.
const MAX_KEYS: usize = 4096;

/// A key document as the cryptographic operations need it: read, its policy
/// parsed and its material versions unsealed (zeroed when dropped).
pub(crate) struct CachedKey {
    pub doc: KeyDoc,
    pub policy: KeyPolicy,
    pub materials: Vec<(u32, Zeroizing<[u8; MATERIAL_LEN]>)>,
}

impl CachedKey {
    /// The unsealed material of `version`.
    pub fn material(&self, version: u32) -> Option<&[u8; MATERIAL_LEN]> {
        self.materials
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, m)| &**m)
    }

    /// The newest version and its material: what new ciphertexts use.
    pub fn latest(&self) -> Option<(u32, &[u8; MATERIAL_LEN])> {
        self.materials.last().map(|(v, m)| (*v, &**m))
    }
}

#[derive(Default)]
pub(crate) struct KeyCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Bumped by each change; a read begun before one is not cached.
    epoch: u64,
    keys: HashMap<String, (Arc<CachedKey>, Instant)>,
    /// Account → alias name → key id (nested, so a lookup allocates nothing).
    aliases: HashMap<String, HashMap<String, (String, Instant)>>,
}

impl KeyCache {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The map holds no invariant a panicking holder could break.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, key_id: &str) -> Option<Arc<CachedKey>> {
        let inner = self.inner();
        let (key, at) = inner.keys.get(key_id)?;
        (at.elapsed() < TTL).then(|| key.clone())
    }

    /// The epoch to hand back to [`KeyCache::insert`] after reading the store.
    pub fn epoch(&self) -> u64 {
        self.inner().epoch
    }

    /// Keeps `key`, read from the store after [`KeyCache::epoch`] returned
    /// `epoch`, unless a change was committed since.
    pub fn insert(&self, epoch: u64, key: Arc<CachedKey>) {
        let mut inner = self.inner();
        if inner.epoch != epoch {
            return;
        }
        if inner.keys.len() >= MAX_KEYS {
            inner.keys.clear();
        }
        inner
            .keys
            .insert(key.doc.key_id.clone(), (key, Instant::now()));
    }

    pub fn alias(&self, account: &str, name: &str) -> Option<String> {
        let inner = self.inner();
        let (key_id, at) = inner.aliases.get(account)?.get(name)?;
        (at.elapsed() < TTL).then(|| key_id.clone())
    }

    /// As [`KeyCache::insert`], for an alias read after `epoch`.
    pub fn insert_alias(&self, epoch: u64, account: &str, name: &str, key_id: &str) {
        let mut inner = self.inner();
        if inner.epoch != epoch {
            return;
        }
        if inner.aliases.values().map(HashMap::len).sum::<usize>() >= MAX_KEYS {
            inner.aliases.clear();
        }
        inner
            .aliases
            .entry(account.to_owned())
            .or_default()
            .insert(name.to_owned(), (key_id.to_owned(), Instant::now()));
    }

    /// Called after every commit touching keys or aliases, whatever its
    /// outcome.
    pub fn forget_all(&self) {
        let mut inner = self.inner();
        inner.epoch += 1;
        inner.keys.clear();
        inner.aliases.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> Arc<CachedKey> {
        let policy = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"kms:*","Resource":"*"}]}"#;
        let doc: KeyDoc = serde_json::from_value(serde_json::json!({
            "key_id": id, "account_id": "111111111111", "arn": format!("arn:aws:kms:us-east-1:111111111111:key/{id}"),
            "description": "", "state": "Enabled", "manager": "Customer", "created_at": 1,
            "policy": policy, "materials": [], "tags": [],
        }))
        .unwrap();
        Arc::new(CachedKey {
            policy: KeyPolicy::parse(&doc.policy).unwrap(),
            materials: Vec::new(),
            doc,
        })
    }

    #[test]
    fn a_read_begun_before_a_change_is_not_kept() {
        let cache = KeyCache::default();
        let before = cache.epoch();
        cache.forget_all();
        cache.insert(before, key("k1"));
        assert!(cache.get("k1").is_none());
        let now = cache.epoch();
        cache.insert(now, key("k1"));
        assert_eq!(cache.get("k1").unwrap().doc.key_id, "k1");
        cache.forget_all();
        assert!(cache.get("k1").is_none());
    }
}
