//! The S3 REST API: turns S3 requests into storage operations and renders replies and
//! errors as S3 clients expect them. Only this crate knows S3's wire shapes.

pub mod access;
mod addressing;
mod buckets;
mod cors;
pub mod error;
pub mod form;
pub mod headers;
pub mod lifecycle;
mod lock;
mod logging;
mod multipart;
pub mod notification;
mod objects;
mod post;
mod reply;
mod sse;
mod website;
pub mod xml;

use std::sync::Arc;

use http::{Method, StatusCode};
use nomuck_http::{
    AuthError, Operation, Rejection, Request, RequestContext, Response, ServiceApi, UriEncoding,
};
use nomuck_storage::{Caller, Storage, StorageError};

use crate::addressing::{Target, parse_target};
use crate::error::S3Error;

/// Largest body of a request that carries an XML document (DeleteObjects with 1,000
/// keys, CompleteMultipartUpload with 10,000 parts).
const MAX_XML_BODY: u64 = 16 << 20;

#[derive(Debug, Clone)]
pub struct S3Config {
    /// Host suffixes for virtual-hosted-style addressing (`BUCKET.<domain>`).
    pub domains: Vec<String>,
    /// Host suffixes of static website endpoints (`BUCKET.<domain>`).
    pub website_domains: Vec<String>,
}

/// Where buckets are served as websites unless configured otherwise.
pub const DEFAULT_WEBSITE_DOMAIN: &str = "s3-website.localhost";

impl Default for S3Config {
    fn default() -> Self {
        Self {
            domains: vec!["localhost".into()],
            website_domains: vec![DEFAULT_WEBSITE_DOMAIN.into()],
        }
    }
}

pub struct S3Api {
    storage: Arc<Storage>,
    config: S3Config,
    /// Verifies browser POST upload signatures; without it signed forms are refused.
    forms: Option<Arc<dyn nomuck_http::FormAuthenticator>>,
    /// Journals access log records of buckets with logging enabled; without
    /// it no request is logged.
    access_log: Option<Arc<nomuck_storage::access_log::AccessLog>>,
}

impl S3Api {
    pub fn new(storage: Arc<Storage>, config: S3Config) -> Self {
        Self {
            storage,
            config,
            forms: None,
            access_log: None,
        }
    }

    pub fn with_access_log(mut self, log: Arc<nomuck_storage::access_log::AccessLog>) -> Self {
        self.access_log = Some(log);
        self
    }

    pub fn with_form_authenticator(
        mut self,
        forms: Arc<dyn nomuck_http::FormAuthenticator>,
    ) -> Self {
        self.forms = Some(forms);
        self
    }
}

/// One parsed request, shared by the handlers.
pub(crate) struct S3Request {
    pub ctx: RequestContext,
    pub caller: Caller,
    pub target: Target,
    pub head: http::request::Parts,
    pub body: nomuck_http::Body,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
}

impl S3Request {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        headers::text(&self.head.headers, name)
    }

    pub fn bucket(&self) -> &str {
        self.target.bucket().unwrap_or("")
    }

    pub fn key(&self) -> &str {
        match &self.target {
            Target::Object { key, .. } => key,
            _ => "",
        }
    }

    /// Read an XML request document, checked against the digest sent with it.
    pub async fn body_bytes(&mut self) -> Result<bytes::Bytes, S3Error> {
        self.document(true).await
    }

    /// The document of a CompleteMultipartUpload: its `x-amz-checksum-*` header
    /// is the whole object's checksum, not the document's; `Content-MD5` still
    /// covers the document.
    pub async fn completion_document(&mut self) -> Result<bytes::Bytes, S3Error> {
        self.document(false).await
    }

    async fn document(&mut self, checksum_covers_body: bool) -> Result<bytes::Bytes, S3Error> {
        let body = std::mem::replace(&mut self.body, nomuck_http::empty_body());
        let bytes = nomuck_http::collect_limited(body, MAX_XML_BODY)
            .await
            .map_err(rejection_error)?;
        headers::verify_body_digest(&self.head.headers, &bytes, checksum_covers_body)?;
        Ok(bytes)
    }
}

/// The outcome of a handler: a reply, or an error to render.
pub(crate) type S3Result = Result<Response, S3Error>;

