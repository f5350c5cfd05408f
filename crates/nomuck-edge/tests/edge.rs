//! The edge served on a real socket, in front of stand-in APIs, driven with raw
//! HTTP/1.1: unread request bodies, the server's region, the ops listener, routing by
//! path prefix, access tokens and the token endpoint.

mod common;

use std::sync::Arc;

use http::{HeaderMap, Method, StatusCode, Uri};
use nomuck_edge::{Edge, EdgeConfig, KeyResolver, ResolvedKey};
use nomuck_http::{
    AccessTokenResolver, AuthError, GrantRefusal, GrantedToken, Principal, RefreshGrant, Rejection,
    Request, RequestContext, Response, ServiceApi, collect_limited, full_body,
};
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

/// Claims SP-API's paths and scope; echoes who called, shows refusals as 403.
struct SpStandIn;

#[async_trait::async_trait]
impl ServiceApi for SpStandIn {
    fn scope_names(&self) -> &'static [&'static str] {
        &["execute-api"]
    }

    fn path_prefixes(&self) -> &'static [&'static str] {
        &["/fba/", "/fws/"]
    }

    fn body_limit(&self, _head: &http::request::Parts) -> u64 {
        1 << 20
    }

    async fn handle(&self, ctx: RequestContext, request: Request) -> Response {
        let caller = ctx
            .principal
            .map_or("anonymous".to_owned(), |p| p.access_key_id);
        let path = request.uri().path().to_owned();
        reply(StatusCode::OK, format!("sp {path} by {caller}"))
    }

    fn reject(&self, _ctx: &RequestContext, rejection: Rejection) -> Response {
        reply(StatusCode::FORBIDDEN, format!("sp refused {rejection:?}"))
    }
}

const CLIENT_ID: &str = "amzn1.application-oa2-client.test";
const GOOD_TOKEN: &str = "Atza|good";

/// One LWA client (`CLIENT_ID`, secret `S`, refresh token `Atzr|R`) whose token is
/// `GOOD_TOKEN`; `Atza|expired` is expired, anything else invalid.
struct OneClient;

#[async_trait::async_trait]
impl AccessTokenResolver for OneClient {
    async fn grant(&self, grant: &RefreshGrant) -> Result<GrantedToken, GrantRefusal> {
        if grant.client_id != CLIENT_ID || grant.client_secret != "S" {
            return Err(GrantRefusal::InvalidClient);
        }
        if grant.refresh_token != "Atzr|R" {
            return Err(GrantRefusal::InvalidGrant);
        }
        Ok(GrantedToken {
            access_token: GOOD_TOKEN.into(),
            expires_in: 3600,
        })
    }

