//! Single-object operations: put, get, head, delete, tagging, attributes.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use nomuck_meta::{
    Bucket, DeleteMarker, Mutation, NULL_VERSION, ObjectChecksum, ObjectData, ObjectHeaders,
    ObjectVersion, Segment, Versioning, WriteCondition,
};

use crate::auth::{Action, BucketAccess, authorize};
use crate::ids::time_ordered_id;
use crate::ingest::{IngestSpec, Stored, checksum_plan, ingest, parse_content_md5};
use crate::names::validate_key;
use crate::read::{check_conditions, content_range, data_stream, part_range, resolve_range};
use crate::types::*;
use crate::usage::{RequestClass, byte_usage};
use crate::{BodyError, Storage, StorageError, now_millis};

pub(crate) const STANDARD: &str = "STANDARD";

/// `If-Match` / `If-None-Match: *` of a write.
pub(crate) fn write_condition(
    if_match: Option<String>,
    if_none_match: Option<String>,
) -> Result<Option<WriteCondition>, StorageError> {
    let blank = |v: &Option<String>| v.as_deref().is_some_and(|v| v.trim().is_empty());
    if blank(&if_match) || blank(&if_none_match) {
        return Err(StorageError::InvalidArgument(
            "an If-Match or If-None-Match header is empty".into(),
        ));
    }
    if if_match.is_none() && if_none_match.is_none() {
        return Ok(None);
    }
    Ok(Some(WriteCondition {
        if_match,
        if_none_match,
        version_row: None,
        bypass_governance: false,
    }))
}

