//! S3 Object Lock (WORM): the bucket's lock configuration (a per-bucket
//! config document cached with the bucket, like the access documents), the
//! lock a write gives a new version, and the retention and legal hold
//! operations on existing versions.
//!
//! Enforcement is not here: the metadata store refuses, inside the commit,
//! every removal or replacement of a version whose lock forbids it
//! ([`nomuck_meta::Refusal::ObjectLocked`]), so no delete path (a client's,
//! a batch's, lifecycle's) can get past it by racing a lock change.

use serde::{Deserialize, Serialize};

use nomuck_meta::{LockChange, LockMode, Millis, Mutation, ObjectLock, Retention};

use crate::access::kinds;
use crate::auth::{Action, BucketAccess, authorize};
use crate::objects::shown_version;
use crate::usage::RequestClass;
use crate::{Caller, Storage, StorageError};

/// What the S3 error for a lock request on a bucket without lock says.
const NO_LOCK_CONFIG: &str = "Bucket is missing Object Lock Configuration";

/// How long a default retention lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetentionPeriod {
    Days(u32),
    Years(u32),
}

/// A bucket's default retention: applied to each new version whose write
/// names no retention of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultRetention {
    pub mode: LockMode,
    pub period: RetentionPeriod,
}

/// A bucket's object lock configuration. Its presence means object lock is
/// enabled (S3 offers no way to turn it off again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockConfig {
    pub default_retention: Option<DefaultRetention>,
}

/// The stored form of [`LockConfig`].
#[derive(Serialize, Deserialize)]
struct LockDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    period: Option<RetentionPeriod>,
}

impl LockConfig {
    pub(crate) fn encode(&self) -> Result<Vec<u8>, StorageError> {
        let doc = LockDoc {
            mode: self.default_retention.map(|d| d.mode.as_str().to_owned()),
            period: self.default_retention.map(|d| d.period),
        };
        serde_json::to_vec(&doc).map_err(|e| StorageError::Internal(e.to_string()))
    }

    pub(crate) fn decode(doc: &[u8]) -> Result<Self, StorageError> {
        let corrupt = |e: String| {
            StorageError::Internal(format!("stored object lock document is unreadable: {e}"))
        };
        let doc: LockDoc = serde_json::from_slice(doc).map_err(|e| corrupt(e.to_string()))?;
        let default_retention = match (doc.mode, doc.period) {
            (Some(m), Some(period)) => Some(DefaultRetention {
                mode: LockMode::parse(&m).ok_or_else(|| corrupt(format!("mode {m:?}")))?,
                period,
            }),
            _ => None,
        };
        Ok(Self { default_retention })
    }

    /// S3's limits: a period of at least one day or year (and no more than
    /// 100 years, beyond which the date would not be meaningful).
    fn validate(&self) -> Result<(), StorageError> {
        let Some(d) = self.default_retention else {
            return Ok(());
        };
        let (n, max) = match d.period {
            RetentionPeriod::Days(n) => (n, 36_500),
            RetentionPeriod::Years(n) => (n, 100),
        };
        if n == 0 || n > max {
            return Err(StorageError::InvalidRetentionPeriod(
                "Default retention period must be a positive integer value".into(),
            ));
        }
        Ok(())
    }
}

const DAY_MS: i64 = 86_400_000;

impl DefaultRetention {
    /// The retention a version written at `now` gets. A year is 365 days.
    pub fn from(&self, now: Millis) -> Retention {
        let days = match self.period {
            RetentionPeriod::Days(n) => i64::from(n),
            RetentionPeriod::Years(n) => i64::from(n) * 365,
        };
        Retention {
            mode: self.mode,
            until: now.saturating_add(days.saturating_mul(DAY_MS)),
        }
    }
}

/// The `x-amz-object-lock-*` headers of a write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockRequest {
    /// Mode and retain-until date (S3 requires both or neither).
    pub retention: Option<Retention>,
    /// `x-amz-object-lock-legal-hold`.
    pub legal_hold: Option<bool>,
}

impl LockRequest {
    pub fn is_empty(&self) -> bool {
        self.retention.is_none() && self.legal_hold.is_none()
    }
}