    async fn resolve(&self, access_token: &str) -> Result<Principal, Rejection> {
        match access_token {
            GOOD_TOKEN => Ok(Principal {
                account_id: "123456789012".into(),
                account_name: "tester".into(),
                access_key_id: CLIENT_ID.into(),
                is_admin: false,
            }),
            "Atza|expired" => Err(Rejection::Auth(AuthError::AccessTokenExpired)),
            other => Err(Rejection::Auth(AuthError::InvalidAccessToken(format!(
                "not ours: {other}"
            )))),
        }
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
        .with_anonymous_api(api)
        .with_api(Arc::new(SpStandIn))
        .with_access_tokens(Arc::new(OneClient));
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

/// Send `request` on a new connection, then read until the server closes or `until`
/// appears (or 3 s pass). Returns what was read and whether the server closed.
async fn exchange(addr: std::net::SocketAddr, request: &[u8], until: &str) -> (String, bool) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    common::exchange_on(&mut stream, request, until).await
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
    signed(addr, "/object", region, "s3")
}

/// A GET of `path` signed for `service` in `region`, as raw HTTP/1.1.
fn signed(addr: std::net::SocketAddr, path: &str, region: &str, service: &str) -> String {
    let uri: Uri = format!("http://{addr}{path}").parse().unwrap();
    let mut headers = HeaderMap::new();
    let credentials = nomuck_sigv4::Credentials {
        access_key_id: KEY_ID.into(),
        secret_access_key: SECRET.into(),
        session_token: None,
    };
    let params = nomuck_sigv4::SigningParams {
        credentials: &credentials,
        region,
        service,
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
    let mut request = format!("GET {path} HTTP/1.1\r\n");
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

fn get(path: &str, headers: &str) -> String {
    format!("GET {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n")
}

#[tokio::test]
async fn claimed_paths_reach_their_api_whatever_the_host_or_scope() {
    let server = start(false).await;
    let send =
        |request: String| async move { exchange(server.addr, request.as_bytes(), "").await.0 };
    // A virtual-hosted S3 Host, a truncated Host, no Host at all: the path decides.
    for host in ["Host: bucket.localhost\r\n", "Host: 127.0.0.1\r\n", ""] {
        let text = send(get("/fba/inventory/v1/summaries", host)).await;
        assert!(
            text.contains("sp /fba/inventory/v1/summaries by anonymous"),
            "{text}"
        );
        let token = format!("{host}x-amz-access-token: {GOOD_TOKEN}\r\n");
        let text = send(get("/fws/v1/centers", &token)).await;
        assert!(
            text.contains(&format!("sp /fws/v1/centers by {CLIENT_ID}")),
            "{text}"
        );
    }
    // Signed for execute-api: accepted on claimed paths and, by scope, on any other.
    for path in ["/fws/v1/centers", "/sellers/v1/marketplaceParticipations"] {
        let text = send(signed(server.addr, path, REGION, "execute-api")).await;
        assert!(text.contains(&format!("sp {path} by {KEY_ID}")), "{text}");
    }
    // Signed for another service on a claimed path: the path's API refuses it.
    let text = send(signed(server.addr, "/fba/x", REGION, "s3")).await;
    assert_eq!(statuses(&text), ["403"], "{text}");
    assert!(text.contains("sp refused Auth(InvalidScope("), "{text}");
    // A bad or expired token is the API's to render.
    let text = send(get("/fba/x", "x-amz-access-token: Atza|forged\r\n")).await;
    assert!(
        text.contains("sp refused Auth(InvalidAccessToken("),
        "{text}"
    );
    let text = send(get("/fba/x", "x-amz-access-token: Atza|expired\r\n")).await;
    assert!(
        text.contains("sp refused Auth(AccessTokenExpired)"),
        "{text}"
    );
    // A token on a path no API claims is never taken for an S3 request.
    let text = send(get(
        "/bucket/key",
        &format!("x-amz-access-token: {GOOD_TOKEN}\r\n"),
    ))
    .await;
    assert_eq!(statuses(&text), ["404"], "{text}");
    assert!(
        text.contains("\"errors\":[{\"code\":\"NotFound\""),
        "{text}"
    );
    assert!(text.contains("x-amzn-requestid: "), "{text}");
    // Other unsigned requests still go to the anonymous API.
    let text = send(get("/bucket/key", "Host: bucket.localhost\r\n")).await;
    assert!(text.contains("GET /bucket/key"), "{text}");
    let _ = server.stop.send(());
}

fn post_token(body: &str, content_type: &str) -> String {
    format!(
        "POST /auth/o2/token HTTP/1.1\r\nHost: api.amazon.com\r\nContent-Type: {content_type}\r\n\
Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn the_token_endpoint_grants_and_refuses_as_lwa_does() {
    let server = start(false).await;
    let form = "application/x-www-form-urlencoded";
    let ask = |body: &str, ct: &str| {
        let request = post_token(body, ct);
        async move { exchange(server.addr, request.as_bytes(), "").await.0 }
    };
    let good = format!(
        "grant_type=refresh_token&refresh_token=Atzr%7CR&client_id={CLIENT_ID}&client_secret=S&extra=1"
    );
    let text = ask(&good, form).await;
    assert_eq!(statuses(&text), ["200"], "{text}");
    assert!(text.contains("cache-control: no-store"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"access_token": GOOD_TOKEN, "token_type": "bearer", "expires_in": 3600, "refresh_token": "Atzr|R"})
    );
    let as_json = format!(
        r#"{{"grant_type":"refresh_token","refresh_token":"Atzr|R","client_id":"{CLIENT_ID}","client_secret":"S"}}"#
    );
    assert_eq!(statuses(&ask(&as_json, "application/json").await), ["200"]);

    let cases = [
        (
            good.replace("client_secret=S", "client_secret=wrong"),
            "401",
            "invalid_client",
        ),
        (
            good.replace("Atzr%7CR", "Atzr%7Cother"),
            "400",
            "invalid_grant",
        ),
        (
            good.replace("grant_type=refresh_token", "grant_type=client_credentials"),
            "400",
            "unsupported_grant_type",
        ),
        (
            good.replace("&client_secret=S", ""),
            "400",
            "invalid_request",
        ),
        (
            "grant_type=&refresh_token=Atzr%7CR".to_owned(),
            "400",
            "invalid_request",
        ),
        ("{not json".to_owned(), "400", "invalid_request"),
    ];
    for (body, status, code) in cases {
        let text = ask(&body, form).await;
        assert_eq!(statuses(&text), [status], "{body}: {text}");
        assert!(
            text.contains(&format!("{{\"error\":\"{code}\",\"error_description\":")),
            "{body}: {text}"
        );
    }
    let text = exchange(server.addr, get("/auth/o2/token", "").as_bytes(), "")
        .await
        .0;
    assert_eq!(statuses(&text), ["400"], "{text}");
    let _ = server.stop.send(());
}