#[async_trait::async_trait]
impl ServiceApi for S3Api {
    fn scope_names(&self) -> &'static [&'static str] {
        &["s3"]
    }

    fn uri_encoding(&self) -> UriEncoding {
        UriEncoding::S3
    }

    fn sigv2_resource(&self, head: &http::request::Parts) -> Option<String> {
        Some(addressing::sigv2_resource(head, &self.config.domains))
    }

    fn body_limit(&self, head: &http::request::Parts) -> u64 {
        // Object data may be as large as a single PUT allows; everything else is a
        // small XML document.
        match head.method {
            Method::PUT => self.storage.options().max_object_size,
            // A browser upload form: its fields, then the object.
            Method::POST
                if headers::text(&head.headers, "content-type")
                    .is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/form-data")) =>
            {
                self.storage.options().max_object_size + (1 << 20)
            }
            _ => MAX_XML_BODY,
        }
    }

    async fn handle(&self, ctx: RequestContext, request: Request) -> Response {
        let (head, body) = request.into_parts();
        let is_head = head.method == Method::HEAD;
        let host = head
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| head.uri.authority().map(|a| a.to_string()));
        // A website endpoint (`BUCKET.<website domain>`) serves pages, not the API.
        let website_bucket = host
            .as_deref()
            .and_then(|h| addressing::bucket_from_host(h, &self.config.website_domains));
        if let Some(bucket) = website_bucket {
            let caller = match &ctx.principal {
                Some(p) => Caller::account(p.account_id.clone(), ctx.request_id.clone()),
                None => Caller::anonymous(ctx.request_id.clone()),
            }
            .with_facts(request_facts(&ctx, &head, &[]));
            let path = head.uri.path().to_owned();
            let host = host.clone().unwrap_or_default();
            let mut req = S3Request {
                ctx,
                caller,
                target: addressing::Target::Bucket(bucket.clone()),
                head,
                body,
                query: Vec::new(),
            };
            let response = website::serve(&self.storage, &mut req, &bucket, &path, &host).await;
            return reply::finish(&req.ctx, response);
        }
        let target = match parse_target(host.as_deref(), head.uri.path(), &self.config.domains) {
            Ok(target) => target,
            Err(err) => {
                let resource = decoded_path(&ctx);
                return reply::error(&ctx, &resource, err, is_head, "Unknown");
            }
        };
        let query: Vec<(String, String)> = head
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let caller = match &ctx.principal {
            Some(p) => Caller::account(p.account_id.clone(), ctx.request_id.clone()),
            None => Caller::anonymous(ctx.request_id.clone()),
        }
        .expecting_bucket_owner(
            headers::text(&head.headers, "x-amz-expected-bucket-owner").map(str::to_owned),
        )
        .with_facts(request_facts(&ctx, &head, &query));
        let mut req = S3Request {
            ctx,
            caller,
            target,
            head,
            body,
            query,
        };
        let (operation, result) = self.dispatch(&mut req).await;
        let mut response = match result {
            Ok(mut response) => {
                response.extensions_mut().insert(Operation(operation));
                reply::finish(&req.ctx, response)
            }
            // Built only for an error: its `format!` is measurable on every small GET.
            Err(err) => reply::error(&req.ctx, &req.target.resource(), err, is_head, operation),
        };
        // Browsers read the reply of a cross-origin request only with these.
        if let (Some(origin), Some(bucket)) = (req.header("origin"), req.target.bucket())
            && req.head.method != Method::OPTIONS
        {
            // Matched by Access-Control-Request-Method when sent, as S3 does.
            let method = req
                .header("access-control-request-method")
                .unwrap_or(req.head.method.as_str());
            cors::decorate(&self.storage, bucket, origin, method, &mut response).await;
        }
        if let Some(log) = &self.access_log
            && let Some(bucket) = req.target.bucket()
            && let Some(target) = self.storage.logging_of(bucket).await
        {
            let (logged, ack) = logging::log_response(log, target, &req, operation, response);
            if let Some(ack) = ack {
                // A failed journal write must not keep the reply back.
                let _ = ack.await;
            }
            response = logged;
        }
        response
    }

    fn reject(&self, ctx: &RequestContext, rejection: Rejection) -> Response {
        let resource = decoded_path(ctx);
        reply::error(ctx, &resource, rejection_error(rejection), false, "Unknown")
    }
}

/// The `<Resource>` of an error raised before the bucket and key were parsed:
/// the request's path, decoded as S3 shows it.
fn decoded_path(ctx: &RequestContext) -> String {
    percent_encoding::percent_decode_str(&ctx.path)
        .decode_utf8_lossy()
        .into_owned()
}

