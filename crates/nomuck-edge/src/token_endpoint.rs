//! Login with Amazon's token endpoint, for SP-API client libraries: they post
//! `grant_type=refresh_token&refresh_token=…&client_id=…&client_secret=…` to
//! `/auth/o2/token` and get `{"access_token","token_type":"bearer","expires_in",
//! "refresh_token"}`; refusals are `{"error","error_description"}` with LWA's codes.
//! It is the edge's own endpoint, unauthenticated (the grant is the credential), and
//! the edge answers it in JSON itself: no API crate speaks this protocol.

use http::{HeaderValue, Method, StatusCode, header};
use nomuck_http::{
    AccessTokenResolver, ErrorCode, GrantRefusal, Operation, RefreshGrant, Request, RequestContext,
    Response, collect_limited, full_body,
};
use serde_json::{Value, json};

/// A grant is four short fields; anything larger is not one.
const BODY_LIMIT: u64 = 16 * 1024;
const OPERATION: &str = "GetAccessToken";

pub(crate) async fn serve(
    tokens: &dyn AccessTokenResolver,
    req: Request,
    ctx: &RequestContext,
) -> Response {
    match grant_of(req).await {
        Ok(grant) => match tokens.grant(&grant).await {
            Ok(granted) => json_reply(
                ctx,
                StatusCode::OK,
                &json!({
                    "access_token": granted.access_token,
                    "token_type": "bearer",
                    "expires_in": granted.expires_in,
                    "refresh_token": grant.refresh_token,
                }),
                OPERATION,
            ),
            Err(GrantRefusal::InvalidClient) => refusal(
                ctx,
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed",
            ),
            Err(GrantRefusal::InvalidGrant) => refusal(
                ctx,
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "The request has an invalid grant parameter : refresh_token",
            ),
            Err(GrantRefusal::Internal(why)) => {
                tracing::warn!(request_id = ctx.request_id, %why, "token grant failed");
                refusal(
                    ctx,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "The server could not check the grant; retry later",
                )
            }
        },
        Err((status, code, description)) => refusal(ctx, status, code, &description),
    }
}

type Refusal = (StatusCode, &'static str, String);

/// The grant in the request, read as LWA does: a form body, or (as some clients
/// send) a JSON object. Unknown fields are ignored.
async fn grant_of(req: Request) -> Result<RefreshGrant, Refusal> {
    let invalid = |why: &str| (StatusCode::BAD_REQUEST, "invalid_request", why.to_owned());
    if req.method() != Method::POST {
        return Err(invalid("The token endpoint takes POST requests"));
    }
    let (head, body) = req.into_parts();
    let body = collect_limited(body, BODY_LIMIT)
        .await
        .map_err(|_| invalid("The request body could not be read"))?;
    let is_json = head
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"))
        || body.trim_ascii_start().starts_with(b"{");
    let fields: Vec<(String, String)> = if is_json {
        match serde_json::from_slice::<serde_json::Map<String, Value>>(&body) {
            Ok(object) => object
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
                .collect(),
            Err(_) => return Err(invalid("The request body is not a JSON object")),
        }
    } else {
        form_urlencoded::parse(&body).into_owned().collect()
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    match field("grant_type").as_deref() {
        None => {
            return Err(invalid(
                "The request is missing a required parameter : grant_type",
            ));
        }
        Some("refresh_token") => {}
        Some(other) => {
            return Err((
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!(
                    "The authorization grant type is not supported: {other}; use refresh_token"
                ),
            ));
        }
    }
    let required = |name: &str| {
        field(name).ok_or_else(|| {
            invalid(&format!(
                "The request is missing a required parameter : {name}"
            ))
        })
    };
    Ok(RefreshGrant {
        refresh_token: required("refresh_token")?,
        client_id: required("client_id")?,
        client_secret: required("client_secret")?,
    })
}

fn refusal(
    ctx: &RequestContext,
    status: StatusCode,
    code: &'static str,
    description: &str,
) -> Response {
    let mut response = json_reply(
        ctx,
        status,
        &json!({ "error": code, "error_description": description }),
        OPERATION,
    );
    response.extensions_mut().insert(ErrorCode(code));
    response
}

/// A JSON reply with the request id as SP-API and LWA send it; never cached, since
/// token replies carry credentials.
pub(crate) fn json_reply(
    ctx: &RequestContext,
    status: StatusCode,
    body: &Value,
    operation: &'static str,
) -> Response {
    let mut response = Response::new(full_body(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(id) = HeaderValue::from_str(&ctx.request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response.extensions_mut().insert(Operation(operation));
    response
}

/// The answer to a request that carries an access token on a path no API claims:
/// only SP-API clients send access tokens, so it is answered in SP-API's error shape
/// rather than passed to an API (S3) that would read the path as a bucket.
pub(crate) fn no_api_for_token(ctx: &RequestContext) -> Response {
    let code = "NotFound";
    let body = json!({ "errors": [{
        "code": code,
        "message": "No API is served at this path.",
        "details": format!("nomuck serves no API that accepts access tokens at {}", ctx.path),
    }]});
    let mut response = json_reply(ctx, StatusCode::NOT_FOUND, &body, Operation::UNKNOWN.0);
    response.extensions_mut().insert(ErrorCode(code));
    response
}
