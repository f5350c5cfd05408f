//! Bucket access configuration: bucket policy, bucket ACL, public access
//! block and object ownership. Each is a per-bucket config document (JSON,
//! the policy as the client sent it); all four are parsed together into the
//! [`BucketAccess`] cached with the bucket, and every change drops the cache
//! entry so the next request sees it.

use std::sync::Arc;

use nomuck_policy::{Acl, ObjectOwnership, Policy, PublicAccessBlock};

use crate::auth::{Action, BucketAccess, Ownership};
use crate::lifecycle::Lifecycle;
use crate::{Caller, RequestedAcl, Storage, StorageError};

/// Config document kinds (`bucket_configs.kind`).
pub mod kinds {
    pub const POLICY: &str = "policy";
    pub const ACL: &str = "acl";
    pub const PUBLIC_ACCESS_BLOCK: &str = "public-access-block";
    pub const OWNERSHIP: &str = "ownership";
    pub const CORS: &str = "cors";
    pub const WEBSITE: &str = "website";
    pub const LIFECYCLE: &str = "lifecycle";
    pub const NOTIFICATION: &str = "notification";
    /// Object lock: present means enabled (see [`crate::lock`]).
    pub const OBJECT_LOCK: &str = nomuck_meta::OBJECT_LOCK_CONFIG;
    /// Not a bucket document: names the missing retention of a version in
    /// `StorageError::NoSuchConfig`.
    pub const OBJECT_RETENTION: &str = "object-retention";
    pub const LOGGING: &str = "logging";
    pub const ENCRYPTION: &str = "encryption";
}

fn corrupt(kind: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Internal(format!("stored {kind} document is unreadable: {e}"))
}

fn json<T: serde::de::DeserializeOwned>(kind: &str, doc: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(doc).map_err(|e| corrupt(kind, e))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(value).map_err(|e| StorageError::Internal(e.to_string()))
}

impl Storage {
    pub(crate) async fn load_access(&self, bucket: &str) -> Result<BucketAccess, StorageError> {
        let mut access = BucketAccess::default();
        if let Some(doc) = self.meta.bucket_config(bucket, kinds::POLICY).await? {
            let text = String::from_utf8(doc).map_err(|e| corrupt(kinds::POLICY, e))?;
            access.policy =
                Some(Policy::parse(&text, bucket).map_err(|e| corrupt(kinds::POLICY, e))?);
        }
        if let Some(doc) = self.meta.bucket_config(bucket, kinds::ACL).await? {
            access.acl = Some(json(kinds::ACL, &doc)?);
        }
        if let Some(doc) = self
            .meta
            .bucket_config(bucket, kinds::PUBLIC_ACCESS_BLOCK)
            .await?
        {
            access.access_block = json(kinds::PUBLIC_ACCESS_BLOCK, &doc)?;
        }
        if let Some(doc) = self.meta.bucket_config(bucket, kinds::OWNERSHIP).await? {
            access.ownership = Ownership(json(kinds::OWNERSHIP, &doc)?);
        }
        access.cors = self
            .meta
            .bucket_config(bucket, kinds::CORS)
            .await?
            .map(Arc::from);
        access.website = self
            .meta
            .bucket_config(bucket, kinds::WEBSITE)
            .await?
            .map(Arc::from);
        if let Some(doc) = self.meta.bucket_config(bucket, kinds::LIFECYCLE).await? {
            access.lifecycle = Some(Arc::new(json(kinds::LIFECYCLE, &doc)?));
        }
        if let Some(doc) = self.meta.bucket_config(bucket, kinds::OBJECT_LOCK).await? {
            access.object_lock = Some(crate::lock::LockConfig::decode(&doc)?);
        }
        if let Some(doc) = self.meta.bucket_config(bucket, kinds::NOTIFICATION).await? {
            access.notifications = Some(Arc::new(json(kinds::NOTIFICATION, &doc)?));
        }
        if let Some(doc) = self.meta.bucket_config(bucket, kinds::LOGGING).await? {
            access.logging = Some(Arc::new(json(kinds::LOGGING, &doc)?));
        }
        if let Some(doc) = self.meta.bucket_config(bucket, kinds::ENCRYPTION).await? {
            access.encryption = Some(Arc::new(json(kinds::ENCRYPTION, &doc)?));
        }
        Ok(access)
    }

    async fn access_for(
        &self,
        caller: &Caller,
        bucket: &str,
        action: Action,
    ) -> Result<Arc<BucketAccess>, StorageError> {
        Ok(self
            .authorized_bucket(caller, bucket, action, None)
            .await?
            .1)
    }

