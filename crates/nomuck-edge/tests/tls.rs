//! The edge over TLS on a real socket: handshakes with a generated certificate,
//! what a request learns of its connection, plain HTTP on the TLS port, unread
//! bodies, and a certificate replaced while serving.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use nomuck_edge::{Edge, EdgeConfig, KeyResolver, ResolvedKey, ServerCert};
use nomuck_http::{Rejection, Request, RequestContext, Response, ServiceApi, full_body};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

struct NoKeys;

#[async_trait::async_trait]
impl KeyResolver for NoKeys {
    async fn resolve(&self, _access_key_id: &str) -> Result<Option<ResolvedKey>, String> {
        Ok(None)
    }
}

/// Answers every unsigned request with what its context says of the connection;
/// `/refuse` answers 403 without reading the body.
struct Echo;

#[async_trait::async_trait]
impl ServiceApi for Echo {
    fn scope_names(&self) -> &'static [&'static str] {
        &["s3"]
    }

    fn body_limit(&self, _head: &http::request::Parts) -> u64 {
        1 << 20
    }

    async fn handle(&self, ctx: RequestContext, request: Request) -> Response {
        let status = match request.uri().path() {
            "/refuse" => StatusCode::FORBIDDEN,
            _ => StatusCode::OK,
        };
        let body = match ctx.tls {
            Some(tls) => format!(
                "secure={} {} {}",
                ctx.secure(),
                tls.version,
                tls.cipher_suite
            ),
            None => format!("secure={}", ctx.secure()),
        };
        let mut response = Response::new(full_body(body));
        *response.status_mut() = status;
        response
    }

    fn reject(&self, _ctx: &RequestContext, rejection: Rejection) -> Response {
        let mut response = Response::new(full_body(format!("{rejection:?}")));
        *response.status_mut() = StatusCode::BAD_REQUEST;
        response
    }
}

/// Write a new self-signed certificate for localhost into `dir`; its PEM.
fn write_cert(dir: &Path) -> String {
    let (cert, key) = nomuck_edge::self_signed_pem(&["localhost", "127.0.0.1"]).unwrap();
    std::fs::write(dir.join("cert.pem"), &cert).unwrap();
    std::fs::write(dir.join("key.pem"), &key).unwrap();
    cert
}

