//! Bucket operations and the bucket lookup cache.
//!
//! Every object operation needs its bucket (owner, versioning) to authorize,
//! so lookups are cached briefly. A stale entry cannot cause a wrong write:
//! each write commit carries the owner it was authorized against and fails
//! if the bucket is gone or changed hands (the entry is then dropped).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use nomuck_meta::{Bucket, Mutation, Versioning};

use crate::auth::{Action, BucketAccess, authorize};
use crate::names::validate_bucket_name;
use crate::types::BucketInfo;
use crate::usage::RequestClass;
use crate::{Caller, Storage, StorageError, now_millis};

/// A cached bucket: its row and its parsed access configuration.
type Cached = (Arc<Bucket>, Arc<BucketAccess>);

pub(crate) struct BucketCache {
    ttl: Duration,
    map: Mutex<HashMap<String, (Cached, Instant)>>,
}

impl BucketCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, (Cached, Instant)>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, name: &str) -> Option<Cached> {
        let map = self.map();
        let ((b, a), at) = map.get(name)?;
        (at.elapsed() < self.ttl).then(|| (Arc::clone(b), Arc::clone(a)))
    }

    fn put(&self, entry: Cached) {
        let mut map = self.map();
        // Bounded: a scan of many bucket names cannot grow it without limit.
        if map.len() >= 10_000 {
            map.clear();
        }
        map.insert(entry.0.name.clone(), (entry, Instant::now()));
    }

    pub(crate) fn forget(&self, name: &str) {
        self.map().remove(name);
    }
}

fn info(b: &Bucket) -> BucketInfo {
    BucketInfo {
        name: b.name.clone(),
        owner: b.owner.clone(),
        region: b.region.clone(),
        created_at: b.created_at,
        versioning: b.versioning,
    }
}

fn caller_account(caller: &Caller) -> Result<&str, StorageError> {
    caller
        .account_id
        .as_deref()
        .ok_or(StorageError::AccessDenied)
}