    /// GetBucketEncryption (`ServerSideEncryptionConfigurationNotFoundError`
    /// when none is set).
    pub async fn get_bucket_encryption(
        &self,
        caller: &Caller,
        bucket: &str,
    ) -> Result<Arc<crate::sse::BucketEncryption>, StorageError> {
        let access = self
            .access_for(caller, bucket, Action::GetEncryptionConfiguration)
            .await?;
        access
            .encryption
            .clone()
            .ok_or(StorageError::NoSuchConfig(kinds::ENCRYPTION))
    }

    /// PutBucketEncryption: applied to every new object whose request names
    /// no encryption.
    pub async fn put_bucket_encryption(
        &self,
        caller: &Caller,
        bucket: &str,
        config: &crate::sse::BucketEncryption,
    ) -> Result<(), StorageError> {
        self.put_bucket_config(
            caller,
            bucket,
            kinds::ENCRYPTION,
            to_json(config)?,
            Action::PutEncryptionConfiguration,
        )
        .await
    }

    /// DeleteBucketEncryption (authorized as `s3:PutEncryptionConfiguration`,
    /// as in S3).
    pub async fn delete_bucket_encryption(
        &self,
        caller: &Caller,
        bucket: &str,
    ) -> Result<(), StorageError> {
        self.delete_bucket_config(
            caller,
            bucket,
            kinds::ENCRYPTION,
            Action::PutEncryptionConfiguration,
        )
        .await
    }

    /// GetBucketLifecycleConfiguration.
    pub async fn get_bucket_lifecycle(
        &self,
        caller: &Caller,
        bucket: &str,
    ) -> Result<Arc<Lifecycle>, StorageError> {
        let access = self
            .access_for(caller, bucket, Action::GetLifecycleConfiguration)
            .await?;
        access
            .lifecycle
            .clone()
            .ok_or(StorageError::NoSuchConfig(kinds::LIFECYCLE))
    }

    /// PutBucketLifecycleConfiguration: validated as S3 does; applied by the
    /// background pass from then on.
    pub async fn put_bucket_lifecycle(
        &self,
        caller: &Caller,
        bucket: &str,
        lifecycle: &Lifecycle,
    ) -> Result<(), StorageError> {
        lifecycle.validate()?;
        self.put_bucket_config(
            caller,
            bucket,
            kinds::LIFECYCLE,
            to_json(lifecycle)?,
            Action::PutLifecycleConfiguration,
        )
        .await
    }

    /// DeleteBucketLifecycle (authorized as `s3:PutLifecycleConfiguration`,
    /// as in S3).
    pub async fn delete_bucket_lifecycle(
        &self,
        caller: &Caller,
        bucket: &str,
    ) -> Result<(), StorageError> {
        self.delete_bucket_config(
            caller,
            bucket,
            kinds::LIFECYCLE,
            Action::PutLifecycleConfiguration,
        )
        .await
    }

    /// GetBucketPolicy: the policy as it was put.
    pub async fn get_bucket_policy(
        &self,
        caller: &Caller,
        bucket: &str,
    ) -> Result<String, StorageError> {
        let access = self
            .access_for(caller, bucket, Action::GetBucketPolicy)
            .await?;
        access
            .policy
            .as_ref()
            .map(|p| p.as_str().to_owned())
            .ok_or(StorageError::NoSuchConfig(kinds::POLICY))
    }

    /// PutBucketPolicy: validated as S3 does (`MalformedPolicy`); a public
    /// policy is refused while the bucket blocks public policies.
    pub async fn put_bucket_policy(
        &self,
        caller: &Caller,
        bucket: &str,
        text: &str,
    ) -> Result<(), StorageError> {
        let access = self
            .access_for(caller, bucket, Action::PutBucketPolicy)
            .await?;
        let policy = Policy::parse(text, bucket)
            .map_err(|e| StorageError::MalformedPolicy(e.to_string()))?;
        if access.access_block.refuses_policy(&policy) {
            return Err(StorageError::AccessDenied);
        }
        self.put_bucket_config(
            caller,
            bucket,
            kinds::POLICY,
            text.as_bytes().to_vec(),
            Action::PutBucketPolicy,
        )
        .await
    }

    pub async fn delete_bucket_policy(
        &self,
        caller: &Caller,
        bucket: &str,
    ) -> Result<(), StorageError> {
        self.delete_bucket_config(caller, bucket, kinds::POLICY, Action::DeleteBucketPolicy)
            .await
    }

