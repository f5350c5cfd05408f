//! The contract between the edge and the API crates.
//!
//! The edge owns the socket, request ids, limits and SigV4 verification; an API crate
//! owns one wire protocol (S3 restXml, EC2/STS query, SP-API JSON, JSON 1.1 in [`json`]). They meet here: the
//! edge hands an authenticated [`RequestContext`] and a streaming [`Body`] to a
//! [`ServiceApi`], and asks the same API to render edge-level refusals ([`Rejection`]) in
//! its protocol's error format, because only API crates know protocol error codes.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;

pub use nomuck_sigv4::{AuthError, FormSignature, UriEncoding};

pub mod access_token;
pub mod json;
pub use access_token::{AccessTokenResolver, GrantRefusal, GrantedToken, RefreshGrant};

/// Error type carried by request and response bodies. Body-level authentication
/// failures (a bad chunk signature, a content hash mismatch) arrive as a boxed
/// [`AuthError`]; use [`auth_error_of`] to recognise them.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// Streaming body used for requests and responses alike.
pub type Body = UnsyncBoxBody<Bytes, BodyError>;

pub type Request = http::Request<Body>;
pub type Response = http::Response<Body>;

/// A body holding `bytes` in full (small replies, errors).
pub fn full_body(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn empty_body() -> Body {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// The authentication failure inside a body error, if that is what it is.
pub fn auth_error_of(err: &BodyError) -> Option<&AuthError> {
    err.downcast_ref::<AuthError>()
}

/// Read a whole (small) body, at most `limit` bytes, into memory. Failures come back
/// as the [`Rejection`] to render: too large, an authentication failure found while
/// streaming, or a broken body.
pub async fn collect_limited(mut body: Body, limit: u64) -> Result<Bytes, Rejection> {
    let mut collected = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(into_rejection)?;
        if let Ok(data) = frame.into_data() {
            if (collected.len() + data.len()) as u64 > limit {
                return Err(Rejection::BodyTooLarge { limit });
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(collected.freeze())
}

/// What a failed body read means for the client: the edge's length limit, an
/// authentication failure found while streaming, or a broken body.
pub fn into_rejection(err: BodyError) -> Rejection {
    if let Some(too_large) = err.downcast_ref::<BodyTooLarge>() {
        return Rejection::BodyTooLarge {
            limit: too_large.limit,
        };
    }
    match err.downcast::<AuthError>() {
        Ok(auth) => Rejection::Auth(*auth),
        Err(other) => Rejection::BadRequest(other.to_string()),
    }
}

/// Error frame of a request body that grew past its operation's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTooLarge {
    pub limit: u64,
}

impl std::fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "request body is larger than {} bytes", self.limit)
    }
}

impl std::error::Error for BodyTooLarge {}

/// Who is calling. Requests without credentials have no principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub account_id: String,
    pub account_name: String,
    /// The signing key's id; for a request authenticated by an access token, the
    /// LWA client id the token was granted to.
    pub access_key_id: String,
    pub is_admin: bool,
}

/// Everything the edge learned about a request before handing it over.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Unique id, returned to the client (`x-amz-request-id`, `x-amzn-RequestId`).
    pub request_id: String,
    pub principal: Option<Principal>,
    /// Region of the credential scope, when signed: the server's own, except on the
    /// admin API (the edge refuses others).
    pub signed_region: Option<String>,
    /// The region this server calls itself.
    pub server_region: String,
    pub remote_addr: SocketAddr,
    pub received_at: Instant,
    /// The request's path as received (still percent-encoded), so refusals
    /// the edge makes can name what was asked for (S3's `<Resource>`).
    pub path: String,
    /// How the connection was secured; `None`: plain HTTP.
    pub tls: Option<TlsInfo>,
}

impl RequestContext {
    /// Whether the request came over TLS (policies' `aws:SecureTransport`).
    pub fn secure(&self) -> bool {
        self.tls.is_some()
    }
}

/// What a TLS connection negotiated, in the names S3's access log uses (OpenSSL's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLSv1.2` or `TLSv1.3`.
    pub version: &'static str,
    /// E.g. `TLS_AES_128_GCM_SHA256`, `ECDHE-RSA-AES128-GCM-SHA256`.
    pub cipher_suite: &'static str,
}

/// Why the edge refused a request before (or while) the API handled it.
#[derive(Debug)]
pub enum Rejection {
    Auth(AuthError),
    /// The body is larger than the operation allows.
    BodyTooLarge {
        limit: u64,
    },
    /// The request could not be read (client went away, malformed framing).
    BadRequest(String),
    /// The server failed (the credential store is unavailable, say).
    Internal(String),
}