impl S3Api {
    /// Bucket access-control subresources; `None` if the request is none of them.
    async fn bucket_access_op(
        &self,
        req: &mut S3Request,
        method: &Method,
    ) -> Option<(&'static str, S3Result)> {
        let s = &self.storage;
        macro_rules! op {
            ($name:literal, $call:expr) => {
                Some(match headers::refused($name, &req.head.headers) {
                    Some(err) => ($name, Err(err)),
                    None => ($name, $call.await),
                })
            };
        }
        match *method {
            Method::GET if req.has("tagging") => {
                op!("GetBucketTagging", buckets::get_bucket_tagging(s, req))
            }
            Method::PUT if req.has("tagging") => {
                op!("PutBucketTagging", buckets::put_bucket_tagging(s, req))
            }
            Method::DELETE if req.has("tagging") => {
                op!(
                    "DeleteBucketTagging",
                    buckets::delete_bucket_tagging(s, req)
                )
            }
            Method::GET if req.has("website") => {
                op!("GetBucketWebsite", website::get_bucket_website(s, req))
            }
            Method::PUT if req.has("website") => {
                op!("PutBucketWebsite", website::put_bucket_website(s, req))
            }
            Method::DELETE if req.has("website") => {
                op!(
                    "DeleteBucketWebsite",
                    website::delete_bucket_website(s, req)
                )
            }
            Method::GET if req.has("encryption") => {
                op!("GetBucketEncryption", sse::get_bucket_encryption(s, req))
            }
            Method::PUT if req.has("encryption") => {
                op!("PutBucketEncryption", sse::put_bucket_encryption(s, req))
            }
            Method::DELETE if req.has("encryption") => op!(
                "DeleteBucketEncryption",
                sse::delete_bucket_encryption(s, req)
            ),
            Method::GET if req.has("lifecycle") => op!(
                "GetBucketLifecycleConfiguration",
                lifecycle::get_bucket_lifecycle(s, req)
            ),
            Method::PUT if req.has("lifecycle") => op!(
                "PutBucketLifecycleConfiguration",
                lifecycle::put_bucket_lifecycle(s, req)
            ),
            Method::DELETE if req.has("lifecycle") => op!(
                "DeleteBucketLifecycle",
                lifecycle::delete_bucket_lifecycle(s, req)
            ),
            Method::GET if req.has("object-lock") => op!(
                "GetObjectLockConfiguration",
                lock::get_object_lock_configuration(s, req)
            ),
            Method::PUT if req.has("object-lock") => op!(
                "PutObjectLockConfiguration",
                lock::put_object_lock_configuration(s, req)
            ),
            Method::GET if req.has("notification") => op!(
                "GetBucketNotificationConfiguration",
                notification::get_bucket_notification(s, req)
            ),
            Method::PUT if req.has("notification") => op!(
                "PutBucketNotificationConfiguration",
                notification::put_bucket_notification(s, req)
            ),
            Method::GET if req.has("logging") => {
                op!("GetBucketLogging", logging::get_bucket_logging(s, req))
            }
            Method::PUT if req.has("logging") => {
                op!("PutBucketLogging", logging::put_bucket_logging(s, req))
            }
            Method::GET if req.has("cors") => op!("GetBucketCors", cors::get_bucket_cors(s, req)),
            Method::PUT if req.has("cors") => op!("PutBucketCors", cors::put_bucket_cors(s, req)),
            Method::DELETE if req.has("cors") => {
                op!("DeleteBucketCors", cors::delete_bucket_cors(s, req))
            }
            Method::GET if req.has("policy") => {
                op!("GetBucketPolicy", access::get_bucket_policy(s, req))
            }
            Method::PUT if req.has("policy") => {
                op!("PutBucketPolicy", access::put_bucket_policy(s, req))
            }
            Method::DELETE if req.has("policy") => {
                op!("DeleteBucketPolicy", access::delete_bucket_policy(s, req))
            }
            Method::GET if req.has("policyStatus") => {
                op!("GetBucketPolicyStatus", access::get_policy_status(s, req))
            }
            Method::GET if req.has("acl") => op!("GetBucketAcl", access::get_bucket_acl(s, req)),
            Method::PUT if req.has("acl") => op!("PutBucketAcl", access::put_bucket_acl(s, req)),
            Method::GET if req.has("publicAccessBlock") => {
                op!(
                    "GetPublicAccessBlock",
                    access::get_public_access_block(s, req)
                )
            }
            Method::PUT if req.has("publicAccessBlock") => {
                op!(
                    "PutPublicAccessBlock",
                    access::put_public_access_block(s, req)
                )
            }
            Method::DELETE if req.has("publicAccessBlock") => {
                op!(
                    "DeletePublicAccessBlock",
                    access::delete_public_access_block(s, req)
                )
            }
            Method::GET if req.has("ownershipControls") => {
                op!(
                    "GetBucketOwnershipControls",
                    access::get_ownership_controls(s, req)
                )
            }
            Method::PUT if req.has("ownershipControls") => {
                op!(
                    "PutBucketOwnershipControls",
                    access::put_ownership_controls(s, req)
                )
            }
            Method::DELETE if req.has("ownershipControls") => {
                op!(
                    "DeleteBucketOwnershipControls",
                    access::delete_ownership_controls(s, req)
                )
            }
            _ => None,
        }
    }

