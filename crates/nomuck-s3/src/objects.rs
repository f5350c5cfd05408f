//! Object operations.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyDataStream, BodyExt, StreamBody};
use nomuck_meta::ObjectChecksum;
use nomuck_storage::{
    AttributesRequest, CopyObjectRequest, DeleteObjectRequest, DeleteResult, Directive,
    GetObjectRequest, ObjectInfo, ObjectToDelete, PutObjectRequest, Storage, StorageError,
};

use crate::error::S3Error;
use crate::headers::{self, quoted};
use crate::reply::{self, http_date, iso8601};
use crate::xml::{XmlWriter, parse, parse_tagging};
use crate::{S3Request, S3Result, storage_error};

/// The request body as the stream of bytes storage consumes.
pub(crate) fn body_stream(req: &mut S3Request) -> BodyDataStream<nomuck_http::Body> {
    BodyDataStream::new(std::mem::replace(&mut req.body, nomuck_http::empty_body()))
}

/// The length the client declared for the object (not the aws-chunked framing).
pub(crate) fn content_length(req: &S3Request) -> Option<u64> {
    req.header("x-amz-decoded-content-length")
        .or_else(|| req.header("content-length"))
        .and_then(|v| v.parse().ok())
}

fn set_checksum(response: &mut nomuck_http::Response, checksum: Option<&ObjectChecksum>) {
    if let Some(c) = checksum {
        let name = format!("x-amz-checksum-{}", c.algorithm.to_ascii_lowercase());
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&c.value),
        ) {
            response.headers_mut().insert(name, value);
        }
        reply::set(response, "x-amz-checksum-type", c.kind.as_str());
    }
}

fn set_version(response: &mut nomuck_http::Response, version_id: Option<&str>) {
    if let Some(v) = version_id {
        reply::set(response, "x-amz-version-id", v);
    }
}

pub async fn put_object(s: &Storage, req: &mut S3Request) -> S3Result {
    let put = PutObjectRequest {
        acl: crate::access::requested_acl(&req.head.headers, None)?,
        content_length: content_length(req),
        content_md5: req.header("content-md5").map(str::to_owned),
        checksum: headers::checksum_request(&req.head.headers)?,
        headers: headers::object_headers(&req.head.headers),
        storage_class: req.header("x-amz-storage-class").map(str::to_owned),
        tags: headers::tagging_header(&req.head.headers),
        if_match: req.header("if-match").map(str::to_owned),
        if_none_match: req.header("if-none-match").map(str::to_owned),
        form_upload: false,
        lock: crate::lock::lock_request(&req.head.headers)?,
        sse: crate::sse::sse_request(&req.head.headers)?,
        service_delivery: false,
    };
    let body = body_stream(req);
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let out = s
        .put_object(&req.caller, &bucket, &key, put, body)
        .await
        .map_err(storage_error)?;
    let mut response = reply::empty(StatusCode::OK);
    reply::set(&mut response, "etag", &quoted(&out.etag));
    set_checksum(&mut response, out.checksum.as_ref());
    set_version(&mut response, out.version_id.as_deref());
    crate::lifecycle::set_expiration(&mut response, out.expiration.as_ref());
    crate::sse::set_headers(&mut response, out.sse.as_ref());
    Ok(response)
}

fn object_headers(response: &mut nomuck_http::Response, info: &ObjectInfo, checksum_mode: bool) {
    headers::write_object_headers(response.headers_mut(), &info.headers);
    reply::set(response, "etag", &quoted(&info.etag));
    reply::set(response, "last-modified", &http_date(info.last_modified));
    reply::set(response, "accept-ranges", "bytes");
    if info.storage_class != "STANDARD" {
        reply::set(response, "x-amz-storage-class", &info.storage_class);
    }
    if info.tag_count > 0 {
        reply::set(response, "x-amz-tagging-count", &info.tag_count.to_string());
    }
    if let Some(parts) = info.parts_count {
        reply::set(response, "x-amz-mp-parts-count", &parts.to_string());
    }
    set_version(response, info.version_id.as_deref());
    crate::lifecycle::set_expiration(response, info.expiration.as_ref());
    crate::lock::set_lock_headers(response, &info.lock);
    crate::sse::set_headers(response, info.sse.as_ref());
    if checksum_mode {
        set_checksum(response, info.checksum.as_ref());
    }
}