/// Verifies signatures carried inside a request rather than on it: a browser
/// POST upload's form signs its policy document with the uploader's key. The
/// edge implements it over the same access keys it verifies requests with, so
/// API crates never see secrets.
#[async_trait::async_trait]
pub trait FormAuthenticator: Send + Sync + 'static {
    /// The principal whose key made `signature` over `policy` (the form's
    /// base64 `policy` field, as sent).
    async fn authenticate_form(
        &self,
        signature: &FormSignature,
        policy: &str,
    ) -> Result<Principal, Rejection>;
}

/// Name of the operation a response answered, for metrics and logs. API crates put it
/// in the response extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation(pub &'static str);

impl Operation {
    /// Label of responses that answer no particular operation (edge refusals,
    /// unknown services). Operation labels are AWS operation names, so PascalCase.
    pub const UNKNOWN: Operation = Operation("Unknown");
}

/// Protocol error code of a failed response, for metrics. API crates put it in the
/// response extensions of every error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCode(pub &'static str);

/// One wire protocol, served for one or more credential-scope service names.
#[async_trait::async_trait]
pub trait ServiceApi: Send + Sync + 'static {
    /// Credential-scope service names routed here (`"s3"`, `"sts"`, ...).
    fn scope_names(&self) -> &'static [&'static str];

    /// Path prefixes routed here whatever the Host header and the signature's scope
    /// say (SP-API's `/fba/`, `/fws/`, …), because their clients are configured with
    /// an endpoint, not a service name, and some send a truncated Host. On these
    /// paths a signature must be scoped for one of [`ServiceApi::scope_names`], and an
    /// `x-amz-access-token` is accepted in place of a signature.
    fn path_prefixes(&self) -> &'static [&'static str] {
        &[]
    }

    /// How this protocol canonicalises paths for SigV4.
    fn uri_encoding(&self) -> UriEncoding {
        UriEncoding::Standard
    }

    /// The SigV2 canonical resource of a request, for APIs that accept legacy SigV2
    /// signatures (S3 does, for older clients); `None` refuses SigV2.
    fn sigv2_resource(&self, _head: &http::request::Parts) -> Option<String> {
        None
    }

    /// Largest request body this operation may carry, decided from the head alone.
    fn body_limit(&self, head: &http::request::Parts) -> u64;

    async fn handle(&self, ctx: RequestContext, request: Request) -> Response;

    /// Render an edge-level refusal in this protocol's error format.
    fn reject(&self, ctx: &RequestContext, rejection: Rejection) -> Response;
}

/// The AWS query protocol (STS, SNS, EC2): form-encoded `Action=` requests,
/// XML replies and `<ErrorResponse>` errors.
pub mod query {
    use http::{HeaderValue, StatusCode, header};

    use super::xml::escape;
    use super::{AuthError, ErrorCode, Rejection, RequestContext, Response, full_body};

    /// Reads a (small) query-protocol body and returns all parameters.
    pub async fn read_params(
        head: &http::request::Parts,
        body: super::Body,
        limit: u64,
    ) -> Result<Vec<(String, String)>, Rejection> {
        let body = super::collect_limited(body, limit).await?;
        Ok(params(head, &body))
    }