/// The lock a new version gets in a bucket with `access`: the request's, or
/// the bucket's default retention. Lock headers on a bucket without object
/// lock are refused, as S3 does.
pub(crate) fn lock_for_write(
    access: &BucketAccess,
    req: &LockRequest,
    now: Millis,
) -> Result<ObjectLock, StorageError> {
    let Some(config) = &access.object_lock else {
        if req.is_empty() {
            return Ok(ObjectLock::default());
        }
        return Err(StorageError::InvalidRequest(NO_LOCK_CONFIG.into()));
    };
    if let Some(r) = req.retention {
        check_future(r, now)?;
    }
    Ok(ObjectLock {
        retention: req
            .retention
            .or_else(|| config.default_retention.map(|d| d.from(now))),
        legal_hold: req.legal_hold.unwrap_or(false),
    })
}

fn check_future(r: Retention, now: Millis) -> Result<(), StorageError> {
    if r.until <= now {
        return Err(StorageError::InvalidArgument(
            "The retain until date must be in the future!".into(),
        ));
    }
    Ok(())
}

fn require_lock(access: &BucketAccess) -> Result<(), StorageError> {
    match access.object_lock {
        Some(_) => Ok(()),
        None => Err(StorageError::InvalidRequest(NO_LOCK_CONFIG.into())),
    }
}

impl Storage {
    /// Whether `caller`'s `x-amz-bypass-governance-retention` counts: it was
    /// sent and `s3:BypassGovernanceRetention` is allowed on the key (the
    /// owner has it unless its policy denies it). Not allowed is not an
    /// error by itself: the lock check then fails if the bypass was needed.
    pub(crate) fn bypass_allowed(
        caller: &Caller,
        b: &nomuck_meta::Bucket,
        access: &BucketAccess,
        key: &str,
        requested: bool,
    ) -> bool {
        requested
            && authorize(
                caller,
                b,
                access,
                Action::BypassGovernanceRetention,
                Some(key),
                None,
            )
            .is_ok()
    }

    /// GetObjectLockConfiguration; `NoSuchConfig` when object lock is off.
    pub async fn get_object_lock_configuration(
        &self,
        caller: &Caller,
        bucket: &str,
    ) -> Result<LockConfig, StorageError> {
        let (b, access) = self
            .authorized_bucket(
                caller,
                bucket,
                Action::GetBucketObjectLockConfiguration,
                None,
            )
            .await?;
        self.record_request(&b.owner, RequestClass::GetOther);
        access
            .object_lock
            .ok_or(StorageError::NoSuchConfig(kinds::OBJECT_LOCK))
    }

    /// PutObjectLockConfiguration: sets the default retention, or enables
    /// object lock on a bucket whose versioning is Enabled (as S3 now allows).
    pub async fn put_object_lock_configuration(
        &self,
        caller: &Caller,
        bucket: &str,
        config: LockConfig,
    ) -> Result<(), StorageError> {
        config.validate()?;
        let (b, access) = self
            .authorized_bucket(
                caller,
                bucket,
                Action::PutBucketObjectLockConfiguration,
                None,
            )
            .await?;
        if access.object_lock.is_none() && b.versioning != nomuck_meta::Versioning::Enabled {
            return Err(StorageError::InvalidBucketState(
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
                    .into(),
            ));
        }
        self.put_bucket_config(
            caller,
            bucket,
            kinds::OBJECT_LOCK,
            config.encode()?,
            Action::PutBucketObjectLockConfiguration,
        )
        .await
    }