impl Storage {
    /// The bucket and its access configuration, cached; `AccessDenied` if
    /// `x-amz-expected-bucket-owner` names another account.
    pub(crate) async fn bucket_state(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<(Arc<Bucket>, Arc<BucketAccess>), StorageError> {
        let (b, access) = self.cached_bucket(name).await?;
        if caller
            .expected_bucket_owner
            .as_ref()
            .is_some_and(|expected| *expected != b.owner)
        {
            return Err(StorageError::AccessDenied);
        }
        Ok((b, access))
    }

    /// The bucket and its access configuration, if `caller` may do `action`
    /// (on `key`, for an object-level action on no existing object: a write
    /// or delete, decided by the policy and the bucket ACL).
    pub(crate) async fn authorized_bucket(
        &self,
        caller: &Caller,
        name: &str,
        action: Action,
        key: Option<&str>,
    ) -> Result<(Arc<Bucket>, Arc<BucketAccess>), StorageError> {
        let (b, access) = self.bucket_state(caller, name).await?;
        authorize(caller, &b, &access, action, key, None)?;
        Ok((b, access))
    }

    /// The bucket, if `caller` may do the bucket-level `action`.
    pub(crate) async fn bucket_for(
        &self,
        caller: &Caller,
        name: &str,
        action: Action,
    ) -> Result<Arc<Bucket>, StorageError> {
        Ok(self.authorized_bucket(caller, name, action, None).await?.0)
    }

    /// The bucket, if `caller` may do the object-level `action` on `key`.
    pub(crate) async fn bucket_for_key(
        &self,
        caller: &Caller,
        name: &str,
        action: Action,
        key: &str,
    ) -> Result<Arc<Bucket>, StorageError> {
        Ok(self
            .authorized_bucket(caller, name, action, Some(key))
            .await?
            .0)
    }

    /// CreateBucket. `region` is the location constraint (default region if `None`).
    pub async fn create_bucket(
        &self,
        caller: &Caller,
        name: &str,
        region: Option<&str>,
        acl: Option<crate::RequestedAcl>,
    ) -> Result<BucketInfo, StorageError> {
        self.create_bucket_with(caller, name, region, acl, None, false)
            .await
    }

    /// CreateBucket with `x-amz-object-ownership`: the ownership controls are
    /// stored in the same commit as the bucket.
    pub async fn create_bucket_with(
        &self,
        caller: &Caller,
        name: &str,
        region: Option<&str>,
        acl: Option<crate::RequestedAcl>,
        ownership: Option<nomuck_policy::ObjectOwnership>,
        object_lock: bool,
    ) -> Result<BucketInfo, StorageError> {
        let owner = caller_account(caller)?;
        validate_bucket_name(name)?;
        let now = now_millis();
        let b = Bucket {
            name: name.to_owned(),
            owner: owner.to_owned(),
            region: region.unwrap_or(&self.opts.default_region).to_owned(),
            created_at: now,
            // Object lock needs versions to protect: S3 turns versioning on.
            versioning: if object_lock {
                Versioning::Enabled
            } else {
                Versioning::Unversioned
            },
        };
        let mut muts = vec![Mutation::CreateBucket(b.clone())];
        if object_lock {
            muts.push(Mutation::PutBucketConfig {
                bucket: name.to_owned(),
                kind: crate::access::kinds::OBJECT_LOCK.to_owned(),
                doc: crate::lock::LockConfig::default().encode()?,
                bucket_owner: Some(owner.to_owned()),
            });
        }
        // A canned or granted ACL is stored with the bucket, in the same commit.
        let acl = acl
            .map(|requested| crate::access::resolve_acl(requested, owner, owner))
            .transpose()?;
        if let Some(doc) = acl
            .as_ref()
            .map(crate::access::stored_acl)
            .transpose()?
            .flatten()
        {
            muts.push(Mutation::PutBucketConfig {
                bucket: name.to_owned(),
                kind: crate::access::kinds::ACL.to_owned(),
                doc: doc.into_bytes(),
                bucket_owner: Some(owner.to_owned()),
            });
        }
        if let Some(ownership) = ownership {
            // With ACLs disabled, only the owner's full control is allowed.
            if ownership.acls_disabled()
                && acl
                    .as_ref()
                    .is_some_and(|a| !ownership.accepts_acl(a, owner))
            {
                return Err(StorageError::InvalidBucketAclWithObjectOwnership);
            }
            muts.push(Mutation::PutBucketConfig {
                bucket: name.to_owned(),
                kind: crate::access::kinds::OWNERSHIP.to_owned(),
                doc: serde_json::to_vec(&ownership)
                    .map_err(|e| StorageError::Internal(e.to_string()))?,
                bucket_owner: Some(owner.to_owned()),
            });
        }
        self.commit_counted((owner, RequestClass::PutCopyPostList), name, muts)
            .await?;
        self.buckets.forget(name);
        Ok(info(&b))
    }

    /// DeleteBucket: only an empty bucket (no versions, no uploads).
    /// Delete an empty bucket. In-progress multipart uploads do not keep a bucket
    /// alive, as on AWS: when they are all that is left they are aborted first.
    pub async fn delete_bucket(&self, caller: &Caller, name: &str) -> Result<(), StorageError> {
        match self.delete_bucket_once(caller, name).await {
            Err(StorageError::BucketNotEmpty(_)) if !self.has_versions(caller, name).await? => {
                self.abort_all_uploads(caller, name).await?;
                self.delete_bucket_once(caller, name).await
            }
            other => other,
        }
    }

    async fn has_versions(&self, caller: &Caller, name: &str) -> Result<bool, StorageError> {
        let page = self
            .list_object_versions(
                caller,
                name,
                crate::ListVersionsRequest {
                    max_keys: 1,
                    ..Default::default()
                },
            )
            .await?;
        Ok(!page.versions.is_empty())
    }

    async fn abort_all_uploads(&self, caller: &Caller, name: &str) -> Result<(), StorageError> {
        loop {
            let page = self
                .list_multipart_uploads(
                    caller,
                    name,
                    crate::ListUploadsRequest {
                        max_uploads: 1000,
                        ..Default::default()
                    },
                )
                .await?;
            for upload in &page.uploads {
                match self
                    .abort_multipart_upload(caller, name, &upload.key, &upload.upload_id)
                    .await
                {
                    Ok(()) | Err(StorageError::NoSuchUpload(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            if page.uploads.is_empty() || !page.is_truncated {
                return Ok(());
            }
        }
    }

    async fn delete_bucket_once(&self, caller: &Caller, name: &str) -> Result<(), StorageError> {
        let b = self.bucket_for(caller, name, Action::DeleteBucket).await?;
        let r = self
            .commit_counted(
                (&b.owner, RequestClass::Delete),
                name,
                vec![Mutation::DeleteBucket {
                    name: name.to_owned(),
                    bucket_owner: Some(b.owner.clone()),
                }],
            )
            .await;
        self.buckets.forget(name);
        r.map(|_| ())
    }

    /// PutBucketVersioning: `Enabled` or `Suspended` (a bucket that has had
    /// versioning never returns to unversioned, as in S3).
    pub async fn set_bucket_versioning(
        &self,
        caller: &Caller,
        name: &str,
        versioning: Versioning,
    ) -> Result<(), StorageError> {
        if versioning == Versioning::Unversioned {
            return Err(StorageError::InvalidArgument(
                "versioning can only be Enabled or Suspended".into(),
            ));
        }
        let (b, access) = self
            .authorized_bucket(caller, name, Action::PutBucketVersioning, None)
            .await?;
        if access.object_lock.is_some() && versioning != Versioning::Enabled {
            return Err(StorageError::InvalidBucketState(
                "An Object Lock configuration is present on this bucket, so the versioning \
                 state cannot be changed."
                    .into(),
            ));
        }
        let r = self
            .commit_counted(
                (&b.owner, RequestClass::PutCopyPostList),
                name,
                vec![Mutation::SetBucketVersioning {
                    name: name.to_owned(),
                    versioning,
                    bucket_owner: Some(b.owner.clone()),
                }],
            )
            .await;
        self.buckets.forget(name);
        r.map(|_| ())
    }

    /// HeadBucket / GetBucketLocation / GetBucketVersioning data, if the
    /// caller may do `action` (`s3:ListBucket`, `s3:GetBucketLocation`,
    /// `s3:GetBucketVersioning`: each is granted on its own).
    pub async fn bucket_info(
        &self,
        caller: &Caller,
        name: &str,
        action: Action,
    ) -> Result<BucketInfo, StorageError> {
        let b = self.bucket_for(caller, name, action).await?;
        self.record_request(&b.owner, RequestClass::GetOther);
        Ok(info(&b))
    }

    /// ListBuckets: the caller's buckets in name order.
    pub async fn list_buckets(&self, caller: &Caller) -> Result<Vec<BucketInfo>, StorageError> {
        let owner = caller_account(caller)?;
        let list = self.meta.buckets_of(owner).await?;
        self.record_request(owner, RequestClass::PutCopyPostList);
        Ok(list.iter().map(info).collect())
    }

    /// A per-bucket configuration document (policy, CORS, lifecycle, …) by kind.
    pub async fn get_bucket_config(
        &self,
        caller: &Caller,
        bucket: &str,
        kind: &str,
        action: Action,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let b = self.bucket_for(caller, bucket, action).await?;
        self.record_request(&b.owner, RequestClass::GetOther);
        Ok(self.meta.bucket_config(bucket, kind).await?)
    }

    /// The bucket and its access configuration, from the cache or the store.
    pub(crate) async fn cached_bucket(
        &self,
        name: &str,
    ) -> Result<(Arc<Bucket>, Arc<BucketAccess>), StorageError> {
        if let Some(entry) = self.buckets.get(name) {
            return Ok(entry);
        }
        let b = self
            .meta
            .bucket(name)
            .await?
            .ok_or_else(|| StorageError::NoSuchBucket(name.to_owned()))?;
        let access = self.load_access(name).await?;
        let entry = (Arc::new(b), Arc::new(access));
        self.buckets
            .put((Arc::clone(&entry.0), Arc::clone(&entry.1)));
        Ok(entry)
    }

    /// The CORS (`kinds::CORS`) or website (`kinds::WEBSITE`) document, with
    /// no authorization: both say what anyone may do with a bucket (S3
    /// applies them to anonymous preflights and page views). Cached with the
    /// bucket, since every browser request reads one.
    pub async fn served_config(
        &self,
        bucket: &str,
        kind: &str,
    ) -> Result<Option<Arc<[u8]>>, StorageError> {
        let (_, access) = self.cached_bucket(bucket).await?;
        Ok(match kind {
            crate::access::kinds::CORS => access.cors.clone(),
            crate::access::kinds::WEBSITE => access.website.clone(),
            _ => None,
        })
    }

    pub async fn put_bucket_config(
        &self,
        caller: &Caller,
        bucket: &str,
        kind: &str,
        doc: Vec<u8>,
        action: Action,
    ) -> Result<(), StorageError> {
        let b = self.bucket_for(caller, bucket, action).await?;
        let r = self
            .commit_counted(
                (&b.owner, RequestClass::PutCopyPostList),
                bucket,
                vec![Mutation::PutBucketConfig {
                    bucket: bucket.to_owned(),
                    kind: kind.to_owned(),
                    doc,
                    bucket_owner: Some(b.owner.clone()),
                }],
            )
            .await;
        self.buckets.forget(bucket);
        r.map(|_| ())
    }

    pub async fn delete_bucket_config(
        &self,
        caller: &Caller,
        bucket: &str,
        kind: &str,
        action: Action,
    ) -> Result<(), StorageError> {
        let b = self.bucket_for(caller, bucket, action).await?;
        let r = self
            .commit_counted(
                (&b.owner, RequestClass::Delete),
                bucket,
                vec![Mutation::DeleteBucketConfig {
                    bucket: bucket.to_owned(),
                    kind: kind.to_owned(),
                    bucket_owner: Some(b.owner.clone()),
                }],
            )
            .await;
        self.buckets.forget(bucket);
        r.map(|_| ())
    }
}