pub async fn get_object(s: &Arc<Storage>, req: &mut S3Request, head_only: bool) -> S3Result {
    let part_number = match req.param("partNumber") {
        Some(n) => Some(
            n.parse::<u32>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(S3Error::too_many_parts)?,
        ),
        None => None,
    };
    let range = headers::range(&req.head.headers)?;
    if range.is_some() && part_number.is_some() {
        return Err(S3Error::invalid_request()
            .with_message("Cannot specify both Range header and partNumber query parameter"));
    }
    // A checksum covers the whole object (or, for partNumber, the part): a
    // Range reply carries none, as on AWS (clients validate what they receive).
    let checksum_mode = range.is_none()
        && req
            .header("x-amz-checksum-mode")
            .is_some_and(|m| m.eq_ignore_ascii_case("enabled"));
    let get = GetObjectRequest {
        version_id: req.param("versionId").map(str::to_owned),
        range,
        part_number,
        conditions: headers::conditions(&req.head.headers, &headers::OBJECT_CONDITIONS),
        sse_customer: crate::sse::customer_key(&req.head.headers, crate::sse::CUSTOMER)?,
    };
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let result = if head_only {
        s.head_object(&req.caller, &bucket, &key, &get)
            .await
            .map(|h| (h.info, h.range, h.content_length, None))
    } else {
        s.get_object(&req.caller, &bucket, &key, get)
            .await
            .map(|g| (g.info, g.range, g.content_length, Some(g.body)))
    };
    let (info, range, length, body) = match result {
        Ok(found) => found,
        Err(StorageError::NotModified {
            etag,
            last_modified,
        }) => {
            let mut response = reply::empty(StatusCode::NOT_MODIFIED);
            reply::set(&mut response, "etag", &quoted(&etag));
            reply::set(&mut response, "last-modified", &http_date(last_modified));
            return Ok(response);
        }
        Err(StorageError::NoSuchKey {
            delete_marker: Some(marker),
        }) => {
            return Err(storage_error(StorageError::NoSuchKey {
                delete_marker: None,
            })
            .with("DeleteMarkerVersionId", marker.clone())
            .with_header("x-amz-delete-marker", "true")
            .with_header("x-amz-version-id", marker));
        }
        Err(e) => return Err(storage_error(e)),
    };
    let mut response = match body {
        Some(stream) => {
            let counted = CountedBytes {
                inner: stream,
                sent: 0,
                on_end: req.caller.account_id.clone().map(|a| (a, s.clone())),
            };
            let frames = futures_util::StreamExt::map(counted, |r| {
                r.map(http_body::Frame::data)
                    .map_err(|e| Box::new(e) as nomuck_http::BodyError)
            });
            nomuck_http::Response::new(StreamBody::new(frames).boxed_unsync())
        }
        None => reply::empty(StatusCode::OK),
    };
    *response.status_mut() = if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    object_headers(&mut response, &info, checksum_mode);
    reply::set(&mut response, "content-length", &length.to_string());
    if let Some(r) = range {
        reply::set(
            &mut response,
            "content-range",
            &format!("bytes {}-{}/{}", r.start, r.end, r.total),
        );
    }
    // Response header overrides of presigned downloads.
    for (param, name) in [
        ("response-content-type", header::CONTENT_TYPE),
        ("response-content-language", header::CONTENT_LANGUAGE),
        ("response-expires", header::EXPIRES),
        ("response-cache-control", header::CACHE_CONTROL),
        ("response-content-disposition", header::CONTENT_DISPOSITION),
        ("response-content-encoding", header::CONTENT_ENCODING),
    ] {
        if let Some(v) = req.param(param).and_then(|v| HeaderValue::from_str(v).ok()) {
            response.headers_mut().insert(name, v);
        }
    }
    Ok(response)
}

/// Counts the bytes actually sent and meters them when the stream ends or is dropped
/// (a client that disconnects pays for what it received).
struct CountedBytes<S> {
    inner: S,
    sent: u64,
    on_end: Option<(String, Arc<Storage>)>,
}

