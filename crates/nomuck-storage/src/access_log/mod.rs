//! Server access logging: a bucket's logging configuration (a per-bucket
//! config document cached with the bucket), the log record in S3's
//! documented format ([`record`]), and the journal that keeps records across
//! a crash and delivers them as objects into the target bucket ([`journal`]).
//!
//! The API layer builds one [`AccessLogRecord`] per request on a bucket whose
//! logging is enabled (it alone knows the HTTP side: status, bytes sent,
//! headers), and hands the formatted line to [`AccessLog::append`].

mod journal;
mod record;

use std::sync::Arc;

use nomuck_policy::{Acl, Grant, Grantee, Group, ObjectOwnership, Permission, is_account_id};
use serde::{Deserialize, Serialize};

pub use journal::{AccessLog, Ack, DeliveryReport, LogEntry};
pub use record::{AccessLogRecord, log_object_key};

use crate::access::kinds;
use crate::auth::Action;
use crate::{Caller, Storage, StorageError};

/// `LoggingEnabled` of a `BucketLoggingStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggingConfig {
    pub target_bucket: String,
    pub target_prefix: String,
    /// Grants each delivered log object carries besides its owner's
    /// FULL_CONTROL (shown as sent).
    pub target_grants: Vec<TargetGrant>,
    /// `None`: not given, which means the simple form.
    pub key_format: Option<KeyFormat>,
}

/// A `TargetGrants/Grant`: the grantee by its XML type and identifying value
/// (`ID`, `URI` or `EmailAddress`), and the permission.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TargetGrant {
    pub grantee_type: String,
    pub grantee: String,
    pub permission: String,
}

impl TargetGrant {
    /// The ACL grant it gives on each log object, with S3's refusals.
    pub fn grant(&self) -> Result<Grant, StorageError> {
        let invalid = |m: String| Err(StorageError::InvalidArgument(m));
        let grantee = match self.grantee_type.as_str() {
            "CanonicalUser" if is_account_id(&self.grantee) => Grantee::user(&self.grantee),
            "CanonicalUser" => return invalid("Invalid id".into()),
            "Group" => match Group::from_uri(&self.grantee) {
                Some(group) => Grantee::Group(group),
                None => return invalid("Invalid group uri".into()),
            },
            // The API refuses email grantees before this (as for ACLs).
            other => return invalid(format!("Unsupported grantee type {other:?}")),
        };
        let permission = match self.permission.as_str() {
            "FULL_CONTROL" => Permission::FullControl,
            "READ" => Permission::Read,
            "WRITE" => Permission::Write,
            other => {
                return invalid(format!(
                    "Invalid permission {other:?} in a logging target grant"
                ));
            }
        };
        Ok(Grant::new(grantee, permission))
    }
}

/// The ACL of a delivered log object: its owner's FULL_CONTROL and the
/// configuration's grants (`None` when there are none: the default ACL).
pub(crate) fn log_object_acl(owner: &str, grants: &[TargetGrant]) -> Option<Acl> {
    if grants.is_empty() {
        return None;
    }
    let mut acl = Acl::private(owner);
    acl.grants
        .extend(grants.iter().filter_map(|g| g.grant().ok()));
    Some(acl)
}

/// `TargetObjectKeyFormat`: how delivered log objects are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub enum KeyFormat {
    /// `[TargetPrefix][YYYY]-[MM]-[DD]-[hh]-[mm]-[ss]-[UniqueString]`. Also what a
    /// configuration without `TargetObjectKeyFormat` means.
    #[default]
    Simple,
    /// `[TargetPrefix][SourceAccountId]/[SourceRegion]/[SourceBucket]/[YYYY]/[MM]/[DD]/…`,
    /// the date directories from the event time or the delivery time.
    Partitioned(PartitionDateSource),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PartitionDateSource {
    EventTime,
    DeliveryTime,
}

/// Permissions a target grant may give (S3 accepts only these for logs).
/// Where a bucket's access log goes, as the request path needs it.
#[derive(Debug, Clone)]
pub struct LoggingTarget {
    /// The source bucket's owner, who is also the target's.
    pub source_owner: String,
    pub source_region: String,
    pub config: Arc<LoggingConfig>,
}

impl Storage {
    /// GetBucketLogging: `None` when logging is disabled.
    pub async fn get_bucket_logging(
        &self,
        caller: &Caller,
        bucket: &str,
    ) -> Result<Option<Arc<LoggingConfig>>, StorageError> {
        let (b, access) = self
            .authorized_bucket(caller, bucket, Action::GetBucketLogging, None)
            .await?;
        self.record_request(&b.owner, crate::RequestClass::GetOther);
        Ok(access.logging.clone())
    }

    /// PutBucketLogging; `None` disables logging. As in S3 the target bucket
    /// must exist, belong to the source bucket's owner and be in its region,
    /// else `InvalidTargetBucketForLogging`.
    pub async fn put_bucket_logging(
        &self,
        caller: &Caller,
        bucket: &str,
        config: Option<&LoggingConfig>,
    ) -> Result<(), StorageError> {
        let Some(config) = config else {
            let (b, access) = self
                .authorized_bucket(caller, bucket, Action::PutBucketLogging, None)
                .await?;
            if access.logging.is_none() {
                // Disabling what is off changes nothing, and is no error.
                self.record_request(&b.owner, crate::RequestClass::PutCopyPostList);
                return Ok(());
            }
            return self
                .delete_bucket_config(caller, bucket, kinds::LOGGING, Action::PutBucketLogging)
                .await;
        };
        let source = self
            .bucket_for(caller, bucket, Action::PutBucketLogging)
            .await?;
        for g in &config.target_grants {
            g.grant()?;
        }
        let invalid = |why: &str| Err(StorageError::InvalidTargetBucketForLogging(why.into()));
        let target = match self.cached_bucket(&config.target_bucket).await {
            Ok((target, access)) => {
                if !config.target_grants.is_empty()
                    && access.ownership.0 == ObjectOwnership::BucketOwnerEnforced
                {
                    // As S3: its log objects could not carry the grants.
                    return invalid(
                        "The target bucket has ACLs disabled (BucketOwnerEnforced) and does not support target grants",
                    );
                }
                target
            }
            Err(StorageError::NoSuchBucket(_)) => {
                return invalid("The target bucket for logging does not exist");
            }
            Err(e) => return Err(e),
        };
        if target.owner != source.owner {
            return invalid(
                "The owner for the bucket to be logged and the target bucket must be the same.",
            );
        }
        if target.region != source.region {
            return invalid(
                "The target bucket for logging must be in the same region as the source bucket",
            );
        }
        let doc = serde_json::to_vec(config).map_err(|e| StorageError::Internal(e.to_string()))?;
        self.put_bucket_config(
            caller,
            bucket,
            kinds::LOGGING,
            doc,
            Action::PutBucketLogging,
        )
        .await
    }

    /// The bucket's logging target, unauthorized and cached: asked on every
    /// request to the bucket. `None` when logging is off or the bucket is gone.
    pub async fn logging_of(&self, bucket: &str) -> Option<LoggingTarget> {
        let (b, access) = self.cached_bucket(bucket).await.ok()?;
        let config = access.logging.clone()?;
        Some(LoggingTarget {
            source_owner: b.owner.clone(),
            source_region: b.region.clone(),
            config,
        })
    }
}
