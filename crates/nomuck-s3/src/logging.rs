//! Server access logging: the `BucketLoggingStatus` document in and out
//! (`?logging`), and one access log record per request on a bucket whose
//! logging is enabled, written when its reply body is done.
//!
//! The reply's last frame (or its end) is held until the record is durable
//! in the journal ([`nomuck_storage::access_log::AccessLog`]), so a client
//! that received a whole reply knows its record survives a crash.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt;
use nomuck_http::{Body, BodyError, ErrorCode, RequestContext, Response};
use nomuck_policy::Grantee;
use nomuck_storage::Storage;
use nomuck_storage::access_log::{
    AccessLog, AccessLogRecord, Ack, KeyFormat, LogEntry, LoggingConfig, LoggingTarget,
    PartitionDateSource, TargetGrant,
};

use crate::addressing::Target;
use crate::xml::{Element, XmlWriter, parse};
use crate::{S3Error, S3Request, S3Result, reply, storage_error};

/// GetBucketLogging: an empty `BucketLoggingStatus` when logging is off.
pub async fn get_bucket_logging(s: &Storage, req: &mut S3Request) -> S3Result {
    let config = s
        .get_bucket_logging(&req.caller, req.bucket())
        .await
        .map_err(storage_error)?;
    Ok(reply::xml(StatusCode::OK, render(config.as_deref())))
}

/// PutBucketLogging: a `LoggingEnabled` enables, an empty status disables.
pub async fn put_bucket_logging(s: &Storage, req: &mut S3Request) -> S3Result {
    let body = req.body_bytes().await?;
    let config = parse_status(&parse(&body)?)?;
    s.put_bucket_logging(&req.caller, req.bucket(), config.as_ref())
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::OK))
}

fn render(config: Option<&LoggingConfig>) -> String {
    let mut w = XmlWriter::new("BucketLoggingStatus");
    if let Some(c) = config {
        w.open("LoggingEnabled")
            .elem("TargetBucket", &c.target_bucket)
            .elem("TargetPrefix", &c.target_prefix);
        if !c.target_grants.is_empty() {
            w.open("TargetGrants");
            for g in &c.target_grants {
                w.open("Grant").raw(&format!(
                    "<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"{}\">",
                    g.grantee_type
                ));
                let tag = match g.grantee_type.as_str() {
                    "Group" => "URI",
                    "AmazonCustomerByEmail" => "EmailAddress",
                    _ => "ID",
                };
                w.elem(tag, &g.grantee)
                    .close("Grantee")
                    .elem("Permission", &g.permission)
                    .close("Grant");
            }
            w.close("TargetGrants");
        }
        // The default (simple) form is written out too, as S3 answers.
        match c.key_format {
            None | Some(KeyFormat::Simple) => {
                w.open("TargetObjectKeyFormat")
                    .raw("<SimplePrefix/>")
                    .close("TargetObjectKeyFormat");
            }
            Some(KeyFormat::Partitioned(source)) => {
                let source = match source {
                    PartitionDateSource::EventTime => "EventTime",
                    PartitionDateSource::DeliveryTime => "DeliveryTime",
                };
                w.open("TargetObjectKeyFormat")
                    .open("PartitionedPrefix")
                    .elem("PartitionDateSource", source)
                    .close("PartitionedPrefix")
                    .close("TargetObjectKeyFormat");
            }
        }
        w.close("LoggingEnabled");
    }
    w.finish("BucketLoggingStatus")
}

fn parse_status(doc: &Element) -> Result<Option<LoggingConfig>, S3Error> {
    if doc.name != "BucketLoggingStatus" {
        return Err(S3Error::malformed_xml());
    }
    let Some(enabled) = doc.child("LoggingEnabled") else {
        return Ok(None);
    };
    let target_bucket = enabled
        .child_text("TargetBucket")
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .ok_or_else(S3Error::malformed_xml)?
        .to_owned();
    let target_prefix = enabled.child_text("TargetPrefix").unwrap_or("").to_owned();
    let mut target_grants = Vec::new();
    for g in enabled
        .child("TargetGrants")
        .into_iter()
        .flat_map(|t| t.children_named("Grant"))
    {
        let (grantee_type, value) = match crate::access::grantee_of(g)? {
            Grantee::CanonicalUser { id, .. } => ("CanonicalUser", id),
            Grantee::Group(group) => ("Group", group.uri().to_owned()),
        };
        target_grants.push(TargetGrant {
            grantee_type: grantee_type.to_owned(),
            grantee: value,
            permission: g.child_text("Permission").unwrap_or("").trim().to_owned(),
        });
    }
    let key_format = match enabled.child("TargetObjectKeyFormat") {
        None => None,
        Some(f) => Some(
            match (f.child("SimplePrefix"), f.child("PartitionedPrefix")) {
                (Some(_), None) => KeyFormat::Simple,
                (None, Some(p)) => KeyFormat::Partitioned(
                    match p.child_text("PartitionDateSource").map(str::trim) {
                        None | Some("EventTime") => PartitionDateSource::EventTime,
                        Some("DeliveryTime") => PartitionDateSource::DeliveryTime,
                        Some(_) => return Err(S3Error::malformed_xml()),
                    },
                ),
                _ => return Err(S3Error::malformed_xml()),
            },
        ),
    };
    Ok(Some(LoggingConfig {
        target_bucket,
        target_prefix,
        target_grants,
        key_format,
    }))
}