impl<S: Stream<Item = Result<Bytes, StorageError>> + Unpin> Stream for CountedBytes<S> {
    type Item = Result<Bytes, StorageError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            self.sent += chunk.len() as u64;
        }
        polled
    }
}

impl<S> Drop for CountedBytes<S> {
    fn drop(&mut self) {
        if let Some((account, storage)) = self.on_end.take()
            && self.sent > 0
        {
            storage.record_bytes_out(&account, self.sent);
        }
    }
}

pub async fn delete_object(s: &Storage, req: &mut S3Request) -> S3Result {
    let del = DeleteObjectRequest {
        version_id: req.param("versionId").map(str::to_owned),
        if_match: req.header("if-match").map(str::to_owned),
        bypass_governance: crate::lock::bypass_requested(&req.head.headers),
    };
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let out = s
        .delete_object(&req.caller, &bucket, &key, del)
        .await
        .map_err(storage_error)?;
    let mut response = reply::empty(StatusCode::NO_CONTENT);
    set_version(&mut response, out.version_id.as_deref());
    if out.delete_marker {
        reply::set(&mut response, "x-amz-delete-marker", "true");
    }
    Ok(response)
}

pub async fn delete_objects(s: &Storage, req: &mut S3Request) -> S3Result {
    headers::require_body_digest(&req.head.headers)?;
    let body = req.body_bytes().await?;
    let doc = parse(&body)?;
    if doc.name != "Delete" {
        return Err(S3Error::malformed_xml());
    }
    let quiet = doc
        .child_text("Quiet")
        .is_some_and(|q| q.eq_ignore_ascii_case("true"));
    let objects: Vec<ObjectToDelete> = doc
        .children_named("Object")
        .map(|o| {
            // Conditions of directory buckets' batch deletes: not built, and
            // never dropped (the key would be deleted unconditionally).
            if let Some(c) = ["LastModifiedTime", "Size"]
                .into_iter()
                .find(|c| o.child(c).is_some())
            {
                return Err(S3Error::not_implemented().with_message(format!(
                    "DeleteObjects conditions on {c} are not implemented by this server"
                )));
            }
            Ok(ObjectToDelete {
                key: o
                    .child_text("Key")
                    .ok_or_else(S3Error::malformed_xml)?
                    .to_owned(),
                version_id: o
                    .child_text("VersionId")
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned),
                if_match: o.child_text("ETag").map(str::to_owned),
            })
        })
        .collect::<Result<_, S3Error>>()?;
    if objects.is_empty() || objects.len() > 1000 {
        return Err(S3Error::malformed_xml());
    }
    let requested: Vec<bool> = objects.iter().map(|o| o.version_id.is_some()).collect();
    let results = s
        .delete_objects(
            &req.caller,
            req.bucket(),
            objects,
            crate::lock::bypass_requested(&req.head.headers),
        )
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("DeleteResult");
    let mut batch = crate::logging::BatchDeletes::default();
    for (result, version_requested) in results.into_iter().zip(requested) {
        match result {
            DeleteResult::Deleted { key, output } => {
                batch.push(&key, output.version_id.as_deref(), None);
                if quiet {
                    continue;
                }
                // VersionId echoes a requested version; a delete marker (made
                // or removed) is named by DeleteMarkerVersionId.
                w.open("Deleted").elem("Key", &key);
                if version_requested {
                    w.opt("VersionId", output.version_id.as_deref());
                }
                if output.delete_marker {
                    w.elem("DeleteMarker", "true")
                        .opt("DeleteMarkerVersionId", output.version_id.as_deref());
                }
                w.close("Deleted");
            }
            DeleteResult::Failed {
                key,
                version_id,
                error,
            } => {
                let err = storage_error(error);
                batch.push(&key, version_id.as_deref(), Some(&err));
                w.open("Error")
                    .elem("Key", &key)
                    .opt("VersionId", version_id.as_deref())
                    .elem("Code", err.code)
                    .elem("Message", &err.message)
                    .close("Error");
            }
        }
    }
    let mut response = reply::xml(StatusCode::OK, w.finish("DeleteResult"));
    response.extensions_mut().insert(batch);
    Ok(response)
}