    /// GetBucketPolicyStatus: whether the policy makes the bucket public.
    pub async fn bucket_policy_is_public(
        &self,
        caller: &Caller,
        bucket: &str,
    ) -> Result<bool, StorageError> {
        let access = self
            .access_for(caller, bucket, Action::GetBucketPolicyStatus)
            .await?;
        Ok(access.policy.as_ref().is_some_and(Policy::is_public))
    }

    pub async fn get_public_access_block(
        &self,
        caller: &Caller,
        bucket: &str,
    ) -> Result<PublicAccessBlock, StorageError> {
        self.stored_json(
            caller,
            bucket,
            kinds::PUBLIC_ACCESS_BLOCK,
            Action::GetBucketPublicAccessBlock,
        )
        .await
    }

    /// A JSON config document as set (not as defaulted), for its Get* call.
    async fn stored_json<T: serde::de::DeserializeOwned>(
        &self,
        caller: &Caller,
        bucket: &str,
        kind: &'static str,
        action: Action,
    ) -> Result<T, StorageError> {
        self.access_for(caller, bucket, action).await?;
        let doc = self
            .meta
            .bucket_config(bucket, kind)
            .await?
            .ok_or(StorageError::NoSuchConfig(kind))?;
        json(kind, &doc)
    }

    pub async fn put_public_access_block(
        &self,
        caller: &Caller,
        bucket: &str,
        block: PublicAccessBlock,
    ) -> Result<(), StorageError> {
        self.put_bucket_config(
            caller,
            bucket,
            kinds::PUBLIC_ACCESS_BLOCK,
            to_json(&block)?,
            Action::PutBucketPublicAccessBlock,
        )
        .await
    }

    pub async fn delete_public_access_block(
        &self,
        caller: &Caller,
        bucket: &str,
    ) -> Result<(), StorageError> {
        self.delete_bucket_config(
            caller,
            bucket,
            kinds::PUBLIC_ACCESS_BLOCK,
            Action::PutBucketPublicAccessBlock,
        )
        .await
    }

    /// GetBucketAcl (the owner's private ACL when none was set).
    pub async fn get_bucket_acl(&self, caller: &Caller, bucket: &str) -> Result<Acl, StorageError> {
        let (b, access) = self
            .authorized_bucket(caller, bucket, Action::GetBucketAcl, None)
            .await?;
        Ok(access.acl.clone().unwrap_or_else(|| Acl::private(&b.owner)))
    }

    /// PutBucketAcl. The ACL's owner is always the bucket owner.
    pub async fn put_bucket_acl(
        &self,
        caller: &Caller,
        bucket: &str,
        requested: RequestedAcl,
    ) -> Result<(), StorageError> {
        let (b, access) = self
            .authorized_bucket(caller, bucket, Action::PutBucketAcl, None)
            .await?;
        let acl = allowed_acl(&access, requested, &b.owner, &b.owner)?;
        self.put_bucket_config(
            caller,
            bucket,
            kinds::ACL,
            to_json(&acl)?,
            Action::PutBucketAcl,
        )
        .await
    }

    pub async fn get_ownership_controls(
        &self,
        caller: &Caller,
        bucket: &str,
    ) -> Result<ObjectOwnership, StorageError> {
        self.stored_json(
            caller,
            bucket,
            kinds::OWNERSHIP,
            Action::GetBucketOwnershipControls,
        )
        .await
    }

    pub async fn put_ownership_controls(
        &self,
        caller: &Caller,
        bucket: &str,
        ownership: ObjectOwnership,
    ) -> Result<(), StorageError> {
        let (b, access) = self
            .authorized_bucket(caller, bucket, Action::PutBucketOwnershipControls, None)
            .await?;
        // Enforcing bucket ownership disables ACLs; a bucket whose ACL grants
        // others anything must drop those grants first, as in S3.
        if ownership.acls_disabled()
            && let Some(acl) = &access.acl
            && !ownership.accepts_acl(acl, &b.owner)
        {
            return Err(StorageError::InvalidBucketAclWithObjectOwnership);
        }
        self.put_bucket_config(
            caller,
            bucket,
            kinds::OWNERSHIP,
            to_json(&ownership)?,
            Action::PutBucketOwnershipControls,
        )
        .await
    }

    pub async fn delete_ownership_controls(
        &self,
        caller: &Caller,
        bucket: &str,
    ) -> Result<(), StorageError> {
        self.delete_bucket_config(
            caller,
            bucket,
            kinds::OWNERSHIP,
            Action::PutBucketOwnershipControls,
        )
        .await
    }

