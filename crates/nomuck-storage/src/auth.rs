//! The one place that decides who may do what. The decision itself is
//! `nomuck_policy::decide`, a pure function over the bucket's policy, ACLs,
//! public access block and object ownership; this module gathers its inputs.
//!
//! The bucket owner may do anything in its bucket that its own policy does not
//! explicitly deny; other accounts and anonymous callers only what a policy
//! statement or an ACL grant allows.

use std::sync::Arc;

use nomuck_meta::Bucket;
pub(crate) use nomuck_policy::Action;
use nomuck_policy::{
    Acl, ConditionContext, Decision, ObjectOwnership, Policy, Principal, PublicAccessBlock,
    Request, Resources, keys,
};

use crate::{Caller, StorageError};

/// A bucket's access configuration, parsed once and cached with the bucket.
#[derive(Debug, Default)]
pub(crate) struct BucketAccess {
    pub policy: Option<Policy>,
    /// `None`: the owner's private ACL.
    pub acl: Option<Acl>,
    pub access_block: PublicAccessBlock,
    pub ownership: Ownership,
    /// The CORS and website documents, which every browser request or page
    /// view reads and anyone may apply (see `Storage::served_config`).
    pub cors: Option<Arc<[u8]>>,
    pub website: Option<Arc<[u8]>>,
    /// Read by the lifecycle pass and for `x-amz-expiration` replies.
    pub lifecycle: Option<Arc<crate::lifecycle::Lifecycle>>,
    /// Which object events go to which topics.
    pub notifications: Option<Arc<crate::notify::Notifications>>,
    /// Set when object lock is enabled.
    pub object_lock: Option<crate::lock::LockConfig>,
    /// Where the bucket's access log goes (read on every request to it).
    pub logging: Option<Arc<crate::access_log::LoggingConfig>>,
    /// Default encryption of new objects.
    pub encryption: Option<Arc<crate::sse::BucketEncryption>>,
}

/// Object ownership. nomuck's default keeps ACLs in force (`ObjectWriter`),
/// as S3 did before April 2023 and as S3-compatible servers do; a bucket can
/// opt into `BucketOwnerEnforced` with PutBucketOwnershipControls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ownership(pub ObjectOwnership);

impl Default for Ownership {
    fn default() -> Self {
        Self(ObjectOwnership::ObjectWriter)
    }
}

pub(crate) fn principal(caller: &Caller) -> Principal {
    match &caller.account_id {
        Some(a) => Principal::Account(a.clone()),
        None => Principal::Anonymous,
    }
}

/// The condition keys of a request: its facts, the principal and the time.
fn condition_context(caller: &Caller, principal: &Principal) -> ConditionContext {
    let mut ctx = ConditionContext::new();
    let facts = &caller.facts;
    if let Some(ip) = facts.source_ip {
        ctx.insert(keys::SOURCE_IP, ip.to_string());
    }
    ctx.insert(
        keys::SECURE_TRANSPORT,
        if facts.secure_transport {
            "true"
        } else {
            "false"
        },
    );
    let now = time::OffsetDateTime::now_utc();
    if let Ok(iso) = now.format(&time::format_description::well_known::Rfc3339) {
        ctx.insert(keys::CURRENT_TIME, iso);
    }
    ctx.insert(keys::EPOCH_TIME, now.unix_timestamp().to_string());
    for (key, value) in &facts.keys {
        ctx.insert(key, value.clone());
    }
    for (tag, value) in &facts.tags {
        ctx.insert(&keys::existing_object_tag(tag), value.clone());
    }
    for (tag, value) in &facts.request_tags {
        ctx.insert(&keys::request_object_tag(tag), value.clone());
    }
    ctx.insert_principal(principal);
    ctx
}

/// Decides `action` by `caller` on `bucket` (and `key`, for object actions).
/// `object_acl` is the ACL of the existing object an object action is on.
pub(crate) fn authorize(
    caller: &Caller,
    bucket: &Bucket,
    access: &BucketAccess,
    action: Action,
    key: Option<&str>,
    object_acl: Option<&Acl>,
) -> Result<(), StorageError> {
    let principal = principal(caller);
    // Only a policy has conditions to evaluate.
    let context = match &access.policy {
        Some(_) => condition_context(caller, &principal),
        None => ConditionContext::new(),
    };
    let request = Request {
        principal: &principal,
        action,
        bucket: &bucket.name,
        key,
        context: &context,
    };
    let resources = Resources {
        bucket_owner: &bucket.owner,
        bucket_policy: access.policy.as_ref(),
        // No ACL set is the owner's private ACL, which grants only the owner,
        // whom `decide` allows before it looks at ACLs: nothing to build.
        bucket_acl: access.acl.as_ref(),
        object_acl,
        access_block: access.access_block,
        acls_disabled: access.ownership.0.acls_disabled(),
    };
    match nomuck_policy::decide(&request, &resources) {
        Decision::Allow => Ok(()),
        Decision::Deny(reason) => {
            tracing::debug!(?reason, action = action.name(), bucket = %bucket.name, "access denied");
            Err(StorageError::AccessDenied)
        }
    }
}
