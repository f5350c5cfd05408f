use std::fmt;

use crate::MetaError;
use crate::storage::{
    Bucket, ByteUsage, CompleteUpload, CompletedUpload, DeleteMarker, MultipartUpload, ObjectData,
    ObjectVersion, Part, RemovedVersion, Versioning, WriteCondition,
};

/// Unix epoch milliseconds; every timestamp in a record uses it.
pub type Millis = i64;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Account {
    /// 12 ASCII digits.
    pub id: String,
    /// Unique across accounts.
    pub name: String,
    pub is_admin: bool,
    pub created_at: Millis,
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AccessKey {
    /// `AKIA…`-style id: 16–128 ASCII letters/digits (20 in practice).
    pub id: String,
    pub account_id: String,
    /// Opaque ciphertext; sealing/unsealing is the IAM crate's job.
    pub secret_sealed: Vec<u8>,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

// Hand-written so logs never carry sealed secrets, even encrypted ones.
impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field(
                "secret_sealed",
                &format_args!("<{} bytes>", self.secret_sealed.len()),
            )
            .field("created_at", &self.created_at)
            .field("revoked_at", &self.revoked_at)
            .finish()
    }
}

/// A Login-with-Amazon-style client of an account: SP-API client libraries trade its
/// refresh token (with the client id and secret) for short-lived access tokens
/// instead of signing requests.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LwaClient {
    /// `amzn1.application-oa2-client.<hex>`.
    pub client_id: String,
    pub account_id: String,
    /// Opaque ciphertexts, sealed by the IAM crate like access-key secrets.
    pub secret_sealed: Vec<u8>,
    pub refresh_token_sealed: Vec<u8>,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

// Hand-written for the same reason as `AccessKey`'s.
impl fmt::Debug for LwaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LwaClient")
            .field("client_id", &self.client_id)
            .field("account_id", &self.account_id)
            .field(
                "secret_sealed",
                &format_args!("<{} bytes>", self.secret_sealed.len()),
            )
            .field(
                "refresh_token_sealed",
                &format_args!("<{} bytes>", self.refresh_token_sealed.len()),
            )
            .field("created_at", &self.created_at)
            .field("revoked_at", &self.revoked_at)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsageEvent {
    /// Not checked against `accounts`: usage may outlive or precede an account row.
    pub account_id: String,
    pub service: String,
    pub meter: String,
    pub quantity: i64,
    pub unit: String,
    pub at: Millis,
    /// Unique across all usage events; a repeat is a no-op.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoredUsageEvent {
    /// Strictly increasing in append (commit) order; never reused.
    pub seq: i64,
    pub event: UsageEvent,
}

