//! STS over the AWS query protocol: form-encoded `Action=` requests, XML replies.
//!
//! nomuck's principals are accounts (as AWS root credentials are), so
//! `GetCallerIdentity` answers with the account id and its root ARN.

use http::{HeaderValue, StatusCode, header};
use nomuck_http::{
    AuthError, ErrorCode, Operation, Rejection, Request, RequestContext, Response, ServiceApi,
    collect_limited, full_body, xml::escape,
};

pub const API_VERSION: &str = "2011-06-15";
const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// STS requests are a handful of form fields.
const MAX_BODY: u64 = 64 * 1024;

#[derive(Default)]
pub struct StsApi;

#[async_trait::async_trait]
impl ServiceApi for StsApi {
    fn scope_names(&self) -> &'static [&'static str] {
        &["sts"]
    }

    fn body_limit(&self, _head: &http::request::Parts) -> u64 {
        MAX_BODY
    }

    async fn handle(&self, ctx: RequestContext, request: Request) -> Response {
        let (head, body) = request.into_parts();
        let body = match collect_limited(body, MAX_BODY).await {
            Ok(body) => body,
            Err(rejection) => return self.reject(&ctx, rejection),
        };
        let mut params: Vec<(String, String)> = head
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        if is_form(&head.headers) {
            params.extend(form_urlencoded::parse(&body).into_owned());
        }
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let Some(action) = param("Action") else {
            return error(
                &ctx,
                StatusCode::BAD_REQUEST,
                "MissingAction",
                "Missing Action",
            );
        };
        if let Some(version) = param("Version").filter(|v| *v != API_VERSION) {
            return error(
                &ctx,
                StatusCode::BAD_REQUEST,
                "InvalidAction",
                &format!("Could not find operation {action} for version {version}"),
            );
        }
        match action {
            "GetCallerIdentity" => get_caller_identity(&ctx),
            other => error(
                &ctx,
                StatusCode::BAD_REQUEST,
                "InvalidAction",
                &format!("Could not find operation {other} for version {API_VERSION}"),
            ),
        }
    }

    fn reject(&self, ctx: &RequestContext, rejection: Rejection) -> Response {
        let (status, code, message) = match rejection {
            Rejection::Auth(auth) => auth_rejection(&auth),
            Rejection::BodyTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                format!("Request body is larger than {limit} bytes"),
            ),
            Rejection::BadRequest(why) => (StatusCode::BAD_REQUEST, "MalformedInput", why),
            Rejection::Internal(why) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", why),
        };
        error(ctx, status, code, &message)
    }
}

/// The codes AWS STS (and the other query-protocol services) answer with.
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

fn is_form(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

fn get_caller_identity(ctx: &RequestContext) -> Response {
    let Some(principal) = &ctx.principal else {
        return error(
            ctx,
            StatusCode::FORBIDDEN,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        );
    };
    let account = escape(&principal.account_id);
    let body = format!(
        "<GetCallerIdentityResponse xmlns=\"{NAMESPACE}\">\
<GetCallerIdentityResult>\
<Arn>arn:aws:iam::{account}:root</Arn>\
<UserId>{account}</UserId>\
<Account>{account}</Account>\
</GetCallerIdentityResult>\
<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata>\
</GetCallerIdentityResponse>",
        escape(&ctx.request_id)
    );
    let mut response = xml_response(ctx, StatusCode::OK, body);
    response
        .extensions_mut()
        .insert(Operation("GetCallerIdentity"));
    response
}

fn error(ctx: &RequestContext, status: StatusCode, code: &'static str, message: &str) -> Response {
    let kind = if status.is_server_error() {
        "Receiver"
    } else {
        "Sender"
    };
    let body = format!(
        "<ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>{kind}</Type><Code>{}</Code>\
<Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        escape(code),
        escape(message),
        escape(&ctx.request_id)
    );
    let mut response = xml_response(ctx, status, body);
    response.extensions_mut().insert(ErrorCode(code));
    response
}

fn xml_response(ctx: &RequestContext, status: StatusCode, body: String) -> Response {
    let mut response = Response::new(full_body(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(id) = HeaderValue::from_str(&ctx.request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}
