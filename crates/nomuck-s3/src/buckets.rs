//! Bucket operations and listings.

use http::StatusCode;
use nomuck_meta::ObjectSummary;
use nomuck_storage::{ListFrom, ListObjectsRequest, ListVersionsRequest, RequestedAcl, Storage};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::S3Error;
use crate::headers::quoted;
use crate::reply::{self, iso8601};
use crate::xml::{XmlWriter, parse};
use crate::{S3Request, S3Result, storage_error};

const MAX_KEYS: usize = 1000;

/// Most buckets one ListBuckets page returns when `max-buckets` is given.
const MAX_BUCKETS_PAGE: usize = 10_000;

pub async fn list_buckets(s: &Storage, req: &mut S3Request) -> S3Result {
    let owner = req
        .caller
        .account_id
        .clone()
        .ok_or_else(S3Error::access_denied)?;
    let prefix = req.param("prefix").unwrap_or("").to_owned();
    // The token is the last bucket name of the previous page; names are plain ASCII.
    let after = req
        .param("continuation-token")
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let max = match req.param("max-buckets") {
        None => None,
        Some(v) => Some(
            v.parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_BUCKETS_PAGE).contains(n))
                .ok_or_else(|| {
                    S3Error::invalid_argument()
                        .with_message("max-buckets must be between 1 and 10000")
                })?,
        ),
    };
    let mut buckets = s.list_buckets(&req.caller).await.map_err(storage_error)?;
    buckets.sort_by(|a, b| a.name.cmp(&b.name));
    let mut page: Vec<_> = buckets
        .into_iter()
        .filter(|b| b.name.starts_with(&prefix))
        .filter(|b| after.as_ref().is_none_or(|a| b.name.as_str() > a.as_str()))
        .collect();
    let next = match max {
        Some(max) if page.len() > max => {
            page.truncate(max);
            page.last().map(|b| b.name.clone())
        }
        _ => None,
    };
    let mut w = XmlWriter::new("ListAllMyBucketsResult");
    w.open("Owner")
        .elem("ID", &owner)
        .elem("DisplayName", &owner)
        .close("Owner");
    w.open("Buckets");
    for b in &page {
        w.open("Bucket")
            .elem("Name", &b.name)
            .elem("CreationDate", &iso8601(b.created_at))
            .elem("BucketRegion", &b.region)
            .close("Bucket");
    }
    w.close("Buckets");
    w.opt("ContinuationToken", next.as_deref());
    if req.param("prefix").is_some() {
        w.elem("Prefix", &prefix);
    }
    Ok(reply::xml(
        StatusCode::OK,
        w.finish("ListAllMyBucketsResult"),
    ))
}

pub async fn create_bucket(s: &Storage, req: &mut S3Request) -> S3Result {
    let body = req.body_bytes().await?;
    let region = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let doc = parse(&body)?;
        if doc.name != "CreateBucketConfiguration" {
            return Err(S3Error::malformed_xml());
        }
        // Directory buckets (`Location`, `Bucket`) and tags given at creation
        // are not built; refused, not dropped.
        if let Some(other) = doc.children.iter().find(|c| c.name != "LocationConstraint") {
            return Err(S3Error::not_implemented().with_message(format!(
                "CreateBucketConfiguration/{} is not implemented by this server",
                other.name
            )));
        }
        doc.child_text("LocationConstraint")
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
    };
    if let Some(region) = &region
        && region != &req.ctx.server_region
    {
        return Err(S3Error::new(
            StatusCode::BAD_REQUEST,
            "IllegalLocationConstraintException",
            format!(
                "The {region} location constraint is incompatible for the region specific endpoint this request was sent to."
            ),
        ));
    }
    let bucket = req.bucket().to_owned();
    let acl = crate::access::requested_acl(&req.head.headers, None)?;
    let ownership = match req.header("x-amz-object-ownership") {
        None => None,
        Some(v) => Some(
            v.trim()
                .parse::<nomuck_policy::ObjectOwnership>()
                .map_err(|_| {
                    S3Error::invalid_argument()
                        .with_message(format!("Invalid x-amz-object-ownership {v:?}"))
                })?,
        ),
    };
    // `x-amz-bucket-object-lock-enabled`: `true` (any case) enables it.
    let object_lock = req
        .header("x-amz-bucket-object-lock-enabled")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    match s
        .create_bucket_with(
            &req.caller,
            &bucket,
            region.as_deref(),
            acl.clone(),
            ownership,
            object_lock,
        )
        .await
    {
        Ok(_) => {}
        // us-east-1 answers a repeated CreateBucket by its owner with success and
        // resets the bucket's ACL to the one asked for (private when none is); every
        // other region says BucketAlreadyOwnedByYou.
        Err(nomuck_storage::StorageError::BucketAlreadyOwnedByYou(_))
            if req.ctx.server_region == "us-east-1" =>
        {
            let asked = acl.is_some();
            let acl = acl.unwrap_or(RequestedAcl::Canned(nomuck_policy::CannedAcl::Private));
            match s.put_bucket_acl(&req.caller, &bucket, acl).await {
                // With ACLs disabled there is no ACL to reset.
                Err(nomuck_storage::StorageError::AclNotSupported) if !asked => {}
                other => other.map_err(storage_error)?,
            }
        }
        Err(e) => return Err(storage_error(e)),
    }
    let mut response = reply::empty(StatusCode::OK);
    reply::set(&mut response, "location", &format!("/{bucket}"));
    Ok(response)
}