fn directive(req: &S3Request, name: &str) -> Result<Directive, S3Error> {
    match req.header(name) {
        None => Ok(Directive::Copy),
        Some(d) if d.eq_ignore_ascii_case("COPY") => Ok(Directive::Copy),
        Some(d) if d.eq_ignore_ascii_case("REPLACE") => Ok(Directive::Replace),
        Some(d) => Err(S3Error::invalid_argument().with_message(format!("Unknown {name}: {d}"))),
    }
}

pub async fn copy_object(s: &Storage, req: &mut S3Request) -> S3Result {
    let (source_bucket, source_key, source_version_id) =
        headers::copy_source(&req.head.headers)?.ok_or_else(S3Error::invalid_argument)?;
    let metadata_directive = directive(req, "x-amz-metadata-directive")?;
    let copy = CopyObjectRequest {
        acl: crate::access::requested_acl(&req.head.headers, None)?,
        source_bucket,
        source_key,
        source_version_id,
        source_expected_bucket_owner: req
            .header("x-amz-source-expected-bucket-owner")
            .map(str::to_owned),
        source_conditions: headers::conditions(&req.head.headers, &headers::COPY_SOURCE_CONDITIONS),
        metadata_directive,
        headers: headers::object_headers(&req.head.headers),
        storage_class: req.header("x-amz-storage-class").map(str::to_owned),
        tagging_directive: directive(req, "x-amz-tagging-directive")?,
        tags: headers::tagging_header(&req.head.headers),
        checksum_algorithm: headers::checksum_request(&req.head.headers)?.algorithm,
        if_match: req.header("if-match").map(str::to_owned),
        if_none_match: req.header("if-none-match").map(str::to_owned),
        lock: crate::lock::lock_request(&req.head.headers)?,
        sse: crate::sse::sse_request(&req.head.headers)?,
        source_sse_customer: crate::sse::customer_key(
            &req.head.headers,
            crate::sse::COPY_SOURCE_CUSTOMER,
        )?,
    };
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let out = s
        .copy_object(&req.caller, &bucket, &key, copy)
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("CopyObjectResult");
    w.elem("ETag", &quoted(&out.etag))
        .elem("LastModified", &iso8601(out.last_modified));
    if let Some(c) = &out.checksum {
        w.elem(
            &format!("Checksum{}", c.algorithm.to_ascii_uppercase()),
            &c.value,
        );
    }
    let mut response = reply::xml(StatusCode::OK, w.finish("CopyObjectResult"));
    set_version(&mut response, out.version_id.as_deref());
    crate::lifecycle::set_expiration(&mut response, out.expiration.as_ref());
    crate::sse::set_headers(&mut response, out.sse.as_ref());
    if let Some(v) = &out.source_version_id {
        reply::set(&mut response, "x-amz-copy-source-version-id", v);
    }
    Ok(response)
}

pub async fn get_tagging(s: &Storage, req: &mut S3Request) -> S3Result {
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let (tags, version) = s
        .get_object_tagging(&req.caller, &bucket, &key, req.param("versionId"))
        .await
        .map_err(storage_error)?;
    let mut tags = tags;
    tags.sort();
    let mut w = XmlWriter::new("Tagging");
    w.open("TagSet");
    for (k, v) in &tags {
        w.open("Tag").elem("Key", k).elem("Value", v).close("Tag");
    }
    w.close("TagSet");
    let mut response = reply::xml(StatusCode::OK, w.finish("Tagging"));
    set_version(&mut response, version.as_deref());
    Ok(response)
}

pub async fn put_tagging(s: &Storage, req: &mut S3Request) -> S3Result {
    let tags = parse_tagging(&req.body_bytes().await?)?;
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let version = s
        .put_object_tagging(&req.caller, &bucket, &key, req.param("versionId"), tags)
        .await
        .map_err(storage_error)?;
    let mut response = reply::empty(StatusCode::OK);
    set_version(&mut response, version.as_deref());
    Ok(response)
}

