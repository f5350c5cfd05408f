//! Multipart upload operations.

use http::StatusCode;
use nomuck_meta::{ChecksumType, CompletedPart};
use nomuck_storage::{
    CompleteMultipartRequest, CreateMultipartRequest, ListPartsRequest, ListUploadsRequest,
    Storage, UploadPartCopyRequest, UploadPartRequest,
};

use crate::error::S3Error;
use crate::headers::{self, quoted};
use crate::objects::{body_stream, content_length};
use crate::reply::{self, iso8601};
use crate::xml::{XmlWriter, parse};
use crate::{S3Request, S3Result, storage_error};

fn upload_id(req: &S3Request) -> Result<String, S3Error> {
    req.param("uploadId")
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .ok_or_else(S3Error::no_such_upload)
}

fn part_number(req: &S3Request) -> Result<u32, S3Error> {
    req.param("partNumber")
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(S3Error::too_many_parts)
}

fn checksum_type(req: &S3Request) -> Result<Option<ChecksumType>, S3Error> {
    match req.header("x-amz-checksum-type") {
        None => Ok(None),
        Some(t) if t.eq_ignore_ascii_case("FULL_OBJECT") => Ok(Some(ChecksumType::FullObject)),
        Some(t) if t.eq_ignore_ascii_case("COMPOSITE") => Ok(Some(ChecksumType::Composite)),
        Some(t) => Err(S3Error::invalid_request().with_message(format!(
            "Value for x-amz-checksum-type header is invalid: {t}"
        ))),
    }
}

pub async fn create(s: &Storage, req: &mut S3Request) -> S3Result {
    let checksum_algorithm = headers::checksum_request(&req.head.headers)?.algorithm;
    let create = CreateMultipartRequest {
        acl: crate::access::requested_acl(&req.head.headers, None)?,
        headers: headers::object_headers(&req.head.headers),
        storage_class: req.header("x-amz-storage-class").map(str::to_owned),
        tags: headers::tagging_header(&req.head.headers),
        checksum_algorithm,
        checksum_type: checksum_type(req)?,
        lock: crate::lock::lock_request(&req.head.headers)?,
        sse: crate::sse::sse_request(&req.head.headers)?,
    };
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let (upload_id, sse) = s
        .create_multipart_upload_sse(&req.caller, &bucket, &key, create)
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("InitiateMultipartUploadResult");
    w.elem("Bucket", &bucket)
        .elem("Key", &key)
        .elem("UploadId", &upload_id);
    let mut response = reply::xml(StatusCode::OK, w.finish("InitiateMultipartUploadResult"));
    if let Some(alg) = checksum_algorithm {
        reply::set(&mut response, "x-amz-checksum-algorithm", alg.name());
    }
    crate::sse::set_headers(&mut response, sse.as_ref());
    Ok(response)
}

pub async fn upload_part(s: &Storage, req: &mut S3Request) -> S3Result {
    let (upload_id, part_number) = (upload_id(req)?, part_number(req)?);
    let part = UploadPartRequest {
        content_length: content_length(req),
        content_md5: req.header("content-md5").map(str::to_owned),
        checksum: headers::checksum_request(&req.head.headers)?,
        sse_customer: crate::sse::customer_key(&req.head.headers, crate::sse::CUSTOMER)?,
    };
    let body = body_stream(req);
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let out = s
        .upload_part(
            &req.caller,
            &bucket,
            &key,
            &upload_id,
            part_number,
            part,
            body,
        )
        .await
        .map_err(storage_error)?;
    let mut response = reply::empty(StatusCode::OK);
    reply::set(&mut response, "etag", &quoted(&out.etag));
    if let Some((alg, value)) = &out.checksum {
        reply::set(&mut response, alg.header_name(), value);
    }
    crate::sse::set_headers(&mut response, out.sse.as_ref());
    Ok(response)
}