pub async fn delete_bucket(s: &Storage, req: &mut S3Request) -> S3Result {
    s.delete_bucket(&req.caller, req.bucket())
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

pub async fn head_bucket(s: &Storage, req: &mut S3Request) -> S3Result {
    let info = s
        .bucket_info(
            &req.caller,
            req.bucket(),
            nomuck_storage::S3Action::ListBucket,
        )
        .await
        .map_err(storage_error)?;
    let mut response = reply::empty(StatusCode::OK);
    reply::set(&mut response, "x-amz-bucket-region", &info.region);
    Ok(response)
}

pub async fn get_bucket_location(s: &Storage, req: &mut S3Request) -> S3Result {
    let info = s
        .bucket_info(
            &req.caller,
            req.bucket(),
            nomuck_storage::S3Action::GetBucketLocation,
        )
        .await
        .map_err(storage_error)?;
    // us-east-1 is written as an empty constraint, as AWS does.
    let constraint = if info.region == "us-east-1" {
        ""
    } else {
        info.region.as_str()
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"{}\">{}</LocationConstraint>",
        crate::xml::S3_NAMESPACE,
        nomuck_http::xml::escape(constraint)
    );
    Ok(reply::xml(StatusCode::OK, body))
}

pub async fn get_bucket_versioning(s: &Storage, req: &mut S3Request) -> S3Result {
    let info = s
        .bucket_info(
            &req.caller,
            req.bucket(),
            nomuck_storage::S3Action::GetBucketVersioning,
        )
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("VersioningConfiguration");
    match info.versioning {
        nomuck_meta::Versioning::Unversioned => {}
        other => {
            w.elem("Status", other.as_str());
        }
    }
    Ok(reply::xml(
        StatusCode::OK,
        w.finish("VersioningConfiguration"),
    ))
}

pub async fn put_bucket_versioning(s: &Storage, req: &mut S3Request) -> S3Result {
    let doc = crate::xml::parse(&req.body_bytes().await?)?;
    if doc.name != "VersioningConfiguration" {
        return Err(S3Error::malformed_xml());
    }
    if doc.child_text("MfaDelete") == Some("Enabled") {
        return Err(S3Error::not_implemented().with_message("MFA delete is not built"));
    }
    let versioning = match doc.child_text("Status") {
        Some("Enabled") => nomuck_meta::Versioning::Enabled,
        Some("Suspended") => nomuck_meta::Versioning::Suspended,
        // No Status: nothing to change (MfaDelete alone).
        None => return Ok(reply::empty(StatusCode::OK)),
        Some(_) => return Err(S3Error::malformed_xml()),
    };
    s.set_bucket_versioning(&req.caller, req.bucket(), versioning)
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::OK))
}

/// Characters `encoding-type=url` leaves as they are.
pub(crate) const URL_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Applies `encoding-type=url` to the names in a listing.
struct Names {
    url: bool,
}

impl Names {
    fn from(req: &S3Request) -> Result<Self, S3Error> {
        match req.param("encoding-type") {
            None => Ok(Self { url: false }),
            Some(e) if e.eq_ignore_ascii_case("url") => Ok(Self { url: true }),
            Some(_) => Err(S3Error::invalid_argument()
                .with_message("Invalid Encoding Method specified in Request")),
        }
    }

    fn show(&self, name: &str) -> String {
        if self.url {
            utf8_percent_encode(name, URL_SAFE).to_string()
        } else {
            name.to_owned()
        }
    }
}

fn max_keys(req: &S3Request, name: &str) -> Result<usize, S3Error> {
    match req.param(name) {
        None => Ok(MAX_KEYS),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| usize::try_from(n).unwrap_or(MAX_KEYS).min(MAX_KEYS))
            .ok_or_else(|| {
                S3Error::invalid_argument().with_message(format!(
                    "Provided {name} not an integer or within integer range"
                ))
            }),
    }
}