    async fn dispatch(&self, req: &mut S3Request) -> (&'static str, S3Result) {
        let s = &self.storage;
        let method = req.head.method.clone();
        // Every operation first refuses headers asking for what is not built.
        macro_rules! op {
            ($name:literal, $call:expr) => {
                match headers::refused($name, &req.head.headers) {
                    Some(err) => ($name, Err(err)),
                    None => ($name, $call.await),
                }
            };
        }
        match (&req.target, method) {
            (Target::Bucket(_) | Target::Object { .. }, Method::OPTIONS) => {
                op!("PreflightRequest", cors::preflight(s, req))
            }
            (Target::Service, Method::GET) => op!("ListBuckets", buckets::list_buckets(s, req)),
            (Target::Service, _) => ("Unknown", Err(S3Error::method_not_allowed())),
            (Target::Bucket(_), method) => {
                if let Some(sub) = unsupported_subresource(req) {
                    return ("Unknown", Err(not_implemented(sub)));
                }
                if let Some(routed) = self.bucket_access_op(req, &method).await {
                    return routed;
                }
                match method {
                    Method::PUT if req.has("versioning") => {
                        op!(
                            "PutBucketVersioning",
                            buckets::put_bucket_versioning(s, req)
                        )
                    }
                    Method::PUT => op!("CreateBucket", buckets::create_bucket(s, req)),
                    Method::DELETE => op!("DeleteBucket", buckets::delete_bucket(s, req)),
                    Method::HEAD => op!("HeadBucket", buckets::head_bucket(s, req)),
                    Method::POST if req.has("delete") => {
                        op!("DeleteObjects", objects::delete_objects(s, req))
                    }
                    Method::POST if req.query.is_empty() => op!(
                        "PostObject",
                        post::post_object(s, self.forms.as_deref(), req)
                    ),
                    Method::GET if req.has("location") => {
                        op!("GetBucketLocation", buckets::get_bucket_location(s, req))
                    }
                    Method::GET if req.has("versioning") => {
                        op!(
                            "GetBucketVersioning",
                            buckets::get_bucket_versioning(s, req)
                        )
                    }
                    Method::GET if req.has("uploads") => {
                        op!("ListMultipartUploads", multipart::list_uploads(s, req))
                    }
                    Method::GET if req.has("versions") => {
                        op!("ListObjectVersions", buckets::list_object_versions(s, req))
                    }
                    Method::GET if req.param("list-type") == Some("2") => {
                        op!("ListObjectsV2", buckets::list_objects(s, req, true))
                    }
                    Method::GET => op!("ListObjects", buckets::list_objects(s, req, false)),
                    _ => ("Unknown", Err(S3Error::method_not_allowed())),
                }
            }
            (Target::Object { .. }, method) => {
                if let Some(sub) = unsupported_subresource(req) {
                    return ("Unknown", Err(not_implemented(sub)));
                }
                let copy = req.head.headers.contains_key("x-amz-copy-source");
                match method {
                    Method::GET if req.has("acl") => {
                        op!("GetObjectAcl", objects::get_object_acl(s, req))
                    }
                    Method::PUT if req.has("acl") => {
                        op!("PutObjectAcl", objects::put_object_acl(s, req))
                    }
                    Method::PUT if req.has("uploadId") && copy => {
                        op!("UploadPartCopy", multipart::upload_part_copy(s, req))
                    }
                    Method::PUT if req.has("uploadId") => {
                        op!("UploadPart", multipart::upload_part(s, req))
                    }
                    Method::PUT if req.has("tagging") => {
                        op!("PutObjectTagging", objects::put_tagging(s, req))
                    }
                    Method::PUT if req.has("retention") => {
                        op!("PutObjectRetention", lock::put_object_retention(s, req))
                    }
                    Method::PUT if req.has("legal-hold") => {
                        op!("PutObjectLegalHold", lock::put_object_legal_hold(s, req))
                    }
                    Method::GET if req.has("retention") => {
                        op!("GetObjectRetention", lock::get_object_retention(s, req))
                    }
                    Method::GET if req.has("legal-hold") => {
                        op!("GetObjectLegalHold", lock::get_object_legal_hold(s, req))
                    }
                    Method::PUT if copy => op!("CopyObject", objects::copy_object(s, req)),
                    Method::PUT => op!("PutObject", objects::put_object(s, req)),
                    Method::GET if req.has("uploadId") => {
                        op!("ListParts", multipart::list_parts(s, req))
                    }
                    Method::GET if req.has("tagging") => {
                        op!("GetObjectTagging", objects::get_tagging(s, req))
                    }
                    Method::GET if req.has("attributes") => {
                        op!("GetObjectAttributes", objects::get_attributes(s, req))
                    }
                    Method::GET => op!("GetObject", objects::get_object(s, req, false)),
                    Method::HEAD => op!("HeadObject", objects::get_object(s, req, true)),
                    Method::DELETE if req.has("uploadId") => {
                        op!("AbortMultipartUpload", multipart::abort(s, req))
                    }
                    Method::DELETE if req.has("tagging") => {
                        op!("DeleteObjectTagging", objects::delete_tagging(s, req))
                    }
                    Method::DELETE => op!("DeleteObject", objects::delete_object(s, req)),
                    Method::POST if req.has("uploads") => {
                        op!("CreateMultipartUpload", multipart::create(s, req))
                    }
                    Method::POST if req.has("uploadId") => {
                        op!("CompleteMultipartUpload", multipart::complete(s, req))
                    }
                    _ => ("Unknown", Err(S3Error::method_not_allowed())),
                }
            }
        }
    }
}