    /// The request's parameters: the query string, then a form body.
    pub fn params(head: &http::request::Parts, body: &[u8]) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = head
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let is_form = head
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if is_form {
            params.extend(form_urlencoded::parse(body).into_owned());
        }
        params
    }

    /// The first value of parameter `name`.
    pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn xml_response(ctx: &RequestContext, status: StatusCode, body: String) -> Response {
        let mut response = Response::new(full_body(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        if let Ok(id) = HeaderValue::from_str(&ctx.request_id) {
            headers.insert("x-amzn-requestid", id);
        }
        response
    }

    /// An `<ErrorResponse>` in the service's XML namespace.
    pub fn error(
        ctx: &RequestContext,
        namespace: &str,
        status: StatusCode,
        code: &'static str,
        message: &str,
    ) -> Response {
        let kind = if status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        let body = format!(
            "<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{kind}</Type><Code>{}</Code>\
<Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            escape(code),
            escape(message),
            escape(&ctx.request_id)
        );
        let mut response = xml_response(ctx, status, body);
        response.extensions_mut().insert(ErrorCode(code));
        response
    }

    /// An edge refusal as the query-protocol services answer it.
    pub fn rejection(ctx: &RequestContext, namespace: &str, rejection: Rejection) -> Response {
        let (status, code, message) = rejection_parts(rejection);
        error(ctx, namespace, status, code, &message)
    }

    /// Status, code and message of an edge refusal in the query protocols, for APIs
    /// (EC2) that share the codes but not the `<ErrorResponse>` envelope.
    pub fn rejection_parts(rejection: Rejection) -> (StatusCode, &'static str, String) {
        match rejection {
            Rejection::Auth(auth) => auth_rejection(&auth),
            Rejection::BodyTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                format!("Request body is larger than {limit} bytes"),
            ),
            Rejection::BadRequest(why) => (StatusCode::BAD_REQUEST, "MalformedInput", why),
            Rejection::Internal(why) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", why),
        }
    }

    /// The codes AWS's query-protocol services answer authentication failures with.
    fn auth_rejection(auth: &AuthError) -> (StatusCode, &'static str, String) {
        use AuthError as A;
        let forbidden = StatusCode::FORBIDDEN;
        match auth {
            A::UnknownAccessKey => (
                forbidden,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.".into(),
            ),
            A::SignatureMismatch { .. } => (
                forbidden,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method."
                    .into(),
            ),
            A::RequestTimeTooSkewed {
                request_time,
                server_time,
            } => (
                forbidden,
                "SignatureDoesNotMatch",
                format!(
                    "Signature expired: {request_time} is outside the 15 minute window of the server time {server_time}"
                ),
            ),
            // What AWS's regional query endpoints (STS, SNS) answer.
            A::WrongRegion { region, .. } => (
                forbidden,
                "SignatureDoesNotMatch",
                format!("Credential should be scoped to a valid region, not '{region}'."),
            ),
            A::PresignExpired => (
                forbidden,
                "SignatureDoesNotMatch",
                "Signature expired: the presigned request is past its X-Amz-Expires".into(),
            ),
            other => (
                StatusCode::BAD_REQUEST,
                "IncompleteSignature",
                other.to_string(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Poll, Waker};

    use http_body::Body as _;

    use super::*;

    fn body_text(response: Response) -> String {
        let mut body = response.into_body();
        let mut cx = Context::from_waker(Waker::noop());
        match std::pin::Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => {
                String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap()
            }
            _ => panic!("a full body is ready at once"),
        }
    }

    #[test]
    fn query_protocols_refuse_another_region_as_aws_does() {
        let ctx = RequestContext {
            request_id: "REQ".into(),
            principal: None,
            signed_region: Some("eu-west-1".into()),
            server_region: "us-east-1".into(),
            remote_addr: "127.0.0.1:1".parse().unwrap(),
            received_at: Instant::now(),
            path: "/".into(),
            tls: None,
        };
        let wrong = AuthError::WrongRegion {
            region: "eu-west-1".into(),
            expected: "us-east-1".into(),
            presigned: false,
        };
        let response = query::rejection(&ctx, "urn:test", Rejection::Auth(wrong));
        assert_eq!(response.status(), http::StatusCode::FORBIDDEN);
        assert_eq!(
            response.extensions().get::<ErrorCode>(),
            Some(&ErrorCode("SignatureDoesNotMatch"))
        );
        assert!(body_text(response).contains(
            "<Message>Credential should be scoped to a valid region, not &apos;eu-west-1&apos;.</Message>"
        ));
    }
}

/// Helpers shared by the XML protocols (S3, EC2, STS).
pub mod xml {
    use std::borrow::Cow;

    /// Escape text for an XML element or attribute value. Characters XML 1.0 cannot
    /// carry at all (most C0 controls) become numeric references, as AWS writes them.
    pub fn escape(text: &str) -> Cow<'_, str> {
        if !text
            .bytes()
            .any(|b| matches!(b, b'<' | b'>' | b'&' | b'"' | b'\'') || b < 0x20)
        {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len() + 16);
        for c in text.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&apos;"),
                c if (c as u32) < 0x20 => out.push_str(&format!("&#x{:X};", c as u32)),
                c => out.push(c),
            }
        }
        Cow::Owned(out)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn escapes_markup_and_controls() {
            assert_eq!(super::escape("plain"), "plain");
            assert_eq!(
                super::escape("a<b>&\"c'\n"),
                "a&lt;b&gt;&amp;&quot;c&apos;&#xA;"
            );
        }
    }
}
