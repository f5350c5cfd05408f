//! The AWS JSON 1.1 protocol (Cost Explorer, Budgets, and later KMS): every
//! request is a `POST /` whose `X-Amz-Target: <Prefix>.<Operation>` names the
//! operation and whose body is a JSON object; replies are JSON objects with the
//! content type `application/x-amz-json-1.1`, and errors are
//! `{"__type":"<Code>","message":"…"}` with a 4xx or 5xx status.
//!
//! An API crate implements [`JsonOperations`] (its credential scopes, its
//! target prefix, and one method that runs one operation on an authenticated
//! caller) and is thereby a [`ServiceApi`]: [`serve`] reads and dispatches the
//! request and [`rejection`] renders the edge's refusals.
//! Parsing is lenient about fields it does not know ([`parse`]: clients send
//! newer members than we implement) and strict about the ones it does;
//! replies are whatever the API serializes, so it decides the exact shape.

use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{
    AuthError, Body, ErrorCode, Operation, Principal, Rejection, Request, RequestContext, Response,
    ServiceApi, full_body,
};

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const TARGET_HEADER: &str = "x-amz-target";

/// A failed operation, as the client will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub status: StatusCode,
    /// The error shape's name (`ValidationException`), sent as `__type`.
    pub code: &'static str,
    pub message: String,
}

impl JsonError {
    /// A client error (400), the status AWS's JSON services use for nearly all
    /// of them.
    pub fn client(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// A server failure (500) with the service's own internal error code.
    pub fn internal(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code,
            message: message.into(),
        }
    }
}

/// A successful operation: its name (for metrics) and its serialized reply.
pub struct JsonReply {
    pub operation: &'static str,
    pub body: Vec<u8>,
}

/// The reply of `operation`: `value` serialized.
pub fn ok<T: Serialize>(operation: &'static str, value: &T) -> Result<JsonReply, JsonError> {
    serde_json::to_vec(value)
        .map(|body| JsonReply { operation, body })
        .map_err(|e| JsonError::internal("InternalFailure", e.to_string()))
}

/// One JSON 1.1 service's operations. Every implementation is a
/// [`ServiceApi`] through the impl below.
#[async_trait::async_trait]
pub trait JsonOperations: Send + Sync + 'static {
    /// Credential-scope service names routed here (`"ce"`).
    fn scope_names(&self) -> &'static [&'static str];

    /// Largest request body any operation takes.
    fn body_limit(&self) -> u64 {
        64 * 1024
    }

    /// The `X-Amz-Target` prefix before the dot (`AWSInsightsIndexService`).
    fn target_prefix(&self) -> &'static str;

    /// Runs `operation` (the part of the target after the dot) for `caller`
    /// with the request body. An operation this service does not have is
    /// answered `UnknownOperationException` by returning `None`.
    async fn call(
        &self,
        ctx: &RequestContext,
        caller: &Principal,
        operation: &str,
        body: &[u8],
    ) -> Option<Result<JsonReply, JsonError>>;
}

/// Parses a request body into `T`. An empty body counts as `{}`; members `T`
/// does not name are ignored; a member of the wrong type is a
/// `SerializationException`, as AWS answers malformed JSON.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, JsonError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        JsonError::client(
            "SerializationException",
            format!("the request body is not valid: {e}"),
        )
    })
}

#[async_trait::async_trait]
impl<T: JsonOperations> ServiceApi for T {
    fn scope_names(&self) -> &'static [&'static str] {
        JsonOperations::scope_names(self)
    }

    fn body_limit(&self, _head: &http::request::Parts) -> u64 {
        JsonOperations::body_limit(self)
    }

    async fn handle(&self, ctx: RequestContext, request: Request) -> Response {
        serve(self, ctx, request, JsonOperations::body_limit(self)).await
    }

    fn reject(&self, ctx: &RequestContext, rejection: Rejection) -> Response {
        self::rejection(ctx, rejection)
    }
}

