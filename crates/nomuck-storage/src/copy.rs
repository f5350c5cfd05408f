//! Server-side copy. CopyObject shares the source's data (the new version
//! references the same inline bytes or blob segments; nothing is read or
//! written) unless a different checksum algorithm is asked for. Copies of
//! ranges (UploadPartCopy) and re-checksummed copies stream the bytes
//! through the normal ingest path.

use std::ops::Range;
use std::sync::Arc;

use futures_util::StreamExt;
use nomuck_checksum::ChecksumAlgorithm;
use nomuck_meta::{MetaError, Mutation, ObjectData, ObjectVersion, Refusal};

use crate::auth::Action;
use crate::ingest::{IngestSpec, Ingested, ingest};
use crate::objects::{
    STANDARD, full_object_checksum, new_version_id, shown_version, validate_metadata,
    validate_tags, write_condition, written_version,
};
use crate::read::{check_conditions, data_stream};
use crate::sse::{DataKeyBytes, etag_for, is_sse_s3, requested};
use crate::types::*;
use crate::usage::{RequestClass, byte_usage};
use crate::{Storage, StorageError, now_millis};

/// Copy-source conditions answer 412 where GET would answer 304.
pub(crate) fn check_source_conditions(
    c: &Conditions,
    v: &ObjectVersion,
) -> Result<(), StorageError> {
    check_conditions(c, &v.etag, v.last_modified).map_err(|e| match e {
        StorageError::NotModified { .. } => StorageError::PreconditionFailed,
        other => other,
    })
}

/// Errors of the source stream come back wrapped as body errors; unwrap them.
fn source_error(e: StorageError) -> StorageError {
    match e {
        StorageError::Body(inner) => match inner.downcast::<StorageError>() {
            Ok(e) => *e,
            Err(other) => StorageError::Internal(other.to_string()),
        },
        other => other,
    }
}

impl Storage {
    /// Reads `range` of `src` and writes it anew (to a blob if `inline_max` is 0).
    /// `src_key` opens an encrypted source; `seal` encrypts the copy.
    pub(crate) async fn copy_bytes(
        &self,
        src: &ObjectVersion,
        range: Range<u64>,
        src_key: Option<DataKeyBytes>,
        inline_max: usize,
        checksum: Option<ChecksumAlgorithm>,
        seal: Option<(DataKeyBytes, u32)>,
    ) -> Result<Ingested, StorageError> {
        let stream = data_stream(
            Arc::clone(&self.blobs),
            src.data.clone(),
            range.clone(),
            src_key,
        )?;
        let spec = IngestSpec {
            inline_max,
            max_size: self.opts.max_object_size,
            declared_len: Some(range.end - range.start),
            content_md5: None,
            checksum,
            expected_checksum: None,
            seal,
        };
        ingest(self.blobs.as_ref(), stream.boxed(), &spec)
            .await
            .map_err(source_error)
    }

