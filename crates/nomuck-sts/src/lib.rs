//! STS over the AWS query protocol: form-encoded `Action=` requests, XML replies.
//!
//! nomuck's principals are accounts (as AWS root credentials are), so
//! `GetCallerIdentity` answers with the account id and its root ARN.

use http::StatusCode;
use nomuck_http::query::{self, param};
use nomuck_http::{
    Operation, Rejection, Request, RequestContext, Response, ServiceApi, xml::escape,
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
        let params = match query::read_params(&head, body, MAX_BODY).await {
            Ok(params) => params,
            Err(rejection) => return self.reject(&ctx, rejection),
        };
        let Some(action) = param(&params, "Action") else {
            return error(
                &ctx,
                StatusCode::BAD_REQUEST,
                "MissingAction",
                "Missing Action",
            );
        };
        if let Some(version) = param(&params, "Version").filter(|v| *v != API_VERSION) {
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
        query::rejection(ctx, NAMESPACE, rejection)
    }
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
    let mut response = query::xml_response(ctx, StatusCode::OK, body);
    response
        .extensions_mut()
        .insert(Operation("GetCallerIdentity"));
    response
}

fn error(ctx: &RequestContext, status: StatusCode, code: &'static str, message: &str) -> Response {
    query::error(ctx, NAMESPACE, status, code, message)
}
