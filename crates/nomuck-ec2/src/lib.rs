//! The EC2 query protocol: typed requests decoded from `Action=…&Version=2016-11-15`
//! parameters, typed replies rendered as EC2's XML, EC2's errors with their HTTP
//! statuses, the Describe actions' filter engine and pagination.
//!
//! This crate knows neither QEMU nor the metadata store: the compute domain crate does
//! the work, and a `ServiceApi` for credential scope `ec2` (to come) glues them: read
//! the parameters with [`nomuck_http::query::read_params`], [`decode_params`], run the
//! request, answer with [`reply`] or [`error_response`]; [`reject`] renders the edge's
//! refusals.

pub mod error;
pub mod filter;
pub mod page;
pub mod params;
pub mod request;
pub mod response;
pub mod service;
pub mod types;
pub mod xml;

use http::StatusCode;
use nomuck_http::{AuthError, ErrorCode, Operation, Rejection, RequestContext, Response};

pub use error::Ec2Error;
pub use filter::{Filter, FilterSet, FilterValues, Filterable};
pub use page::PageRequest;
pub use params::Params;
pub use request::{Ec2Request, decode};
pub use response::Reply;
pub use service::Ec2Api;
pub use types::{
    InstanceStateName, KeyType, LaunchPermission, ShutdownBehavior, Tag, TagSpecification,
};

pub const API_VERSION: &str = "2016-11-15";
pub const NAMESPACE: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";
/// Largest request body: 16 KiB of user data is ~22 KiB in base64, and the rest of any
/// EC2 request is a few KiB of form fields.
pub const MAX_BODY: u64 = 128 * 1024;

/// Decode a request from all its parameters (query string, then form body).
///
/// `Version` may be left out (the request is read as 2016-11-15); any other version is
/// refused, since nomuck serves only the one every current SDK speaks.
pub fn decode_params(pairs: Vec<(String, String)>) -> Result<Ec2Request, Ec2Error> {
    let mut p = Params::new(pairs);
    let action = p.str("Action").ok_or(Ec2Error::MissingAction)?;
    if let Some(version) = p.str("Version").filter(|v| v != API_VERSION) {
        return Err(Ec2Error::NoSuchVersion(version));
    }
    decode(&action, p)
}

/// A success reply.
pub fn reply(ctx: &RequestContext, reply: &impl Reply) -> Response {
    let mut response =
        nomuck_http::query::xml_response(ctx, StatusCode::OK, reply.to_xml(&ctx.request_id));
    response.extensions_mut().insert(Operation(reply.action()));
    response
}

/// An error reply with EC2's envelope and status.
pub fn error_response(ctx: &RequestContext, err: &Ec2Error) -> Response {
    let mut response =
        nomuck_http::query::xml_response(ctx, err.status(), err.to_xml(&ctx.request_id));
    response.extensions_mut().insert(ErrorCode(err.code()));
    response
}

/// An edge refusal as EC2 answers it. EC2 differs from the other query services in two
/// codes: an unknown access key is `AuthFailure` (401), and a stale or expired
/// signature is `RequestExpired` (400); the rest are the query protocols' codes in
/// EC2's envelope.
pub fn reject(ctx: &RequestContext, rejection: Rejection) -> Response {
    let (status, code, message) = match rejection {
        Rejection::Auth(AuthError::UnknownAccessKey) => (
            StatusCode::UNAUTHORIZED,
            "AuthFailure",
            "AWS was not able to validate the provided access credentials".to_owned(),
        ),
        Rejection::Auth(AuthError::RequestTimeTooSkewed { .. } | AuthError::PresignExpired) => (
            StatusCode::BAD_REQUEST,
            "RequestExpired",
            "Request has expired.".to_owned(),
        ),
        other => nomuck_http::query::rejection_parts(other),
    };
    let mut response = nomuck_http::query::xml_response(
        ctx,
        status,
        xml::error_body(code, &message, &ctx.request_id),
    );
    response.extensions_mut().insert(ErrorCode(code));
    response
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Poll, Waker};
    use std::time::Instant;

    use http_body::Body as _;

    use super::*;

    fn ctx() -> RequestContext {
        RequestContext {
            request_id: "req-1".into(),
            principal: None,
            signed_region: Some("us-east-1".into()),
            server_region: "us-east-1".into(),
            remote_addr: "127.0.0.1:1".parse().unwrap(),
            received_at: Instant::now(),
            path: "/".into(),
            tls: None,
        }
    }

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
    fn edge_refusals_use_ec2s_codes_and_envelope() {
        let unknown = reject(&ctx(), Rejection::Auth(AuthError::UnknownAccessKey));
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            unknown.extensions().get::<ErrorCode>(),
            Some(&ErrorCode("AuthFailure"))
        );
        let body = body_text(unknown);
        assert!(body.contains("<Response><Errors><Error><Code>AuthFailure</Code>"));
        assert!(body.ends_with("<RequestID>req-1</RequestID></Response>"));

        let expired = reject(&ctx(), Rejection::Auth(AuthError::PresignExpired));
        assert_eq!(expired.status(), StatusCode::BAD_REQUEST);
        assert!(body_text(expired).contains("<Code>RequestExpired</Code>"));

        // The codes EC2 shares with the other query services come from nomuck-http.
        let mismatch = reject(
            &ctx(),
            Rejection::Auth(AuthError::SignatureMismatch {
                canonical_request: String::new(),
                string_to_sign: String::new(),
            }),
        );
        assert_eq!(mismatch.status(), StatusCode::FORBIDDEN);
        assert!(body_text(mismatch).contains("<Code>SignatureDoesNotMatch</Code>"));
    }

    #[test]
    fn replies_and_errors_carry_status_and_metrics_labels() {
        let ok = reply(&ctx(), &response::ReturnTrue("RebootInstances"));
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(
            ok.extensions().get::<Operation>(),
            Some(&Operation("RebootInstances"))
        );
        assert!(body_text(ok).contains("<requestId>req-1</requestId><return>true</return>"));

        let dry = error_response(&ctx(), &Ec2Error::DryRunOperation);
        assert_eq!(dry.status(), StatusCode::PRECONDITION_FAILED);
        assert_eq!(
            dry.extensions().get::<ErrorCode>(),
            Some(&ErrorCode("DryRunOperation"))
        );
    }
}
