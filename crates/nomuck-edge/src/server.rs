//! The accept loop, per-connection HTTP/1.1 serving, and the per-request pipeline.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::{HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use nomuck_http::access_token::{ACCESS_TOKEN_HEADER, TOKEN_PATH};
use nomuck_http::{
    BodyError, BodyTooLarge, ErrorCode, Operation, Rejection, Request, RequestContext, Response,
    ServiceApi, TlsInfo, full_body, xml::escape,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::unread::{self, Lingering};
use crate::{ADMIN_PREFIX, Edge, HEALTH_PATH, METRICS_PATH, RESERVED_PREFIX};
use crate::{tls, token_endpoint};

/// Which listener a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The service endpoint; it serves health and metrics too unless an ops
    /// listener does.
    Main { ops_elsewhere: bool },
    /// The operations listener: health and metrics only.
    Ops,
}

/// Serve `edge` on `listener` (and health and metrics on `ops` instead, if given)
/// until `shutdown` resolves, then stop accepting and wait up to the configured
/// grace period for in-flight requests to finish.
pub async fn serve(
    edge: Arc<Edge>,
    listener: TcpListener,
    ops: Option<TcpListener>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let role = Role::Main {
        ops_elsewhere: ops.is_some(),
    };
    let main = accept_loop(&edge, listener, role, &graceful);
    let ops = async {
        match ops {
            Some(ops) => accept_loop(&edge, ops, Role::Ops, &graceful).await,
            None => std::future::pending().await,
        }
    };
    // The accept loops never end; leaving this drops them and with them the listeners.
    tokio::select! {
        () = main => {}
        () = ops => {}
        () = shutdown => {}
    }
    info!("shutting down: no new connections; draining in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => info!("all connections closed"),
        () = tokio::time::sleep(edge.config.shutdown_grace) => {
            warn!(grace = ?edge.config.shutdown_grace, "grace period over; closing the remaining connections");
        }
    }
    Ok(())
}

async fn accept_loop(
    edge: &Arc<Edge>,
    listener: TcpListener,
    role: Role,
    graceful: &GracefulShutdown,
) {
    let slots = Arc::new(Semaphore::new(edge.config.max_connections));
    // The ops listener stays plain HTTP: it is loopback only.
    let tls = match role {
        Role::Main { .. } => edge.tls.clone(),
        Role::Ops => None,
    };
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: back off rather than spin.
                warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small replies must not wait for delayed ACKs (Nagle).
        let _ = stream.set_nodelay(true);
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            edge.metrics
                .connections_refused
                .fetch_add(1, Ordering::Relaxed);
            tokio::spawn(refuse(stream, tls.clone()));
            continue;
        };
        edge.metrics
            .connections_total
            .fetch_add(1, Ordering::Relaxed);
        edge.metrics
            .connections_open
            .fetch_add(1, Ordering::Relaxed);
        // Set when a response closes the connection over an unread request body.
        let linger = Arc::new(AtomicBool::new(false));
        let stream = Lingering::new(stream, linger.clone());
        // Taken now, so that a shutdown that begins during a TLS handshake still
        // reaches the connection made by it.
        let watcher = graceful.watcher();
        let conn_edge = edge.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => {
                    serve_connection(&conn_edge, stream, peer, role, None, linger, watcher).await
                }
                Some(acceptor) => {
                    if let Some((stream, info)) =
                        handshake(&conn_edge, &acceptor, stream, peer).await
                    {
                        serve_connection(
                            &conn_edge,
                            stream,
                            peer,
                            role,
                            Some(info),
                            linger,
                            watcher,
                        )
                        .await;
                    }
                }
            }
            conn_edge
                .metrics
                .connections_open
                .fetch_sub(1, Ordering::Relaxed);
            drop(slot);
        });
    }
}