pub async fn upload_part_copy(s: &Storage, req: &mut S3Request) -> S3Result {
    let (upload_id, part_number) = (upload_id(req)?, part_number(req)?);
    let (source_bucket, source_key, source_version_id) =
        headers::copy_source(&req.head.headers)?.ok_or_else(S3Error::invalid_argument)?;
    let copy = UploadPartCopyRequest {
        source_bucket,
        source_key,
        source_version_id,
        source_expected_bucket_owner: req
            .header("x-amz-source-expected-bucket-owner")
            .map(str::to_owned),
        source_range: headers::copy_source_range(&req.head.headers)?,
        source_conditions: headers::conditions(&req.head.headers, &headers::COPY_SOURCE_CONDITIONS),
        sse_customer: crate::sse::customer_key(&req.head.headers, crate::sse::CUSTOMER)?,
        source_sse_customer: crate::sse::customer_key(
            &req.head.headers,
            crate::sse::COPY_SOURCE_CUSTOMER,
        )?,
    };
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let out = s
        .upload_part_copy(&req.caller, &bucket, &key, &upload_id, part_number, copy)
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("CopyPartResult");
    w.elem("ETag", &quoted(&out.etag))
        .elem("LastModified", &iso8601(out.last_modified));
    if let Some((alg, value)) = &out.checksum {
        w.elem(&format!("Checksum{}", alg.name()), value);
    }
    let mut response = reply::xml(StatusCode::OK, w.finish("CopyPartResult"));
    crate::sse::set_headers(&mut response, out.sse.as_ref());
    Ok(response)
}

pub async fn complete(s: &Storage, req: &mut S3Request) -> S3Result {
    let upload_id = upload_id(req)?;
    let body = req.completion_document().await?;
    let doc = parse(&body)?;
    if doc.name != "CompleteMultipartUpload" {
        return Err(S3Error::malformed_xml());
    }
    let parts = doc
        .children_named("Part")
        .map(|p| {
            let number = p
                .child_text("PartNumber")
                .and_then(|n| n.trim().parse::<u32>().ok())
                .ok_or_else(S3Error::malformed_xml)?;
            let etag = p.child_text("ETag").ok_or_else(S3Error::malformed_xml)?;
            let checksum = p
                .children
                .iter()
                .find(|c| c.name.starts_with("Checksum") && c.name != "ChecksumType")
                .map(|c| c.text.clone());
            Ok(CompletedPart {
                part_number: number,
                etag: etag.trim().trim_matches('"').to_owned(),
                checksum,
            })
        })
        .collect::<Result<Vec<_>, S3Error>>()?;
    if parts.is_empty() {
        return Err(S3Error::malformed_xml());
    }
    let full_object_checksum = req
        .head
        .headers
        .iter()
        .find(|(name, _)| {
            nomuck_checksum::ChecksumAlgorithm::from_header_name(name.as_str()).is_some()
        })
        .and_then(|(_, v)| v.to_str().ok())
        .map(str::to_owned);
    let complete = CompleteMultipartRequest {
        parts,
        full_object_checksum,
        checksum_type: checksum_type(req)?,
        if_match: req.header("if-match").map(str::to_owned),
        if_none_match: req.header("if-none-match").map(str::to_owned),
    };
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let out = s
        .complete_multipart_upload(&req.caller, &bucket, &key, &upload_id, complete)
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("CompleteMultipartUploadResult");
    w.elem("Location", &format!("/{bucket}/{key}"))
        .elem("Bucket", &bucket)
        .elem("Key", &key);
    w.elem("ETag", &quoted(&out.etag));
    if let Some(c) = &out.checksum {
        w.elem(
            &format!("Checksum{}", c.algorithm.to_ascii_uppercase()),
            &c.value,
        );
        w.elem("ChecksumType", c.kind.as_str());
    }
    let mut response = reply::xml(StatusCode::OK, w.finish("CompleteMultipartUploadResult"));
    if let Some(v) = &out.version_id {
        reply::set(&mut response, "x-amz-version-id", v);
    }
    crate::lifecycle::set_expiration(&mut response, out.expiration.as_ref());
    crate::sse::set_headers(&mut response, out.sse.as_ref());
    Ok(response)
}