/// S3's log operation name (`REST.GET.OBJECT`, …) for an operation nomuck
/// answered as `operation` (its AWS API name).
pub(crate) fn log_operation(operation: &str, method: &Method, target: &Target) -> String {
    let named = match operation {
        "GetObject" => "GET.OBJECT",
        "HeadObject" => "HEAD.OBJECT",
        "PutObject" => "PUT.OBJECT",
        "CopyObject" => "COPY.OBJECT",
        "DeleteObject" => "DELETE.OBJECT",
        "PostObject" => "POST.OBJECT",
        "DeleteObjects" => "POST.MULTI_OBJECT_DELETE",
        "ListObjects" | "ListObjectsV2" => "GET.BUCKET",
        "ListObjectVersions" => "GET.BUCKETVERSIONS",
        "HeadBucket" => "HEAD.BUCKET",
        "CreateBucket" => "PUT.BUCKET",
        "DeleteBucket" => "DELETE.BUCKET",
        "GetBucketLocation" => "GET.LOCATION",
        "GetBucketVersioning" => "GET.VERSIONING",
        "PutBucketVersioning" => "PUT.VERSIONING",
        "GetBucketLogging" => "GET.LOGGING_STATUS",
        "PutBucketLogging" => "PUT.LOGGING_STATUS",
        "GetBucketAcl" | "GetObjectAcl" => "GET.ACL",
        "PutBucketAcl" | "PutObjectAcl" => "PUT.ACL",
        "GetBucketPolicy" => "GET.BUCKETPOLICY",
        "PutBucketPolicy" => "PUT.BUCKETPOLICY",
        "DeleteBucketPolicy" => "DELETE.BUCKETPOLICY",
        "GetBucketPolicyStatus" => "GET.POLICY_STATUS",
        "GetBucketTagging" => "GET.TAGGING",
        "PutBucketTagging" => "PUT.TAGGING",
        "DeleteBucketTagging" => "DELETE.TAGGING",
        "GetObjectTagging" => "GET.OBJECT_TAGGING",
        "PutObjectTagging" => "PUT.OBJECT_TAGGING",
        "DeleteObjectTagging" => "DELETE.OBJECT_TAGGING",
        "GetBucketCors" => "GET.CORS",
        "PutBucketCors" => "PUT.CORS",
        "DeleteBucketCors" => "DELETE.CORS",
        "GetBucketWebsite" => "GET.WEBSITE",
        "PutBucketWebsite" => "PUT.WEBSITE",
        "DeleteBucketWebsite" => "DELETE.WEBSITE",
        "GetBucketLifecycleConfiguration" => "GET.LIFECYCLE",
        "PutBucketLifecycleConfiguration" => "PUT.LIFECYCLE",
        "DeleteBucketLifecycle" => "DELETE.LIFECYCLE",
        "GetBucketNotificationConfiguration" => "GET.NOTIFICATION",
        "PutBucketNotificationConfiguration" => "PUT.NOTIFICATION",
        "GetPublicAccessBlock" => "GET.PUBLIC_ACCESS_BLOCK",
        "PutPublicAccessBlock" => "PUT.PUBLIC_ACCESS_BLOCK",
        "DeletePublicAccessBlock" => "DELETE.PUBLIC_ACCESS_BLOCK",
        "GetBucketOwnershipControls" => "GET.OWNERSHIP_CONTROLS",
        "PutBucketOwnershipControls" => "PUT.OWNERSHIP_CONTROLS",
        "DeleteBucketOwnershipControls" => "DELETE.OWNERSHIP_CONTROLS",
        "CreateMultipartUpload" => "POST.UPLOADS",
        "UploadPart" => "PUT.PART",
        "UploadPartCopy" => "COPY.PART",
        "CompleteMultipartUpload" => "POST.UPLOAD",
        "AbortMultipartUpload" => "DELETE.UPLOAD",
        "ListParts" => "GET.UPLOAD",
        "ListMultipartUploads" => "GET.UPLOADS",
        "GetObjectAttributes" => "GET.OBJECT_ATTRIBUTES",
        "PreflightRequest" => "OPTIONS.PREFLIGHT",
        _ => "",
    };
    if !named.is_empty() {
        return format!("REST.{named}");
    }
    let resource = if matches!(target, Target::Object { .. }) {
        "OBJECT"
    } else {
        "BUCKET"
    };
    format!("REST.{}.{resource}", method.as_str())
}