/// A typed write. Mutations in one commit apply atomically, all or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// `Conflict` if the id or the name is taken.
    CreateAccount(Account),
    /// `Conflict` if the id is taken; `NotFound` if the account is missing.
    CreateAccessKey(AccessKey),
    /// `NotFound` if the key is missing; revoking again keeps the first time.
    RevokeAccessKey {
        key_id: String,
        at: Millis,
    },
    /// `Conflict` if the client id is taken; `NotFound` if the account is missing.
    CreateLwaClient(LwaClient),
    /// `NotFound` if the client is missing; revoking again keeps the first time.
    RevokeLwaClient {
        client_id: String,
        at: Millis,
    },
    /// A repeated `idempotency_key` is a no-op counted in
    /// [`CommitReceipt::duplicate_usage`].
    RecordUsage(UsageEvent),
    /// Upsert of a small server-wide value.
    PutSetting {
        key: String,
        value: Vec<u8>,
    },

    // ---- object store. `bucket_owner: Some(a)` makes a mutation fail with
    // `Refusal::BucketOwnerChanged` unless the bucket is (still) owned by `a`,
    // so a caller's earlier authorization check cannot go stale.
    /// `Refusal::BucketExists` if the name is taken (by anyone).
    CreateBucket(Bucket),
    /// `NoSuchBucket`; `BucketNotEmpty` while any object version or
    /// multipart upload exists. Removes the bucket's config documents too.
    DeleteBucket {
        name: String,
        bucket_owner: Option<String>,
    },
    SetBucketVersioning {
        name: String,
        versioning: Versioning,
        bucket_owner: Option<String>,
    },
    /// Upsert of a per-bucket document (policy, CORS, lifecycle, …) by kind.
    PutBucketConfig {
        bucket: String,
        kind: String,
        doc: Vec<u8>,
        bucket_owner: Option<String>,
    },
    /// No-op if absent.
    DeleteBucketConfig {
        bucket: String,
        kind: String,
        bucket_owner: Option<String>,
    },
    /// Writes `version` as the key's latest version. A version with the same
    /// id is replaced (its data freed). `condition` is checked first.
    PutObject {
        version: Box<ObjectVersion>,
        condition: Option<WriteCondition>,
        bucket_owner: Option<String>,
        usage: Option<ByteUsage>,
    },
    /// Removes version `remove_version` (if it exists; the newest remaining
    /// version becomes latest) and/or adds `add_marker` as latest.
    /// Unversioned delete: remove `"null"`, no marker.
    DeleteObject {
        bucket: String,
        key: String,
        remove_version: Option<String>,
        add_marker: Option<DeleteMarker>,
        condition: Option<WriteCondition>,
        bucket_owner: Option<String>,
        usage: Option<ByteUsage>,
    },
    /// Replaces the tags of a version (latest if `None`); empty removes them.
    /// `NoSuchKey` / `NoSuchVersion` if absent or a delete marker.
    SetObjectTags {
        bucket: String,
        key: String,
        version_id: Option<String>,
        tags: Vec<(String, String)>,
        bucket_owner: Option<String>,
    },
    /// Replaces the ACL of the latest version of `key`, or of `version_id`.
    /// `NoSuchKey` / `NoSuchVersion` (also for a delete marker).
    SetObjectAcl {
        bucket: String,
        key: String,
        version_id: Option<String>,
        acl: Option<String>,
        bucket_owner: Option<String>,
    },
    /// Changes the retention or legal hold of one version, checked against
    /// the stored lock inside the commit (a racing change is never
    /// overwritten unseen): `ObjectLocked` if the change would weaken an
    /// active retention it may not, `NoSuchVersion` if absent or a delete
    /// marker.
    SetObjectLock {
        bucket: String,
        key: String,
        version_id: String,
        change: crate::storage::LockChange,
        bucket_owner: Option<String>,
    },
    /// `Conflict` if the upload id is taken.
    CreateMultipartUpload {
        upload: Box<MultipartUpload>,
        bucket_owner: Option<String>,
    },
    /// Adds or replaces a part (the replaced part's blob is freed).
    /// `NoSuchUpload` if the upload is not in `bucket`/`key`.
    PutPart {
        upload_id: String,
        bucket: String,
        key: String,
        part: Part,
        usage: Option<ByteUsage>,
    },
    /// Validates the client's part list against the stored parts
    /// ([`crate::multipart::assemble`]) and turns the upload into an object
    /// version that references the part blobs (no data is copied). Unused
    /// parts are freed. Result in [`CommitReceipt::completed_uploads`].
    CompleteMultipartUpload(Box<CompleteUpload>),
    /// Removes the upload and frees its parts. `NoSuchUpload` if absent.
    AbortMultipartUpload {
        upload_id: String,
        bucket: String,
        key: String,
        usage: Option<ByteUsage>,
    },
    /// Removes blob ids from the garbage queue once their bytes are deleted.
    ForgetGarbage {
        blob_ids: Vec<String>,
    },

    // ---- event delivery
    /// Creates or replaces a topic (endpoint, secret, attributes);
    /// `NotFound` if the account is missing.
    PutTopic(crate::events::Topic),
    /// Removes a topic and its pending deliveries; no-op if absent.
    DeleteTopic {
        account_id: String,
        name: String,
    },
    /// Queues a delivery, due at once; no-op if the topic is gone or has no
    /// push endpoint.
    EnqueueDelivery(crate::events::NewDelivery),
    /// Records an attempt; no-op if the delivery is gone.
    RecordDeliveryAttempt {
        id: i64,
        outcome: crate::events::DeliveryOutcome,
    },
    /// Forgets finished deliveries (delivered or given up) created before `before`.
    PruneDeliveries {
        before: crate::Millis,
    },

    // ---- compute (see [`crate::compute`])
    Compute(crate::compute::ComputeMutation),

    // ---- fulfillment (see [`crate::fulfillment`])
    Fulfillment(crate::fulfillment::FulfillmentMutation),

    // ---- budgets (see [`crate::budgets`])
    Budgets(crate::budgets::BudgetMutation),
    // ---- billing (see [`crate::billing`])
    Billing(crate::billing::BillingMutation),
    // ---- kms (see [`crate::kms`])
    Kms(crate::kms::KmsMutation),
}

