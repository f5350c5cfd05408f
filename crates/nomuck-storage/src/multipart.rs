//! Multipart uploads. Parts are blobs; completing an upload makes an object
//! version whose segments are those blobs, so nothing is copied.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use nomuck_checksum::{ChecksumAlgorithm, Md5Hasher};
use nomuck_meta::{CompleteUpload, MultipartUpload, Mutation, Part};

use crate::auth::{Action, BucketAccess};
use crate::ids::time_ordered_id;
use crate::ingest::{IngestSpec, Ingested, Stored, checksum_plan, ingest, parse_content_md5};
use crate::names::validate_key;
use crate::objects::{STANDARD, new_version_id, validate_tags, write_condition, written_version};
use crate::types::*;
use crate::usage::{RequestClass, byte_usage};
use crate::{BodyError, Storage, StorageError, now_millis};

/// Part numbers S3 accepts.
pub const PART_NUMBERS: std::ops::RangeInclusive<u32> = 1..=10_000;

fn check_part_number(n: u32) -> Result<(), StorageError> {
    if PART_NUMBERS.contains(&n) {
        Ok(())
    } else {
        Err(StorageError::InvalidArgument(format!(
            "part number {n} is not between 1 and 10000"
        )))
    }
}

impl Storage {
    /// The upload, if it exists in `bucket`/`key` and the caller may write there.
    async fn upload_for(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
        action: Action,
    ) -> Result<(Arc<nomuck_meta::Bucket>, MultipartUpload), StorageError> {
        let (b, _, u) = self
            .upload_in(caller, bucket, key, upload_id, action)
            .await?;
        Ok((b, u))
    }

    /// [`Storage::upload_for`], with the bucket's access configuration.
    async fn upload_in(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
        action: Action,
    ) -> Result<(Arc<nomuck_meta::Bucket>, Arc<BucketAccess>, MultipartUpload), StorageError> {
        validate_key(key)?;
        let (b, access) = self
            .authorized_bucket(caller, bucket, action, Some(key))
            .await?;
        match self.meta.multipart_upload(upload_id).await? {
            Some(u) if u.bucket == bucket && u.key == key => Ok((b, access, u)),
            _ => Err(StorageError::NoSuchUpload(upload_id.to_owned())),
        }
    }

    /// CreateMultipartUpload: returns the new upload id.
    pub async fn create_multipart_upload(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        req: CreateMultipartRequest,
    ) -> Result<String, StorageError> {
        self.create_multipart_upload_sse(caller, bucket, key, req)
            .await
            .map(|(id, _)| id)
    }