    /// GetObjectRetention: the version's retention (`NoSuchConfig` if none).
    pub async fn get_object_retention(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Retention, StorageError> {
        let v = self
            .lock_target(caller, bucket, key, version_id, Action::GetObjectRetention)
            .await?;
        v.lock
            .retention
            .ok_or(StorageError::NoSuchConfig(kinds::OBJECT_RETENTION))
    }

    /// GetObjectLegalHold: whether the version is under legal hold.
    pub async fn get_object_legal_hold(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<bool, StorageError> {
        let v = self
            .lock_target(caller, bucket, key, version_id, Action::GetObjectLegalHold)
            .await?;
        Ok(v.lock.legal_hold)
    }

    /// PutObjectRetention (`None` removes it). Weakening an active
    /// GOVERNANCE retention needs an authorized bypass; an active COMPLIANCE
    /// retention can only be extended, by anyone. Returns the version id shown.
    pub async fn put_object_retention(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        retention: Option<Retention>,
        bypass_governance: bool,
    ) -> Result<Option<String>, StorageError> {
        if let Some(r) = retention {
            check_future(r, crate::now_millis())?;
        }
        let (b, access, v) = self
            .lock_target_in(caller, bucket, key, version_id, Action::PutObjectRetention)
            .await?;
        let bypass = Self::bypass_allowed(caller, &b, &access, key, bypass_governance);
        self.set_lock(
            &b,
            key,
            &v.version_id,
            LockChange::Retention {
                retention,
                bypass_governance: bypass,
            },
        )
        .await?;
        Ok(shown_version(&b, &v.version_id))
    }

    /// PutObjectLegalHold. Returns the version id shown.
    pub async fn put_object_legal_hold(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        on: bool,
    ) -> Result<Option<String>, StorageError> {
        let (b, _, v) = self
            .lock_target_in(caller, bucket, key, version_id, Action::PutObjectLegalHold)
            .await?;
        self.set_lock(&b, key, &v.version_id, LockChange::LegalHold(on))
            .await?;
        Ok(shown_version(&b, &v.version_id))
    }

    async fn set_lock(
        &self,
        b: &nomuck_meta::Bucket,
        key: &str,
        version_id: &str,
        change: LockChange,
    ) -> Result<(), StorageError> {
        self.commit_counted(
            (&b.owner, RequestClass::PutCopyPostList),
            &b.name,
            vec![Mutation::SetObjectLock {
                bucket: b.name.clone(),
                key: key.to_owned(),
                version_id: version_id.to_owned(),
                change,
                bucket_owner: Some(b.owner.clone()),
            }],
        )
        .await
        .map(|_| ())
    }

    async fn lock_target(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        action: Action,
    ) -> Result<nomuck_meta::ObjectVersion, StorageError> {
        let (b, _, v) = self
            .lock_target_in(caller, bucket, key, version_id, action)
            .await?;
        self.record_request(&b.owner, RequestClass::GetOther);
        Ok(v)
    }

    /// The version a retention or legal-hold request is on, in a bucket
    /// with object lock (else `InvalidRequest`, as S3 answers).
    async fn lock_target_in(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        action: Action,
    ) -> Result<
        (
            std::sync::Arc<nomuck_meta::Bucket>,
            std::sync::Arc<BucketAccess>,
            nomuck_meta::ObjectVersion,
        ),
        StorageError,
    > {
        let (_, access) = self.bucket_state(caller, bucket).await?;
        require_lock(&access)?;
        self.load_version_in(caller, bucket, key, version_id, action)
            .await
    }

    /// Whether version `version_id` of `key` may not be removed now (for
    /// the per-key answers of DeleteObjects and for lifecycle, which skip
    /// such versions; the commit checks again).
    pub(crate) async fn version_locked(
        &self,
        access: &BucketAccess,
        bucket: &str,
        key: &str,
        version_id: &str,
        bypass_governance: bool,
    ) -> Result<bool, StorageError> {
        if access.object_lock.is_none() {
            return Ok(false);
        }
        Ok(self
            .meta
            .object(bucket, key, Some(version_id))
            .await?
            .is_some_and(|v| {
                v.lock
                    .blocks_removal(crate::now_millis(), bypass_governance)
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_and_validates() {
        let c = LockConfig {
            default_retention: Some(DefaultRetention {
                mode: LockMode::Compliance,
                period: RetentionPeriod::Years(2),
            }),
        };
        assert_eq!(LockConfig::decode(&c.encode().unwrap()).unwrap(), c);
        let none = LockConfig::default();
        assert_eq!(LockConfig::decode(&none.encode().unwrap()).unwrap(), none);
        assert!(c.validate().is_ok());
        let zero = LockConfig {
            default_retention: Some(DefaultRetention {
                mode: LockMode::Governance,
                period: RetentionPeriod::Days(0),
            }),
        };
        assert!(matches!(
            zero.validate(),
            Err(StorageError::InvalidRetentionPeriod(_))
        ));
    }

    #[test]
    fn default_retention_counts_days_and_years() {
        let d = DefaultRetention {
            mode: LockMode::Governance,
            period: RetentionPeriod::Days(2),
        };
        assert_eq!(d.from(1000).until, 1000 + 2 * DAY_MS);
        let y = DefaultRetention {
            mode: LockMode::Compliance,
            period: RetentionPeriod::Years(1),
        };
        assert_eq!(y.from(0).until, 365 * DAY_MS);
    }
}