/// Bucket and object features of the access-control and bucket-features work that are
/// not built yet. Answering `NotImplemented` is what S3-compatible servers do for
/// features they lack, and it keeps such a request from being mistaken for another
/// operation (a `PUT ?policy` must never create a bucket).
fn unsupported_subresource(req: &S3Request) -> Option<&'static str> {
    const SUBRESOURCES: &[&str] = &[
        "replication",
        "requestPayment",
        "accelerate",
        "analytics",
        "inventory",
        "metrics",
        "intelligent-tiering",
        "restore",
        "select",
        "torrent",
        "renameObject",
        "session",
        "metadataTable",
        "metadataConfiguration",
    ];
    // Bucket subresources that are built, but only for these methods: any
    // other use must not fall through to an object or bucket operation.
    const BUCKET_ONLY: &[(&str, &[Method])] = &[
        ("versioning", &[Method::GET, Method::PUT]),
        ("lifecycle", &[Method::GET, Method::PUT, Method::DELETE]),
        ("encryption", &[Method::GET, Method::PUT, Method::DELETE]),
        ("notification", &[Method::GET, Method::PUT]),
        ("object-lock", &[Method::GET, Method::PUT]),
        ("logging", &[Method::GET, Method::PUT]),
    ];
    // Object subresources likewise: on a bucket, `PUT ?retention` must not
    // create one.
    const OBJECT_ONLY: &[(&str, &[Method])] = &[
        ("retention", &[Method::GET, Method::PUT]),
        ("legal-hold", &[Method::GET, Method::PUT]),
    ];
    let on_object = matches!(req.target, Target::Object { .. });
    if let Some((name, _)) = BUCKET_ONLY
        .iter()
        .find(|(name, methods)| req.has(name) && (on_object || !methods.contains(&req.head.method)))
    {
        return Some(name);
    }
    if let Some((name, _)) = OBJECT_ONLY.iter().find(|(name, methods)| {
        req.has(name) && (!on_object || !methods.contains(&req.head.method))
    }) {
        return Some(name);
    }
    SUBRESOURCES.iter().copied().find(|s| req.has(s))
}

fn not_implemented(subresource: &str) -> S3Error {
    S3Error::not_implemented().with_message(format!(
        "The ?{subresource} subresource is not implemented by this server yet"
    ))
}

/// An edge refusal in S3's terms.
pub(crate) fn rejection_error(rejection: Rejection) -> S3Error {
    match rejection {
        Rejection::Auth(auth) => auth_error(&auth),
        Rejection::BodyTooLarge { limit } => {
            S3Error::entity_too_large().with("MaxSizeAllowed", limit.to_string())
        }
        Rejection::BadRequest(why) => S3Error::incomplete_body().with_message(why),
        Rejection::Internal(why) => S3Error::internal_error().with_message(why),
    }
}