    /// GetObjectAcl.
    pub async fn get_object_acl(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Acl, StorageError> {
        let (_, v) = self
            .load_version(caller, bucket, key, version_id, Action::GetObjectAcl)
            .await?;
        object_acl(&v)
    }

    /// PutObjectAcl. The ACL's owner stays the object's owner.
    pub async fn put_object_acl(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        requested: RequestedAcl,
    ) -> Result<(), StorageError> {
        let (b, v) = self
            .load_version(caller, bucket, key, version_id, Action::PutObjectAcl)
            .await?;
        let (_, access) = self.bucket_state(caller, bucket).await?;
        let acl = allowed_acl(&access, requested, &v.owner, &b.owner)?;
        self.commit_counted(
            (&b.owner, crate::RequestClass::PutCopyPostList),
            bucket,
            vec![nomuck_meta::Mutation::SetObjectAcl {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                version_id: Some(v.version_id.clone()),
                acl: stored_acl(&acl)?,
                bucket_owner: Some(b.owner.clone()),
            }],
        )
        .await
        .map(|_| ())
    }

    /// Who owns an object `caller` writes with `acl`, and the ACL document to
    /// store with it, after checking the bucket allows that ACL.
    pub(crate) fn new_object_access(
        &self,
        caller: &Caller,
        bucket_owner: &str,
        access: &BucketAccess,
        acl: Option<RequestedAcl>,
    ) -> Result<(String, Option<String>), StorageError> {
        let canned = match &acl {
            Some(RequestedAcl::Canned(c)) => Some(*c),
            _ => None,
        };
        // An anonymous writer's object belongs to the bucket owner.
        let writer = caller.account_id.as_deref().unwrap_or(bucket_owner);
        let owner = access
            .ownership
            .0
            .object_owner(writer, bucket_owner, canned)
            .to_owned();
        let Some(requested) = acl else {
            return Ok((owner, None));
        };
        let acl = allowed_acl(access, requested, &owner, bucket_owner)?;
        Ok((owner, stored_acl(&acl)?))
    }
}

/// The ACL a request asks for, for a resource `owner` owns, if the bucket's
/// settings allow it. With ACLs disabled (BucketOwnerEnforced) only the
/// bucket owner's full control is accepted, and of the canned ACLs only
/// `bucket-owner-full-control` names it, as in S3; a public ACL is refused
/// while the public access block says so.
fn allowed_acl(
    access: &BucketAccess,
    requested: RequestedAcl,
    owner: &str,
    bucket_owner: &str,
) -> Result<Acl, StorageError> {
    let ownership = access.ownership.0;
    if let RequestedAcl::Canned(c) = &requested
        && ownership.acls_disabled()
        && *c != nomuck_policy::CannedAcl::BucketOwnerFullControl
    {
        return Err(StorageError::AclNotSupported);
    }
    let acl = resolve_acl(requested, owner, bucket_owner)?;
    if !ownership.accepts_acl(&acl, bucket_owner) {
        return Err(StorageError::AclNotSupported);
    }
    if access.access_block.refuses_acl(&acl) {
        return Err(StorageError::AccessDenied);
    }
    Ok(acl)
}

/// An object's ACL: the stored one, or its owner's private ACL.
pub(crate) fn object_acl(v: &nomuck_meta::ObjectVersion) -> Result<Acl, StorageError> {
    match &v.acl {
        Some(doc) => json(kinds::ACL, doc.as_bytes()),
        None => Ok(Acl::private(&v.owner)),
    }
}

/// The ACL a request asked for, for a resource `owner` owns. An ACL document
/// naming another owner is refused, as S3 does.
pub(crate) fn resolve_acl(
    requested: RequestedAcl,
    owner: &str,
    bucket_owner: &str,
) -> Result<Acl, StorageError> {
    match requested {
        RequestedAcl::Canned(c) => Ok(Acl::from_canned(c, owner, bucket_owner)),
        RequestedAcl::Grants(mut acl) => {
            if !acl.owner.is_empty() && acl.owner != owner {
                return Err(StorageError::AccessDenied);
            }
            acl.owner = owner.to_owned();
            Ok(acl)
        }
    }
}

/// The document stored for an ACL: `None` for the owner's private ACL.
pub(crate) fn stored_acl(acl: &Acl) -> Result<Option<String>, StorageError> {
    if acl.grants == Acl::private(&acl.owner).grants {
        return Ok(None);
    }
    serde_json::to_string(acl)
        .map(Some)
        .map_err(|e| StorageError::Internal(e.to_string()))
}
