//! Building replies: XML documents, errors, dates and the headers every reply carries.

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderValue, StatusCode, header};
use nomuck_http::{ErrorCode, Operation, RequestContext, Response, empty_body, full_body};
use nomuck_meta::Millis;

use crate::error::S3Error;

pub fn xml(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(full_body(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
}

pub fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(empty_body());
    *response.status_mut() = status;
    response
}

/// Headers every S3 reply carries.
pub fn finish(ctx: &RequestContext, mut response: Response) -> Response {
    if let Ok(id) = HeaderValue::from_str(&ctx.request_id) {
        response.headers_mut().insert("x-amz-id-2", id);
    }
    response
        .headers_mut()
        .insert(header::SERVER, HeaderValue::from_static("nomuck"));
    response
}

/// Render `err` for `resource`; replies to HEAD carry no body.
pub fn error(
    ctx: &RequestContext,
    resource: &str,
    err: S3Error,
    is_head: bool,
    operation: &'static str,
) -> Response {
    let mut response = if is_head || err.status == StatusCode::NOT_MODIFIED {
        empty(err.status)
    } else {
        xml(err.status, err.to_xml(resource, &ctx.request_id))
    };
    for (name, value) in &err.headers {
        set(&mut response, name, value);
    }
    if err.status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response.extensions_mut().insert(ErrorCode(err.code));
    response.extensions_mut().insert(Operation(operation));
    finish(ctx, response)
}

/// `2009-10-12T17:50:30.000Z`, as S3 writes timestamps in XML.
pub fn iso8601(ms: Millis) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// `Wed, 12 Oct 2009 17:50:00 GMT`, as S3 writes dates in headers.
pub fn http_date(ms: Millis) -> String {
    let secs = u64::try_from(ms.max(0) / 1000).unwrap_or(0);
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

pub fn set(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(iso8601(1_255_369_830_123), "2009-10-12T17:50:30.123Z");
        assert_eq!(
            http_date(1_255_369_800_999),
            "Mon, 12 Oct 2009 17:50:00 GMT"
        );
    }
}