    /// CreateMultipartUpload: the new upload id, and the encryption its
    /// parts and object get (one data key for all of them).
    pub async fn create_multipart_upload_sse(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        req: CreateMultipartRequest,
    ) -> Result<(String, Option<crate::SseInfo>), StorageError> {
        validate_key(key)?;
        validate_tags(&req.tags)?;
        crate::objects::validate_metadata(&req.headers)?;
        let (b, access) = self
            .authorized_bucket(caller, bucket, Action::PutObject, Some(key))
            .await?;
        let (owner, acl) = self.new_object_access(caller, &b.owner, &access, req.acl)?;
        let enc = self
            .encryption_for(caller, &b, &access, key, req.sse.as_ref())
            .await?;
        let sse = enc.as_ref().map(|e| e.info.clone());
        let now = now_millis();
        // S3 dates a multipart object (and its default retention) from the
        // upload's start.
        let lock = crate::lock::lock_for_write(&access, &req.lock, now)?;
        let upload = MultipartUpload {
            upload_id: time_ordered_id(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            initiated: now,
            owner,
            storage_class: req.storage_class.unwrap_or_else(|| STANDARD.into()),
            headers: req.headers,
            checksum_algorithm: req.checksum_algorithm.map(|a| a.name().to_owned()),
            checksum_type: req.checksum_algorithm.map(|_| {
                req.checksum_type
                    .unwrap_or(nomuck_meta::ChecksumType::Composite)
            }),
            tags: req.tags,
            acl,
            lock,
            encryption: enc.map(|e| e.doc),
        };
        let id = upload.upload_id.clone();
        self.commit_counted(
            (&b.owner, RequestClass::PutCopyPostList),
            bucket,
            vec![Mutation::CreateMultipartUpload {
                upload: Box::new(upload),
                bucket_owner: Some(b.owner.clone()),
            }],
        )
        .await?;
        Ok((id, sse))
    }

    /// UploadPart: streams the body into a blob, then records the part
    /// (replacing an earlier part with the same number).
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part<S, E>(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        req: UploadPartRequest,
        body: S,
    ) -> Result<UploadPartOutput, StorageError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: Into<BodyError>,
    {
        check_part_number(part_number)?;
        let (b, upload) = self
            .upload_for(caller, bucket, key, upload_id, Action::PutObject)
            .await?;
        let upload_alg = upload
            .checksum_algorithm
            .as_deref()
            .and_then(ChecksumAlgorithm::from_name);
        let (algorithm, expected) = checksum_plan(&req.checksum, upload_alg)?;
        if let (Some(want), Some(got)) = (upload_alg, algorithm)
            && want != got
        {
            return Err(StorageError::InvalidRequest(format!(
                "the upload was created for {want} checksums, the part has {got}"
            )));
        }
        // Every part is sealed with the upload's data key (an SSE-C upload's
        // key must come again with each part, and match).
        let dk = self
            .open_encryption(
                caller,
                upload.encryption.as_deref(),
                req.sse_customer.as_ref(),
            )
            .await?;
        let spec = IngestSpec {
            inline_max: 0,
            max_size: self.opts.max_object_size,
            declared_len: req.content_length,
            content_md5: req
                .content_md5
                .as_deref()
                .map(parse_content_md5)
                .transpose()?,
            checksum: algorithm,
            expected_checksum: expected,
            seal: dk.clone().map(|k| (k, part_number)),
        };
        let ing = ingest(self.blobs.as_ref(), body, &spec).await?;
        self.commit_part(&b.owner, &upload, part_number, ing, dk)
            .await
    }

    /// UploadPartCopy: a range of an existing object becomes a part.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part_copy(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        req: UploadPartCopyRequest,
    ) -> Result<UploadPartOutput, StorageError> {
        check_part_number(part_number)?;
        let (b, upload) = self
            .upload_for(caller, bucket, key, upload_id, Action::PutObject)
            .await?;
        let dk = self
            .open_encryption(
                caller,
                upload.encryption.as_deref(),
                req.sse_customer.as_ref(),
            )
            .await?;
        let (src, range) = self.copy_source(caller, &req).await?;
        let src_key = self
            .open_encryption(
                caller,
                src.encryption.as_deref(),
                req.source_sse_customer.as_ref(),
            )
            .await?;
        let alg = upload
            .checksum_algorithm
            .as_deref()
            .and_then(ChecksumAlgorithm::from_name);
        let seal = dk.clone().map(|k| (k, part_number));
        let ing = self.copy_bytes(&src, range, src_key, 0, alg, seal).await?;
        self.commit_part(&b.owner, &upload, part_number, ing, dk)
            .await
    }

    async fn commit_part(
        &self,
        owner: &str,
        upload: &MultipartUpload,
        part_number: u32,
        ing: Ingested,
        dk: Option<crate::sse::DataKeyBytes>,
    ) -> Result<UploadPartOutput, StorageError> {
        let Stored::Blob(blob) = &ing.stored else {
            return Err(StorageError::Internal(
                "a part was not stored as a blob".into(),
            ));
        };
        let now = now_millis();
        let checksum = ing.checksum.clone();
        let part = Part {
            part_number,
            size: ing.size,
            etag: match (&dk, crate::sse::info_of(upload.encryption.as_deref())) {
                (Some(k), Some(crate::SseInfo::Kms { .. } | crate::SseInfo::Customer { .. })) => {
                    crate::sse::opaque_etag(k, &ing.etag())
                }
                _ => ing.etag(),
            },
            checksum: checksum.as_ref().map(|c| c.to_base64()),
            blob_id: blob.to_string(),
            last_modified: now,
        };
        let out = UploadPartOutput {
            etag: part.etag.clone(),
            checksum: checksum.map(|c| (c.algorithm, c.to_base64())),
            size: part.size,
            last_modified: now,
            sse: crate::sse::info_of(upload.encryption.as_deref()),
        };
        let r = self
            .commit_counted(
                (owner, RequestClass::PutCopyPostList),
                &upload.bucket,
                vec![Mutation::PutPart {
                    upload_id: upload.upload_id.clone(),
                    bucket: upload.bucket.clone(),
                    key: upload.key.clone(),
                    part,
                    usage: Some(byte_usage(owner, now)),
                }],
            )
            .await;
        if let Err(e) = r {
            // Rolled back (e.g. the upload was aborted meanwhile): unreferenced.
            let _ = self.blobs.delete(blob).await;
            return Err(e);
        }
        Ok(out)
    }