/// What a DeleteObjects did to each key, for the `BATCH.DELETE.OBJECT`
/// record S3 logs per key beside the request's own.
#[derive(Debug, Clone, Default)]
pub(crate) struct BatchDeletes(Vec<BatchDelete>);

#[derive(Debug, Clone)]
struct BatchDelete {
    key: String,
    version_id: Option<String>,
    /// Status and code of a key that failed.
    error: Option<(u16, &'static str)>,
}

impl BatchDeletes {
    pub(crate) fn push(&mut self, key: &str, version_id: Option<&str>, error: Option<&S3Error>) {
        self.0.push(BatchDelete {
            key: key.to_owned(),
            version_id: version_id.map(str::to_owned),
            error: error.map(|e| (e.status.as_u16(), e.code)),
        });
    }
}

/// The TLS fields of a record (cipher suite, TLS version) as the edge's TLS
/// listener recorded them; both `-` for plain HTTP.
fn tls_fields(ctx: &RequestContext) -> (Option<String>, Option<String>) {
    ctx.tls.as_ref().map_or((None, None), |t| {
        (Some(t.cipher_suite.to_owned()), Some(t.version.to_owned()))
    })
}

/// Signature version and authentication type, from how the request was signed.
fn signature_of(req: &S3Request) -> (Option<&'static str>, Option<&'static str>) {
    if req.ctx.principal.is_none() {
        return (None, None);
    }
    if let Some(auth) = req.header("authorization") {
        if auth.starts_with("AWS4-") {
            return (Some("SigV4"), Some("AuthHeader"));
        }
        if auth.starts_with("AWS ") {
            return (Some("SigV2"), Some("AuthHeader"));
        }
    }
    if req.has("X-Amz-Algorithm") {
        return (Some("SigV4"), Some("QueryString"));
    }
    if req.has("Signature") {
        return (Some("SigV2"), Some("QueryString"));
    }
    (None, None)
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Writes `response`'s record: at once for a reply without a body (the
/// caller awaits the returned ack before replying), else when its body is
/// done (by wrapping it).
pub(crate) fn log_response(
    log: &Arc<AccessLog>,
    target: LoggingTarget,
    req: &S3Request,
    operation: &str,
    mut response: Response,
) -> (Response, Option<Ack>) {
    let ctx = &req.ctx;
    let elapsed = ctx.received_at.elapsed();
    let received = now_millis() - i64::try_from(elapsed.as_millis()).unwrap_or(0);
    let status = response.status();
    let key = match &req.target {
        Target::Object { key, .. } => Some(key.clone()),
        _ => None,
    };
    let object_size = match (&key, &req.head.method) {
        (Some(_), &Method::GET | &Method::HEAD) if status.is_success() => {
            header(&response, "content-range")
                .and_then(|r| r.rsplit_once('/').and_then(|(_, t)| t.parse().ok()))
                .or_else(|| header(&response, "content-length").and_then(|l| l.parse().ok()))
        }
        (Some(_), &Method::PUT) => req
            .header("x-amz-decoded-content-length")
            .or_else(|| req.header("content-length"))
            .and_then(|l| l.parse().ok()),
        _ => None,
    };
    let (signature_version, auth_type) = signature_of(req);
    let (cipher_suite, tls_version) = tls_fields(ctx);
    let path_and_query = req
        .head
        .uri
        .path_and_query()
        .map_or_else(|| ctx.path.clone(), |p| p.as_str().to_owned());
    let record = AccessLogRecord {
        bucket_owner: target.source_owner.clone(),
        bucket: req.bucket().to_owned(),
        time: received,
        remote_ip: ctx.remote_addr.ip().to_string(),
        requester: ctx.principal.as_ref().map(|p| p.account_id.clone()),
        request_id: ctx.request_id.clone(),
        operation: log_operation(operation, &req.head.method, &req.target),
        key,
        request_uri: format!(
            "{} {path_and_query} {:?}",
            req.head.method, req.head.version
        ),
        status: status.as_u16(),
        error_code: response
            .extensions()
            .get::<ErrorCode>()
            .map(|c| c.0.to_owned()),
        bytes_sent: 0,
        object_size,
        total_time_ms: 0,
        turn_around_ms: Some(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)),
        referer: req.header("referer").map(str::to_owned),
        user_agent: req.header("user-agent").map(str::to_owned),
        version_id: header(&response, "x-amz-version-id")
            .or_else(|| req.param("versionId").map(str::to_owned)),
        host_id: header(&response, "x-amz-id-2").unwrap_or_default(),
        signature_version,
        cipher_suite,
        auth_type,
        host_header: req.header("host").map(str::to_owned),
        tls_version,
        access_point_arn: None,
        acl_required: false,
    };
    let pending = Pending {
        log: Arc::clone(log),
        target,
        record,
        started: ctx.received_at,
    };
    // Journaled before the request's own record, whose ack therefore
    // covers them too (one writer, in order).
    if let Some(batch) = response.extensions_mut().remove::<BatchDeletes>() {
        for d in batch.0 {
            let (status, code) = d.error.unwrap_or((204, ""));
            let record = AccessLogRecord {
                operation: "BATCH.DELETE.OBJECT".into(),
                key: Some(d.key),
                request_uri: String::new(),
                status,
                error_code: (!code.is_empty()).then(|| code.to_owned()),
                object_size: None,
                version_id: d.version_id,
                ..pending.record.clone()
            };
            drop(pending.log.append(&pending.entry(&record)));
        }
    }
    // hyper never polls a body it knows to be empty (nor a HEAD reply's):
    // journal before the reply leaves.
    if response.body().is_end_stream() || req.head.method == Method::HEAD {
        return (response, pending.submit(0));
    }
    // hyper ends a reply of known length after its last byte without asking
    // the body for its end: the frame reaching the length is the last one.
    let length = header(&response, "content-length")
        .and_then(|l| l.parse().ok())
        .or_else(|| response.body().size_hint().exact());
    let (parts, body) = response.into_parts();
    let body = LoggedBody {
        inner: body,
        sent: 0,
        length,
        pending: Some(pending),
        waiting: None,
    };
    (Response::from_parts(parts, body.boxed_unsync()), None)
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A record waiting for its reply to finish.
struct Pending {
    log: Arc<AccessLog>,
    target: LoggingTarget,
    record: AccessLogRecord,
    started: Instant,
}

impl Pending {
    /// Journals the record with the bytes sent; the receiver completes once
    /// it is durable.
    fn submit(mut self, sent: u64) -> Option<Ack> {
        self.record.bytes_sent = sent;
        self.record.total_time_ms =
            u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.log.append(&self.entry(&self.record))
    }

    /// `record` as journaled for this request's target.
    fn entry(&self, record: &AccessLogRecord) -> LogEntry {
        let config = &self.target.config;
        LogEntry {
            target_bucket: config.target_bucket.clone(),
            target_owner: self.target.source_owner.clone(),
            target_prefix: config.target_prefix.clone(),
            key_format: config.key_format.unwrap_or_default(),
            source_bucket: record.bucket.clone(),
            source_owner: self.target.source_owner.clone(),
            source_region: self.target.source_region.clone(),
            at: record.time,
            line: record.to_line(),
            target_grants: config.target_grants.clone(),
        }
    }
}

/// A reply body that counts what it sends and, at its end, journals the
/// record before letting the last frame (or the end) go.
struct LoggedBody {
    inner: Body,
    sent: u64,
    /// `Content-Length` of the reply, when it has one.
    length: Option<u64>,
    pending: Option<Pending>,
    /// The held last frame (`None`: the end itself) and the journal's ack.
    waiting: Option<(Option<Frame<Bytes>>, Ack)>,
}

impl LoggedBody {
    /// Journals the record and holds `last` until it is durable.
    fn finish(
        &mut self,
        last: Option<Frame<Bytes>>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.pending.take().and_then(|p| p.submit(self.sent)) {
            Some(ack) => {
                self.waiting = Some((last, ack));
                Poll::Pending
            }
            None => Poll::Ready(last.map(Ok)),
        }
    }
}

impl http_body::Body for LoggedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        loop {
            if let Some((_, ack)) = &mut this.waiting {
                // A failed journal write still lets the reply finish.
                let _ = ready!(Pin::new(ack).poll(cx));
                let last = this.waiting.take().and_then(|(frame, _)| frame);
                return Poll::Ready(last.map(Ok));
            }
            if this.pending.is_none() {
                return Pin::new(&mut this.inner).poll_frame(cx);
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        this.sent += data.len() as u64;
                    }
                    let last =
                        this.inner.is_end_stream() || this.length.is_some_and(|n| this.sent >= n);
                    if !last {
                        return Poll::Ready(Some(Ok(frame)));
                    }
                    if let Poll::Ready(done) = this.finish(Some(frame)) {
                        return Poll::Ready(done);
                    }
                }
                Some(Err(e)) => {
                    // The reply breaks off: record what was sent, hold nothing.
                    if let Some(p) = this.pending.take() {
                        drop(p.submit(this.sent));
                    }
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    if let Poll::Ready(done) = this.finish(None) {
                        return Poll::Ready(done);
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_none() && self.waiting.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.waiting {
            Some((Some(frame), _)) => {
                let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                SizeHint::with_exact(n)
            }
            Some((None, _)) => SizeHint::with_exact(0),
            None => self.inner.size_hint(),
        }
    }
}

impl Drop for LoggedBody {
    /// A reply dropped unfinished (client gone, HEAD, a reply hyper sends
    /// without its body) still gets its record, with what was sent.
    fn drop(&mut self) {
        if let Some(p) = self.pending.take() {
            drop(p.submit(self.sent));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_as_s3_logs_them() {
        let object = Target::Object {
            bucket: "b".into(),
            key: "k".into(),
        };
        let bucket = Target::Bucket("b".into());
        assert_eq!(
            log_operation("GetObject", &Method::GET, &object),
            "REST.GET.OBJECT"
        );
        assert_eq!(
            log_operation("ListObjectsV2", &Method::GET, &bucket),
            "REST.GET.BUCKET"
        );
        assert_eq!(
            log_operation("Unknown", &Method::PATCH, &object),
            "REST.PATCH.OBJECT"
        );
        assert_eq!(
            log_operation("Unknown", &Method::GET, &bucket),
            "REST.GET.BUCKET"
        );
    }

    #[test]
    fn logging_status_documents_round_trip() {
        let doc = br#"<BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <LoggingEnabled><TargetBucket>logs</TargetBucket><TargetPrefix>p/</TargetPrefix>
    <TargetGrants><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">
      <URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant></TargetGrants>
    <TargetObjectKeyFormat><PartitionedPrefix><PartitionDateSource>DeliveryTime</PartitionDateSource></PartitionedPrefix></TargetObjectKeyFormat>
  </LoggingEnabled></BucketLoggingStatus>"#;
        let config = parse_status(&parse(doc).unwrap()).unwrap().unwrap();
        assert_eq!(
            config.key_format,
            Some(KeyFormat::Partitioned(PartitionDateSource::DeliveryTime))
        );
        let simple = br#"<BucketLoggingStatus><LoggingEnabled><TargetBucket>l</TargetBucket>
  <TargetPrefix/><TargetObjectKeyFormat><SimplePrefix/></TargetObjectKeyFormat>
  </LoggingEnabled></BucketLoggingStatus>"#;
        let simple = parse_status(&parse(simple).unwrap()).unwrap().unwrap();
        assert_eq!(simple.key_format, Some(KeyFormat::Simple));
        assert!(render(Some(&simple)).contains("<TargetObjectKeyFormat><SimplePrefix/>"));
        let unset = LoggingConfig {
            key_format: None,
            ..simple
        };
        assert!(render(Some(&unset)).contains("<TargetObjectKeyFormat><SimplePrefix/>"));
        assert_eq!(config.target_grants[0].grantee_type, "Group");
        let again = parse_status(&parse(render(Some(&config)).as_bytes()).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(again, config);
        let off = parse(b"<BucketLoggingStatus/>").unwrap();
        assert_eq!(parse_status(&off).unwrap(), None);
        assert!(render(None).contains("<BucketLoggingStatus"));
        let both = br#"<BucketLoggingStatus><LoggingEnabled><TargetBucket>l</TargetBucket>
  <TargetObjectKeyFormat><SimplePrefix/><PartitionedPrefix/></TargetObjectKeyFormat>
  </LoggingEnabled></BucketLoggingStatus>"#;
        assert!(parse_status(&parse(both).unwrap()).is_err());
    }
}
