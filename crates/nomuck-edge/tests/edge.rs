//! The edge served on a real socket, in front of a stand-in API, driven with raw
//! HTTP/1.1: unread request bodies, the server's region, and the ops listener.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode, Uri};
use nomuck_edge::{Edge, EdgeConfig, KeyResolver, ResolvedKey};
use nomuck_http::{
    Principal, Rejection, Request, RequestContext, Response, ServiceApi, collect_limited, full_body,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const REGION: &str = "eu-central-1";
const KEY_ID: &str = "AKIDEDGETEST";
const SECRET: &str = "edge-test-secret";

struct OneKey;

#[async_trait::async_trait]
impl KeyResolver for OneKey {
    async fn resolve(&self, access_key_id: &str) -> Result<Option<ResolvedKey>, String> {
        Ok((access_key_id == KEY_ID).then(|| ResolvedKey {
            principal: Principal {
                account_id: "123456789012".into(),
                account_name: "tester".into(),
                access_key_id: KEY_ID.into(),
                is_admin: false,
            },
            secret_access_key: SECRET.into(),
        }))
    }
}

/// `/refuse` answers 403 without reading the body, `/read` reads it all; anything
/// else echoes its method and path. Refusals show the edge's rejection.
struct StandIn;

fn reply(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(full_body(body));
    *response.status_mut() = status;
    response
}

#[async_trait::async_trait]
impl ServiceApi for StandIn {
    fn scope_names(&self) -> &'static [&'static str] {
        &["s3"]
    }

    fn body_limit(&self, _head: &http::request::Parts) -> u64 {
        1 << 30
    }

    async fn handle(&self, _ctx: RequestContext, request: Request) -> Response {
        let (head, body) = request.into_parts();
        match head.uri.path() {
            "/refuse" => reply(StatusCode::FORBIDDEN, "refused".into()),
            "/read" => match collect_limited(body, 1 << 30).await {
                Ok(bytes) => reply(StatusCode::OK, format!("read {}", bytes.len())),
                Err(err) => reply(StatusCode::BAD_REQUEST, format!("{err:?}")),
            },
            path => reply(StatusCode::OK, format!("{} {path}", head.method)),
        }
    }

    fn reject(&self, _ctx: &RequestContext, rejection: Rejection) -> Response {
        reply(StatusCode::BAD_REQUEST, format!("{rejection:?}"))
    }
}

struct Running {
    addr: std::net::SocketAddr,
    ops: Option<std::net::SocketAddr>,
    stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(with_ops: bool) -> Running {
    let config = EdgeConfig {
        region: REGION.into(),
        ..EdgeConfig::default()
    };
    let api: Arc<dyn ServiceApi> = Arc::new(StandIn);
    let edge = Edge::new(config, Arc::new(OneKey))
        .with_api(api.clone())
        .with_anonymous_api(api);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ops = match with_ops {
        true => Some(TcpListener::bind("127.0.0.1:0").await.unwrap()),
        false => None,
    };
    let ops_addr = ops.as_ref().map(|l| l.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(nomuck_edge::serve(Arc::new(edge), listener, ops, async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        ops: ops_addr,
        stop,
    }
}

/// Send `request`, then read until the server closes or `until` appears (or 3 s
/// pass). Returns what was read and whether the server closed.
async fn exchange(addr: std::net::SocketAddr, request: &[u8], until: &str) -> (String, bool) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&seen).into(), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&seen).into(), false),
        }
        let text = String::from_utf8_lossy(&seen);
        if !until.is_empty() && text.contains(until) {
            return (text.into(), false);
        }
    }
}

fn statuses(text: &str) -> Vec<&str> {
    text.match_indices("HTTP/1.1 ")
        .map(|(i, _)| &text[i + 9..i + 12])
        .collect()
}

#[tokio::test]
async fn unread_body_after_expect_continue_is_never_parsed_as_a_request() {
    let server = start(false).await;
    // The client skipped the refused PUT's body; its next request is a POST whose
    // body is itself a request, placed where the PUT's body would have ended.
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let next = format!(
        "POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        smuggled.len()
    );
    let refused = format!(
        "PUT /refuse HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        next.len()
    );
    for _ in 0..20 {
        let request = format!("{refused}{next}{smuggled}");
        let (text, closed) = exchange(server.addr, request.as_bytes(), "").await;
        assert_eq!(statuses(&text), ["403"], "{text}");
        assert!(text.contains("connection: close\r\n"), "{text}");
        assert!(!text.contains("/smuggled"), "{text}");
        assert!(closed);
    }
    let _ = server.stop.send(());
}

