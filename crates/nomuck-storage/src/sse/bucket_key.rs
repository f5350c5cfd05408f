//! S3 Bucket Keys for SSE-KMS (`BucketKeyEnabled`): instead of asking the
//! KMS for every object's data key, a bucket-level key is made by the KMS
//! (`GenerateDataKey`, encryption context the bucket's ARN) and each object's
//! own random data key is sealed under it here. The KMS-sealed bucket key is
//! stored with every object it sealed, so reading one needs one KMS
//! `Decrypt` per bucket key and account, not per object.
//!
//! As on AWS, a bucket key is time-limited: writes use one for at most
//! [`LIFETIME`] before asking the KMS for a new one, and a read trusts an
//! opened one for as long, so a key disabled in the KMS stops these objects'
//! reads and writes within that time rather than at once. The cache is keyed
//! by the calling account, whose use of the KMS key is thereby checked by the
//! KMS (its policy) at least once a [`LIFETIME`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::DataKeyBytes;
use crate::kms::EncryptionContext;

/// How long a bucket key is used (writes) and trusted once opened (reads).
pub const LIFETIME: Duration = Duration::from_secs(60);
/// Past this many keys the cache starts over (more than any working set).
const MAX_KEYS: usize = 4096;

/// A bucket key as writes use it.
#[derive(Clone)]
pub(crate) struct WriteKey {
    pub plaintext: DataKeyBytes,
    /// The KMS ciphertext of the key, stored with each object.
    pub ciphertext: Vec<u8>,
    pub key_arn: String,
}

/// Who makes a bucket key: the account, the bucket, the KMS key as the
/// request named it (`None`: the account's `aws/s3` key) and the context.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct WriteSlot {
    pub account: String,
    pub bucket: String,
    pub key_id: Option<String>,
    pub context: Vec<(String, String)>,
}

impl WriteSlot {
    pub fn new(account: &str, bucket: &str, key_id: Option<&str>, ctx: &EncryptionContext) -> Self {
        Self {
            account: account.to_owned(),
            bucket: bucket.to_owned(),
            key_id: key_id.map(str::to_owned),
            context: ctx.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }
}

#[derive(Default)]
pub(crate) struct BucketKeys {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    writes: HashMap<WriteSlot, (WriteKey, Instant)>,
    /// Opened keys by reading account, then KMS ciphertext (nested, so a
    /// lookup borrows both and allocates nothing).
    reads: HashMap<String, HashMap<Vec<u8>, (DataKeyBytes, Instant)>>,
}

impl Inner {
    fn keep_read(&mut self, account: &str, ciphertext: &[u8], key: DataKeyBytes) {
        if self.reads.values().map(HashMap::len).sum::<usize>() >= MAX_KEYS {
            self.reads.clear();
        }
        self.reads
            .entry(account.to_owned())
            .or_default()
            .insert(ciphertext.to_vec(), (key, Instant::now()));
    }
}

impl BucketKeys {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Plain maps: a panicking holder leaves nothing half-done.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn for_write(&self, slot: &WriteSlot) -> Option<WriteKey> {
        let inner = self.inner();
        let (key, made) = inner.writes.get(slot)?;
        (made.elapsed() < LIFETIME).then(|| key.clone())
    }

    pub fn keep_for_write(&self, slot: WriteSlot, key: WriteKey) {
        let mut inner = self.inner();
        if inner.writes.len() >= MAX_KEYS {
            inner.writes.clear();
        }
        // The maker may also read what it wrote without asking again.
        inner.keep_read(&slot.account, &key.ciphertext, key.plaintext.clone());
        inner.writes.insert(slot, (key, Instant::now()));
    }

    pub fn for_read(&self, account: &str, ciphertext: &[u8]) -> Option<DataKeyBytes> {
        let inner = self.inner();
        let (key, opened) = inner.reads.get(account)?.get(ciphertext)?;
        (opened.elapsed() < LIFETIME).then(|| key.clone())
    }

    pub fn keep_for_read(&self, account: &str, ciphertext: &[u8], key: DataKeyBytes) {
        self.inner().keep_read(account, ciphertext, key);
    }
}
