//! SP-API's error shape: an HTTP status plus `{"errors":[{"code","message","details"}]}`,
//! `content-type: application/json` and an `x-amzn-RequestId` header.
//!
//! SP-API's users complain that `details` usually arrives empty; here it never is: every
//! constructor fills it with what went wrong and, where there is one, which field.

use http::{HeaderValue, StatusCode, header};
use nomuck_http::{AuthError, ErrorCode, Rejection, RequestContext, Response, full_body};
use serde::Serialize;

/// One failed request, as SP-API reports it. The API layer's handlers return these;
/// [`error_response`] renders them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} ({status}): {message}: {details}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Never empty (see the module docs).
    pub details: String,
    /// `x-amzn-RateLimit-Limit` (requests per second) sent with the error, for 429.
    pub rate_limit: Option<String>,
}

impl ApiError {
    /// An error with an explicit status and code. An empty `details` is replaced by the
    /// message, so the rendered body never carries an empty one.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        details: impl Into<String>,
    ) -> ApiError {
        let message = message.into();
        let mut details = details.into();
        if details.is_empty() {
            details.clone_from(&message);
        }
        ApiError {
            status,
            code,
            message,
            details,
            rate_limit: None,
        }
    }

    /// 400 `InvalidInput`: the request is malformed or a value is out of range.
    /// `details` names the field.
    pub fn invalid_input(details: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "Request has missing or invalid parameters and cannot be parsed.",
            details,
        )
    }

    /// 404 `NotFound`: `what` (an id, a path) does not exist for this caller. Another
    /// account's resources are answered this way too, so their existence does not leak.
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The requested resource does not exist.",
            what,
        )
    }

    /// 405: the path exists but not for this method. `allowed` lists the methods that
    /// do work there.
    pub fn method_not_allowed(method: &http::Method, allowed: &[http::Method]) -> ApiError {
        let allowed: Vec<&str> = allowed.iter().map(http::Method::as_str).collect();
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The method is not allowed on this resource.",
            format!("{method} is not allowed here; use {}", allowed.join(" or ")),
        )
    }

    /// 409 `Conflict`: an id or idempotency key was reused with a different request, or
    /// the resource is in a state that refuses the change.
    pub fn conflict(details: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            "Conflict",
            "The request conflicts with the current state of the resource.",
            details,
        )
    }

    /// 401 `Unauthorized`: no usable credentials (missing or malformed signature or token).
    pub fn unauthenticated(details: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "The request's Authorization header is not formatted correctly or does not contain a valid token.",
            details,
        )
    }

    /// 403 `Unauthorized`: the caller is known but may not do this.
    pub fn unauthorized(details: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "Unauthorized",
            "Access to requested resource is denied.",
            details,
        )
    }

    /// 403 `InvalidSignature`: the signature does not verify (or is expired, or is for
    /// another region).
    pub fn invalid_signature(details: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "InvalidSignature",
            "The request signature we calculated does not match the signature you provided.",
            details,
        )
    }

    /// 413 `RequestEntityTooLarge`.
    pub fn too_large(limit: u64) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "The request is too large.",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// 415 `UnsupportedMediaType`: a body that is not JSON.
    pub fn unsupported_media_type(details: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            "The request's content type is not supported.",
            details,
        )
    }

    /// 429 `QuotaExceeded`, with the limit (requests per second) in
    /// `x-amzn-RateLimit-Limit`.
    pub fn quota_exceeded(requests_per_second: f64) -> ApiError {
        let mut err = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "QuotaExceeded",
            "You exceeded your quota for the requested resource.",
            format!("the limit is {requests_per_second} requests per second"),
        );
        err.rate_limit = Some(requests_per_second.to_string());
        err
    }

    /// 500 `InternalFailure`. `details` should say what failed without leaking internals
    /// a client cannot act on.
    pub fn internal(details: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "We encountered an internal error. Please try again.",
            details,
        )
    }

    /// 503 `ServiceUnavailable`: overloaded or shutting down; retry later.
    pub fn unavailable(details: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "Temporary overloading or maintenance of the server.",
            details,
        )
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    errors: [ErrorEntry<'a>; 1],
}

#[derive(Serialize)]
struct ErrorEntry<'a> {
    code: &'a str,
    message: &'a str,
    details: &'a str,
}