/// Reads and runs one request: the edge already authenticated it.
pub async fn serve(
    ops: &dyn JsonOperations,
    ctx: RequestContext,
    request: Request,
    limit: u64,
) -> Response {
    let (head, body) = request.into_parts();
    let body: Body = body;
    let bytes = match crate::collect_limited(body, limit).await {
        Ok(bytes) => bytes,
        Err(rejection) => return self::rejection(&ctx, rejection),
    };
    let Some(caller) = ctx.principal.clone() else {
        return error(
            &ctx,
            &JsonError::client(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            )
            .with_status(StatusCode::FORBIDDEN),
        );
    };
    let target = head
        .headers
        .get(TARGET_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let operation = target
        .split_once('.')
        .filter(|(prefix, _)| *prefix == ops.target_prefix())
        .map(|(_, op)| op);
    let outcome = match operation {
        Some(op) if head.method == http::Method::POST => ops.call(&ctx, &caller, op, &bytes).await,
        _ => None,
    };
    match outcome {
        Some(Ok(reply)) => {
            let mut response = response(&ctx, StatusCode::OK, reply.body);
            response.extensions_mut().insert(Operation(reply.operation));
            response
        }
        Some(Err(e)) => error(&ctx, &e),
        None => error(
            &ctx,
            &JsonError::client(
                "UnknownOperationException",
                format!("The operation {target:?} is not supported by this service."),
            ),
        ),
    }
}

fn response(ctx: &RequestContext, status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(full_body(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(id) = HeaderValue::from_str(&ctx.request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

/// `{"__type":…,"message":…}` with the error's status.
pub fn error(ctx: &RequestContext, e: &JsonError) -> Response {
    #[derive(Serialize)]
    struct Wire<'a> {
        #[serde(rename = "__type")]
        kind: &'a str,
        message: &'a str,
    }
    let body = serde_json::to_vec(&Wire {
        kind: e.code,
        message: &e.message,
    })
    .unwrap_or_default();
    let mut response = response(ctx, e.status, body);
    response.extensions_mut().insert(ErrorCode(e.code));
    response
}

/// An edge refusal as AWS's JSON services answer it.
pub fn rejection(ctx: &RequestContext, rejection: Rejection) -> Response {
    let e = match rejection {
        Rejection::Auth(auth) => auth_error(&auth),
        Rejection::BodyTooLarge { limit } => JsonError::client(
            "SerializationException",
            format!("Request body is larger than {limit} bytes"),
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE),
        Rejection::BadRequest(why) => JsonError::client("SerializationException", why),
        Rejection::Internal(why) => JsonError::internal("InternalFailure", why),
    };
    error(ctx, &e)
}

/// The codes AWS's JSON services answer authentication failures with.
fn auth_error(auth: &AuthError) -> JsonError {
    use AuthError as A;
    let forbidden =
        |code, message: String| JsonError::client(code, message).with_status(StatusCode::FORBIDDEN);
    match auth {
        A::UnknownAccessKey => forbidden(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.".into(),
        ),
        A::SignatureMismatch { .. } => forbidden(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method."
                .into(),
        ),
        A::RequestTimeTooSkewed {
            request_time,
            server_time,
        } => forbidden(
            "InvalidSignatureException",
            format!(
                "Signature expired: {request_time} is now earlier than {server_time} (15 minutes)"
            ),
        ),
        A::WrongRegion {
            region, expected, ..
        } => forbidden(
            "InvalidSignatureException",
            format!(
                "Credential should be scoped to a valid region, not '{region}'; this endpoint is '{expected}'."
            ),
        ),
        A::PresignExpired => forbidden(
            "InvalidSignatureException",
            "Signature expired: the presigned request is past its X-Amz-Expires".into(),
        ),
        other => JsonError::client("IncompleteSignatureException", other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use http_body_util::BodyExt;

    use super::*;

    fn ctx(principal: bool) -> RequestContext {
        RequestContext {
            request_id: "REQ1".into(),
            principal: principal.then(|| Principal {
                account_id: "111111111111".into(),
                account_name: "a".into(),
                access_key_id: "AK".into(),
                is_admin: false,
            }),
            signed_region: Some("us-east-1".into()),
            server_region: "us-east-1".into(),
            remote_addr: "127.0.0.1:1".parse().unwrap(),
            received_at: Instant::now(),
            path: "/".into(),
            tls: None,
        }
    }

    struct Echo;

    #[async_trait::async_trait]
    impl JsonOperations for Echo {
        fn scope_names(&self) -> &'static [&'static str] {
            &["svc"]
        }
        fn body_limit(&self) -> u64 {
            1024
        }
        fn target_prefix(&self) -> &'static str {
            "Svc"
        }
        async fn call(
            &self,
            _ctx: &RequestContext,
            caller: &Principal,
            operation: &str,
            body: &[u8],
        ) -> Option<Result<JsonReply, JsonError>> {
            #[derive(serde::Deserialize)]
            struct In {
                #[serde(rename = "N")]
                n: Option<u32>,
            }
            match operation {
                "Echo" => Some(parse::<In>(body).and_then(|i| {
                    ok(
                        "Echo",
                        &serde_json::json!({"Account": caller.account_id, "N": i.n}),
                    )
                })),
                "Fail" => Some(Err(JsonError::client("ValidationException", "no"))),
                _ => None,
            }
        }
    }

    async fn run(principal: bool, target: &str, body: &str) -> (u16, String, serde_json::Value) {
        let request = http::Request::post("/")
            .header("x-amz-target", target)
            .header("content-type", CONTENT_TYPE)
            .body(full_body(body.to_owned()))
            .unwrap();
        let response = Echo.handle(ctx(principal), request).await;
        let status = response.status().as_u16();
        let id = response.headers()["x-amzn-requestid"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(response.headers()["content-type"], CONTENT_TYPE);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, id, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn dispatches_by_target_ignores_unknown_members_and_renders_errors() {
        let (status, id, v) = run(true, "Svc.Echo", r#"{"N":3,"Later":{"x":1}}"#).await;
        assert_eq!((status, id.as_str()), (200, "REQ1"));
        assert_eq!(v, serde_json::json!({"Account": "111111111111", "N": 3}));
        let (status, _, v) = run(true, "Svc.Echo", "").await;
        assert_eq!((status, &v["N"]), (200, &serde_json::Value::Null));

        let (status, _, v) = run(true, "Svc.Echo", r#"{"N":"three"}"#).await;
        assert_eq!(
            (status, v["__type"].as_str()),
            (400, Some("SerializationException"))
        );
        let (status, _, v) = run(true, "Svc.Fail", "{}").await;
        assert_eq!(
            v,
            serde_json::json!({"__type": "ValidationException", "message": "no"})
        );
        assert_eq!(status, 400);
        for target in ["Svc.Nope", "Other.Echo", "Echo", ""] {
            let (status, _, v) = run(true, target, "{}").await;
            assert_eq!(
                (status, v["__type"].as_str()),
                (400, Some("UnknownOperationException")),
                "{target}"
            );
        }
        let (status, _, v) = run(false, "Svc.Echo", "{}").await;
        assert_eq!(
            (status, v["__type"].as_str()),
            (403, Some("MissingAuthenticationTokenException"))
        );
    }

    #[tokio::test]
    async fn refusals_use_the_json_error_codes() {
        let response = rejection(&ctx(false), Rejection::Auth(AuthError::UnknownAccessKey));
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            response.extensions().get::<ErrorCode>(),
            Some(&ErrorCode("UnrecognizedClientException"))
        );
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["__type"], "UnrecognizedClientException");
    }
}
