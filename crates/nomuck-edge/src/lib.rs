//! The edge: everything between the socket and an API crate.
//!
//! For every request it assigns a request id, enforces connection, header and body
//! limits, verifies the SigV4 signature (header, presigned or streaming aws-chunked)
//! and its region, routes by path prefix for APIs that claim paths (SP-API's) and
//! otherwise by the service named in the credential scope, settles
//! request bodies a handler did not read (see `unread`), and records metrics. It
//! knows no wire protocol beyond HTTP: errors are rendered by the chosen API
//! ([`nomuck_http::ServiceApi::reject`]).
//!
//! With a certificate ([`Edge::with_tls`]) the main listener speaks TLS only
//! (rustls, ALPN `http/1.1`); each request's context says what the connection
//! negotiated, for `aws:SecureTransport` and the access log.
//!
//! Paths under `/_nomuck/` are the edge's own: health, metrics (or on a separate
//! loopback ops listener instead) and the admin API. So is LWA's token endpoint
//! (`/auth/o2/token`, see `token_endpoint`) when access tokens are configured.

mod auth;
mod metrics;
mod server;
mod tls;
mod token_endpoint;
mod unread;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use auth::{FormKeys, KeyResolver, ResolvedKey};
pub use metrics::Metrics;
pub use server::serve;
pub use tls::{ServerCert, TlsError, client_config, self_signed_pem};

use nomuck_http::{AccessTokenResolver, ServiceApi};

/// Reserved path prefix of the edge's own endpoints.
pub const RESERVED_PREFIX: &str = "/_nomuck/";
pub const HEALTH_PATH: &str = "/_nomuck/health";
pub const METRICS_PATH: &str = "/_nomuck/metrics";
pub const ADMIN_PREFIX: &str = "/_nomuck/admin/";

/// Smallest accepted request-head limit: signed SDK requests need about this much,
/// and it is the smallest read buffer hyper allows.
pub const MIN_HEADER_BYTES: usize = 8192;

#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// The region this server calls itself; requests signed for another are refused
    /// (except by the admin API), as AWS regional endpoints do.
    pub region: String,
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Largest request head (request line and headers) in bytes; at least
    /// [`MIN_HEADER_BYTES`].
    pub max_header_bytes: usize,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// A client must send its whole request head within this time.
    pub header_read_timeout: Duration,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            max_connections: 4096,
            max_header_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(30),
        }
    }
}

/// The assembled edge: the APIs it routes to and how it authenticates.
pub struct Edge {
    config: EdgeConfig,
    apis: HashMap<&'static str, Arc<dyn ServiceApi>>,
    /// APIs by path prefix ([`ServiceApi::path_prefixes`]), checked before the
    /// credential scope and before any API (S3's virtual hosts) sees the request.
    paths: Vec<(&'static str, Arc<dyn ServiceApi>)>,
    /// Grants and resolves `x-amz-access-token`s; `None` serves no token endpoint.
    tokens: Option<Arc<dyn AccessTokenResolver>>,
    /// Where requests without credentials go (Storage, for public objects).
    anonymous: Option<Arc<dyn ServiceApi>>,
    admin: Option<Arc<dyn ServiceApi>>,
    /// Set: the main listener speaks TLS only.
    tls: Option<tokio_rustls::TlsAcceptor>,
    auth: auth::Authenticator,
    metrics: Metrics,
}

impl Edge {
    pub fn new(config: EdgeConfig, resolver: Arc<dyn KeyResolver>) -> Self {
        Self {
            config,
            apis: HashMap::new(),
            paths: Vec::new(),
            tokens: None,
            anonymous: None,
            admin: None,
            tls: None,
            auth: auth::Authenticator::new(resolver),
            metrics: Metrics::default(),
        }
    }

    /// Route requests signed for any of `api.scope_names()` to `api`, and every
    /// request whose path starts with one of `api.path_prefixes()`.
    pub fn with_api(mut self, api: Arc<dyn ServiceApi>) -> Self {
        for name in api.scope_names() {
            self.apis.insert(name, api.clone());
        }
        for prefix in api.path_prefixes() {
            self.paths.push((prefix, api.clone()));
        }
        self
    }

    /// Serve LWA's token endpoint ([`nomuck_http::access_token::TOKEN_PATH`]) and
    /// accept `x-amz-access-token` in place of a signature on path-routed APIs.
    pub fn with_access_tokens(mut self, tokens: Arc<dyn AccessTokenResolver>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// The API that claims `path` by prefix, if any.
    fn path_api(&self, path: &str) -> Option<&Arc<dyn ServiceApi>> {
        self.paths
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix))
            .map(|(_, api)| api)
    }

    /// Route unsigned requests to `api`.
    pub fn with_anonymous_api(mut self, api: Arc<dyn ServiceApi>) -> Self {
        self.anonymous = Some(api);
        self
    }

    /// Serve the admin API under [`ADMIN_PREFIX`].
    pub fn with_admin_api(mut self, api: Arc<dyn ServiceApi>) -> Self {
        self.admin = Some(api);
        self
    }

    /// Serve the main listener over TLS only, presenting `cert` (which
    /// [`ServerCert::reload`] can replace while serving).
    pub fn with_tls(mut self, cert: &Arc<ServerCert>) -> Result<Self, TlsError> {
        self.tls = Some(tokio_rustls::TlsAcceptor::from(cert.server_config()?));
        Ok(self)
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn config(&self) -> &EdgeConfig {
        &self.config
    }

    /// Service names requests can be signed for, sorted, for error messages.
    fn offered(&self) -> String {
        let mut names: Vec<&str> = self.apis.keys().copied().collect();
        names.sort_unstable();
        names.join(", ")
    }
}

/// Where a connection came from, for logs and policies.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);