/// Serve HTTP/1.1 on one connection, plain or TLS, until it closes.
async fn serve_connection<I>(
    edge: &Arc<Edge>,
    io: I,
    peer: SocketAddr,
    role: Role,
    tls: Option<TlsInfo>,
    linger: Arc<AtomicBool>,
    watcher: Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service_edge = edge.clone();
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let edge = service_edge.clone();
        let linger = linger.clone();
        async move { Ok::<_, Infallible>(edge.handle(req, peer, role, tls, &linger).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(edge.config.header_read_timeout)
        .max_header_size(edge.config.max_header_bytes)
        .serve_connection(TokioIo::new(io), service);
    if let Err(err) = watcher.watch(conn).await {
        debug!(%peer, %err, "connection ended with an error");
    }
}

/// The TLS handshake, within the time a request head is allowed. A failure is the
/// client's (a scanner, an untrusted certificate, plain HTTP) and ends only its own
/// connection: it is counted and logged at debug level, not as an error.
async fn handshake(
    edge: &Edge,
    acceptor: &TlsAcceptor,
    stream: Lingering,
    peer: SocketAddr,
) -> Option<(TlsStream<Lingering>, TlsInfo)> {
    let timeout = edge.config.header_read_timeout;
    let failed = |why: &dyn std::fmt::Display| {
        edge.metrics
            .tls_handshakes_failed
            .fetch_add(1, Ordering::Relaxed);
        debug!(%peer, %why, "TLS handshake failed");
    };
    // A TLS client opens with a handshake record (0x16). One that opens with a
    // letter speaks plain HTTP: it is told, in plain HTTP, to use https.
    let mut first = [0u8; 1];
    match tokio::time::timeout(timeout, stream.peek(&mut first)).await {
        Ok(Ok(1)) if first[0].is_ascii_alphabetic() => {
            failed(&"plain HTTP on the TLS port");
            send_and_close(stream, https_required()).await;
            return None;
        }
        Ok(Ok(1)) => {}
        Ok(Ok(_)) => return None,
        Ok(Err(err)) => {
            failed(&err);
            return None;
        }
        Err(_) => {
            failed(&"timed out");
            return None;
        }
    }
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => {
            let info = tls::connection_info(stream.get_ref().1);
            Some((stream, info))
        }
        Ok(Err(err)) => {
            failed(&err);
            None
        }
        Err(_) => {
            failed(&"timed out");
            None
        }
    }
}

/// Answer a connection over the limit with a clear 503 and close it, without reading
/// the request: it lingers so that the client reads the 503 rather than a reset.
/// On a TLS listener the 503 is sent after the handshake (a client could not read
/// it otherwise), which must finish within the same few seconds.
async fn refuse(stream: TcpStream, tls: Option<TlsAcceptor>) {
    let reply = error_reply(
        "503 Service Unavailable",
        "SlowDown",
        "Too many connections; retry later.",
        "Retry-After: 1\r\n",
    );
    let stream = Lingering::new(stream, Arc::new(AtomicBool::new(true)));
    match tls {
        None => send_and_close(stream, reply).await,
        Some(acceptor) => {
            let accepted = tokio::time::timeout(REFUSAL_WAIT, acceptor.accept(stream)).await;
            if let Ok(Ok(stream)) = accepted {
                send_and_close(stream, reply).await;
            }
        }
    }
}

/// How long a refusal may take, handshake and reply together.
const REFUSAL_WAIT: Duration = Duration::from_secs(5);

/// The plain-HTTP answer on a TLS port.
fn https_required() -> String {
    error_reply(
        "400 Bad Request",
        "HttpsRequired",
        "This endpoint serves HTTPS only; use an https:// endpoint URL.",
        "",
    )
}

/// A complete HTTP/1.1 error reply that closes the connection.
fn error_reply(status: &str, code: &str, message: &str, extra_headers: &str) -> String {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
<Message>{message}</Message></Error>"
    );
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\n\
Content-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Write `reply` and close, without reading the request.
async fn send_and_close(mut stream: impl AsyncWrite + Unpin, reply: String) {
    let _ = tokio::time::timeout(REFUSAL_WAIT, async {
        let _ = stream.write_all(reply.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// The credentials a request carries.
enum Credential {
    V4(nomuck_sigv4::SignedRequest),
    /// Legacy SigV2, accepted only by APIs that supply a SigV2 resource (S3).
    V2(nomuck_sigv4::v2::V2Request),
    /// An LWA-style `x-amz-access-token`, accepted only on path-routed APIs.
    AccessToken(String),
}

/// The `x-amz-access-token` a request carries, if any (a value that is not text is
/// kept, lossily, so that it is refused rather than ignored).
fn access_token(req: &Request) -> Option<String> {
    req.headers()
        .get(ACCESS_TOKEN_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Find SigV4 credentials, or else SigV2 ones. An `OPTIONS` request is a CORS
/// preflight, which browsers send without credentials: it is always treated
/// as anonymous, even on a presigned URL (whose signature is for another method).
fn parse_credentials(req: &Request) -> Result<Option<Credential>, nomuck_http::AuthError> {
    if req.method() == http::Method::OPTIONS {
        return Ok(None);
    }
    let v4 = nomuck_sigv4::parse_request(req.method(), req.uri(), req.headers());
    match v4 {
        Ok(Some(signed)) => Ok(Some(Credential::V4(signed))),
        // Not SigV4: SigV2 credentials, if any; otherwise SigV4's own answer stands.
        Ok(None) | Err(nomuck_http::AuthError::UnsupportedAlgorithm(_)) => {
            match nomuck_sigv4::v2::parse_v2(req.uri(), req.headers())? {
                Some(v2) => Ok(Some(Credential::V2(v2))),
                None => v4.map(|_| None),
            }
        }
        Err(err) => Err(err),
    }
}

/// AWS-style request ids: 16 upper-case hex digits, unique within a process and
/// unlikely to repeat across restarts.
fn next_request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let prefix = *PREFIX.get_or_init(|| rand::random::<u32>() as u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = (prefix << 32) | (n & 0xFFFF_FFFF);
    // By hand rather than `format!("{id:016X}")`, which costs several times more
    // on a path every request takes.
    (0..16)
        .rev()
        .map(|digit| char::from(b"0123456789ABCDEF"[(id >> (digit * 4)) as usize & 0xF]))
        .collect()
}

impl Edge {
    async fn handle(
        &self,
        req: hyper::Request<Incoming>,
        peer: SocketAddr,
        role: Role,
        tls: Option<TlsInfo>,
        linger: &AtomicBool,
    ) -> Response {
        let started = Instant::now();
        let request_id = next_request_id();
        let (head, body) = req.into_parts();
        let (body, body_watch) = unread::watch(body, &head.headers);
        let req = Request::from_parts(head, body);
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let ctx = RequestContext {
            request_id: request_id.clone(),
            principal: None,
            signed_region: None,
            server_region: self.config.region.clone(),
            remote_addr: peer,
            received_at: started,
            path: path.clone(),
            tls,
        };
        let (service, mut response) = match role {
            Role::Main { ops_elsewhere } => self.dispatch(req, ctx, ops_elsewhere).await,
            Role::Ops => (
                "edge",
                self.ops_endpoint(&path).unwrap_or_else(|| not_found(&path)),
            ),
        };
        if let Some(body_watch) = body_watch {
            body_watch.settle(&mut response, linger).await;
        }

        if let Ok(id) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-amz-request-id", id);
        }
        let operation = response
            .extensions()
            .get::<Operation>()
            .map_or(Operation::UNKNOWN.0, |o| o.0);
        let code = response.extensions().get::<ErrorCode>().map(|c| c.0);
        let status = response.status();
        self.metrics
            .observe(service, operation, status.as_u16(), code, started.elapsed());
        if status.is_server_error() {
            warn!(request_id, service, operation, %method, path, status = status.as_u16(), code, "request failed");
        } else {
            debug!(request_id, service, operation, %method, path, status = status.as_u16(), code, elapsed_us = started.elapsed().as_micros() as u64, "request");
        }
        response
    }

    /// The edge's own health and metrics endpoints.
    fn ops_endpoint(&self, path: &str) -> Option<Response> {
        match path {
            HEALTH_PATH => Some(plain(
                StatusCode::OK,
                "application/json",
                "{\"status\":\"ok\"}".into(),
                "Health",
            )),
            METRICS_PATH => Some(plain(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                self.metrics.render(),
                "Metrics",
            )),
            _ => None,
        }
    }

    /// Pick the API for a request and run it. Returns the service label for metrics.
    async fn dispatch(
        &self,
        req: Request,
        ctx: RequestContext,
        ops_elsewhere: bool,
    ) -> (&'static str, Response) {
        let path = req.uri().path();
        if path.starts_with(RESERVED_PREFIX) {
            if !ops_elsewhere && let Some(response) = self.ops_endpoint(path) {
                return ("edge", response);
            }
            if path.starts_with(ADMIN_PREFIX)
                && let Some(admin) = self.admin.clone()
            {
                let signed = parse_credentials(&req);
                // nomuck's own API, not an AWS service: its CLI signs for any region.
                return (
                    "admin",
                    self.call(&admin, signed, req, ctx, RegionCheck::Any).await,
                );
            }
            return ("edge", not_found(path));
        }
        // Paths an API claims come before anything reads the Host header or the
        // credential scope: SP-API clients send whatever Host their HTTP library
        // makes of the endpoint, and S3 would take `bucket.host/fba/…` for a bucket.
        if path == TOKEN_PATH {
            return match self.tokens.clone() {
                Some(tokens) => (
                    "lwa",
                    token_endpoint::serve(tokens.as_ref(), req, &ctx).await,
                ),
                None => ("unknown", token_endpoint::no_api_for_token(&ctx)),
            };
        }
        if let Some(api) = self.path_api(path).cloned() {
            let label = api.scope_names().first().copied().unwrap_or("path");
            return (label, self.call_path_api(&api, req, ctx).await);
        }

        let signed = parse_credentials(&req);
        let service = match &signed {
            Ok(Some(Credential::V4(s))) => Some(s.scope.service.clone()),
            // SigV2 names no service; only S3 ever spoke it.
            Ok(Some(Credential::V2(_))) => Some("s3".to_owned()),
            // `parse_credentials` never finds tokens; only `call_path_api` looks.
            Ok(Some(Credential::AccessToken(_))) | Ok(None) => None,
            // A malformed signature still usually names its service; answer in that
            // service's protocol when it does.
            Err(_) => scope_service_hint(&req),
        };
        let api = match &service {
            Some(name) => self.apis.get_key_value(name.as_str()),
            None => None,
        };
        match (api, service) {
            (Some((name, api)), _) => {
                let api = api.clone();
                (
                    name,
                    self.call(&api, signed, req, ctx, RegionCheck::Server).await,
                )
            }
            // Only SP-API clients send access tokens; none is served at this path.
            (None, None) if access_token(&req).is_some() => {
                ("unknown", token_endpoint::no_api_for_token(&ctx))
            }
            (None, None) => match self.anonymous.clone() {
                Some(api) => {
                    let label = api.scope_names().first().copied().unwrap_or("anonymous");
                    (
                        label,
                        self.call(&api, signed, req, ctx, RegionCheck::Server).await,
                    )
                }
                None => ("unknown", self.unknown_service(None, &ctx.request_id)),
            },
            (None, Some(name)) => (
                "unknown",
                self.unknown_service(Some(&name), &ctx.request_id),
            ),
        }
    }

    /// Run an API that claimed the request's path. A signature must be scoped for
    /// one of the API's own services; an unsigned request may carry an access token.
    async fn call_path_api(
        &self,
        api: &Arc<dyn ServiceApi>,
        req: Request,
        ctx: RequestContext,
    ) -> Response {
        let signed = match parse_credentials(&req) {
            Ok(Some(Credential::V4(signed)))
                if !api.scope_names().contains(&signed.scope.service.as_str()) =>
            {
                Err(nomuck_http::AuthError::InvalidScope(format!(
                    "credentials for the service '{}' are not valid on {}; sign for '{}'",
                    signed.scope.service,
                    ctx.path,
                    api.scope_names().join("' or '")
                )))
            }
            Ok(None) if req.method() != http::Method::OPTIONS => {
                Ok(access_token(&req).map(Credential::AccessToken))
            }
            other => other,
        };
        self.call(api, signed, req, ctx, RegionCheck::Server).await
    }

    async fn call(
        &self,
        api: &Arc<dyn ServiceApi>,
        signed: Result<Option<Credential>, nomuck_http::AuthError>,
        req: Request,
        mut ctx: RequestContext,
        region: RegionCheck,
    ) -> Response {
        let (mut head, body) = req.into_parts();
        let limit = api.body_limit(&head);
        if declared_body_len(&head.headers).is_some_and(|len| len > limit) {
            return api.reject(&ctx, Rejection::BodyTooLarge { limit });
        }
        let body = match signed {
            Err(err) => return api.reject(&ctx, Rejection::Auth(err)),
            Ok(None) => body,
            Ok(Some(Credential::V2(v2))) => {
                let Some(resource) = api.sigv2_resource(&head) else {
                    return api.reject(
                        &ctx,
                        Rejection::Auth(nomuck_http::AuthError::UnsupportedAlgorithm(
                            "AWS (SigV2)".into(),
                        )),
                    );
                };
                match self.auth.authenticate_v2(&v2, &head, &resource).await {
                    Ok(principal) => {
                        ctx.principal = Some(principal);
                        body
                    }
                    Err(rejection) => return api.reject(&ctx, rejection),
                }
            }
            Ok(Some(Credential::AccessToken(token))) => {
                let resolved = match &self.tokens {
                    Some(tokens) => tokens.resolve(&token).await,
                    None => Err(Rejection::Auth(nomuck_http::AuthError::InvalidAccessToken(
                        "this server grants no access tokens".into(),
                    ))),
                };
                match resolved {
                    Ok(principal) => {
                        ctx.principal = Some(principal);
                        body
                    }
                    Err(rejection) => return api.reject(&ctx, rejection),
                }
            }
            Ok(Some(Credential::V4(signed))) => {
                // Checked before the key is even looked up, as AWS does: the answer
                // names the server's region, and clients (botocore) re-sign with it.
                if region == RegionCheck::Server && signed.scope.region != ctx.server_region {
                    let wrong = nomuck_http::AuthError::WrongRegion {
                        region: signed.scope.region,
                        expected: ctx.server_region.clone(),
                        presigned: signed.kind == nomuck_sigv4::AuthKind::Presigned,
                    };
                    return api.reject(&ctx, Rejection::Auth(wrong));
                }
                match self
                    .auth
                    .authenticate(&signed, &mut head, body, limit, api.uri_encoding())
                    .await
                {
                    Ok((principal, body)) => {
                        ctx.principal = Some(principal);
                        ctx.signed_region = Some(signed.scope.region);
                        body
                    }
                    Err(rejection) => return api.reject(&ctx, rejection),
                }
            }
        };
        // Bodies that declare no length (chunked) are held to the limit as they stream.
        let body = LimitedBody {
            inner: body,
            remaining: limit,
            limit,
        }
        .boxed_unsync();
        let span = info_span!(
            "request",
            request_id = ctx.request_id.as_str(),
            account = ctx.principal.as_ref().map(|p| p.account_id.as_str()),
        );
        api.handle(ctx, Request::from_parts(head, body))
            .instrument(span)
            .await
    }

    fn unknown_service(&self, name: Option<&str>, request_id: &str) -> Response {
        let message = match name {
            Some(name) => format!(
                "nomuck does not offer the service \"{name}\"; requests can be signed for: {}",
                self.offered()
            ),
            None => format!(
                "unsigned requests are not served here; sign requests for one of: {}",
                self.offered()
            ),
        };
        let code = "UnsupportedService";
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>Sender</Type>\
<Code>{code}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            escape(&message),
            escape(request_id)
        );
        let mut response = plain(
            StatusCode::BAD_REQUEST,
            "text/xml",
            body,
            Operation::UNKNOWN.0,
        );
        // JSON-protocol clients read the error code from this header.
        response
            .headers_mut()
            .insert("x-amzn-errortype", HeaderValue::from_static(code));
        response.extensions_mut().insert(ErrorCode(code));
        response
    }
}

/// Ends a body with a [`BodyTooLarge`] error frame once it passes `limit` bytes.
struct LimitedBody {
    inner: nomuck_http::Body,
    remaining: u64,
    limit: u64,
}

impl http_body::Body for LimitedBody {
    type Data = bytes::Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, BodyError>>> {
        let this = &mut *self;
        let polled = std::pin::Pin::new(&mut this.inner).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            match this.remaining.checked_sub(data.len() as u64) {
                Some(left) => this.remaining = left,
                None => {
                    let err = BodyTooLarge { limit: this.limit };
                    return std::task::Poll::Ready(Some(Err(Box::new(err))));
                }
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The body length the client announced: the decoded length for aws-chunked bodies,
/// whose framing makes Content-Length larger than the object.
fn declared_body_len(headers: &http::HeaderMap) -> Option<u64> {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.parse::<u64>().ok();
    number("x-amz-decoded-content-length").or_else(|| number(header::CONTENT_LENGTH.as_str()))
}

/// The service named in `Credential=…/service/aws4_request`, read leniently.
fn scope_service_hint(req: &Request) -> Option<String> {
    let from_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .map(|c| c.split([',', ' ']).next().unwrap_or("").to_owned());
    let from_query = || {
        req.uri().query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("X-Amz-Credential="))
                .map(|c| c.replace("%2F", "/").replace("%2f", "/"))
        })
    };
    let credential = from_header.or_else(from_query)?;
    let parts: Vec<&str> = credential.split('/').collect();
    (parts.len() == 5).then(|| parts[3].to_owned())
}

/// Which credential-scope regions an API accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RegionCheck {
    /// Only the server's region, as an AWS regional endpoint.
    Server,
    /// Any region.
    Any,
}

fn not_found(path: &str) -> Response {
    plain(
        StatusCode::NOT_FOUND,
        "text/plain",
        format!("no such endpoint {path}\n"),
        "NotFound",
    )
}

fn plain(
    status: StatusCode,
    content_type: &'static str,
    body: String,
    operation: &'static str,
) -> Response {
    let mut response = Response::new(full_body(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.extensions_mut().insert(Operation(operation));
    response
}

#[cfg(test)]
mod tests {
    use super::next_request_id;

    #[test]
    fn request_ids_are_16_upper_hex_digits_counting_up() {
        let (a, b) = (next_request_id(), next_request_id());
        for id in [&a, &b] {
            assert_eq!(id.len(), 16, "{id}");
            assert!(
                id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'A'..=b'F')),
                "{id}"
            );
        }
        let parse = |id: &str| u64::from_str_radix(id, 16).unwrap();
        // Same process prefix, later counter (other tests may take ids in between).
        assert_eq!(parse(&a) >> 32, parse(&b) >> 32);
        assert!(parse(&b) > parse(&a), "{a} then {b}");
    }
}