    /// ListParts, paged by part number.
    pub async fn list_parts(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
        req: ListPartsRequest,
    ) -> Result<ListPartsOutput, StorageError> {
        let (b, upload) = self
            .upload_for(
                caller,
                bucket,
                key,
                upload_id,
                Action::ListMultipartUploadParts,
            )
            .await?;
        let max = req.max_parts.clamp(1, 1000);
        let mut parts = self
            .meta
            .list_parts(upload_id, req.part_number_marker, max + 1)
            .await?;
        let is_truncated = parts.len() > max;
        parts.truncate(max);
        self.record_request(&b.owner, RequestClass::PutCopyPostList);
        Ok(ListPartsOutput {
            next_part_number_marker: parts.last().filter(|_| is_truncated).map(|p| p.part_number),
            upload,
            parts,
            is_truncated,
        })
    }

    /// CompleteMultipartUpload: validates the part list (order, ETags, sizes)
    /// and atomically turns the upload into an object version that references
    /// the part blobs. Unused parts are freed.
    /// A retried completion of an upload that already completed gets the
    /// same answer, as on S3, while the version it became exists.
    pub async fn complete_multipart_upload(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
        req: CompleteMultipartRequest,
    ) -> Result<PutObjectOutput, StorageError> {
        match self
            .complete_upload(caller, bucket, key, upload_id, req)
            .await
        {
            Err(StorageError::NoSuchUpload(id)) => self
                .completed_earlier(caller, bucket, key, upload_id)
                .await?
                .ok_or(StorageError::NoSuchUpload(id)),
            done => done,
        }
    }