impl Mutation {
    /// Backend-neutral shape checks, run by every backend before touching storage
    /// so all backends reject the same inputs with the same error.
    pub fn validate(&self) -> Result<(), MetaError> {
        match self {
            Mutation::CreateAccount(a) => {
                check_account_id(&a.id)?;
                non_empty("account name", &a.name)
            }
            Mutation::CreateAccessKey(k) => {
                check_key_id(&k.id)?;
                check_account_id(&k.account_id)
            }
            Mutation::RevokeAccessKey { key_id, .. } => non_empty("access key id", key_id),
            Mutation::CreateLwaClient(c) => {
                non_empty("LWA client id", &c.client_id)?;
                check_account_id(&c.account_id)
            }
            Mutation::RevokeLwaClient { client_id, .. } => non_empty("LWA client id", client_id),
            Mutation::RecordUsage(u) => {
                non_empty("usage account_id", &u.account_id)?;
                non_empty("usage service", &u.service)?;
                non_empty("usage meter", &u.meter)?;
                non_empty("usage idempotency_key", &u.idempotency_key)
            }
            Mutation::PutSetting { key, .. } => non_empty("setting key", key),
            Mutation::Compute(c) => c.validate(),
            Mutation::Fulfillment(f) => f.validate(),
            Mutation::Budgets(b) => b.validate(),
            Mutation::Billing(b) => b.validate(),
            Mutation::Kms(k) => k.validate(),
            Mutation::CreateBucket(b) => {
                non_empty("bucket name", &b.name)?;
                non_empty("bucket owner", &b.owner)
            }
            Mutation::DeleteBucket { name, .. } | Mutation::SetBucketVersioning { name, .. } => {
                non_empty("bucket name", name)
            }
            Mutation::PutBucketConfig { bucket, kind, .. }
            | Mutation::DeleteBucketConfig { bucket, kind, .. } => {
                non_empty("bucket name", bucket)?;
                non_empty("config kind", kind)
            }
            Mutation::PutObject { version, .. } => validate_version(version),
            Mutation::DeleteObject {
                bucket,
                key,
                remove_version,
                add_marker,
                ..
            } => {
                object_key(bucket, key)?;
                if remove_version.is_none() && add_marker.is_none() {
                    return Err(MetaError::Invalid(
                        "DeleteObject neither removes a version nor adds a marker".into(),
                    ));
                }
                if let Some(v) = remove_version {
                    non_empty("version id", v)?;
                }
                match add_marker {
                    Some(m) => non_empty("delete marker version id", &m.version_id),
                    None => Ok(()),
                }
            }
            Mutation::SetObjectTags { bucket, key, .. }
            | Mutation::SetObjectAcl { bucket, key, .. } => object_key(bucket, key),
            Mutation::SetObjectLock {
                bucket,
                key,
                version_id,
                ..
            } => {
                object_key(bucket, key)?;
                non_empty("version id", version_id)
            }
            Mutation::CreateMultipartUpload { upload, .. } => {
                non_empty("upload id", &upload.upload_id)?;
                object_key(&upload.bucket, &upload.key)
            }
            Mutation::PutPart {
                upload_id,
                bucket,
                key,
                part,
                ..
            } => {
                non_empty("upload id", upload_id)?;
                object_key(bucket, key)?;
                part_number(part.part_number)?;
                non_empty("part blob id", &part.blob_id)?;
                fits_i64("part size", part.size)
            }
            Mutation::CompleteMultipartUpload(c) => {
                non_empty("upload id", &c.upload_id)?;
                object_key(&c.bucket, &c.key)?;
                non_empty("version id", &c.version_id)?;
                c.parts.iter().try_for_each(|p| part_number(p.part_number))
            }
            Mutation::AbortMultipartUpload {
                upload_id,
                bucket,
                key,
                ..
            } => {
                non_empty("upload id", upload_id)?;
                object_key(bucket, key)
            }
            Mutation::ForgetGarbage { .. } => Ok(()),
            Mutation::PutTopic(t) => {
                check_account_id(&t.account_id)?;
                non_empty("topic name", &t.name)
            }
            Mutation::DeleteTopic { account_id, name } => {
                non_empty("account id", account_id)?;
                non_empty("topic name", name)
            }
            Mutation::EnqueueDelivery(d) => {
                non_empty("account id", &d.account_id)?;
                non_empty("topic name", &d.topic)
            }
            Mutation::RecordDeliveryAttempt { .. } | Mutation::PruneDeliveries { .. } => Ok(()),
        }
    }
}