fn auth_error(auth: &AuthError) -> S3Error {
    use AuthError as A;
    match auth {
        A::UnknownAccessKey => S3Error::invalid_access_key_id(),
        A::SignatureMismatch {
            string_to_sign,
            canonical_request,
        } => S3Error::signature_does_not_match()
            .with("StringToSign", string_to_sign.clone())
            .with("CanonicalRequest", canonical_request.clone()),
        A::RequestTimeTooSkewed {
            request_time,
            server_time,
        } => S3Error::request_time_too_skewed()
            .with("RequestTime", request_time.to_string())
            .with("ServerTime", server_time.to_string())
            .with("MaxAllowedSkewMilliseconds", "900000"),
        A::PresignExpired => S3Error::access_denied().with_message("Request has expired"),
        A::PresignNotYetValid { .. } => S3Error::access_denied().with_message("Request is not valid yet"),
        A::ExpiresOutOfRange => S3Error::new(
            StatusCode::FORBIDDEN,
            "AuthorizationQueryParametersError",
            "X-Amz-Expires must be between 1 and 604800 seconds (one week)",
        ),
        A::WrongRegion { region, expected, presigned } => {
            let (code, message) = if *presigned {
                ("AuthorizationQueryParametersError", "Error parsing the X-Amz-Credential parameter")
            } else {
                ("AuthorizationHeaderMalformed", "The authorization header is malformed")
            };
            S3Error::new(StatusCode::BAD_REQUEST, code, format!("{message}; the region '{region}' is wrong; expecting '{expected}'"))
                .with("Region", expected.clone())
        }
        A::MalformedQuery(why) => S3Error::new(StatusCode::BAD_REQUEST, "AuthorizationQueryParametersError", why.clone()),
        A::MalformedAuthorization(why) | A::InvalidScope(why) => {
            S3Error::new(StatusCode::BAD_REQUEST, "AuthorizationHeaderMalformed", why.clone())
        }
        A::UnsupportedAlgorithm(alg) => S3Error::invalid_argument()
            .with_message(format!("Unsupported Authorization Type {alg}")),
        A::ContentSha256Mismatch { declared, computed } => S3Error::x_amz_content_sha256_mismatch()
            .with("ClientComputedContentSHA256", declared.clone())
            .with("S3ComputedContentSHA256", computed.clone()),
        A::InvalidContentSha256(why) => S3Error::invalid_argument().with_message(why.clone()),
        A::ChunkSignatureMismatch | A::TrailerSignatureMismatch => S3Error::signature_does_not_match(),
        A::MalformedChunk(why) => S3Error::incomplete_body().with_message(why.clone()),
        A::IncompleteBody => S3Error::incomplete_body(),
        A::InvalidChunkSize { .. } => S3Error::new(StatusCode::FORBIDDEN, "InvalidChunkSizeError", auth.to_string()),
        A::ChunkTooLarge { .. } => S3Error::invalid_request().with_message(auth.to_string()),
        A::MalformedTrailer(why) => S3Error::new(StatusCode::BAD_REQUEST, "MalformedTrailerError", why.clone()),
        A::TrailerChecksumMismatch { algorithm } => S3Error::bad_digest()
            .with_message(format!("The {} you specified did not match the calculated checksum.", algorithm.name())),
        A::MissingTrailer => S3Error::incomplete_body().with_message(auth.to_string()),
        A::MissingDecodedLength => S3Error::missing_content_length(),
        A::DecodedLengthMismatch { .. } => S3Error::incomplete_body().with_message(auth.to_string()),
        A::HeadersNotSigned(h) => S3Error::access_denied()
            .with_message(format!("There were headers present in the request which were not signed: {h}")),
        // Only path-routed APIs accept access tokens; S3 never sees one, but says so.
        A::InvalidAccessToken(_) | A::AccessTokenExpired | A::AccessTokenRevoked => {
            S3Error::access_denied().with_message(auth.to_string())
        }
        A::InvalidDate(why) => S3Error::access_denied()
            .with_message(format!("AWS authentication requires a valid Date or x-amz-date header: {why}")),
        A::ConflictingAuth => S3Error::invalid_argument()
            .with_message("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"),
        other => S3Error::access_denied().with_message(other.to_string()),
    }
}

