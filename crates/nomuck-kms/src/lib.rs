//! nomuck's built-in key management service, AWS KMS's model without HTTP.
//!
//! - Keys: id (a UUID), ARN `arn:aws:kms:REGION:ACCOUNT:key/ID`, symmetric
//!   AES-256-GCM (`SYMMETRIC_DEFAULT`, `ENCRYPT_DECRYPT`), state, manager
//!   (`CUSTOMER`, or `AWS` for the `alias/aws/…` keys made on first use), a key
//!   policy in IAM grammar (`nomuck-policy`), tags.
//! - Material: 256-bit, one version per rotation, all kept so old ciphertexts
//!   decrypt; each sealed under the data directory's master key with the
//!   mechanism access-key secrets use (`nomuck_iam::SecretSealer`), bound to
//!   key id and version. A deleted key's document, material included, is gone.
//! - Ciphertexts (see [`cipher`]) name their key and version, so `Decrypt`
//!   needs no key id; the encryption context is authenticated data.
//! - Every call is on behalf of a caller account. A key is used only by its
//!   account or by accounts its policy grants (naming the key by ARN); the
//!   admin is not special.
//! - Every cryptographic request is metered to the caller's account (service
//!   `kms`, meter [`meters::REQUESTS`]), summed in memory and appended every
//!   second as S3's requests are ([`RequestSums`]).
//!
//! Persistence is KMS's part of the metadata seam (`nomuck_meta::kms`): each
//! change is one commit naming the generation it replaces, so racing writers
//! retry rather than overwrite each other.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod cache;
pub mod cipher;
mod error;
mod key;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nomuck_iam::SecretSealer;
use nomuck_meta::kms::{KmsAliasRecord, KmsKeyRecord, KmsMutation};
use nomuck_meta::{CommitReceipt, MetaError, MetaStore, Millis, Mutation};
use nomuck_meter::RequestSums;
use nomuck_policy::{ConditionContext, KeyPolicy, PolicyEffect, Principal};
use rand::RngCore;
use zeroize::Zeroizing;

pub use error::KmsError;
pub use key::{KeyDoc, KeyManager, KeyMetadata, KeyState, SealedMaterial};

/// Non-secret pairs bound to a ciphertext as authenticated data.
pub type EncryptionContext = BTreeMap<String, String>;

pub const SERVICE: &str = "kms";

pub mod meters {
    /// Cryptographic requests (Encrypt, Decrypt, GenerateDataKey*, ReEncrypt).
    pub const REQUESTS: &str = "requests";
}

/// AWS's limits.
pub const MAX_PLAINTEXT: usize = 4096;
pub const MAX_DATA_KEY_BYTES: usize = 1024;
pub const MAX_DESCRIPTION: usize = 8192;
pub const MAX_TAGS: usize = 50;

/// Name of the AWS-managed key S3 uses when none is named.
pub const S3_MANAGED_ALIAS: &str = "alias/aws/s3";

#[derive(Debug, Clone)]
pub struct KmsOptions {
    pub region: String,
    /// How long a day is for deletion windows and rotation periods (a day;
    /// tests shorten it, as the storage lifecycle's day).
    pub day: Duration,
    /// How often the background pass deletes due keys and rotates keys.
    pub pass_interval: Duration,
}

impl Default for KmsOptions {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            day: Duration::from_secs(86_400),
            pass_interval: Duration::from_secs(60),
        }
    }
}

/// What a successful `Encrypt`, `GenerateDataKey` or `ReEncrypt` made.
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub key_arn: String,
}

/// A data key: plaintext (zeroed on drop) and sealed.
pub struct DataKey {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub ciphertext: Vec<u8>,
    pub key_arn: String,
}

/// An opened ciphertext.
pub struct Opened {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub key_arn: String,
}

pub struct ReEncrypted {
    pub ciphertext: Vec<u8>,
    pub source_key_arn: String,
    pub key_arn: String,
}

/// `CreateKey`'s input.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub description: String,
    /// AWS's default key policy when `None`.
    pub policy: Option<String>,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub name: String,
    pub arn: String,
    pub target_key_id: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationStatus {
    pub key_id: String,
    pub enabled: bool,
    pub period_days: Option<u32>,
    pub next_rotation: Option<Millis>,
}

/// Page of a listing: items and the marker for the next page.
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_marker: Option<String>,
}

pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX))
        .unwrap_or(0)
}

/// A random version-4 UUID.
fn new_key_id() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn validate_tags(tags: &[(String, String)]) -> Result<(), KmsError> {
    if tags.len() > MAX_TAGS {
        return Err(KmsError::Tag(format!("at most {MAX_TAGS} tags")));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(KmsError::Tag(
                "tag keys are 1 to 128 characters, values at most 256".into(),
            ));
        }
        if k.starts_with("aws:") {
            return Err(KmsError::Tag("tag keys cannot begin with aws:".into()));
        }
    }
    Ok(())
}

/// The policy AWS gives an AWS-managed key: the account may use it and read
/// about it, not manage it.
fn aws_managed_policy(account_id: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Id":"auto-s3-2","Statement":[{{"Sid":"Allow access through S3 for all principals in the account that are authorized to use S3","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account_id}:root"}},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}},{{"Sid":"Allow direct access to key metadata to the account","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account_id}:root"}},"Action":["kms:Describe*","kms:Get*","kms:List*"],"Resource":"*"}}]}}"#
    )
}

/// How a request names a key, resolved against the caller's account.
enum KeyRef<'a> {
    Id(&'a str),
    /// `(account, id)` from a key ARN.
    Arn(&'a str, &'a str),
    /// `(account, alias/name)`; account is the caller's for a bare alias name.
    Alias(String, String),
}