/// S3 tag limits: at most 10 per object, keys 1–128 and values up to 256
/// characters, keys unique.
pub(crate) fn validate_tags(tags: &[(String, String)]) -> Result<(), StorageError> {
    if tags.len() > 10 {
        return Err(StorageError::InvalidTag(
            "an object can have at most 10 tags".into(),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, v) in tags {
        let klen = k.chars().count();
        if klen == 0 || klen > 128 {
            return Err(StorageError::InvalidTag(format!(
                "tag key {k:?} must be 1 to 128 characters"
            )));
        }
        if v.chars().count() > 256 {
            return Err(StorageError::InvalidTag(format!(
                "the value of tag {k:?} is longer than 256 characters"
            )));
        }
        if !seen.insert(k.as_str()) {
            return Err(StorageError::InvalidTag(format!(
                "tag key {k:?} is repeated"
            )));
        }
    }
    Ok(())
}

/// Most user metadata an object may carry, in bytes, as S3 allows.
pub const MAX_USER_METADATA: usize = 2 << 10;

/// User metadata (`x-amz-meta-*`) within S3's 2 KiB: the sum of the UTF-8
/// bytes of each name (after the prefix) and value.
pub(crate) fn validate_metadata(headers: &ObjectHeaders) -> Result<(), StorageError> {
    let size = headers
        .user_metadata
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    if size > MAX_USER_METADATA {
        return Err(StorageError::MetadataTooLarge {
            size,
            max: MAX_USER_METADATA,
        });
    }
    Ok(())
}

/// The version id a new write gets in this bucket.
pub(crate) fn new_version_id(b: &Bucket) -> String {
    match b.versioning {
        Versioning::Enabled => time_ordered_id(),
        Versioning::Unversioned | Versioning::Suspended => NULL_VERSION.to_owned(),
    }
}

/// Version ids are not shown for buckets that never had versioning.
pub(crate) fn shown_version(b: &Bucket, version_id: &str) -> Option<String> {
    (b.versioning != Versioning::Unversioned).then(|| version_id.to_owned())
}

/// The version id a write reports: none for the null version a suspended
/// bucket's writes replace, as S3 answers.
pub(crate) fn written_version(b: &Bucket, version_id: &str) -> Option<String> {
    shown_version(b, version_id).filter(|v| v != NULL_VERSION)
}

/// The object's description; for a `partNumber` read of a multipart object
/// the checksum is that part's (what the served bytes can be checked against).
pub(crate) fn object_info(b: &Bucket, v: &ObjectVersion, part_number: Option<u32>) -> ObjectInfo {
    let parts = v.parts();
    let checksum = match part_number {
        Some(n) if !parts.is_empty() => v.checksum.as_ref().and_then(|c| {
            let part = parts.iter().find(|p| p.part_number == n)?;
            Some(ObjectChecksum {
                algorithm: c.algorithm.clone(),
                value: part.checksum.clone()?,
                kind: c.kind,
            })
        }),
        _ => v.checksum.clone(),
    };
    ObjectInfo {
        bucket: v.bucket.clone(),
        key: v.key.clone(),
        version_id: shown_version(b, &v.version_id),
        size: v.size,
        etag: v.etag.clone(),
        last_modified: v.last_modified,
        headers: v.headers.clone(),
        storage_class: v.storage_class.clone(),
        checksum,
        owner: v.owner.clone(),
        tag_count: v.tags.len(),
        parts_count: (!parts.is_empty()).then(|| u32::try_from(parts.len()).unwrap_or(u32::MAX)),
        expiration: None,
        lock: v.lock,
        sse: crate::sse::info_of(v.encryption.as_deref()),
    }
}

pub(crate) fn full_object_checksum(c: nomuck_checksum::Checksum) -> ObjectChecksum {
    ObjectChecksum {
        algorithm: c.algorithm.name().to_owned(),
        value: c.to_base64(),
        kind: nomuck_meta::ChecksumType::FullObject,
    }
}

impl Storage {
    /// The bucket (authorized for `action`, or its version action when
    /// `version_id` names one) and a live version of `key`.
    pub(crate) async fn load_version(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        action: Action,
    ) -> Result<(Arc<Bucket>, ObjectVersion), StorageError> {
        let (b, _, v) = self
            .load_version_in(caller, bucket, key, version_id, action)
            .await?;
        Ok((b, v))
    }

    /// [`Storage::load_version`], with the bucket's access configuration.
    pub(crate) async fn load_version_in(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        action: Action,
    ) -> Result<(Arc<Bucket>, Arc<BucketAccess>, ObjectVersion), StorageError> {
        validate_key(key)?;
        let action = action.for_version(version_id.is_some());
        let (b, access) = self.bucket_state(caller, bucket).await?;
        let found = self.meta.object(bucket, key, version_id).await?;
        match &found {
            Some(v) => {
                // An object without an ACL of its own has its owner's private
                // one; when that owner owns the bucket too it grants nothing
                // `decide` does not already allow, so none is built.
                let acl = match &v.acl {
                    None if v.owner == b.owner => None,
                    _ => Some(crate::access::object_acl(v)?),
                };
                // The object's tags are condition keys (s3:ExistingObjectTag/<key>).
                let with_tags;
                let caller = if access.policy.is_some() && !v.tags.is_empty() {
                    let mut facts = (*caller.facts).clone();
                    facts.tags = v.tags.clone();
                    with_tags = caller.clone().with_facts(facts);
                    &with_tags
                } else {
                    caller
                };
                authorize(caller, &b, &access, action, Some(key), acl.as_ref())?;
            }
            None => {
                // As S3: whether a missing key is 404 or 403 depends only on
                // s3:ListBucket, with the key as the prefix.
                let mut facts = (*caller.facts).clone();
                facts
                    .keys
                    .retain(|(k, _)| *k != nomuck_policy::keys::PREFIX);
                facts
                    .keys
                    .push((nomuck_policy::keys::PREFIX, key.to_owned()));
                let lister = caller.clone().with_facts(facts);
                authorize(&lister, &b, &access, Action::ListBucket, None, None)?;
            }
        }
        match found {
            None if version_id.is_some() => Err(StorageError::NoSuchVersion),
            None => Err(StorageError::NoSuchKey {
                delete_marker: None,
            }),
            Some(v) if v.is_delete_marker => Err(match version_id {
                Some(_) => StorageError::VersionIsDeleteMarker {
                    version_id: v.version_id,
                },
                None => StorageError::NoSuchKey {
                    delete_marker: Some(v.version_id),
                },
            }),
            Some(v) => Ok((b, access, v)),
        }
    }

    /// When the lifecycle rules will expire a current version, and by which
    /// rule (`x-amz-expiration`).
    pub(crate) fn expiration_of(&self, access: &BucketAccess, v: &ObjectVersion) -> Option<Expiry> {
        self.expiry_for(access, &v.key, v.size, &v.tags, v.last_modified)
    }

    /// [`Storage::expiration_of`] for an object described by its parts.
    pub(crate) fn expiry_for(
        &self,
        access: &BucketAccess,
        key: &str,
        size: u64,
        tags: &[(String, String)],
        written: nomuck_meta::Millis,
    ) -> Option<Expiry> {
        let lifecycle = access.lifecycle.as_ref()?;
        let (at, rule) = lifecycle.expiry(&self.lifecycle_clock(), key, size, tags, written)?;
        Some(Expiry {
            at,
            rule_id: rule.to_owned(),
        })
    }

    /// PutObject: streams `body` (never holding more than the inline
    /// threshold plus two write buffers), then commits. Nothing is visible
    /// unless the whole body arrived and matched its declared digests.
    pub async fn put_object<S, E>(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        req: PutObjectRequest,
        body: S,
    ) -> Result<PutObjectOutput, StorageError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: Into<BodyError>,
    {
        validate_key(key)?;
        validate_tags(&req.tags)?;
        validate_metadata(&req.headers)?;
        let (b, access) = self
            .authorized_bucket(caller, bucket, Action::PutObject, Some(key))
            .await?;
        let (owner, acl) = self.new_object_access(caller, &b.owner, &access, req.acl)?;
        let condition = write_condition(req.if_match, req.if_none_match)?;
        // (A browser form has no way to send a digest; S3 asks none of it.)
        if !req.lock.is_empty()
            && !req.form_upload
            && req.content_md5.is_none()
            && req.checksum.algorithm.is_none()
            && req.checksum.expected.is_none()
        {
            // S3 insists the bytes of a locked object be verifiable.
            return Err(StorageError::InvalidRequest(
                "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object \
                 requests with Object Lock parameters"
                    .into(),
            ));
        }
        crate::lock::lock_for_write(&access, &req.lock, now_millis())?;
        let (algorithm, expected) = checksum_plan(&req.checksum, self.opts.default_checksum)?;
        let enc = self
            .encryption_for(caller, &b, &access, key, req.sse.as_ref())
            .await?;
        let spec = IngestSpec {
            inline_max: self.opts.inline_threshold,
            max_size: self.opts.max_object_size,
            declared_len: req.content_length,
            content_md5: req
                .content_md5
                .as_deref()
                .map(parse_content_md5)
                .transpose()?,
            checksum: algorithm,
            expected_checksum: expected,
            seal: enc.as_ref().map(|e| (e.key.clone(), 0)),
        };
        let ing = ingest(self.blobs.as_ref(), body, &spec).await?;
        let etag = crate::sse::etag_for(enc.as_ref(), ing.etag());
        let now = now_millis();
        // Computed again at the write's time: a default retention runs from it.
        let lock = crate::lock::lock_for_write(&access, &req.lock, now)?;
        let version = ObjectVersion {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: new_version_id(&b),
            internal_id: 0,
            is_latest: true,
            is_delete_marker: false,
            last_modified: now,
            owner,
            size: ing.size,
            etag,
            storage_class: req.storage_class.unwrap_or_else(|| STANDARD.into()),
            headers: req.headers,
            checksum: ing.checksum.map(full_object_checksum),
            tags: req.tags,
            acl,
            lock,
            encryption: enc.map(|e| e.doc),
            data: ObjectData::Inline(Vec::new()),
        };
        let expiration = self.expiration_of(&access, &version);
        let event = if req.form_upload {
            "ObjectCreated:Post"
        } else {
            "ObjectCreated:Put"
        };
        let events = self.version_events(&b, &access, Some(caller), event, &version);
        let out = self
            .commit_version(
                &b,
                version,
                ing.stored,
                condition,
                events,
                !req.service_delivery,
            )
            .await?;
        Ok(PutObjectOutput { expiration, ..out })
    }

    /// Commits a freshly ingested version (with its request's usage when
    /// `metered`); on failure its blob, referenced by nothing, is deleted
    /// at once.
    pub(crate) async fn commit_version(
        &self,
        b: &Bucket,
        mut version: ObjectVersion,
        stored: Stored,
        condition: Option<WriteCondition>,
        events: Vec<Mutation>,
        metered: bool,
    ) -> Result<PutObjectOutput, StorageError> {
        let blob = match stored {
            Stored::Inline(v) => {
                version.data = ObjectData::Inline(v);
                None
            }
            Stored::Blob(id) => {
                version.data = ObjectData::Segments(vec![Segment {
                    blob_id: id.to_string(),
                    offset: 0,
                    len: version.size,
                    part: None,
                }]);
                Some(id)
            }
        };
        let out = PutObjectOutput {
            etag: version.etag.clone(),
            version_id: written_version(b, &version.version_id),
            checksum: version.checksum.clone(),
            size: version.size,
            last_modified: version.last_modified,
            expiration: None,
            sse: crate::sse::info_of(version.encryption.as_deref()),
        };
        let now = version.last_modified;
        let mut muts = vec![Mutation::PutObject {
            version: Box::new(version),
            condition,
            bucket_owner: Some(b.owner.clone()),
            usage: Some(byte_usage(&b.owner, now)),
        }];
        muts.extend(events);
        let committed = if metered {
            self.commit_counted((&b.owner, RequestClass::PutCopyPostList), &b.name, muts)
                .await
        } else {
            self.commit(&b.name, muts).await
        };
        if let Err(e) = committed {
            if let Some(id) = blob {
                // An error means the commit rolled back: nothing references it.
                let _ = self.blobs.delete(&id).await;
            }
            return Err(e);
        }
        Ok(out)
    }

    /// The served range (if any) and the parts count for a GET/HEAD.
    fn select_range(
        v: &ObjectVersion,
        range: Option<ByteRange>,
        part_number: Option<u32>,
    ) -> Result<Option<Range<u64>>, StorageError> {
        match (range, part_number) {
            (Some(_), Some(_)) => Err(StorageError::InvalidRequest(
                "a Range and a partNumber cannot both be given".into(),
            )),
            (Some(r), None) => resolve_range(r, v.size).map(Some),
            (None, Some(n)) => part_range(v, n).map(|(r, _)| Some(r)),
            (None, None) => Ok(None),
        }
    }

    /// What GET and HEAD share: the version (authorized), its conditional
    /// headers checked, the range or part selected, and the request counted.
    async fn read_version(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        req: &GetObjectRequest,
        body: bool,
    ) -> Result<
        (
            Arc<Bucket>,
            ObjectVersion,
            Option<Range<u64>>,
            Option<Expiry>,
            Option<crate::sse::DataKeyBytes>,
        ),
        StorageError,
    > {
        let (b, access, mut v) = self
            .load_version_in(
                caller,
                bucket,
                key,
                req.version_id.as_deref(),
                Action::GetObject,
            )
            .await?;
        // As S3: the lock headers only for a caller who may read the lock.
        if v.lock.retention.is_some()
            && authorize(
                caller,
                &b,
                &access,
                Action::GetObjectRetention,
                Some(key),
                None,
            )
            .is_err()
        {
            v.lock.retention = None;
        }
        if v.lock.legal_hold
            && authorize(
                caller,
                &b,
                &access,
                Action::GetObjectLegalHold,
                Some(key),
                None,
            )
            .is_err()
        {
            v.lock.legal_hold = false;
        }
        // A part number past the last part is refused before the key is asked
        // for (S3 answers InvalidPart even without SSE-C headers).
        if req.part_number.is_some() {
            Self::select_range(&v, None, req.part_number)?;
        }
        // S3 checks the SSE-C key before the conditions, HEAD included.
        let key = self
            .read_key(
                caller,
                v.encryption.as_deref(),
                req.sse_customer.as_ref(),
                body,
            )
            .await?;
        check_conditions(&req.conditions, &v.etag, v.last_modified)?;
        let range = Self::select_range(&v, req.range, req.part_number)?;
        self.record_request(&b.owner, RequestClass::GetOther);
        let expiry = v
            .is_latest
            .then(|| self.expiration_of(&access, &v))
            .flatten();
        Ok((b, v, range, expiry, key))
    }

    /// GetObject: metadata plus a byte stream of the whole object, one range
    /// or one part. Evaluates conditional headers first.
    pub async fn get_object(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        req: GetObjectRequest,
    ) -> Result<GetObjectOutput, StorageError> {
        let (b, v, range, expiration, dk) =
            self.read_version(caller, bucket, key, &req, true).await?;
        let info = ObjectInfo {
            expiration,
            ..object_info(&b, &v, req.part_number)
        };
        let served = range.clone().unwrap_or(0..v.size);
        let body = data_stream(Arc::clone(&self.blobs), v.data, served.clone(), dk)?;
        Ok(GetObjectOutput {
            range: range.map(|r| content_range(&r, v.size)),
            content_length: served.end - served.start,
            info,
            body,
        })
    }

    /// HeadObject: as GET, without the body.
    pub async fn head_object(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        req: &GetObjectRequest,
    ) -> Result<HeadObjectOutput, StorageError> {
        let (b, v, range, expiration, _) =
            self.read_version(caller, bucket, key, req, false).await?;
        let served = range.clone().unwrap_or(0..v.size);
        Ok(HeadObjectOutput {
            info: ObjectInfo {
                expiration,
                ..object_info(&b, &v, req.part_number)
            },
            range: range.map(|r| content_range(&r, v.size)),
            content_length: served.end - served.start,
        })
    }

    /// The mutation deleting `key` (or one version of it) in bucket `b`.
    pub(crate) fn delete_mutation(
        b: &Bucket,
        key: &str,
        version_id: Option<String>,
        condition: Option<WriteCondition>,
        now: i64,
    ) -> (Mutation, Option<DeleteMarker>) {
        let marker = |version_id: String| DeleteMarker {
            version_id,
            last_modified: now,
            owner: b.owner.clone(),
        };
        let (remove, add) = match (version_id, b.versioning) {
            (Some(v), _) => (Some(v), None),
            (None, Versioning::Unversioned) => (Some(NULL_VERSION.to_owned()), None),
            (None, Versioning::Suspended) => (
                Some(NULL_VERSION.to_owned()),
                Some(marker(NULL_VERSION.to_owned())),
            ),
            (None, Versioning::Enabled) => (None, Some(marker(time_ordered_id()))),
        };
        let m = Mutation::DeleteObject {
            bucket: b.name.clone(),
            key: key.to_owned(),
            remove_version: remove,
            add_marker: add.clone(),
            condition,
            bucket_owner: Some(b.owner.clone()),
            usage: Some(byte_usage(&b.owner, now)),
        };
        (m, add)
    }

    /// DeleteObject. Deleting a missing key succeeds, as in S3.
    pub async fn delete_object(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        req: DeleteObjectRequest,
    ) -> Result<DeleteObjectOutput, StorageError> {
        validate_key(key)?;
        let action = Action::DeleteObject.for_version(req.version_id.is_some());
        let (b, access) = self
            .authorized_bucket(caller, bucket, action, Some(key))
            .await?;
        let bypass = Self::bypass_allowed(caller, &b, &access, key, req.bypass_governance);
        let condition = with_bypass(write_condition(req.if_match, None)?, bypass);
        let now = now_millis();
        let requested = req.version_id.clone();
        let (m, marker) = Self::delete_mutation(&b, key, req.version_id, condition, now);
        let mut muts = self
            .delete_events(
                &b,
                &access,
                Some(caller),
                key,
                removed_by(&m),
                marker.as_ref(),
                now,
            )
            .await?;
        muts.insert(0, m);
        let receipt = match self
            .commit_counted((&b.owner, RequestClass::Delete), bucket, muts)
            .await
        {
            // Deleting what is not there succeeds, conditional or not.
            Err(StorageError::NoSuchKey { .. }) => return Ok(DeleteObjectOutput::default()),
            r => r?,
        };
        let removed_marker = receipt
            .removed_versions
            .iter()
            .any(|r| r.key == key && r.is_delete_marker);
        Ok(delete_output(&b, requested, marker, removed_marker))
    }

    /// DeleteObjects: all deletions in one commit. Per-key failures (bad
    /// keys) are reported per key; a bucket-level failure fails the call.
    /// `bypass_governance` is the request's `x-amz-bypass-governance-retention`.
    /// A version its lock protects fails alone, as S3 reports it.
    pub async fn delete_objects(
        &self,
        caller: &Caller,
        bucket: &str,
        objects: Vec<ObjectToDelete>,
        bypass_governance: bool,
    ) -> Result<Vec<DeleteResult>, StorageError> {
        if objects.len() > 1000 {
            return Err(StorageError::InvalidRequest(
                "at most 1000 objects can be deleted per request".into(),
            ));
        }
        let (b, access) = self.bucket_state(caller, bucket).await?;
        let now = now_millis();
        let mut muts = Vec::with_capacity(objects.len());
        let mut pending = Vec::with_capacity(objects.len());
        let mut results: Vec<Option<DeleteResult>> = Vec::with_capacity(objects.len());
        for o in objects {
            let action = Action::DeleteObject.for_version(o.version_id.is_some());
            // Each key is authorized on its own: a policy may cover some keys only.
            if let Err(error) = validate_key(&o.key)
                .and_then(|()| authorize(caller, &b, &access, action, Some(&o.key), None))
            {
                results.push(Some(DeleteResult::Failed {
                    key: o.key,
                    version_id: o.version_id,
                    error,
                }));
                continue;
            }
            let bypass = Self::bypass_allowed(caller, &b, &access, &o.key, bypass_governance);
            if let Some(v) = &o.version_id
                && self
                    .version_locked(&access, bucket, &o.key, v, bypass)
                    .await?
            {
                results.push(Some(DeleteResult::Failed {
                    key: o.key,
                    version_id: o.version_id,
                    error: StorageError::ObjectLocked,
                }));
                continue;
            }
            let condition = match self.batch_condition(bucket, &o).await? {
                Ok(condition) => with_bypass(condition, bypass),
                Err(error) => {
                    results.push(Some(DeleteResult::Failed {
                        key: o.key,
                        version_id: o.version_id,
                        error,
                    }));
                    continue;
                }
            };
            let (m, marker) =
                Self::delete_mutation(&b, &o.key, o.version_id.clone(), condition, now);
            let events = self
                .delete_events(
                    &b,
                    &access,
                    Some(caller),
                    &o.key,
                    removed_by(&m),
                    marker.as_ref(),
                    now,
                )
                .await?;
            muts.push(m);
            muts.extend(events);
            pending.push((results.len(), o, marker));
            results.push(None);
        }
        let receipt = self
            .commit_counted((&b.owner, RequestClass::PutCopyPostList), bucket, muts)
            .await?;
        for (slot, o, marker) in pending {
            let removed_marker = receipt.removed_versions.iter().any(|r| {
                r.key == o.key && Some(&r.version_id) == o.version_id.as_ref() && r.is_delete_marker
            });
            if let Some(s) = results.get_mut(slot) {
                *s = Some(DeleteResult::Deleted {
                    output: delete_output(&b, o.version_id, marker, removed_marker),
                    key: o.key,
                });
            }
        }
        Ok(results.into_iter().flatten().collect())
    }

    /// The condition of one key of a DeleteObjects: its `ETag` is checked
    /// here, so a mismatch fails that key alone, and kept in the mutation, so
    /// the object cannot change in between. A missing key has nothing to
    /// match and is deleted (a no-op), as DeleteObject with `If-Match` is.
    async fn batch_condition(
        &self,
        bucket: &str,
        o: &ObjectToDelete,
    ) -> Result<Result<Option<WriteCondition>, StorageError>, StorageError> {
        let Some(want) = &o.if_match else {
            return Ok(Ok(None));
        };
        let current = self
            .meta
            .object(bucket, &o.key, None)
            .await?
            .filter(|v| !v.is_delete_marker);
        Ok(match current {
            None => Ok(None),
            Some(v) if !crate::read::etag_listed(want, &v.etag) => {
                Err(StorageError::PreconditionFailed)
            }
            Some(_) => write_condition(Some(want.clone()), None),
        })
    }

    /// GetObjectTagging: the tags and the version they belong to.
    pub async fn get_object_tagging(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(Vec<(String, String)>, Option<String>), StorageError> {
        let (b, v) = self
            .load_version(caller, bucket, key, version_id, Action::GetObjectTagging)
            .await?;
        self.record_request(&b.owner, RequestClass::GetOther);
        Ok((v.tags, shown_version(&b, &v.version_id)))
    }

    /// PutObjectTagging (an empty list removes all tags, as DeleteObjectTagging).
    pub async fn put_object_tagging(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: Vec<(String, String)>,
    ) -> Result<Option<String>, StorageError> {
        validate_tags(&tags)?;
        self.set_object_tags(
            caller,
            bucket,
            key,
            version_id,
            tags,
            Action::PutObjectTagging,
        )
        .await
    }

    pub async fn delete_object_tagging(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<String>, StorageError> {
        self.set_object_tags(
            caller,
            bucket,
            key,
            version_id,
            Vec::new(),
            Action::DeleteObjectTagging,
        )
        .await
    }

    /// Replaces a version's tags, authorized like any request on the object:
    /// its ACL and its current tags (`s3:ExistingObjectTag/…`) count.
    async fn set_object_tags(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: Vec<(String, String)>,
        action: Action,
    ) -> Result<Option<String>, StorageError> {
        let (b, v) = self
            .load_version(caller, bucket, key, version_id, action)
            .await?;
        let class = if tags.is_empty() {
            RequestClass::Delete
        } else {
            RequestClass::PutCopyPostList
        };
        self.commit_counted(
            (&b.owner, class),
            bucket,
            vec![Mutation::SetObjectTags {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                version_id: Some(v.version_id.clone()),
                tags,
                bucket_owner: Some(b.owner.clone()),
            }],
        )
        .await?;
        Ok(version_id.and_then(|v| shown_version(&b, v)))
    }

    /// GetObjectAttributes data, parts paged by part number.
    pub async fn get_object_attributes(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        req: AttributesRequest,
    ) -> Result<ObjectAttributes, StorageError> {
        let (b, v) = self
            .load_version(
                caller,
                bucket,
                key,
                req.version_id.as_deref(),
                Action::GetObjectAttributes,
            )
            .await?;
        self.read_key(
            caller,
            v.encryption.as_deref(),
            req.sse_customer.as_ref(),
            false,
        )
        .await?;
        self.record_request(&b.owner, RequestClass::GetOther);
        let all = v.parts();
        let parts = (!all.is_empty()).then(|| {
            let max = req.max_parts.clamp(1, 1000);
            let total_parts = u32::try_from(all.len()).unwrap_or(u32::MAX);
            let mut rest = all
                .into_iter()
                .filter(|p| p.part_number > req.part_number_marker);
            let page: Vec<_> = rest.by_ref().take(max).collect();
            let is_truncated = rest.next().is_some();
            PartsPage {
                total_parts,
                next_part_number_marker: page
                    .last()
                    .filter(|_| is_truncated)
                    .map(|p| p.part_number),
                parts: page,
                is_truncated,
            }
        });
        Ok(ObjectAttributes {
            etag: v.etag,
            last_modified: v.last_modified,
            version_id: shown_version(&b, &v.version_id),
            size: v.size,
            storage_class: v.storage_class,
            checksum: v.checksum,
            parts,
        })
    }
}

/// `condition` carrying an authorized governance bypass.
fn with_bypass(condition: Option<WriteCondition>, bypass: bool) -> Option<WriteCondition> {
    if !bypass {
        return condition;
    }
    Some(WriteCondition {
        bypass_governance: true,
        ..condition.unwrap_or_default()
    })
}

/// The version a delete mutation removes, if any.
pub(crate) fn removed_by(m: &Mutation) -> Option<&str> {
    match m {
        Mutation::DeleteObject { remove_version, .. } => remove_version.as_deref(),
        _ => None,
    }
}

fn delete_output(
    b: &Bucket,
    requested: Option<String>,
    marker: Option<DeleteMarker>,
    removed_marker: bool,
) -> DeleteObjectOutput {
    match (requested, marker) {
        (Some(v), _) => DeleteObjectOutput {
            version_id: Some(v),
            delete_marker: removed_marker,
        },
        (None, Some(m)) => DeleteObjectOutput {
            version_id: shown_version(b, &m.version_id),
            delete_marker: true,
        },
        (None, None) => DeleteObjectOutput::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_metadata_is_limited_to_2_kib_of_names_and_values() {
        let with = |pairs: &[(&str, usize)]| ObjectHeaders {
            user_metadata: pairs
                .iter()
                .map(|(k, n)| ((*k).to_owned(), "v".repeat(*n)))
                .collect(),
            ..ObjectHeaders::default()
        };
        assert!(validate_metadata(&with(&[("a", 2047)])).is_ok());
        assert!(validate_metadata(&with(&[("a", 1000), ("bb", 1045)])).is_ok());
        assert!(matches!(
            validate_metadata(&with(&[("a", 1000), ("bb", 1046)])),
            Err(StorageError::MetadataTooLarge {
                size: 2049,
                max: 2048
            })
        ));
        // Bytes, not characters: 1,024 two-byte characters and a name are over.
        let mut h = with(&[]);
        h.user_metadata.push(("k".into(), "\u{e9}".repeat(1024)));
        assert!(validate_metadata(&h).is_err());
    }

    #[test]
    fn tag_limits() {
        let t = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert!(validate_tags(&[]).is_ok());
        assert!(validate_tags(&[t("a", ""), t("b", &"v".repeat(256))]).is_ok());
        assert!(validate_tags(&[t("", "x")]).is_err());
        assert!(validate_tags(&[t(&"k".repeat(129), "x")]).is_err());
        assert!(validate_tags(&[t("k", &"v".repeat(257))]).is_err());
        assert!(validate_tags(&[t("k", "1"), t("k", "2")]).is_err());
        let eleven: Vec<_> = (0..11).map(|i| t(&i.to_string(), "")).collect();
        assert!(validate_tags(&eleven).is_err());
    }

    #[test]
    fn write_conditions() {
        assert_eq!(write_condition(None, None).unwrap(), None);
        assert_eq!(
            write_condition(None, Some("*".into())).unwrap(),
            Some(WriteCondition::create_only())
        );
        assert!(write_condition(None, Some(" ".into())).is_err());
        let c = write_condition(Some("\"e\"".into()), None)
            .unwrap()
            .unwrap();
        assert_eq!(c.if_match.as_deref(), Some("\"e\""));
    }
}