#[tokio::test]
async fn small_unread_body_is_discarded_and_the_connection_kept() {
    let server = start(false).await;
    let request = format!(
        "PUT /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}\
GET /next HTTP/1.1\r\nHost: x\r\n\r\n",
        "b".repeat(100)
    );
    let (text, closed) = exchange(server.addr, request.as_bytes(), "GET /next").await;
    assert_eq!(statuses(&text), ["403", "200"], "{text}");
    assert!(!text.contains("connection: close"), "{text}");
    assert!(!closed);

    // A body read to its end changes nothing either.
    let request = "PUT /read HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
GET /next HTTP/1.1\r\nHost: x\r\n\r\n";
    let (text, _) = exchange(server.addr, request.as_bytes(), "GET /next").await;
    assert_eq!(statuses(&text), ["200", "200"], "{text}");
    assert!(text.contains("read 5") && !text.contains("connection: close"));
    let _ = server.stop.send(());
}

fn signed_get(addr: std::net::SocketAddr, region: &str) -> String {
    let uri: Uri = format!("http://{addr}/object").parse().unwrap();
    let mut headers = HeaderMap::new();
    let credentials = nomuck_sigv4::Credentials {
        access_key_id: KEY_ID.into(),
        secret_access_key: SECRET.into(),
        session_token: None,
    };
    let params = nomuck_sigv4::SigningParams {
        credentials: &credentials,
        region,
        service: "s3",
        time: time::OffsetDateTime::now_utc(),
        encoding: nomuck_sigv4::UriEncoding::Standard,
    };
    nomuck_sigv4::sign_request(
        &Method::GET,
        &uri,
        &mut headers,
        &nomuck_sigv4::PayloadHash::Unsigned,
        &params,
    )
    .unwrap();
    let mut request = "GET /object HTTP/1.1\r\n".to_owned();
    for (name, value) in &headers {
        request += &format!("{name}: {}\r\n", value.to_str().unwrap());
    }
    request + "\r\n"
}

#[tokio::test]
async fn requests_signed_for_another_region_are_rejected_by_the_api() {
    let server = start(false).await;
    let (text, _) = exchange(
        server.addr,
        signed_get(server.addr, "us-west-2").as_bytes(),
        "}",
    )
    .await;
    assert_eq!(statuses(&text), ["400"], "{text}");
    assert!(
        text.contains(
            "Auth(WrongRegion { region: \"us-west-2\", expected: \"eu-central-1\", presigned: false })"
        ),
        "{text}"
    );
    let (text, _) = exchange(
        server.addr,
        signed_get(server.addr, REGION).as_bytes(),
        "GET /object",
    )
    .await;
    assert_eq!(statuses(&text), ["200"], "{text}");
    let _ = server.stop.send(());
}

#[tokio::test]
async fn ops_listener_serves_health_and_metrics_instead_of_the_main_one() {
    let server = start(true).await;
    let ops = server.ops.unwrap();
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let (text, _) = exchange(server.addr, get("/_nomuck/metrics").as_bytes(), "").await;
    assert_eq!(statuses(&text), ["404"], "{text}");
    let (text, _) = exchange(server.addr, get("/_nomuck/health").as_bytes(), "").await;
    assert_eq!(statuses(&text), ["404"], "{text}");
    let (text, _) = exchange(ops, get("/_nomuck/health").as_bytes(), "").await;
    assert_eq!(statuses(&text), ["200"], "{text}");
    // The ops listener serves nothing else, not even the APIs.
    let (text, _) = exchange(ops, get("/object").as_bytes(), "").await;
    assert_eq!(statuses(&text), ["404"], "{text}");
    let (text, _) = exchange(ops, get("/_nomuck/metrics").as_bytes(), "").await;
    assert_eq!(statuses(&text), ["200"], "{text}");
    assert!(
        text.contains("service=\"edge\",operation=\"NotFound\",status=\"404\"} 3"),
        "{text}"
    );
    let _ = server.stop.send(());
}