/// Who may name a key: its own account always, others only by ARN and only
/// for the operations AWS allows across accounts (use and describe).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reach {
    Own,
    CrossAccount,
}

/// What a key reference named: the key id, the account that must own the
/// key, and whether it was named by ARN (the only way to reach another's).
struct Named {
    key_id: String,
    owner: String,
    by_arn: bool,
}

pub struct Kms {
    store: Arc<dyn MetaStore>,
    sealer: SecretSealer,
    requests: RequestSums,
    opts: KmsOptions,
    /// Held by each read-modify-write of a key: one server owns the data
    /// directory, so this makes racing changes wait rather than exhaust their
    /// retries; generations still keep the background pass from overwriting.
    writes: tokio::sync::Mutex<()>,
    /// Keys and aliases as the cryptographic operations last read them.
    cache: cache::KeyCache,
}

/// The background work of [`Kms::start_background`].
pub struct KmsWorker {
    kms: Arc<Kms>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl KmsWorker {
    /// Stops the background work and appends the metered requests pending.
    pub async fn stop(self) {
        {
            // Not in the middle of a flush: sums taken would be lost.
            let _no_flush = self.kms.requests.hold_flushes().await;
            for t in &self.tasks {
                t.abort();
            }
        }
        if let Err(e) = self.kms.flush_usage().await {
            tracing::warn!(error = %e, "KMS request usage not appended");
        }
    }
}

impl Kms {
    /// `sealer` is the data directory's (`SecretSealer::new(master_key)`).
    pub fn new(store: Arc<dyn MetaStore>, sealer: SecretSealer, opts: KmsOptions) -> Self {
        Self {
            requests: RequestSums::new(SERVICE),
            store,
            sealer,
            opts,
            writes: tokio::sync::Mutex::new(()),
            cache: cache::KeyCache::default(),
        }
    }

    /// Every change to keys and aliases goes through here, so the cache of
    /// the cryptographic operations never outlives one.
    async fn commit(&self, mutations: Vec<Mutation>) -> Result<CommitReceipt, MetaError> {
        let res = self.store.commit(mutations).await;
        self.cache.forget_all();
        res
    }

    pub fn region(&self) -> &str {
        &self.opts.region
    }

    fn day_ms(&self) -> Millis {
        Millis::try_from(self.opts.day.as_millis()).unwrap_or(Millis::MAX)
    }

    fn key_arn(&self, account_id: &str, key_id: &str) -> String {
        format!("arn:aws:kms:{}:{account_id}:key/{key_id}", self.opts.region)
    }

    fn alias_arn(&self, account_id: &str, name: &str) -> String {
        format!("arn:aws:kms:{}:{account_id}:{name}", self.opts.region)
    }