pub async fn abort(s: &Storage, req: &mut S3Request) -> S3Result {
    let upload_id = upload_id(req)?;
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    s.abort_multipart_upload(&req.caller, &bucket, &key, &upload_id)
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

pub async fn list_parts(s: &Storage, req: &mut S3Request) -> S3Result {
    let upload_id = upload_id(req)?;
    let marker = req
        .param("part-number-marker")
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let max_parts = req
        .param("max-parts")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000usize)
        .min(1000);
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let out = s
        .list_parts(
            &req.caller,
            &bucket,
            &key,
            &upload_id,
            ListPartsRequest {
                part_number_marker: marker,
                max_parts,
            },
        )
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("ListPartsResult");
    w.elem("Bucket", &bucket)
        .elem("Key", &key)
        .elem("UploadId", &upload_id);
    w.elem("PartNumberMarker", &marker.to_string());
    w.opt(
        "NextPartNumberMarker",
        out.next_part_number_marker
            .map(|m| m.to_string())
            .as_deref(),
    );
    w.elem("MaxParts", &max_parts.to_string());
    w.elem(
        "IsTruncated",
        if out.is_truncated { "true" } else { "false" },
    );
    w.open("Initiator")
        .elem("ID", &out.upload.owner)
        .elem("DisplayName", &out.upload.owner)
        .close("Initiator");
    w.open("Owner")
        .elem("ID", &out.upload.owner)
        .elem("DisplayName", &out.upload.owner)
        .close("Owner");
    w.elem("StorageClass", &out.upload.storage_class);
    if let Some(alg) = &out.upload.checksum_algorithm {
        w.elem("ChecksumAlgorithm", alg);
    }
    if let Some(t) = out.upload.checksum_type {
        w.elem("ChecksumType", t.as_str());
    }
    for p in &out.parts {
        w.open("Part")
            .elem("PartNumber", &p.part_number.to_string())
            .elem("LastModified", &iso8601(p.last_modified))
            .elem("ETag", &quoted(&p.etag))
            .elem("Size", &p.size.to_string());
        if let (Some(value), Some(alg)) = (&p.checksum, &out.upload.checksum_algorithm) {
            w.elem(&format!("Checksum{}", alg.to_ascii_uppercase()), value);
        }
        w.close("Part");
    }
    Ok(reply::xml(StatusCode::OK, w.finish("ListPartsResult")))
}

pub async fn list_uploads(s: &Storage, req: &mut S3Request) -> S3Result {
    let prefix = req.param("prefix").unwrap_or("").to_owned();
    let delimiter = req
        .param("delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let max_uploads = req
        .param("max-uploads")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000usize)
        .min(1000);
    let key_marker = req
        .param("key-marker")
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    let upload_id_marker = req
        .param("upload-id-marker")
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    let out = s
        .list_multipart_uploads(
            &req.caller,
            req.bucket(),
            ListUploadsRequest {
                prefix: prefix.clone(),
                delimiter: delimiter.clone(),
                max_uploads,
                key_marker: key_marker.clone(),
                upload_id_marker: upload_id_marker.clone(),
            },
        )
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("ListMultipartUploadsResult");
    w.elem("Bucket", req.bucket());
    w.elem("KeyMarker", key_marker.as_deref().unwrap_or(""));
    w.elem("UploadIdMarker", upload_id_marker.as_deref().unwrap_or(""));
    w.opt("NextKeyMarker", out.next_key_marker.as_deref());
    w.opt("NextUploadIdMarker", out.next_upload_id_marker.as_deref());
    w.elem("Prefix", &prefix);
    w.opt("Delimiter", delimiter.as_deref());
    w.elem("MaxUploads", &max_uploads.to_string());
    w.elem(
        "IsTruncated",
        if out.is_truncated { "true" } else { "false" },
    );
    for u in &out.uploads {
        w.open("Upload")
            .elem("Key", &u.key)
            .elem("UploadId", &u.upload_id);
        w.open("Initiator")
            .elem("ID", &u.owner)
            .elem("DisplayName", &u.owner)
            .close("Initiator");
        w.open("Owner")
            .elem("ID", &u.owner)
            .elem("DisplayName", &u.owner)
            .close("Owner");
        w.elem("StorageClass", &u.storage_class)
            .elem("Initiated", &iso8601(u.initiated));
        w.close("Upload");
    }
    for p in &out.common_prefixes {
        w.open("CommonPrefixes")
            .elem("Prefix", p)
            .close("CommonPrefixes");
    }
    Ok(reply::xml(
        StatusCode::OK,
        w.finish("ListMultipartUploadsResult"),
    ))
}
