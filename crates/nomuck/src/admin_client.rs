//! A small client for the admin API of a running server, signed with SigV4.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use nomuck_admin::{ErrorList, PATH_PREFIX};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::data_dir::{ADMIN_CREDENTIALS_FILE, ServerInfo};

pub struct AdminClient {
    endpoint: String,
    access_key_id: String,
    secret_access_key: String,
    region: String,
    /// PEM certificates an https endpoint is trusted by, besides `AWS_CA_BUNDLE`.
    ca_bundle: Option<PathBuf>,
}

impl AdminClient {
    pub fn for_server(data_dir: &Path, server: &ServerInfo) -> anyhow::Result<Self> {
        let (access_key_id, secret_access_key) = credentials(data_dir)?;
        Ok(Self {
            endpoint: server.endpoint(),
            access_key_id,
            secret_access_key,
            region: "us-east-1".into(),
            ca_bundle: server.ca_bundle.clone(),
        })
    }

    /// A client for `endpoint` (`http://host:port` or `https://…`) with these
    /// credentials. An https endpoint is trusted by `AWS_CA_BUNDLE`, as aws-cli does,
    /// and by what [`AdminClient::trusting`] adds.
    pub fn new(
        endpoint: String,
        access_key_id: String,
        secret_access_key: String,
        region: String,
    ) -> Self {
        Self {
            endpoint,
            access_key_id,
            secret_access_key,
            region,
            ca_bundle: None,
        }
    }

    /// Also trust the certificates in this PEM file (a server's own, from its
    /// server.json).
    pub fn trusting(mut self, ca_bundle: Option<PathBuf>) -> Self {
        self.ca_bundle = ca_bundle;
        self
    }

    /// Call `method path` (below the admin prefix) and decode the JSON reply.
    pub async fn call<T: DeserializeOwned, B: Serialize>(
        &self,
        method: http::Method,
        path: &str,
        body: Option<&B>,
    ) -> anyhow::Result<T> {
        let body = match body {
            Some(b) => Bytes::from(serde_json::to_vec(b)?),
            None => Bytes::new(),
        };
        let (status, bytes) = self
            .send(
                method,
                &format!("{PATH_PREFIX}{path}"),
                "nomuck",
                "application/json",
                body,
            )
            .await?;
        if !status.is_success() {
            if let Ok(errors) = serde_json::from_slice::<ErrorList>(&bytes)
                && let Some(first) = errors.errors.first()
            {
                bail!("{} ({})", first.message, first.code);
            }
            bail!(
                "the server answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        serde_json::from_slice(&bytes).context("the server's reply is not the expected JSON")
    }

    /// Sends one request signed for `service`; the reply's status and body.
    pub async fn send(
        &self,
        method: http::Method,
        path_and_query: &str,
        service: &str,
        content_type: &str,
        body: Bytes,
    ) -> anyhow::Result<(http::StatusCode, Bytes)> {
        let uri: http::Uri = format!("{}{path_and_query}", self.endpoint).parse()?;
        let request = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::CONTENT_TYPE, content_type)
            .body(())?;
        let credentials = nomuck_sigv4::Credentials {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            session_token: None,
        };
        let (mut parts, ()) = request.into_parts();
        nomuck_sigv4::sign_request(
            &parts.method,
            &parts.uri,
            &mut parts.headers,
            &nomuck_sigv4::PayloadHash::Sha256(Sha256::digest(&body).into()),
            &nomuck_sigv4::SigningParams {
                credentials: &credentials,
                region: &self.region,
                service,
                time: time::OffsetDateTime::now_utc(),
                encoding: nomuck_sigv4::UriEncoding::Standard,
            },
        )
        .context("cannot sign the request")?;
        let request = http::Request::from_parts(parts, Full::new(body));
        let response = if request.uri().scheme() == Some(&http::uri::Scheme::HTTPS) {
            self.send_over_tls(request).await
        } else {
            let client = Client::builder(TokioExecutor::new()).build_http();
            client.request(request).await.map_err(anyhow::Error::from)
        }
        .with_context(|| format!("cannot reach the nomuck server at {}", self.endpoint))?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }
}

impl AdminClient {
    /// One request on a new TLS connection (commands make a handful).
    async fn send_over_tls(
        &self,
        mut request: http::Request<Full<Bytes>>,
    ) -> anyhow::Result<http::Response<hyper::body::Incoming>> {
        let mut bundles: Vec<PathBuf> = self.ca_bundle.iter().cloned().collect();
        if let Some(extra) = std::env::var_os("AWS_CA_BUNDLE").filter(|v| !v.is_empty()) {
            bundles.push(extra.into());
        }
        if bundles.is_empty() {
            bail!(
                "{} is https: set AWS_CA_BUNDLE to the server's certificate (PEM)",
                self.endpoint
            );
        }
        let config = nomuck_edge::client_config(&bundles)?;
        let uri = request.uri().clone();
        let host = uri.host().context("the endpoint names no host")?;
        let port = uri.port_u16().unwrap_or(443);
        let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)).await?;
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(
            host.trim_matches(['[', ']']).to_owned(),
        )?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        // On a connection of its own, a request names only its path (the Host
        // header, signed, names the server).
        *request.uri_mut() = uri.path_and_query().map_or("/", |p| p.as_str()).parse()?;
        Ok(sender.send_request(request).await?)
    }
}

/// The key a CLI command signs with: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` when
/// both are set, else the data directory's admin key.
pub fn credentials(data_dir: &Path) -> anyhow::Result<(String, String)> {
    match (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Ok(id), Ok(secret)) => Ok((id, secret)),
        _ => read_credentials(&data_dir.join(ADMIN_CREDENTIALS_FILE)),
    }
}

/// Read `[default]` from an aws-cli shared-credentials file.
fn read_credentials(path: &Path) -> anyhow::Result<(String, String)> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "a server holds the data directory, and its admin key could not be read from {} \
             (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to an admin key instead)",
            path.display()
        )
    })?;
    let mut in_default = false;
    let (mut id, mut secret) = (None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_default = line == "[default]";
        } else if in_default && let Some((k, v)) = line.split_once('=') {
            match k.trim() {
                "aws_access_key_id" => id = Some(v.trim().to_owned()),
                "aws_secret_access_key" => secret = Some(v.trim().to_owned()),
                _ => {}
            }
        }
    }
    match (id, secret) {
        (Some(id), Some(secret)) => Ok((id, secret)),
        _ => bail!("{} has no [default] access key", path.display()),
    }
}
