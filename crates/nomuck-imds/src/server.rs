//! The HTTP side: IMDSv1/v2 rules over the tree, served on one instance's unix socket.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE, HeaderValue, SERVER};
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::UnixListener;
use tokio::task::JoinSet;
use tracing::{debug, warn};

use crate::facts::{HttpTokens, InstanceFacts, MetadataSource};
use crate::token::{TTL_RANGE, TokenKey};
use crate::tree;

pub const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
pub const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";

/// Connections served at once per instance; more are closed unanswered. A guest's
/// metadata readers are few; this bounds what one guest can make nomuck hold.
pub const MAX_CONNECTIONS: usize = 16;
/// Request head limit (hyper's smallest read buffer): IMDS requests are a line and a
/// few short headers.
const MAX_HEAD_BYTES: usize = 8192;
const MAX_HEADERS: usize = 32;
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the metadata of the instance `source` describes on `listener` (that
/// instance's own socket) until the returned future is dropped; dropping it also ends
/// every connection it accepted. Runs on a tokio runtime with timers enabled. Never returns otherwise: accept errors (out of file
/// descriptors) are logged and retried after a pause.
pub async fn serve(listener: UnixListener, source: Arc<dyn MetadataSource>, key: TokenKey) {
    let key = Arc::new(key);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        warn!(%err, "metadata socket accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if connections.len() >= MAX_CONNECTIONS {
                    debug!("metadata connection limit reached; closing a new connection");
                    drop(stream);
                    continue;
                }
                let source = source.clone();
                let key = key.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req: hyper::Request<Incoming>| {
                        let source = source.clone();
                        let key = key.clone();
                        async move {
                            let facts = source.facts().await;
                            Ok::<_, Infallible>(answer(&req, facts.as_ref(), &key, now_ms()))
                        }
                    });
                    let conn = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_READ_TIMEOUT)
                        .max_buf_size(MAX_HEAD_BYTES)
                        .max_headers(MAX_HEADERS)
                        // The stdio bridge shuts down its write side when the guest
                        // has sent its request; the reply must still go back.
                        .half_close(true)
                        // EC2 writes `X-Aws-Ec2-Metadata-Token-Ttl-Seconds`, and
                        // clients that compare header names byte for byte exist.
                        .title_case_headers(true)
                        .serve_connection(TokioIo::new(stream), service);
                    if let Err(err) = conn.await {
                        debug!(%err, "metadata connection ended with an error");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The reply to one request, given the instance's facts (`None`: the instance is
/// gone) and the time. Pure, so every rule is testable without a socket.
pub fn answer<B: hyper::body::Body>(
    req: &hyper::Request<B>,
    facts: Option<&InstanceFacts>,
    key: &TokenKey,
    now_ms: u64,
) -> Response<Full<Bytes>> {
    let Some(facts) = facts else {
        return error(StatusCode::NOT_FOUND).closing();
    };
    // No IMDS request has a body. One that announces one is refused and the connection
    // closed, so its bytes are never read as the next request.
    if req.body().size_hint().exact() != Some(0) {
        return error(StatusCode::BAD_REQUEST).closing();
    }
    let path = req.uri().path();
    let headers = req.headers();
    let is_token_path = path == "/latest/api/token";
    match (req.method(), is_token_path) {
        (&Method::PUT, true) => issue_token(headers, facts, key, now_ms),
        (&Method::GET | &Method::HEAD, false) => read(path, headers, facts, key, now_ms),
        _ => error(StatusCode::METHOD_NOT_ALLOWED),
    }
}

fn issue_token(
    headers: &HeaderMap,
    facts: &InstanceFacts,
    key: &TokenKey,
    now_ms: u64,
) -> Response<Full<Bytes>> {
    // A token request relayed by a proxy (which adds X-Forwarded-For) is refused: a
    // guest's misconfigured proxy must not hand tokens to outside callers.
    if headers.contains_key("x-forwarded-for") {
        return error(StatusCode::FORBIDDEN);
    }
    let ttl = headers
        .get(TTL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ttl| TTL_RANGE.contains(ttl));
    let Some(ttl) = ttl else {
        return error(StatusCode::BAD_REQUEST);
    };
    let token = key.issue(&facts.instance_id, now_ms, ttl);
    let mut response = ok(Bytes::from(token), tree::TEXT);
    response
        .headers_mut()
        .insert(TTL_HEADER, HeaderValue::from(ttl));
    response
}

fn read(
    path: &str,
    headers: &HeaderMap,
    facts: &InstanceFacts,
    key: &TokenKey,
    now_ms: u64,
) -> Response<Full<Bytes>> {
    // A token that is sent must be valid even when tokens are optional, as in EC2.
    let ttl_left = match headers.get(TOKEN_HEADER) {
        Some(token) => match key.verify(&facts.instance_id, token.as_bytes(), now_ms) {
            Some(left) => Some(left),
            None => return error(StatusCode::UNAUTHORIZED),
        },
        None if facts.http_tokens == HttpTokens::Required => {
            return error(StatusCode::UNAUTHORIZED);
        }
        None => None,
    };
    let Some(found) = tree::lookup(facts, path) else {
        return error(StatusCode::NOT_FOUND);
    };
    let mut response = ok(found.body, found.content_type);
    if let Some(left) = ttl_left {
        response
            .headers_mut()
            .insert(TTL_HEADER, HeaderValue::from(left));
    }
    response
}

fn ok(body: Bytes, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(SERVER, HeaderValue::from_static("EC2ws"));
    response
}

/// EC2's error page: a small XHTML document naming the status.
fn error(status: StatusCode) -> Response<Full<Bytes>> {
    let title = format!(
        "{} - {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n\
<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n\
\t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n\
<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n \
<head>\n  <title>{title}</title>\n </head>\n <body>\n  <h1>{title}</h1>\n </body>\n</html>\n"
    );
    let mut response = ok(Bytes::from(body), "text/html");
    *response.status_mut() = status;
    response
}

trait Closing {
    fn closing(self) -> Self;
}

impl Closing for Response<Full<Bytes>> {
    /// Ends the connection after this reply.
    fn closing(mut self) -> Self {
        self.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        self
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use http_body_util::{BodyExt, Empty};
    use proptest::prelude::*;

    use super::*;
    use crate::facts::PublicKey;

    const NOW: u64 = 1_700_000_000_000;

    fn facts() -> InstanceFacts {
        InstanceFacts {
            instance_id: "i-0123456789abcdef0".into(),
            ami_id: "ami-0123456789abcdef0".into(),
            kernel_id: None,
            ramdisk_id: None,
            instance_type: "t3.micro".into(),
            architecture: "x86_64".into(),
            reservation_id: "r-0123456789abcdef0".into(),
            launch_index: 0,
            local_hostname: "ip-172-31-0-5.ec2.internal".into(),
            local_ipv4: Ipv4Addr::new(172, 31, 0, 5),
            mac: "02:00:00:00:00:05".into(),
            subnet: None,
            public_keys: vec![PublicKey {
                name: "k".into(),
                openssh_key: "ssh-ed25519 AAAA k".into(),
            }],
            availability_zone: "us-east-1a".into(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            security_groups: vec!["default".into()],
            security_group_ids: vec!["sg-0123".into()],
            user_data: Some(Bytes::from_static(b"#!/bin/sh\n")),
            launch_time: time::OffsetDateTime::UNIX_EPOCH,
            http_tokens: HttpTokens::Optional,
        }
    }

    fn request(
        method: Method,
        path: &str,
        headers: &[(&str, &[u8])],
    ) -> hyper::Request<Empty<Bytes>> {
        let mut builder = hyper::Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Empty::new()).unwrap()
    }

    #[test]
    fn a_body_is_refused_and_closes() {
        let req = hyper::Request::builder()
            .method(Method::PUT)
            .uri("/latest/api/token")
            .header(TTL_HEADER, "60")
            .body(Full::new(Bytes::from_static(b"x")))
            .unwrap();
        let response = answer(&req, Some(&facts()), &TokenKey::random(), NOW);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[CONNECTION], "close");
    }

    #[test]
    fn the_error_page_names_the_status() {
        let response = answer(
            &request(Method::GET, "/latest/nope", &[]),
            Some(&facts()),
            &TokenKey::random(),
            NOW,
        );
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = futures_body(response);
        assert!(body.contains("<title>404 - Not Found</title>"), "{body}");
    }

    fn futures_body(response: Response<Full<Bytes>>) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = rt
            .block_on(response.into_body().collect())
            .unwrap()
            .to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    proptest! {
        /// Any path, method-independent headers and token bytes get an answer: a
        /// status EC2 uses, never a panic.
        #[test]
        fn arbitrary_requests_never_panic(
            path in "(/[a-zA-Z0-9=._%:-]{0,12}){0,7}/?",
            token in proptest::collection::vec(any::<u8>(), 0..80),
            ttl in proptest::collection::vec(any::<u8>(), 0..12),
            put in any::<bool>(),
            required in any::<bool>(),
        ) {
            let mut f = facts();
            if required {
                f.http_tokens = HttpTokens::Required;
            }
            let method = if put { Method::PUT } else { Method::GET };
            let mut headers: Vec<(&str, &[u8])> = Vec::new();
            if HeaderValue::from_bytes(&token).is_ok() {
                headers.push((TOKEN_HEADER, token.as_slice()));
            }
            if HeaderValue::from_bytes(&ttl).is_ok() {
                headers.push((TTL_HEADER, ttl.as_slice()));
            }
            let Ok(uri) = path.parse::<http::Uri>() else { return Ok(()); };
            let req = request(method, &uri.to_string(), &headers);
            let response = answer(&req, Some(&f), &TokenKey::from_bytes([1; 32]), NOW);
            prop_assert!([200, 400, 401, 403, 404, 405].contains(&response.status().as_u16()));
        }

        /// Every listing names only entries that answer 200, all the way down.
        #[test]
        fn listings_name_only_entries_that_exist(version in proptest::sample::select(tree::VERSIONS)) {
            let f = facts();
            let mut pending = vec![format!("/{version}/")];
            let mut seen = 0;
            while let Some(dir) = pending.pop() {
                let found = tree::lookup(&f, &dir).expect("listed directory answers");
                let listing = String::from_utf8(found.body.to_vec()).unwrap();
                for line in listing.lines() {
                    // public-keys lists `0=name`; the entry is `0/`.
                    let name = line.split('=').next().unwrap();
                    let name = if line.contains('=') { format!("{name}/") } else { name.to_owned() };
                    let path = format!("{dir}{name}");
                    prop_assert!(tree::lookup(&f, &path).is_some(), "{path} listed but absent");
                    seen += 1;
                    if name.ends_with('/') {
                        pending.push(path);
                    }
                }
            }
            prop_assert!(seen > 30);
        }
    }
}
