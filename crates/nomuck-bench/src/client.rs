//! A minimal S3 client: one keep-alive HTTP/1.1 connection per worker,
//! path-style addressing, SigV4 with `UNSIGNED-PAYLOAD` so bodies are never
//! hashed by the client.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use nomuck_sigv4::{Credentials, PayloadHash, SigningParams, UriEncoding, sign_request};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use thiserror::Error;
use tokio::net::TcpStream;

/// Characters AWS leaves unencoded in query values.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub fn encode_query_value(v: &str) -> String {
    utf8_percent_encode(v, QUERY_VALUE).to_string()
}

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("cannot build the request: {0}")]
    Request(String),
    #[error("cannot sign the request: {0}")]
    Sign(#[from] nomuck_sigv4::AuthError),
}

/// Where requests go and who signs them; shared by every worker.
#[derive(Debug)]
pub struct Target {
    pub addr: SocketAddr,
    /// `Host` header value (the endpoint's authority).
    pub host: HeaderValue,
    pub credentials: Credentials,
    pub region: String,
    pub bucket: String,
    /// For an https endpoint: the client and the name the certificate must be for.
    pub tls: Option<(
        Arc<tokio_rustls::rustls::ClientConfig>,
        tokio_rustls::rustls::pki_types::ServerName<'static>,
    )>,
}

pub struct Conn {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub async fn connect(target: Arc<Target>) -> Result<Self, ClientError> {
        let mut c = Self {
            target,
            sender: None,
        };
        c.ensure_connected().await?;
        Ok(c)
    }

    async fn ensure_connected(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, ClientError> {
        if let Some(s) = &mut self.sender {
            // A closed connection (server timeout, `Connection: close`) is
            // replaced transparently; its cost lands in this request's latency.
            if s.ready().await.is_ok() {
                return Ok(self.sender.as_mut().expect("checked above"));
            }
            self.sender = None;
        }
        let addr = self.target.addr;
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect { addr, source })?;
        stream
            .set_nodelay(true)
            .map_err(|source| ClientError::Connect { addr, source })?;
        let sender = match &self.target.tls {
            None => handshake(stream).await?,
            Some((config, name)) => {
                let stream = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name.clone(), stream)
                    .await
                    .map_err(|source| ClientError::Connect { addr, source })?;
                handshake(stream).await?
            }
        };
        Ok(self.sender.insert(sender))
    }

    /// Sends a signed request. `path_and_query` is already encoded.
    pub async fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: Bytes,
        extra_headers: &[(HeaderName, HeaderValue)],
    ) -> Result<(StatusCode, Incoming), ClientError> {
        let uri: Uri = path_and_query
            .parse()
            .map_err(|e| ClientError::Request(format!("{path_and_query}: {e}")))?;
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(HOST, self.target.host.clone());
        if !body.is_empty() || method == Method::PUT || method == Method::POST {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        for (k, v) in extra_headers {
            headers.insert(k.clone(), v.clone());
        }
        sign_request(
            &method,
            &uri,
            &mut headers,
            &PayloadHash::Unsigned,
            &SigningParams {
                credentials: &self.target.credentials,
                region: &self.target.region,
                service: "s3",
                time: time::OffsetDateTime::now_utc(),
                encoding: UriEncoding::S3,
            },
        )?;
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        let sender = self.ensure_connected().await?;
        let resp = match sender.try_send_request(req).await {
            Ok(r) => r,
            Err(mut e) => {
                self.sender = None;
                // The server closed the idle connection before the request
                // went out (a keep-alive race): retry once on a new one.
                let Some(req) = e.take_message() else {
                    return Err(e.into_error().into());
                };
                let sender = self.ensure_connected().await?;
                match sender.send_request(req).await {
                    Ok(r) => r,
                    Err(e) => {
                        self.sender = None;
                        return Err(e.into());
                    }
                }
            }
        };
        Ok((resp.status(), resp.into_body()))
    }

    /// Forgets the connection (after a body error) so the next request
    /// starts on a fresh one.
    pub fn reset(&mut self) {
        self.sender = None;
    }
}

/// Reads a whole body, keeping at most `limit` bytes.
pub async fn collect(mut body: Incoming, limit: usize) -> Result<Bytes, hyper::Error> {
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            let room = limit.saturating_sub(out.len());
            out.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    Ok(out.freeze())
}

/// Reads a body without keeping it: returns its length and whether it
/// equals `expect` (checked only when given).
pub async fn drain(mut body: Incoming, expect: Option<&[u8]>) -> Result<(u64, bool), hyper::Error> {
    let mut len = 0usize;
    let mut same = true;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if let Some(exp) = expect
                && same
            {
                same = exp.get(len..len + data.len()) == Some(&data[..]);
            }
            len += data.len();
        }
    }
    if let Some(exp) = expect {
        same &= len == exp.len();
    }
    Ok((len as u64, same))
}

/// The text of the first `<tag>…</tag>` in an XML body, unescaped.
pub fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<std::borrow::Cow<'a, str>> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(xml_unescape(&xml[start..end]))
}

fn xml_unescape(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('&') {
        return s.into();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(semi) = rest.find(';') else { break };
        let ent = &rest[1..semi];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out.into()
}

/// HTTP/1.1 over `stream`, its connection driven by a task of its own.
async fn handshake<S>(stream: S) -> Result<SendRequest<Full<Bytes>>, ClientError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes; errors
        // surface on the next request instead.
        let _ = conn.await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_helpers() {
        let x = "<Error><Code>NoSuchKey</Code><Message>a &amp; b &lt;c&gt; &#x41;&#66;</Message></Error>";
        assert_eq!(xml_text(x, "Code").as_deref(), Some("NoSuchKey"));
        assert_eq!(xml_text(x, "Message").as_deref(), Some("a & b <c> AB"));
        assert_eq!(xml_text(x, "Missing"), None);
        assert_eq!(xml_unescape("x &bogus; y"), "x &bogus; y");
    }

    #[test]
    fn query_encoding() {
        assert_eq!(encode_query_value("a/b c+d~_.-"), "a%2Fb%20c%2Bd~_.-");
    }
}