    /// CopyObject into `bucket`/`key`.
    pub async fn copy_object(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        req: CopyObjectRequest,
    ) -> Result<CopyObjectOutput, StorageError> {
        crate::names::validate_key(key)?;
        if req.tagging_directive == Directive::Replace {
            validate_tags(&req.tags)?;
        }
        if req.metadata_directive == Directive::Replace {
            validate_metadata(&req.headers)?;
        }
        let (dst, access) = self
            .authorized_bucket(caller, bucket, Action::PutObject, Some(key))
            .await?;
        let (owner, acl) = self.new_object_access(caller, &dst.owner, &access, req.acl.clone())?;
        let condition = write_condition(req.if_match.clone(), req.if_none_match.clone())?;
        crate::lock::lock_for_write(&access, &req.lock, now_millis())?;
        let reader = source_reader(caller, &req.source_expected_bucket_owner);
        // One retry: the source may be replaced between our read and the commit.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (src_bucket, src) = self
                .load_version(
                    &reader,
                    &req.source_bucket,
                    &req.source_key,
                    req.source_version_id.as_deref(),
                    Action::GetObject,
                )
                .await?;
            let src_key = self
                .open_encryption(
                    &reader,
                    src.encryption.as_deref(),
                    req.source_sse_customer.as_ref(),
                )
                .await?;
            check_source_conditions(&req.source_conditions, &src)?;
            let onto_itself = src_bucket.name == dst.name && src.key == key;
            if onto_itself
                && req.sse.is_none()
                && req.metadata_directive == Directive::Copy
                && req.tagging_directive == Directive::Copy
                && req.storage_class.is_none()
                && req.checksum_algorithm.is_none()
            {
                return Err(StorageError::InvalidRequest(
                    "This copy request is illegal because it is trying to copy an object to \
                     itself without changing the object's metadata, storage class, website \
                     redirect location or encryption attributes."
                        .into(),
                ));
            }
            if src.size > self.opts.max_object_size {
                return Err(StorageError::InvalidRequest(format!(
                    "the source is larger than the {} bytes a copy allows",
                    self.opts.max_object_size
                )));
            }
            let rewrite = req
                .checksum_algorithm
                .filter(|a| src.checksum.as_ref().map(|c| c.algorithm.as_str()) != Some(a.name()));
            // Blobs are shared only when the copy is encrypted exactly as the
            // source: both plaintext, or both SSE-S3 (one key-encryption key).
            // Otherwise the bytes are decrypted and sealed anew.
            let wanted = requested(&access, req.sse.as_ref());
            let shared_encryption = match &wanted {
                None => src.encryption.is_none(),
                Some(crate::SseRequest::S3 { .. }) => is_sse_s3(src.encryption.as_deref()),
                Some(_) => false,
            };
            let reencrypt = !shared_encryption;
            let now = now_millis();
            let mut version = ObjectVersion {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                version_id: new_version_id(&dst),
                internal_id: 0,
                is_latest: true,
                is_delete_marker: false,
                last_modified: now,
                owner: owner.clone(),
                size: src.size,
                etag: src.etag.clone(),
                storage_class: req.storage_class.clone().unwrap_or_else(|| STANDARD.into()),
                headers: match req.metadata_directive {
                    Directive::Copy => src.headers.clone(),
                    Directive::Replace => req.headers.clone(),
                },
                checksum: src.checksum.clone(),
                tags: match req.tagging_directive {
                    Directive::Copy => src.tags.clone(),
                    Directive::Replace => req.tags.clone(),
                },
                acl: acl.clone(),
                lock: crate::lock::lock_for_write(&access, &req.lock, now)?,
                encryption: src.encryption.clone(),
                data: ObjectData::CopyOf(src.internal_id),
            };
            let source_version_id = shown_version(&src_bucket, &src.version_id);
            if rewrite.is_some() || reencrypt {
                let enc = match &wanted {
                    Some(w) => Some(self.new_encryption(caller, bucket, key, w).await?),
                    None => None,
                };
                // The checksum algorithm is kept unless another is asked for.
                let alg = rewrite.or_else(|| {
                    src.checksum
                        .as_ref()
                        .and_then(|c| ChecksumAlgorithm::from_name(&c.algorithm))
                });
                let ing = self
                    .copy_bytes(
                        &src,
                        0..src.size,
                        src_key,
                        self.opts.inline_threshold,
                        alg,
                        enc.as_ref().map(|e| (e.key.clone(), 0)),
                    )
                    .await?;
                version.etag = etag_for(enc.as_ref(), ing.etag());
                version.checksum = ing.checksum.map(full_object_checksum);
                version.encryption = enc.map(|e| e.doc);
                let events = self.version_events(
                    &dst,
                    &access,
                    Some(caller),
                    "ObjectCreated:Copy",
                    &version,
                );
                let expiration = self.expiration_of(&access, &version);
                let out = self
                    .commit_version(&dst, version, ing.stored, condition, events, true)
                    .await?;
                return Ok(CopyObjectOutput {
                    etag: out.etag,
                    last_modified: out.last_modified,
                    version_id: out.version_id,
                    source_version_id,
                    checksum: out.checksum,
                    expiration,
                    sse: out.sse,
                });
            }
            let out = CopyObjectOutput {
                etag: version.etag.clone(),
                last_modified: now,
                version_id: written_version(&dst, &version.version_id),
                source_version_id,
                checksum: version.checksum.clone(),
                expiration: self.expiration_of(&access, &version),
                sse: crate::sse::info_of(version.encryption.as_deref()),
            };
            let events =
                self.version_events(&dst, &access, Some(caller), "ObjectCreated:Copy", &version);
            let mut muts = vec![Mutation::PutObject {
                version: Box::new(version),
                condition: condition.clone(),
                bucket_owner: Some(dst.owner.clone()),
                usage: Some(byte_usage(&dst.owner, now)),
            }];
            muts.extend(events);
            match self.commit_raw(bucket, muts).await {
                Ok(_) => {
                    self.record_request(&dst.owner, RequestClass::PutCopyPostList);
                    return Ok(out);
                }
                Err(MetaError::Refused(Refusal::CopySourceGone)) if attempts < 2 => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The source version and byte range of an UploadPartCopy.
    pub(crate) async fn copy_source(
        &self,
        caller: &Caller,
        req: &UploadPartCopyRequest,
    ) -> Result<(ObjectVersion, Range<u64>), StorageError> {
        let (_, src) = self
            .load_version(
                &source_reader(caller, &req.source_expected_bucket_owner),
                &req.source_bucket,
                &req.source_key,
                req.source_version_id.as_deref(),
                Action::GetObject,
            )
            .await?;
        check_source_conditions(&req.source_conditions, &src)?;
        let range = match req.source_range {
            None => 0..src.size,
            Some((first, last)) if first <= last && last < src.size => first..last + 1,
            Some(_) => return Err(StorageError::InvalidRange { size: src.size }),
        };
        if range.end - range.start > self.opts.max_object_size {
            return Err(StorageError::InvalidRequest(format!(
                "a part copy can be at most {} bytes",
                self.opts.max_object_size
            )));
        }
        Ok((src, range))
    }
}

/// The caller as the reader of a copy source: the expected owner of the
/// destination bucket (`x-amz-expected-bucket-owner`) says nothing about the
/// source's, which `x-amz-source-expected-bucket-owner` names.
fn source_reader(caller: &Caller, expected_owner: &Option<String>) -> Caller {
    caller
        .clone()
        .expecting_bucket_owner(expected_owner.clone())
}