    async fn completed_earlier(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<PutObjectOutput>, StorageError> {
        let b = self
            .bucket_for_key(caller, bucket, Action::PutObject, key)
            .await?;
        let Some((in_bucket, in_key, version_id)) = self.meta.completed_upload(upload_id).await?
        else {
            return Ok(None);
        };
        if in_bucket != bucket || in_key != key {
            return Ok(None);
        }
        let Some(v) = self.meta.object(bucket, key, Some(&version_id)).await? else {
            return Ok(None);
        };
        Ok(Some(PutObjectOutput {
            etag: v.etag,
            version_id: written_version(&b, &v.version_id),
            checksum: v.checksum,
            size: v.size,
            last_modified: v.last_modified,
            expiration: None,
            sse: crate::sse::info_of(v.encryption.as_deref()),
        }))
    }

    async fn complete_upload(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
        req: CompleteMultipartRequest,
    ) -> Result<PutObjectOutput, StorageError> {
        if req.parts.is_empty() {
            return Err(StorageError::InvalidRequest(
                "You must specify at least one part".into(),
            ));
        }
        if let Some(p) = req
            .parts
            .iter()
            .find(|p| !PART_NUMBERS.contains(&p.part_number))
        {
            return Err(StorageError::InvalidPart {
                part_number: p.part_number,
                reason: "part numbers are 1 to 10000".into(),
            });
        }
        let (b, access, upload) = self
            .upload_in(caller, bucket, key, upload_id, Action::PutObject)
            .await?;
        if let Some(asked) = req.checksum_type
            && Some(asked) != upload.checksum_type
        {
            return Err(StorageError::InvalidRequest(format!(
                "The upload was created using the {} checksum mode. The complete request must use the same checksum mode.",
                upload.checksum_type.map_or("null", |t| t.as_str())
            )));
        }
        let now = now_millis();
        let condition = write_condition(req.if_match, req.if_none_match)?;
        let complete = CompleteUpload {
            upload_id: upload_id.to_owned(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            parts: req.parts,
            version_id: new_version_id(&b),
            last_modified: now,
            min_part_size: self.opts.min_part_size,
            full_object_checksum: req.full_object_checksum,
            condition,
            bucket_owner: Some(b.owner.clone()),
            usage: Some(byte_usage(&b.owner, now)),
        };
        let events = self
            .completion_events(caller, &b, &access, &upload, &complete)
            .await?;
        let mut muts = vec![Mutation::CompleteMultipartUpload(Box::new(complete))];
        muts.extend(events);
        let receipt = self
            .commit_counted((&b.owner, RequestClass::PutCopyPostList), bucket, muts)
            .await?;
        let done = receipt
            .completed_uploads
            .into_iter()
            .next()
            .ok_or_else(|| StorageError::Internal("completion reported no object".into()))?;
        let expiration = self.expiry_for(&access, key, done.size, &upload.tags, now);
        Ok(PutObjectOutput {
            etag: done.etag,
            version_id: written_version(&b, &done.version_id),
            checksum: done.checksum,
            size: done.size,
            last_modified: now,
            expiration,
            sse: crate::sse::info_of(upload.encryption.as_deref()),
        })
    }

    /// The event deliveries of a completion, when the bucket wants any: the
    /// object's size and ETag are worked out from the stored parts exactly as
    /// the commit will (which validates the same parts again), so the event
    /// goes in the completion's own commit.
    async fn completion_events(
        &self,
        caller: &Caller,
        b: &nomuck_meta::Bucket,
        access: &BucketAccess,
        upload: &MultipartUpload,
        complete: &CompleteUpload,
    ) -> Result<Vec<Mutation>, StorageError> {
        if access.notifications.is_none() {
            return Ok(Vec::new());
        }
        let mut stored = Vec::new();
        loop {
            let after = stored
                .last()
                .map_or(0, |p: &nomuck_meta::Part| p.part_number);
            let page = self.meta.list_parts(&upload.upload_id, after, 1000).await?;
            let done = page.len() < 1000;
            stored.extend(page);
            if done {
                break;
            }
        }
        // An invalid part list fails the commit itself, with its own error.
        let Ok(object) = nomuck_meta::multipart::assemble(
            upload,
            &complete.parts,
            &stored,
            complete.min_part_size,
            complete.full_object_checksum.as_deref(),
        ) else {
            return Ok(Vec::new());
        };
        let version = crate::objects::shown_version(b, &complete.version_id);
        Ok(self.event_deliveries(
            b,
            access,
            Some(caller),
            &crate::notify::EventFacts {
                name: "ObjectCreated:CompleteMultipartUpload",
                key: &upload.key,
                size: Some(object.size),
                etag: Some(&object.etag),
                version_id: version.as_deref(),
                time: complete.last_modified,
            },
        ))
    }

    /// AbortMultipartUpload: removes the upload; its parts' bytes are freed.
    pub async fn abort_multipart_upload(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StorageError> {
        let (b, _) = self
            .upload_for(caller, bucket, key, upload_id, Action::AbortMultipartUpload)
            .await?;
        let now = now_millis();
        self.commit_counted(
            (&b.owner, RequestClass::Delete),
            bucket,
            vec![Mutation::AbortMultipartUpload {
                upload_id: upload_id.to_owned(),
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                usage: Some(byte_usage(&b.owner, now)),
            }],
        )
        .await
        .map(|_| ())
    }
}

/// The ETag S3 gives a multipart object: MD5 of the concatenated binary MD5s
/// of its parts, then `-N`. Part ETags may be quoted.
pub fn multipart_etag<'a>(part_etags: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut h = Md5Hasher::new();
    let mut n = 0;
    for e in part_etags {
        let e = nomuck_meta::multipart::unquote_etag(e);
        if e.len() != 32 {
            return None;
        }
        let mut raw = [0u8; 16];
        for (i, b) in raw.iter_mut().enumerate() {
            *b = u8::from_str_radix(e.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        h.update(&raw);
        n += 1;
    }
    Some(format!("{}-{n}", h.finalize_hex()))
}