/// The JSON text of an error body, for callers that send it some other way (a webhook
/// delivery's failure record, a test).
pub fn error_body(err: &ApiError) -> String {
    let body = ErrorBody {
        errors: [ErrorEntry {
            code: err.code,
            message: &err.message,
            details: &err.details,
        }],
    };
    // Serializing three strings cannot fail.
    serde_json::to_string(&body).unwrap_or_default()
}

/// A JSON reply with SP-API's headers (`content-type`, `x-amzn-RequestId`).
pub fn json_response(request_id: &str, status: StatusCode, body: String) -> Response {
    let mut response = Response::new(full_body(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

/// A success reply: `body` as JSON with SP-API's headers. A body that cannot be
/// serialized (none of the wire types can fail) becomes a 500.
pub fn reply<T: Serialize>(request_id: &str, status: StatusCode, body: &T) -> Response {
    match serde_json::to_string(body) {
        Ok(text) => json_response(request_id, status, text),
        Err(err) => error_response(
            request_id,
            ApiError::internal(format!("the reply could not be rendered: {err}")),
        ),
    }
}

/// Renders `err` as SP-API does, and marks the response with its [`ErrorCode`] for the
/// edge's metrics.
pub fn error_response(request_id: &str, err: ApiError) -> Response {
    let mut response = json_response(request_id, err.status, error_body(&err));
    if let Some(limit) = err
        .rate_limit
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        response
            .headers_mut()
            .insert("x-amzn-ratelimit-limit", limit);
    }
    response.extensions_mut().insert(ErrorCode(err.code));
    response
}

/// An edge refusal (authentication, body limit, unreadable body) in SP-API's format:
/// what the fulfillment API's `ServiceApi::reject` returns.
pub fn render_rejection(ctx: &RequestContext, rejection: Rejection) -> Response {
    error_response(&ctx.request_id, rejection_error(rejection))
}

/// The [`ApiError`] an edge refusal becomes.
pub fn rejection_error(rejection: Rejection) -> ApiError {
    match rejection {
        Rejection::Auth(auth) => auth_error(&auth),
        Rejection::BodyTooLarge { limit } => ApiError::too_large(limit),
        Rejection::BadRequest(why) => ApiError::invalid_input(why),
        Rejection::Internal(why) => ApiError::internal(why),
    }
}

/// SP-API answers a bad signature or token with 403 and a missing or malformed one with
/// 401; everything wrong with the body's framing is the client's malformed input.
fn auth_error(auth: &AuthError) -> ApiError {
    use AuthError as A;
    match auth {
        A::UnknownAccessKey => {
            ApiError::unauthorized("the access key id or access token is not known")
        }
        A::SignatureMismatch { .. } | A::ChunkSignatureMismatch | A::TrailerSignatureMismatch => {
            ApiError::invalid_signature(
                "check the secret access key and the signing method (service execute-api)",
            )
        }
        A::RequestTimeTooSkewed {
            request_time,
            server_time,
        } => ApiError::invalid_signature(format!(
            "signature expired: {request_time} is outside the 15 minute window of the server time {server_time}"
        )),
        A::WrongRegion {
            region, expected, ..
        } => ApiError::invalid_signature(format!(
            "credential should be scoped to region '{expected}', not '{region}'"
        )),
        A::PresignExpired | A::PresignNotYetValid { .. } => {
            ApiError::invalid_signature(auth.to_string())
        }
        A::HeadersNotSigned(_) => ApiError::invalid_signature(auth.to_string()),
        A::MalformedAuthorization(_)
        | A::MalformedQuery(_)
        | A::UnsupportedAlgorithm(_)
        | A::ConflictingAuth
        | A::InvalidScope(_)
        | A::InvalidDate(_)
        | A::ExpiresOutOfRange => ApiError::unauthenticated(auth.to_string()),
        A::MissingBodyHash => ApiError::internal(auth.to_string()),
        // A token that is not (or no longer) good: SP-API's 403 Unauthorized.
        A::InvalidAccessToken(_) | A::AccessTokenExpired | A::AccessTokenRevoked => {
            ApiError::unauthorized(auth.to_string())
        }
        other => ApiError::invalid_input(other.to_string()),
    }
}