fn write_owner(w: &mut XmlWriter, owner: &str) {
    w.open("Owner")
        .elem("ID", owner)
        .elem("DisplayName", owner)
        .close("Owner");
}

fn write_summary(w: &mut XmlWriter, tag: &str, o: &ObjectSummary, names: &Names, owner: bool) {
    w.open(tag)
        .elem("Key", &names.show(&o.key))
        .elem("LastModified", &iso8601(o.last_modified));
    w.elem("ETag", &quoted(&o.etag))
        .elem("Size", &o.size.to_string());
    if let Some(alg) = &o.checksum_algorithm {
        w.elem("ChecksumAlgorithm", alg);
    }
    if let Some(kind) = o.checksum_type {
        w.elem("ChecksumType", kind.as_str());
    }
    w.elem("StorageClass", &o.storage_class);
    if owner {
        write_owner(w, &o.owner);
    }
    w.close(tag);
}

pub async fn list_objects(s: &Storage, req: &mut S3Request, v2: bool) -> S3Result {
    let names = Names::from(req)?;
    let prefix = req.param("prefix").unwrap_or("").to_owned();
    let delimiter = req
        .param("delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let max_keys = max_keys(req, "max-keys")?;
    let from = if v2 {
        // An empty token is no token, as on AWS.
        match (
            req.param("continuation-token").filter(|t| !t.is_empty()),
            req.param("start-after"),
        ) {
            (Some(token), _) => ListFrom::ContinuationToken(token.to_owned()),
            (None, Some(after)) if !after.is_empty() => ListFrom::Marker(after.to_owned()),
            _ => ListFrom::Beginning,
        }
    } else {
        match req.param("marker") {
            Some(m) if !m.is_empty() => ListFrom::Marker(m.to_owned()),
            _ => ListFrom::Beginning,
        }
    };
    let out = s
        .list_objects(
            &req.caller,
            req.bucket(),
            ListObjectsRequest {
                prefix: prefix.clone(),
                delimiter: delimiter.clone(),
                max_keys,
                from,
            },
        )
        .await
        .map_err(storage_error)?;

    // V1 returns Prefix as given even with encoding-type=url (clients decode only the
    // other fields there); V2 encodes it.
    let shown_prefix = if v2 {
        names.show(&prefix)
    } else {
        prefix.clone()
    };
    let mut w = XmlWriter::new("ListBucketResult");
    w.elem("Name", req.bucket()).elem("Prefix", &shown_prefix);
    if v2 {
        w.opt("ContinuationToken", req.param("continuation-token"));
        if let Some(after) = req.param("start-after") {
            w.elem("StartAfter", &names.show(after));
        }
        w.elem(
            "KeyCount",
            &(out.objects.len() + out.common_prefixes.len()).to_string(),
        );
        w.opt(
            "NextContinuationToken",
            out.next_continuation_token.as_deref(),
        );
    } else {
        w.elem("Marker", &names.show(req.param("marker").unwrap_or("")));
        // AWS sends NextMarker only with a delimiter; clients fall back to the last key.
        if delimiter.is_some()
            && let Some(next) = &out.next_marker
        {
            w.elem("NextMarker", &names.show(next));
        }
    }
    w.elem("MaxKeys", &max_keys.to_string());
    if let Some(d) = &delimiter {
        w.elem("Delimiter", &names.show(d));
    }
    if names.url {
        w.elem("EncodingType", "url");
    }
    w.elem(
        "IsTruncated",
        if out.is_truncated { "true" } else { "false" },
    );
    let fetch_owner = !v2 || req.param("fetch-owner") == Some("true");
    for o in &out.objects {
        write_summary(&mut w, "Contents", o, &names, fetch_owner);
    }
    for p in &out.common_prefixes {
        w.open("CommonPrefixes")
            .elem("Prefix", &names.show(p))
            .close("CommonPrefixes");
    }
    Ok(reply::xml(StatusCode::OK, w.finish("ListBucketResult")))
}

pub async fn list_object_versions(s: &Storage, req: &mut S3Request) -> S3Result {
    let names = Names::from(req)?;
    let prefix = req.param("prefix").unwrap_or("").to_owned();
    let delimiter = req
        .param("delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let max_keys = max_keys(req, "max-keys")?;
    let key_marker = req
        .param("key-marker")
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    let version_id_marker = req
        .param("version-id-marker")
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    let out = s
        .list_object_versions(
            &req.caller,
            req.bucket(),
            ListVersionsRequest {
                prefix: prefix.clone(),
                delimiter: delimiter.clone(),
                max_keys,
                key_marker: key_marker.clone(),
                version_id_marker: version_id_marker.clone(),
            },
        )
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("ListVersionsResult");
    w.elem("Name", req.bucket())
        .elem("Prefix", &names.show(&prefix));
    w.elem(
        "KeyMarker",
        &names.show(key_marker.as_deref().unwrap_or("")),
    );
    w.elem(
        "VersionIdMarker",
        version_id_marker.as_deref().unwrap_or(""),
    );
    if let Some(next) = &out.next_key_marker {
        w.elem("NextKeyMarker", &names.show(next));
    }
    w.opt("NextVersionIdMarker", out.next_version_id_marker.as_deref());
    w.elem("MaxKeys", &max_keys.to_string());
    if let Some(d) = &delimiter {
        w.elem("Delimiter", &names.show(d));
    }
    if names.url {
        w.elem("EncodingType", "url");
    }
    w.elem(
        "IsTruncated",
        if out.is_truncated { "true" } else { "false" },
    );
    for v in &out.versions {
        if v.is_delete_marker {
            w.open("DeleteMarker")
                .elem("Key", &names.show(&v.key))
                .elem("VersionId", &v.version_id)
                .elem("IsLatest", if v.is_latest { "true" } else { "false" })
                .elem("LastModified", &iso8601(v.last_modified));
            write_owner(&mut w, &v.owner);
            w.close("DeleteMarker");
        } else {
            w.open("Version")
                .elem("Key", &names.show(&v.key))
                .elem("VersionId", &v.version_id)
                .elem("IsLatest", if v.is_latest { "true" } else { "false" })
                .elem("LastModified", &iso8601(v.last_modified))
                .elem("ETag", &quoted(&v.etag))
                .elem("Size", &v.size.to_string())
                .elem("StorageClass", &v.storage_class);
            write_owner(&mut w, &v.owner);
            w.close("Version");
        }
    }
    for p in &out.common_prefixes {
        w.open("CommonPrefixes")
            .elem("Prefix", &names.show(p))
            .close("CommonPrefixes");
    }
    Ok(reply::xml(StatusCode::OK, w.finish("ListVersionsResult")))
}

/// Bucket tags: a config document (JSON pairs), at most 50, keys unique.
const TAGGING: &str = "tagging";

pub async fn put_bucket_tagging(s: &Storage, req: &mut S3Request) -> S3Result {
    let tags = crate::xml::parse_tagging(&req.body_bytes().await?)?;
    let invalid = |m: &str| S3Error::new(StatusCode::BAD_REQUEST, "InvalidTag", m);
    if tags.len() > 50 {
        return Err(invalid("Bucket tag count cannot be greater than 50"));
    }
    let mut keys = std::collections::HashSet::new();
    for (k, v) in &tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(invalid(
                "The TagKey or TagValue you have provided is invalid",
            ));
        }
        if !keys.insert(k) {
            return Err(invalid("Cannot provide multiple Tags with the same key"));
        }
    }
    let doc = serde_json::to_vec(&tags).map_err(|_| S3Error::internal_error())?;
    s.put_bucket_config(
        &req.caller,
        req.bucket(),
        TAGGING,
        doc,
        nomuck_storage::S3Action::PutBucketTagging,
    )
    .await
    .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

pub async fn get_bucket_tagging(s: &Storage, req: &mut S3Request) -> S3Result {
    let doc = s
        .get_bucket_config(
            &req.caller,
            req.bucket(),
            TAGGING,
            nomuck_storage::S3Action::GetBucketTagging,
        )
        .await
        .map_err(storage_error)?
        .ok_or_else(|| {
            S3Error::new(
                StatusCode::NOT_FOUND,
                "NoSuchTagSet",
                "The TagSet does not exist",
            )
        })?;
    let tags: Vec<(String, String)> =
        serde_json::from_slice(&doc).map_err(|_| S3Error::internal_error())?;
    let mut w = XmlWriter::new("Tagging");
    w.open("TagSet");
    for (k, v) in &tags {
        w.open("Tag").elem("Key", k).elem("Value", v).close("Tag");
    }
    w.close("TagSet");
    Ok(reply::xml(StatusCode::OK, w.finish("Tagging")))
}

pub async fn delete_bucket_tagging(s: &Storage, req: &mut S3Request) -> S3Result {
    s.delete_bucket_config(
        &req.caller,
        req.bucket(),
        TAGGING,
        nomuck_storage::S3Action::PutBucketTagging,
    )
    .await
    .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::NO_CONTENT))
}