fn object_key(bucket: &str, key: &str) -> Result<(), MetaError> {
    non_empty("bucket name", bucket)?;
    non_empty("object key", key)
}

fn part_number(n: u32) -> Result<(), MetaError> {
    if (1..=10_000).contains(&n) {
        Ok(())
    } else {
        Err(MetaError::Invalid(format!(
            "part number {n} is not in 1..=10000"
        )))
    }
}

fn fits_i64(what: &str, v: u64) -> Result<(), MetaError> {
    if i64::try_from(v).is_ok() {
        Ok(())
    } else {
        Err(MetaError::Invalid(format!("{what} {v} is too large")))
    }
}

fn validate_version(v: &ObjectVersion) -> Result<(), MetaError> {
    object_key(&v.bucket, &v.key)?;
    non_empty("version id", &v.version_id)?;
    non_empty("object owner", &v.owner)?;
    fits_i64("object size", v.size)?;
    match &v.data {
        // Encrypted inline data is longer than the object (tags, header).
        ObjectData::Inline(d) if d.len() as u64 != v.size && v.encryption.is_none() => {
            Err(MetaError::Invalid(format!(
                "inline data is {} bytes but size is {}",
                d.len(),
                v.size
            )))
        }
        ObjectData::Segments(segs) => {
            let mut total: u64 = 0;
            for s in segs {
                non_empty("segment blob id", &s.blob_id)?;
                fits_i64("segment offset", s.offset)?;
                fits_i64("segment length", s.len)?;
                total = total.saturating_add(s.len);
            }
            if total == v.size {
                Ok(())
            } else {
                Err(MetaError::Invalid(format!(
                    "segments hold {total} bytes but size is {}",
                    v.size
                )))
            }
        }
        _ => Ok(()),
    }
}

pub(crate) fn non_empty(what: &str, v: &str) -> Result<(), MetaError> {
    if v.is_empty() {
        return Err(MetaError::Invalid(format!("{what} is empty")));
    }
    Ok(())
}

pub(crate) fn check_account_id(id: &str) -> Result<(), MetaError> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(MetaError::Invalid(format!(
            "account id {id:?} is not 12 digits"
        )))
    }
}

fn check_key_id(id: &str) -> Result<(), MetaError> {
    if (16..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(MetaError::Invalid(format!(
            "access key id {id:?} is not 16-128 ASCII letters/digits"
        )))
    }
}

/// Outcome of a successful [`crate::MetaStore::commit`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitReceipt {
    /// `RecordUsage` mutations skipped because their idempotency key existed
    /// (earlier commit, or earlier in the same commit).
    pub duplicate_usage: usize,
    /// Blob ids that nothing references any more after this commit. They are
    /// also queued for garbage collection in the same commit.
    pub freed_blobs: Vec<String>,
    /// One entry per `CompleteMultipartUpload`, in mutation order.
    pub completed_uploads: Vec<CompletedUpload>,
    /// Object versions deleted or replaced, in the order it happened.
    pub removed_versions: Vec<RemovedVersion>,
    /// For each movement of each `AppendLedger`, in mutation order, the seq
    /// it holds in its account's ledger (a repeat: the earlier entry's seq).
    pub ledger_seqs: Vec<i64>,
    /// Movements of `AppendLedger` skipped because the account's ledger
    /// already held the same movement under their idempotency key.
    pub duplicate_ledger: usize,
}

/// Filter for [`crate::MetaStore::usage`]; all conditions are ANDed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    pub account_id: Option<String>,
    /// Inclusive lower bound on `at`.
    pub from: Option<Millis>,
    /// Exclusive upper bound on `at`.
    pub to: Option<Millis>,
    /// Only events with `seq > after_seq` (cursor paging).
    pub after_seq: Option<i64>,
    /// Maximum number of events returned.
    pub limit: usize,
}

/// Everything, unlimited: `limit: usize::MAX`.
impl Default for UsageQuery {
    fn default() -> Self {
        Self {
            account_id: None,
            from: None,
            to: None,
            after_seq: None,
            limit: usize::MAX,
        }
    }
}