async fn start(cert: &Arc<ServerCert>) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let config = EdgeConfig {
        header_read_timeout: Duration::from_secs(2),
        ..EdgeConfig::default()
    };
    let api: Arc<dyn ServiceApi> = Arc::new(Echo);
    let edge = Edge::new(config, Arc::new(NoKeys))
        .with_anonymous_api(api)
        .with_tls(cert)
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(nomuck_edge::serve(Arc::new(edge), listener, None, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// A TLS connection from a client trusting only `cert_pem` (the edge's own client
/// configuration, which offers HTTP/1.1 by ALPN).
async fn connect(addr: SocketAddr, cert_pem: &str) -> std::io::Result<TlsStream<TcpStream>> {
    let trusted = tempfile::NamedTempFile::new()?;
    std::fs::write(trusted.path(), cert_pem)?;
    let config = nomuck_edge::client_config(&[trusted.path().to_owned()]).unwrap();
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    TlsConnector::from(config).connect(name, tcp).await
}

const GET: &[u8] = b"GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n";

#[tokio::test]
async fn requests_over_tls_know_the_version_and_cipher_suite() {
    let dir = tempfile::tempdir().unwrap();
    let pem = write_cert(dir.path());
    let cert = ServerCert::load(&dir.path().join("cert.pem"), &dir.path().join("key.pem")).unwrap();
    let (addr, stop) = start(&cert).await;

    let mut tls = connect(addr, &pem).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (text, _) = common::exchange_on(&mut tls, GET, "TLS_").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // rustls prefers TLS 1.3 and AES-256 when the CPU has AES instructions.
    assert!(
        text.contains("secure=true TLSv1.3 TLS_AES_256_GCM_SHA384")
            || text.contains("secure=true TLSv1.3 TLS_AES_128_GCM_SHA256")
            || text.contains("secure=true TLSv1.3 TLS_CHACHA20_POLY1305_SHA256"),
        "{text}"
    );
    // Keep-alive works over TLS: a second request on the same connection.
    let (text, closed) = common::exchange_on(&mut tls, GET, "secure=true").await;
    assert!(text.starts_with("HTTP/1.1 200") && !closed, "{text}");

    // A client that does not trust the certificate fails its own handshake only.
    let other = nomuck_edge::self_signed_pem(&["localhost"]).unwrap().0;
    assert!(connect(addr, &other).await.is_err());
    let (text, _) = common::exchange_on(&mut tls, GET, "secure=true").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let _ = stop.send(());
}

#[tokio::test]
async fn plain_http_on_the_tls_port_is_told_to_use_https_and_closed() {
    let dir = tempfile::tempdir().unwrap();
    let pem = write_cert(dir.path());
    let cert = ServerCert::load(&dir.path().join("cert.pem"), &dir.path().join("key.pem")).unwrap();
    let (addr, stop) = start(&cert).await;
    // A TLS connection open meanwhile is not disturbed.
    let mut tls = connect(addr, &pem).await.unwrap();

    let mut plain = TcpStream::connect(addr).await.unwrap();
    let (text, closed) = common::exchange_on(&mut plain, GET, "").await;
    assert!(text.starts_with("HTTP/1.1 400 Bad Request"), "{text}");
    assert!(text.contains("<Code>HttpsRequired</Code>"), "{text}");
    assert!(
        !text.contains("secure="),
        "the request must not be served: {text}"
    );
    assert!(closed);

    // Nor by garbage that starts like a handshake record.
    let mut junk = TcpStream::connect(addr).await.unwrap();
    let (text, closed) = common::exchange_on(&mut junk, b"\x16\x03\x01\x00\x05hello", "").await;
    assert!(!text.contains("secure="), "{text}");
    assert!(closed);

    let (text, _) = common::exchange_on(&mut tls, GET, "secure=true").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let _ = stop.send(());
}

#[tokio::test]
async fn an_unread_body_over_tls_closes_the_connection_after_the_reply() {
    let dir = tempfile::tempdir().unwrap();
    let pem = write_cert(dir.path());
    let cert = ServerCert::load(&dir.path().join("cert.pem"), &dir.path().join("key.pem")).unwrap();
    let (addr, stop) = start(&cert).await;
    let mut tls = connect(addr, &pem).await.unwrap();
    // The client waits for 100-continue and never sends the body; what follows
    // must not be parsed as a request.
    let request = b"PUT /refuse HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\
Content-Length: 37\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let (text, closed) = common::exchange_on(&mut tls, request, "").await;
    assert!(text.starts_with("HTTP/1.1 403"), "{text}");
    assert!(text.contains("connection: close\r\n"), "{text}");
    assert_eq!(text.matches("HTTP/1.1 ").count(), 1, "{text}");
    assert!(closed);
    let _ = stop.send(());
}

#[tokio::test]
async fn reload_presents_a_new_certificate_to_new_connections_and_keeps_a_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_cert(dir.path());
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let cert = ServerCert::load(&cert_path, &key_path).unwrap();
    let (addr, stop) = start(&cert).await;
    let der = |pem: &str| CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let served = |s: &TlsStream<TcpStream>| s.get_ref().1.peer_certificates().unwrap()[0].clone();

    let mut old = connect(addr, &first).await.unwrap();
    assert_eq!(served(&old), der(&first));

    let second = write_cert(dir.path());
    // Until the reload, the first certificate is still the one presented.
    assert_eq!(served(&connect(addr, &first).await.unwrap()), der(&first));
    cert.reload().unwrap();
    let fresh = connect(addr, &second).await.unwrap();
    assert_eq!(served(&fresh), der(&second));
    assert!(
        connect(addr, &first).await.is_err(),
        "the old certificate is still served"
    );
    // A connection made before the reload goes on.
    let (text, _) = common::exchange_on(&mut old, GET, "secure=true").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");

    // A key that does not fit, or no certificate at all, leaves the second in place.
    let (_, stray_key) = nomuck_edge::self_signed_pem(&["localhost"]).unwrap();
    std::fs::write(&key_path, stray_key).unwrap();
    let err = cert.reload().unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
    std::fs::write(&cert_path, "not a certificate").unwrap();
    assert!(cert.reload().is_err());
    assert_eq!(served(&connect(addr, &second).await.unwrap()), der(&second));
    let _ = stop.send(());
}