    fn parse_ref<'a>(&self, caller: &str, key_ref: &'a str) -> Result<KeyRef<'a>, KmsError> {
        if key_ref.is_empty() {
            return Err(KmsError::Validation("KeyId must not be empty".into()));
        }
        if let Some(rest) = key_ref.strip_prefix("arn:aws:kms:") {
            let bad = || KmsError::NotFound(format!("Invalid keyId '{key_ref}'"));
            let mut parts = rest.splitn(3, ':');
            let (region, account, resource) = (
                parts.next().ok_or_else(bad)?,
                parts.next().ok_or_else(bad)?,
                parts.next().ok_or_else(bad)?,
            );
            if region != self.opts.region {
                return Err(KmsError::NotFound(format!("Invalid arn {}", key_ref)));
            }
            if let Some(id) = resource.strip_prefix("key/") {
                return Ok(KeyRef::Arn(account, id));
            }
            if resource.starts_with("alias/") {
                return Ok(KeyRef::Alias(account.to_owned(), resource.to_owned()));
            }
            return Err(bad());
        }
        if key_ref.starts_with("alias/") {
            return Ok(KeyRef::Alias(caller.to_owned(), key_ref.to_owned()));
        }
        Ok(KeyRef::Id(key_ref))
    }

    /// The key as the decrypt path needs it, from the cache when fresh.
    async fn load_cached(&self, key_id: &str) -> Result<Option<Arc<cache::CachedKey>>, KmsError> {
        if let Some(key) = self.cache.get(key_id) {
            return Ok(Some(key));
        }
        let epoch = self.cache.epoch();
        let Some((doc, _)) = self.load(key_id).await? else {
            return Ok(None);
        };
        let materials = doc
            .materials
            .iter()
            .map(|m| Ok((m.version, self.material(&doc, m.version)?)))
            .collect::<Result<Vec<_>, KmsError>>()?;
        let key = Arc::new(cache::CachedKey {
            policy: Self::policy(&doc)?,
            materials,
            doc,
        });
        self.cache.insert(epoch, key.clone());
        Ok(Some(key))
    }

    async fn load(&self, key_id: &str) -> Result<Option<(KeyDoc, i64)>, KmsError> {
        let Some(rec) = self.store.kms().kms_key(key_id).await? else {
            return Ok(None);
        };
        let doc: KeyDoc = serde_json::from_slice(&rec.body)
            .map_err(|e| KmsError::Internal(format!("key {key_id} is unreadable: {e}")))?;
        Ok(Some((doc, rec.generation)))
    }

    fn not_found(key_ref: &str) -> KmsError {
        KmsError::NotFound(format!("Key '{key_ref}' does not exist"))
    }

    /// The key `key_ref` names for `caller`, with its generation.
    async fn resolve(
        &self,
        caller: &str,
        key_ref: &str,
        reach: Reach,
    ) -> Result<(KeyDoc, i64), KmsError> {
        let named = self.name(caller, key_ref, false).await?;
        let (doc, generation) = self
            .load(&named.key_id)
            .await?
            .ok_or_else(|| Self::not_found(key_ref))?;
        Self::reachable(caller, key_ref, &named, &doc, reach)?;
        Ok((doc, generation))
    }

    /// [`Kms::resolve`] for the cryptographic operations, through the cache
    /// (aliases included) and with the key's policy parsed.
    async fn resolve_cached(
        &self,
        caller: &str,
        key_ref: &str,
        reach: Reach,
    ) -> Result<Arc<cache::CachedKey>, KmsError> {
        let named = self.name(caller, key_ref, true).await?;
        let key = self
            .load_cached(&named.key_id)
            .await?
            .ok_or_else(|| Self::not_found(key_ref))?;
        Self::reachable(caller, key_ref, &named, &key.doc, reach)?;
        Ok(key)
    }

    /// The key id `key_ref` stands for, with the account that must own it.
    async fn name(&self, caller: &str, key_ref: &str, cached: bool) -> Result<Named, KmsError> {
        Ok(match self.parse_ref(caller, key_ref)? {
            KeyRef::Id(id) => Named {
                key_id: id.to_owned(),
                owner: caller.to_owned(),
                by_arn: false,
            },
            KeyRef::Arn(account, id) => Named {
                key_id: id.to_owned(),
                owner: account.to_owned(),
                by_arn: true,
            },
            KeyRef::Alias(account, name) => {
                let by_arn = account != caller;
                let key_id = self
                    .alias_target(&account, &name, cached)
                    .await?
                    .ok_or_else(|| {
                        KmsError::NotFound(format!(
                            "Alias {} is not found.",
                            self.alias_arn(&account, &name)
                        ))
                    })?;
                Named {
                    key_id,
                    owner: account,
                    by_arn,
                }
            }
        })
    }

    /// The key id alias `name` of `account` points at, if it exists.
    async fn alias_target(
        &self,
        account: &str,
        name: &str,
        cached: bool,
    ) -> Result<Option<String>, KmsError> {
        if cached && let Some(key_id) = self.cache.alias(account, name) {
            return Ok(Some(key_id));
        }
        let epoch = self.cache.epoch();
        let Some(alias) = self.store.kms().kms_alias(account, name).await? else {
            return Ok(None);
        };
        self.cache.insert_alias(epoch, account, name, &alias.key_id);
        Ok(Some(alias.key_id))
    }

    /// Whether `caller` may reach `doc` as it was named: a key of another
    /// account only by ARN, and only where `reach` allows.
    fn reachable(
        caller: &str,
        key_ref: &str,
        named: &Named,
        doc: &KeyDoc,
        reach: Reach,
    ) -> Result<(), KmsError> {
        if doc.account_id != named.owner
            || (doc.account_id != caller && (reach == Reach::Own || !named.by_arn))
        {
            return Err(Self::not_found(key_ref));
        }
        Ok(())
    }

    /// Whether the key's policy allows `caller` to do `action`.
    fn authorize(&self, caller: &str, doc: &KeyDoc, action: &str) -> Result<(), KmsError> {
        Self::authorize_by(caller, doc, &Self::policy(doc)?, action)
    }

    fn policy(doc: &KeyDoc) -> Result<KeyPolicy, KmsError> {
        KeyPolicy::parse(&doc.policy)
            .map_err(|e| KmsError::Internal(format!("stored key policy unreadable: {e}")))
    }

    /// [`Kms::authorize`] with the key's policy already parsed.
    fn authorize_by(
        caller: &str,
        doc: &KeyDoc,
        policy: &KeyPolicy,
        action: &str,
    ) -> Result<(), KmsError> {
        let principal = Principal::Account(caller.to_owned());
        match policy.evaluate(&principal, action, &doc.arn, &ConditionContext::new()) {
            PolicyEffect::Allow => Ok(()),
            _ => Err(KmsError::AccessDenied(format!(
                "User: arn:aws:iam::{caller}:root is not authorized to perform: {action} on resource: {} because no resource-based policy allows the {action} action",
                doc.arn
            ))),
        }
    }

    fn record(&self, doc: &KeyDoc, generation: i64) -> Result<KmsKeyRecord, KmsError> {
        Ok(KmsKeyRecord {
            key_id: doc.key_id.clone(),
            account_id: doc.account_id.clone(),
            created_at: doc.created_at,
            updated_at: now_millis(),
            generation,
            body: serde_json::to_vec(doc)
                .map_err(|e| KmsError::Internal(format!("cannot encode key: {e}")))?,
        })
    }

    /// Read, check, change and write one key, retrying when another writer
    /// moved it in between. `change` runs on a fresh copy each attempt.
    async fn update(
        &self,
        caller: &str,
        key_ref: &str,
        action: &str,
        change: impl Fn(&mut KeyDoc) -> Result<(), KmsError>,
    ) -> Result<KeyDoc, KmsError> {
        let _one_writer = self.writes.lock().await;
        for _ in 0..8 {
            let (mut doc, generation) = self.resolve(caller, key_ref, Reach::Own).await?;
            self.authorize(caller, &doc, action)?;
            change(&mut doc)?;
            let record = self.record(&doc, generation + 1)?;
            match self
                .commit(vec![Mutation::Kms(KmsMutation::PutKey {
                    record: Box::new(record),
                    expect_generation: Some(generation),
                })])
                .await
            {
                Ok(_) => return Ok(doc),
                Err(MetaError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(KmsError::Internal(
            "the key kept changing; try again".into(),
        ))
    }

    fn seal_material(&self, key_id: &str, version: u32) -> SealedMaterial {
        let material = cipher::random_key();
        let hex_material = Zeroizing::new(hex::encode(material.as_slice()));
        SealedMaterial {
            version,
            created_at: now_millis(),
            sealed: hex::encode(
                self.sealer
                    .seal(&KeyDoc::seal_label(key_id, version), &hex_material),
            ),
        }
    }

    fn material(
        &self,
        doc: &KeyDoc,
        version: u32,
    ) -> Result<Zeroizing<[u8; cipher::MATERIAL_LEN]>, KmsError> {
        let sealed = doc
            .materials
            .iter()
            .find(|m| m.version == version)
            .ok_or_else(|| KmsError::InvalidCiphertext(String::new()))?;
        let broken = || KmsError::Internal(format!("material of key {} is unreadable", doc.key_id));
        let bytes = hex::decode(&sealed.sealed).map_err(|_| broken())?;
        let hex_material = Zeroizing::new(
            self.sealer
                .open(&KeyDoc::seal_label(&doc.key_id, version), &bytes)
                .map_err(|_| broken())?,
        );
        let mut out = Zeroizing::new([0u8; cipher::MATERIAL_LEN]);
        hex::decode_to_slice(hex_material.as_bytes(), out.as_mut()).map_err(|_| broken())?;
        Ok(out)
    }

    fn usable(doc: &KeyDoc) -> Result<(), KmsError> {
        match doc.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(KmsError::Disabled(format!("{} is disabled.", doc.arn))),
            KeyState::PendingDeletion => Err(KmsError::InvalidState(format!(
                "{} is pending deletion.",
                doc.arn
            ))),
        }
    }

    /// Counts one cryptographic request for the caller's account.
    fn meter(&self, caller: &str) {
        self.requests
            .add(caller, meters::REQUESTS, nomuck_meter::unit::REQUESTS, 1);
    }

    /// Appends the metered requests pending now (the background flushes every
    /// second); returns the number of events.
    pub async fn flush_usage(&self) -> Result<usize, KmsError> {
        Ok(self.requests.flush(&self.store, now_millis()).await?)
    }

    fn seal_with(
        key: &cache::CachedKey,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>, KmsError> {
        let doc = &key.doc;
        let (version, material) = key
            .latest()
            .ok_or_else(|| KmsError::Internal(format!("key {} has no material", doc.key_id)))?;
        cipher::seal(&doc.key_id, version, material, plaintext, context)
            .ok_or_else(|| KmsError::Internal("encryption failed".into()))
    }

    // ---- keys

    pub async fn create_key(&self, caller: &str, new: NewKey) -> Result<KeyMetadata, KmsError> {
        self.create(caller, new, KeyManager::Customer, None).await
    }

    async fn create(
        &self,
        caller: &str,
        new: NewKey,
        manager: KeyManager,
        alias: Option<&str>,
    ) -> Result<KeyMetadata, KmsError> {
        if new.description.chars().count() > MAX_DESCRIPTION {
            return Err(KmsError::Validation(format!(
                "Description is longer than {MAX_DESCRIPTION} characters"
            )));
        }
        validate_tags(&new.tags)?;
        let policy = match (&new.policy, manager) {
            (Some(p), _) => {
                self.check_policy(caller, p).await?;
                p.clone()
            }
            (None, KeyManager::Customer) => KeyPolicy::default_for(caller),
            (None, KeyManager::Aws) => aws_managed_policy(caller),
        };
        let key_id = new_key_id();
        let now = now_millis();
        let doc = KeyDoc {
            arn: self.key_arn(caller, &key_id),
            account_id: caller.to_owned(),
            description: new.description,
            state: KeyState::Enabled,
            manager,
            created_at: now,
            deletion_date: None,
            pending_window_days: None,
            policy,
            rotation_period_days: None,
            next_rotation: None,
            materials: vec![self.seal_material(&key_id, 1)],
            tags: new.tags,
            key_id,
        };
        let mut muts = vec![Mutation::Kms(KmsMutation::PutKey {
            record: Box::new(self.record(&doc, 1)?),
            expect_generation: None,
        })];
        if let Some(name) = alias {
            muts.push(Mutation::Kms(KmsMutation::PutAlias {
                record: KmsAliasRecord {
                    account_id: caller.to_owned(),
                    name: name.to_owned(),
                    key_id: doc.key_id.clone(),
                    created_at: now,
                    updated_at: now,
                },
                replace: false,
            }));
        }
        self.commit(muts).await?;
        Ok(doc.metadata())
    }

    /// A policy `PutKeyPolicy` or `CreateKey` may set: valid, naming existing
    /// accounts, and (AWS's lockout safety check) still letting the caller
    /// change it later.
    async fn check_policy(&self, caller: &str, text: &str) -> Result<(), KmsError> {
        let policy =
            KeyPolicy::parse(text).map_err(|e| KmsError::MalformedPolicy(e.to_string()))?;
        for account in policy.principal_accounts() {
            if self.store.account(account).await?.is_none() {
                return Err(KmsError::MalformedPolicy(
                    "Policy contains a statement with one or more invalid principals.".into(),
                ));
            }
        }
        let me = Principal::Account(caller.to_owned());
        if policy.evaluate(&me, "kms:PutKeyPolicy", "*", &ConditionContext::new())
            != PolicyEffect::Allow
        {
            return Err(KmsError::MalformedPolicy(
                "The new key policy will not allow you to update the key policy in the future."
                    .into(),
            ));
        }
        Ok(())
    }

    pub async fn describe_key(&self, caller: &str, key_ref: &str) -> Result<KeyMetadata, KmsError> {
        let (doc, _) = self.resolve(caller, key_ref, Reach::CrossAccount).await?;
        self.authorize(caller, &doc, "kms:DescribeKey")?;
        Ok(doc.metadata())
    }

    /// The caller's own keys `(id, arn)` in id order.
    pub async fn list_keys(
        &self,
        caller: &str,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<(String, String)>, KmsError> {
        let mut recs = self
            .store
            .kms()
            .kms_keys(caller, marker, limit.saturating_add(1))
            .await?;
        let more = recs.len() > limit;
        recs.truncate(limit);
        let next_marker = more
            .then(|| recs.last().map(|r| r.key_id.clone()))
            .flatten();
        Ok(Page {
            items: recs
                .into_iter()
                .map(|r| {
                    let arn = self.key_arn(&r.account_id, &r.key_id);
                    (r.key_id, arn)
                })
                .collect(),
            next_marker,
        })
    }

    pub async fn enable_key(&self, caller: &str, key_ref: &str) -> Result<(), KmsError> {
        self.update(caller, key_ref, "kms:EnableKey", |d| match d.state {
            KeyState::PendingDeletion => Err(KmsError::InvalidState(format!(
                "{} is pending deletion.",
                d.arn
            ))),
            _ => {
                d.state = KeyState::Enabled;
                Ok(())
            }
        })
        .await
        .map(|_| ())
    }

    pub async fn disable_key(&self, caller: &str, key_ref: &str) -> Result<(), KmsError> {
        self.update(caller, key_ref, "kms:DisableKey", |d| match d.state {
            KeyState::PendingDeletion => Err(KmsError::InvalidState(format!(
                "{} is pending deletion.",
                d.arn
            ))),
            _ => {
                d.state = KeyState::Disabled;
                Ok(())
            }
        })
        .await
        .map(|_| ())
    }

    /// Schedules deletion after `window_days` (7 to 30, default 30); the key
    /// is unusable meanwhile. Returns the key's metadata with its date.
    pub async fn schedule_key_deletion(
        &self,
        caller: &str,
        key_ref: &str,
        window_days: Option<u32>,
    ) -> Result<KeyMetadata, KmsError> {
        let days = window_days.unwrap_or(30);
        if !(7..=30).contains(&days) {
            return Err(KmsError::Validation(format!(
                "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30"
            )));
        }
        let when = now_millis().saturating_add(self.day_ms().saturating_mul(i64::from(days)));
        self.update(caller, key_ref, "kms:ScheduleKeyDeletion", |d| {
            if d.state == KeyState::PendingDeletion {
                return Err(KmsError::InvalidState(format!(
                    "{} is pending deletion.",
                    d.arn
                )));
            }
            d.state = KeyState::PendingDeletion;
            d.deletion_date = Some(when);
            d.pending_window_days = Some(days);
            Ok(())
        })
        .await
        .map(|d| d.metadata())
    }

    /// Back to `Disabled`, as AWS does.
    pub async fn cancel_key_deletion(
        &self,
        caller: &str,
        key_ref: &str,
    ) -> Result<KeyMetadata, KmsError> {
        self.update(caller, key_ref, "kms:CancelKeyDeletion", |d| {
            if d.state != KeyState::PendingDeletion {
                return Err(KmsError::InvalidState(format!(
                    "{} is not pending deletion.",
                    d.arn
                )));
            }
            d.state = KeyState::Disabled;
            d.deletion_date = None;
            d.pending_window_days = None;
            Ok(())
        })
        .await
        .map(|d| d.metadata())
    }

    // ---- rotation

    pub async fn enable_key_rotation(
        &self,
        caller: &str,
        key_ref: &str,
        period_days: Option<u32>,
    ) -> Result<(), KmsError> {
        let days = period_days.unwrap_or(365);
        if !(90..=2560).contains(&days) {
            return Err(KmsError::Validation(format!(
                "RotationPeriodInDays {days} is not between 90 and 2560"
            )));
        }
        let next = now_millis().saturating_add(self.day_ms().saturating_mul(i64::from(days)));
        self.update(caller, key_ref, "kms:EnableKeyRotation", |d| {
            Self::usable(d)?;
            d.rotation_period_days = Some(days);
            d.next_rotation = Some(next);
            Ok(())
        })
        .await
        .map(|_| ())
    }

    pub async fn disable_key_rotation(&self, caller: &str, key_ref: &str) -> Result<(), KmsError> {
        self.update(caller, key_ref, "kms:DisableKeyRotation", |d| {
            Self::usable(d)?;
            d.rotation_period_days = None;
            d.next_rotation = None;
            Ok(())
        })
        .await
        .map(|_| ())
    }

    pub async fn key_rotation_status(
        &self,
        caller: &str,
        key_ref: &str,
    ) -> Result<RotationStatus, KmsError> {
        let (doc, _) = self.resolve(caller, key_ref, Reach::CrossAccount).await?;
        self.authorize(caller, &doc, "kms:GetKeyRotationStatus")?;
        Ok(RotationStatus {
            key_id: doc.arn.clone(),
            enabled: doc.rotation_period_days.is_some(),
            period_days: doc.rotation_period_days,
            next_rotation: doc.next_rotation,
        })
    }

    /// Adds a material version now (`RotateKeyOnDemand`); older versions stay
    /// to decrypt what they sealed.
    pub async fn rotate_key_on_demand(
        &self,
        caller: &str,
        key_ref: &str,
    ) -> Result<String, KmsError> {
        let doc = self
            .update(caller, key_ref, "kms:RotateKeyOnDemand", |d| {
                Self::usable(d)?;
                self.add_version(d);
                Ok(())
            })
            .await?;
        Ok(doc.key_id)
    }

    fn add_version(&self, d: &mut KeyDoc) {
        let version = d
            .materials
            .last()
            .map_or(1, |m| m.version.saturating_add(1));
        d.materials.push(self.seal_material(&d.key_id, version));
    }

    /// How many material versions a key has (for tests and `nomuck` tooling).
    pub async fn material_versions(&self, key_id: &str) -> Result<Vec<u32>, KmsError> {
        let (doc, _) = self
            .load(key_id)
            .await?
            .ok_or_else(|| Self::not_found(key_id))?;
        Ok(doc.materials.iter().map(|m| m.version).collect())
    }

    // ---- policies and tags

    pub async fn key_policy(
        &self,
        caller: &str,
        key_ref: &str,
        name: &str,
    ) -> Result<String, KmsError> {
        if name != "default" {
            return Err(KmsError::NotFound(format!("No such policy: {name}")));
        }
        let (doc, _) = self.resolve(caller, key_ref, Reach::Own).await?;
        self.authorize(caller, &doc, "kms:GetKeyPolicy")?;
        Ok(doc.policy)
    }

    pub async fn put_key_policy(
        &self,
        caller: &str,
        key_ref: &str,
        name: &str,
        policy: &str,
    ) -> Result<(), KmsError> {
        if name != "default" {
            return Err(KmsError::NotFound(format!("No such policy: {name}")));
        }
        self.check_policy(caller, policy).await?;
        let text = policy.to_owned();
        self.update(caller, key_ref, "kms:PutKeyPolicy", |d| {
            d.policy = text.clone();
            Ok(())
        })
        .await
        .map(|_| ())
    }

    pub async fn list_key_policies(
        &self,
        caller: &str,
        key_ref: &str,
    ) -> Result<Vec<String>, KmsError> {
        let (doc, _) = self.resolve(caller, key_ref, Reach::Own).await?;
        self.authorize(caller, &doc, "kms:ListKeyPolicies")?;
        Ok(vec!["default".into()])
    }

    pub async fn tag_resource(
        &self,
        caller: &str,
        key_ref: &str,
        tags: Vec<(String, String)>,
    ) -> Result<(), KmsError> {
        validate_tags(&tags)?;
        self.update(caller, key_ref, "kms:TagResource", |d| {
            for (k, v) in &tags {
                match d.tags.iter_mut().find(|(dk, _)| dk == k) {
                    Some(slot) => slot.1 = v.clone(),
                    None => d.tags.push((k.clone(), v.clone())),
                }
            }
            validate_tags(&d.tags)
        })
        .await
        .map(|_| ())
    }

    pub async fn untag_resource(
        &self,
        caller: &str,
        key_ref: &str,
        keys: Vec<String>,
    ) -> Result<(), KmsError> {
        self.update(caller, key_ref, "kms:UntagResource", |d| {
            d.tags.retain(|(k, _)| !keys.contains(k));
            Ok(())
        })
        .await
        .map(|_| ())
    }

    pub async fn resource_tags(
        &self,
        caller: &str,
        key_ref: &str,
    ) -> Result<Vec<(String, String)>, KmsError> {
        let (doc, _) = self.resolve(caller, key_ref, Reach::Own).await?;
        self.authorize(caller, &doc, "kms:ListResourceTags")?;
        Ok(doc.tags)
    }

    // ---- aliases

    fn check_alias_name(name: &str) -> Result<(), KmsError> {
        let rest = name.strip_prefix("alias/").unwrap_or_default();
        if rest.is_empty()
            || name.len() > 256
            || !rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
        {
            return Err(KmsError::InvalidAliasName(format!(
                "Alias must start with the prefix \"alias/\" and contain only alphanumeric characters, forward slashes (/), underscores (_), and dashes (-): {name}"
            )));
        }
        if name.starts_with("alias/aws/") {
            return Err(KmsError::InvalidAliasName(
                "Alias must not begin with alias/aws/: that prefix is reserved for AWS managed keys".into(),
            ));
        }
        Ok(())
    }

    async fn put_alias(
        &self,
        caller: &str,
        name: &str,
        target: &str,
        replace: bool,
    ) -> Result<(), KmsError> {
        Self::check_alias_name(name)?;
        if target.starts_with("alias/") || target.contains(":alias/") {
            return Err(KmsError::Validation(
                "TargetKeyId must name a key, not an alias".into(),
            ));
        }
        let (doc, _) = self.resolve(caller, target, Reach::Own).await?;
        self.authorize(
            caller,
            &doc,
            if replace {
                "kms:UpdateAlias"
            } else {
                "kms:CreateAlias"
            },
        )?;
        if doc.manager == KeyManager::Aws {
            return Err(KmsError::Unsupported(
                "An alias cannot name an AWS managed key".into(),
            ));
        }
        if doc.state == KeyState::PendingDeletion {
            return Err(KmsError::InvalidState(format!(
                "{} is pending deletion.",
                doc.arn
            )));
        }
        let now = now_millis();
        let created_at = match self.store.kms().kms_alias(caller, name).await? {
            Some(a) if replace => a.created_at,
            Some(_) => {
                return Err(KmsError::AlreadyExists(format!(
                    "An alias with the name {} already exists",
                    self.alias_arn(caller, name)
                )));
            }
            None if replace => {
                return Err(KmsError::NotFound(format!(
                    "Alias {} is not found.",
                    self.alias_arn(caller, name)
                )));
            }
            None => now,
        };
        let res = self
            .commit(vec![Mutation::Kms(KmsMutation::PutAlias {
                record: KmsAliasRecord {
                    account_id: caller.to_owned(),
                    name: name.to_owned(),
                    key_id: doc.key_id.clone(),
                    created_at,
                    updated_at: now,
                },
                replace,
            })])
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(MetaError::Conflict(_)) => Err(KmsError::AlreadyExists(format!(
                "An alias with the name {} already exists",
                self.alias_arn(caller, name)
            ))),
            Err(MetaError::NotFound(_)) => Err(KmsError::NotFound(format!(
                "Alias {} is not found.",
                self.alias_arn(caller, name)
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn create_alias(
        &self,
        caller: &str,
        name: &str,
        target: &str,
    ) -> Result<(), KmsError> {
        self.put_alias(caller, name, target, false).await
    }

    pub async fn update_alias(
        &self,
        caller: &str,
        name: &str,
        target: &str,
    ) -> Result<(), KmsError> {
        self.put_alias(caller, name, target, true).await
    }

    pub async fn delete_alias(&self, caller: &str, name: &str) -> Result<(), KmsError> {
        Self::check_alias_name(name)?;
        let missing = || {
            KmsError::NotFound(format!(
                "Alias {} is not found.",
                self.alias_arn(caller, name)
            ))
        };
        let alias = self
            .store
            .kms()
            .kms_alias(caller, name)
            .await?
            .ok_or_else(missing)?;
        let (doc, _) = self.resolve(caller, &alias.key_id, Reach::Own).await?;
        self.authorize(caller, &doc, "kms:DeleteAlias")?;
        match self
            .commit(vec![Mutation::Kms(KmsMutation::DeleteAlias {
                account_id: caller.to_owned(),
                name: name.to_owned(),
            })])
            .await
        {
            Ok(_) => Ok(()),
            Err(MetaError::NotFound(_)) => Err(missing()),
            Err(e) => Err(e.into()),
        }
    }

    /// The caller's aliases in name order, of one key when `key_ref` is given.
    pub async fn list_aliases(
        &self,
        caller: &str,
        key_ref: Option<&str>,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<Alias>, KmsError> {
        let key_id = match key_ref {
            Some(r) => Some(self.resolve(caller, r, Reach::Own).await?.0.key_id),
            None => None,
        };
        let mut recs = self
            .store
            .kms()
            .kms_aliases(caller, key_id.as_deref(), marker, limit.saturating_add(1))
            .await?;
        let more = recs.len() > limit;
        recs.truncate(limit);
        let next_marker = more.then(|| recs.last().map(|r| r.name.clone())).flatten();
        Ok(Page {
            items: recs
                .into_iter()
                .map(|a| Alias {
                    arn: self.alias_arn(&a.account_id, &a.name),
                    name: a.name,
                    target_key_id: a.key_id,
                    created_at: a.created_at,
                    updated_at: a.updated_at,
                })
                .collect(),
            next_marker,
        })
    }

    /// The account's AWS-managed key of `alias` (`alias/aws/s3`), created on
    /// first use as AWS does.
    pub async fn aws_managed_key(&self, caller: &str, alias: &str) -> Result<String, KmsError> {
        for _ in 0..3 {
            if let Some(key_id) = self.alias_target(caller, alias, true).await? {
                return Ok(key_id);
            }
            let new = NewKey {
                description: "Default key that protects my S3 objects when no other key is defined"
                    .into(),
                ..NewKey::default()
            };
            match self.create(caller, new, KeyManager::Aws, Some(alias)).await {
                Ok(meta) => return Ok(meta.key_id),
                // Another request created it first.
                Err(KmsError::Internal(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(KmsError::Internal(format!("cannot create {alias}")))
    }

    // ---- cryptography

    /// The key to use for `action`: resolved (cross-account by ARN), allowed
    /// by its policy, usable.
    async fn usable_key(
        &self,
        caller: &str,
        key_ref: &str,
        action: &str,
    ) -> Result<Arc<cache::CachedKey>, KmsError> {
        let key = self
            .resolve_cached(caller, key_ref, Reach::CrossAccount)
            .await?;
        Self::authorize_by(caller, &key.doc, &key.policy, action)?;
        Self::usable(&key.doc)?;
        Ok(key)
    }

    pub async fn encrypt(
        &self,
        caller: &str,
        key_ref: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Sealed, KmsError> {
        if plaintext.is_empty() || plaintext.len() > MAX_PLAINTEXT {
            return Err(KmsError::Validation(format!(
                "Plaintext must be 1 to {MAX_PLAINTEXT} bytes"
            )));
        }
        let key = self.usable_key(caller, key_ref, "kms:Encrypt").await?;
        let ciphertext = Self::seal_with(&key, plaintext, context)?;
        self.meter(caller);
        Ok(Sealed {
            ciphertext,
            key_arn: key.doc.arn.clone(),
        })
    }

    /// A fresh data key of `bytes` bytes (1 to 1024) sealed under the key.
    pub async fn generate_data_key(
        &self,
        caller: &str,
        key_ref: &str,
        bytes: usize,
        context: &EncryptionContext,
        with_plaintext: bool,
    ) -> Result<DataKey, KmsError> {
        if bytes == 0 || bytes > MAX_DATA_KEY_BYTES {
            return Err(KmsError::Validation(format!(
                "NumberOfBytes must be 1 to {MAX_DATA_KEY_BYTES}"
            )));
        }
        let action = if with_plaintext {
            "kms:GenerateDataKey"
        } else {
            "kms:GenerateDataKeyWithoutPlaintext"
        };
        let key = self.usable_key(caller, key_ref, action).await?;
        let mut plaintext = Zeroizing::new(vec![0u8; bytes]);
        rand::rngs::OsRng.fill_bytes(plaintext.as_mut_slice());
        let ciphertext = Self::seal_with(&key, &plaintext, context)?;
        self.meter(caller);
        Ok(DataKey {
            plaintext: if with_plaintext {
                plaintext
            } else {
                Zeroizing::new(Vec::new())
            },
            ciphertext,
            key_arn: key.doc.arn.clone(),
        })
    }

    /// Opens a ciphertext without metering (shared by Decrypt and ReEncrypt).
    async fn open_blob(
        &self,
        caller: &str,
        blob: &[u8],
        context: &EncryptionContext,
        key_ref: Option<&str>,
        action: &str,
    ) -> Result<Opened, KmsError> {
        let invalid = || KmsError::InvalidCiphertext(String::new());
        let h = cipher::header(blob).ok_or_else(invalid)?;
        let key = self.load_cached(&h.key_id).await?.ok_or_else(invalid)?;
        let doc = &key.doc;
        if let Some(r) = key_ref {
            let named = self.resolve_cached(caller, r, Reach::CrossAccount).await?;
            if named.doc.key_id != doc.key_id {
                return Err(KmsError::IncorrectKey(
                    "The key ID in the request does not identify a KMS key that can perform this operation.".into(),
                ));
            }
        }
        Self::authorize_by(caller, doc, &key.policy, action)?;
        Self::usable(doc)?;
        let material = key.material(h.version).ok_or_else(invalid)?;
        let plaintext = cipher::open(blob, &h, material, context).ok_or_else(invalid)?;
        Ok(Opened {
            plaintext,
            key_arn: doc.arn.clone(),
        })
    }

    /// Decrypts a ciphertext made by this KMS; the key is the one it names.
    /// Anything not sealed here, tampered with, or given another context (or
    /// whose key was deleted) is `InvalidCiphertextException`.
    pub async fn decrypt(
        &self,
        caller: &str,
        blob: &[u8],
        context: &EncryptionContext,
        key_ref: Option<&str>,
    ) -> Result<Opened, KmsError> {
        let opened = self
            .open_blob(caller, blob, context, key_ref, "kms:Decrypt")
            .await?;
        self.meter(caller);
        Ok(opened)
    }

    pub async fn re_encrypt(
        &self,
        caller: &str,
        blob: &[u8],
        source_context: &EncryptionContext,
        source_key: Option<&str>,
        destination_key: &str,
        destination_context: &EncryptionContext,
    ) -> Result<ReEncrypted, KmsError> {
        let opened = self
            .open_blob(
                caller,
                blob,
                source_context,
                source_key,
                "kms:ReEncryptFrom",
            )
            .await?;
        let key = self
            .usable_key(caller, destination_key, "kms:ReEncryptTo")
            .await?;
        let ciphertext = Self::seal_with(&key, &opened.plaintext, destination_context)?;
        self.meter(caller);
        Ok(ReEncrypted {
            ciphertext,
            source_key_arn: opened.key_arn,
            key_arn: key.doc.arn.clone(),
        })
    }

    // ---- background

    /// Deletes keys whose deletion date has passed (their material with them)
    /// and rotates keys whose rotation is due. Returns `(deleted, rotated)`.
    pub async fn run_due(&self, now: Millis) -> Result<(usize, usize), KmsError> {
        let (mut deleted, mut rotated) = (0, 0);
        let mut after: Option<String> = None;
        loop {
            let page = self.store.kms().all_kms_keys(after.as_deref(), 500).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key_id.clone());
            for rec in page {
                let Ok(mut doc) = serde_json::from_slice::<KeyDoc>(&rec.body) else {
                    tracing::warn!(key_id = %rec.key_id, "unreadable KMS key skipped");
                    continue;
                };
                let m = if doc.state == KeyState::PendingDeletion
                    && doc.deletion_date.is_some_and(|d| d <= now)
                {
                    deleted += 1;
                    KmsMutation::DeleteKey {
                        key_id: rec.key_id.clone(),
                        expect_generation: rec.generation,
                    }
                } else if doc.state == KeyState::Enabled
                    && let (Some(days), Some(next)) = (doc.rotation_period_days, doc.next_rotation)
                    && next <= now
                {
                    rotated += 1;
                    self.add_version(&mut doc);
                    doc.next_rotation =
                        Some(now.saturating_add(self.day_ms().saturating_mul(i64::from(days))));
                    KmsMutation::PutKey {
                        record: Box::new(self.record(&doc, rec.generation + 1)?),
                        expect_generation: Some(rec.generation),
                    }
                } else {
                    continue;
                };
                match self.commit(vec![Mutation::Kms(m)]).await {
                    // Changed meanwhile: the next pass looks again.
                    Ok(_) | Err(MetaError::Conflict(_) | MetaError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok((deleted, rotated))
    }

    /// Runs [`Kms::run_due`] every `pass_interval` and appends metered
    /// requests every second, until stopped.
    pub fn start_background(self: &Arc<Self>) -> KmsWorker {
        let kms = self.clone();
        let flusher = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Err(e) = kms.flush_usage().await {
                    tracing::warn!(error = %e, "KMS request usage not appended yet");
                }
            }
        });
        let kms = self.clone();
        let pass = tokio::spawn(async move {
            let mut tick = tokio::time::interval(kms.opts.pass_interval);
            loop {
                tick.tick().await;
                match kms.run_due(now_millis()).await {
                    Ok((0, 0)) => {}
                    Ok((deleted, rotated)) => {
                        tracing::info!(deleted, rotated, "KMS keys deleted or rotated")
                    }
                    Err(e) => tracing::warn!(error = %e, "KMS background pass failed"),
                }
            }
        });
        KmsWorker {
            kms: self.clone(),
            tasks: vec![flusher, pass],
        }
    }
}