/// What bucket policy conditions can test about a request.
fn request_facts(
    ctx: &RequestContext,
    head: &http::request::Parts,
    query: &[(String, String)],
) -> nomuck_storage::RequestFacts {
    use nomuck_policy::keys;
    const FROM_QUERY: &[(&str, &str)] = &[
        ("prefix", keys::PREFIX),
        ("delimiter", keys::DELIMITER),
        ("max-keys", keys::MAX_KEYS),
        ("versionId", keys::VERSION_ID),
    ];
    const FROM_HEADERS: &[(&str, &str)] = &[
        ("user-agent", keys::USER_AGENT),
        ("referer", keys::REFERER),
        ("x-amz-acl", keys::X_AMZ_ACL),
        ("x-amz-content-sha256", keys::X_AMZ_CONTENT_SHA256),
        (
            "x-amz-server-side-encryption",
            keys::X_AMZ_SERVER_SIDE_ENCRYPTION,
        ),
        (
            "x-amz-server-side-encryption-aws-kms-key-id",
            keys::X_AMZ_SERVER_SIDE_ENCRYPTION_KMS_KEY_ID,
        ),
        (
            "x-amz-server-side-encryption-customer-algorithm",
            keys::X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_ALGORITHM,
        ),
        ("x-amz-metadata-directive", keys::X_AMZ_METADATA_DIRECTIVE),
        ("x-amz-storage-class", keys::X_AMZ_STORAGE_CLASS),
        ("x-amz-grant-read", keys::X_AMZ_GRANT_READ),
        ("x-amz-grant-write", keys::X_AMZ_GRANT_WRITE),
        ("x-amz-grant-read-acp", keys::X_AMZ_GRANT_READ_ACP),
        ("x-amz-grant-write-acp", keys::X_AMZ_GRANT_WRITE_ACP),
        ("x-amz-grant-full-control", keys::X_AMZ_GRANT_FULL_CONTROL),
        ("x-amz-object-lock-mode", keys::OBJECT_LOCK_MODE),
        (
            "x-amz-object-lock-retain-until-date",
            keys::OBJECT_LOCK_RETAIN_UNTIL_DATE,
        ),
        ("x-amz-object-lock-legal-hold", keys::OBJECT_LOCK_LEGAL_HOLD),
    ];
    let mut found: Vec<(&'static str, String)> = Vec::new();
    for (param, key) in FROM_QUERY {
        if let Some((_, v)) = query.iter().find(|(k, _)| k == param) {
            found.push((key, v.clone()));
        }
    }
    // One pass over the request's few headers rather than a lookup per key.
    for (name, value) in &head.headers {
        let name = name.as_str();
        let Some((_, key)) = FROM_HEADERS.iter().find(|(h, _)| *h == name) else {
            if name == "x-amz-copy-source"
                && let Ok(source) = value.to_str()
            {
                // `bucket/key` as the policy author writes it: decoded, no leading `/`.
                let path = source.split_once("?versionId=").map_or(source, |(p, _)| p);
                let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
                found.push((
                    keys::X_AMZ_COPY_SOURCE,
                    decoded.trim_start_matches('/').to_owned(),
                ));
            }
            continue;
        };
        // The first value of a repeated header, as a lookup would give.
        if let Ok(v) = value.to_str()
            && !found.iter().any(|(k, _)| k == key)
        {
            found.push((key, v.to_owned()));
        }
    }
    if let Some(days) = found
        .iter()
        .find(|(k, _)| *k == keys::OBJECT_LOCK_RETAIN_UNTIL_DATE)
        .and_then(|(_, date)| lock::remaining_days(date))
    {
        found.push((keys::OBJECT_LOCK_REMAINING_RETENTION_DAYS, days.to_string()));
    }
    nomuck_storage::RequestFacts {
        source_ip: Some(ctx.remote_addr.ip()),
        secure_transport: ctx.secure(),
        keys: found,
        tags: Vec::new(),
        request_tags: headers::tagging_header(&head.headers),
    }
}

/// The 404 for a bucket configuration that was never set, by kind.
fn no_such_config(kind: &str) -> S3Error {
    use nomuck_storage::access::kinds;
    let (code, message) = match kind {
        kinds::POLICY => ("NoSuchBucketPolicy", "The bucket policy does not exist"),
        kinds::PUBLIC_ACCESS_BLOCK => (
            "NoSuchPublicAccessBlockConfiguration",
            "The public access block configuration was not found",
        ),
        kinds::OWNERSHIP => (
            "OwnershipControlsNotFoundError",
            "The bucket ownership controls were not found",
        ),
        kinds::LIFECYCLE => (
            "NoSuchLifecycleConfiguration",
            "The lifecycle configuration does not exist",
        ),
        kinds::OBJECT_LOCK => (
            "ObjectLockConfigurationNotFoundError",
            "Object Lock configuration does not exist for this bucket",
        ),
        kinds::OBJECT_RETENTION => (
            "NoSuchObjectLockConfiguration",
            "The specified object does not have a ObjectLock configuration",
        ),
        kinds::ENCRYPTION => (
            "ServerSideEncryptionConfigurationNotFoundError",
            "The server side encryption configuration was not found",
        ),
        _ => ("NoSuchConfiguration", "The configuration does not exist"),
    };
    S3Error::new(StatusCode::NOT_FOUND, code, message)
}

/// A storage failure in S3's terms.
pub(crate) fn storage_error(err: StorageError) -> S3Error {
    use StorageError as E;
    match err {
        E::MalformedPolicy(why) => S3Error::new(StatusCode::BAD_REQUEST, "MalformedPolicy", why),
        E::NoSuchConfig(kind) => no_such_config(kind),
        E::Unsupported(why) => S3Error::not_implemented().with_message(why),
        // As S3 reports KMS refusals (message from the KMS: it names the key only).
        E::Kms { code, message } => S3Error::new(StatusCode::BAD_REQUEST, code, message),
        E::AclNotSupported => S3Error::new(
            StatusCode::BAD_REQUEST,
            "AccessControlListNotSupported",
            "The bucket does not allow ACLs",
        ),
        E::InvalidBucketAclWithObjectOwnership => S3Error::new(
            StatusCode::BAD_REQUEST,
            "InvalidBucketAclWithObjectOwnership",
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
        ),
        E::InvalidBucketName { reason, .. } => S3Error::invalid_bucket_name()
            .with_message(format!("The specified bucket is not valid: {reason}")),
        E::InvalidKey(why) => {
            if why.contains("1024") || why.contains("long") {
                S3Error::key_too_long()
            } else {
                S3Error::invalid_argument().with_message(why)
            }
        }
        E::NoSuchBucket(b) => S3Error::no_such_bucket().with("BucketName", b),
        E::BucketAlreadyExists(b) => S3Error::bucket_already_exists().with("BucketName", b),
        E::BucketAlreadyOwnedByYou(b) => {
            S3Error::bucket_already_owned_by_you().with("BucketName", b)
        }
        E::BucketNotEmpty(b) => S3Error::bucket_not_empty().with("BucketName", b),
        E::AccessDenied => S3Error::access_denied(),
        E::NoSuchKey { .. } => S3Error::no_such_key(),
        E::NoSuchVersion => S3Error::new(
            StatusCode::NOT_FOUND,
            "NoSuchVersion",
            "The specified version does not exist.",
        ),
        E::VersionIsDeleteMarker { version_id } => S3Error::method_not_allowed()
            .with_header("x-amz-delete-marker", "true")
            .with_header("x-amz-version-id", version_id),
        E::NoSuchUpload(u) => S3Error::no_such_upload().with("UploadId", u),
        E::InvalidRange { size } => {
            S3Error::invalid_range().with("ActualObjectSize", size.to_string())
        }
        // Public sources disagree (416 InvalidPartNumber is also seen); the
        // conformance suite, not marked as failing on AWS, expects this.
        E::InvalidPartNumber { parts_count } => S3Error::new(
            StatusCode::BAD_REQUEST,
            "InvalidPart",
            "The requested partnumber is not satisfiable",
        )
        .with("PartsCount", parts_count.to_string()),
        E::PreconditionFailed => S3Error::precondition_failed(),
        E::NotModified { .. } => S3Error::not_modified(),
        E::InvalidDigest => S3Error::invalid_digest(),
        E::BadDigest => S3Error::bad_digest(),
        // A checksum that is not even well-formed cannot match the body either.
        E::InvalidChecksum(why) => S3Error::bad_digest().with_message(why),
        E::ChecksumMismatch { algorithm } => S3Error::bad_digest().with_message(format!(
            "The {} you specified did not match the calculated checksum.",
            algorithm.name()
        )),
        E::IncompleteBody { .. } => S3Error::incomplete_body(),
        E::EntityTooSmall { .. } => S3Error::entity_too_small(),
        E::EntityTooLarge { max } => {
            S3Error::entity_too_large().with("MaxSizeAllowed", max.to_string())
        }
        E::InvalidPart {
            part_number,
            reason,
        } => S3Error::invalid_part()
            .with("PartNumber", part_number.to_string())
            .with("Reason", reason),
        E::InvalidPartOrder => S3Error::invalid_part_order(),
        E::InvalidTag(why) => S3Error::invalid_tag().with_message(why),
        E::MetadataTooLarge { size, max } => S3Error::new(
            StatusCode::BAD_REQUEST,
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size",
        )
        .with("Size", size.to_string())
        .with("MaxSizeAllowed", max.to_string()),
        E::ObjectLocked => S3Error::access_denied()
            .with_message("Access Denied because object protected by object lock."),
        E::InvalidBucketState(why) => S3Error::new(StatusCode::CONFLICT, "InvalidBucketState", why),
        E::InvalidRetentionPeriod(why) => {
            S3Error::new(StatusCode::BAD_REQUEST, "InvalidRetentionPeriod", why)
        }
        E::InvalidTargetBucketForLogging(why) => S3Error::new(
            StatusCode::BAD_REQUEST,
            "InvalidTargetBucketForLogging",
            why,
        ),
        E::InvalidArgument(why) => S3Error::invalid_argument().with_message(why),
        E::InvalidRequest(why) => S3Error::invalid_request().with_message(why),
        E::Body(body) => match body.downcast::<AuthError>() {
            Ok(auth) => auth_error(&auth),
            Err(other) => rejection_error(nomuck_http::into_rejection(other)),
        },
        E::Unavailable(why) => S3Error::slow_down().with_message(why),
        E::Internal(why) => S3Error::internal_error().with_message(why),
    }
}