pub async fn delete_tagging(s: &Storage, req: &mut S3Request) -> S3Result {
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let version = s
        .delete_object_tagging(&req.caller, &bucket, &key, req.param("versionId"))
        .await
        .map_err(storage_error)?;
    let mut response = reply::empty(StatusCode::NO_CONTENT);
    set_version(&mut response, version.as_deref());
    Ok(response)
}

pub async fn get_attributes(s: &Storage, req: &mut S3Request) -> S3Result {
    let wanted: Vec<String> = req
        .header("x-amz-object-attributes")
        .map(|v| {
            v.split(',')
                .map(|a| a.trim().to_owned())
                .filter(|a| !a.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if wanted.is_empty() {
        return Err(S3Error::invalid_argument()
            .with_message("Missing required header for this request: x-amz-object-attributes"));
    }
    let want = |name: &str| wanted.iter().any(|w| w.eq_ignore_ascii_case(name));
    let attrs_req = AttributesRequest {
        version_id: req.param("versionId").map(str::to_owned),
        part_number_marker: req
            .header("x-amz-part-number-marker")
            .and_then(|m| m.parse().ok())
            .unwrap_or(0),
        max_parts: req
            .header("x-amz-max-parts")
            .and_then(|m| m.parse().ok())
            .unwrap_or(1000),
        sse_customer: crate::sse::customer_key(&req.head.headers, crate::sse::CUSTOMER)?,
    };
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let attrs = s
        .get_object_attributes(&req.caller, &bucket, &key, attrs_req)
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("GetObjectAttributesResponse");
    if want("ETag") {
        w.elem("ETag", &attrs.etag);
    }
    if want("Checksum")
        && let Some(c) = &attrs.checksum
    {
        w.open("Checksum")
            .elem(
                &format!("Checksum{}", c.algorithm.to_ascii_uppercase()),
                &c.value,
            )
            .elem("ChecksumType", c.kind.as_str())
            .close("Checksum");
    }
    if want("ObjectParts")
        && let Some(parts) = &attrs.parts
    {
        // The model's TotalPartsCount travels as <PartsCount>.
        w.open("ObjectParts")
            .elem("PartsCount", &parts.total_parts.to_string());
        w.elem(
            "PartNumberMarker",
            req.header("x-amz-part-number-marker").unwrap_or("0"),
        );
        w.opt(
            "NextPartNumberMarker",
            parts
                .next_part_number_marker
                .map(|m| m.to_string())
                .as_deref(),
        );
        w.elem("MaxParts", req.header("x-amz-max-parts").unwrap_or("1000"));
        w.elem(
            "IsTruncated",
            if parts.is_truncated { "true" } else { "false" },
        );
        for p in &parts.parts {
            w.open("Part")
                .elem("PartNumber", &p.part_number.to_string())
                .elem("Size", &p.size.to_string());
            if let (Some(value), Some(c)) = (&p.checksum, &attrs.checksum) {
                w.elem(
                    &format!("Checksum{}", c.algorithm.to_ascii_uppercase()),
                    value,
                );
            }
            w.close("Part");
        }
        w.close("ObjectParts");
    }
    if want("StorageClass") {
        w.elem("StorageClass", &attrs.storage_class);
    }
    if want("ObjectSize") {
        w.elem("ObjectSize", &attrs.size.to_string());
    }
    let mut response = reply::xml(StatusCode::OK, w.finish("GetObjectAttributesResponse"));
    reply::set(
        &mut response,
        "last-modified",
        &http_date(attrs.last_modified),
    );
    set_version(&mut response, attrs.version_id.as_deref());
    Ok(response)
}

pub async fn get_object_acl(s: &Storage, req: &mut S3Request) -> S3Result {
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let acl = s
        .get_object_acl(&req.caller, &bucket, &key, req.param("versionId"))
        .await
        .map_err(storage_error)?;
    Ok(reply::xml(
        StatusCode::OK,
        crate::access::acl_document(&acl),
    ))
}

pub async fn put_object_acl(s: &Storage, req: &mut S3Request) -> S3Result {
    let body = req.body_bytes().await?;
    let acl = crate::access::requested_acl(&req.head.headers, Some(&body))?
        .ok_or_else(S3Error::malformed_xml)?;
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    s.put_object_acl(&req.caller, &bucket, &key, req.param("versionId"), acl)
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::OK))
}
