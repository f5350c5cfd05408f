//! LWA-style bearer tokens, for SP-API client libraries that do not sign requests.
//!
//! Such a library posts a refresh-token grant to the token endpoint
//! ([`TOKEN_PATH`], served by the edge without authentication) and then sends the
//! access token it got as `x-amz-access-token` alone. The edge does both through an
//! [`AccessTokenResolver`] the binary implements over the account store, so neither
//! the edge nor any API crate sees client secrets.

use crate::{Principal, Rejection};

/// Where Login with Amazon's token endpoint lives; clients are configured with it.
pub const TOKEN_PATH: &str = "/auth/o2/token";

/// The header that carries an access token in place of a signature.
pub const ACCESS_TOKEN_HEADER: &str = "x-amz-access-token";

/// A `grant_type=refresh_token` request's credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshGrant {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
}

// Hand-written so logs never carry the secrets.
impl std::fmt::Debug for RefreshGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshGrant")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// An access token granted, with its lifetime in seconds (LWA's `expires_in`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedToken {
    pub access_token: String,
    pub expires_in: u64,
}

/// Why a grant was refused, as LWA's `error` codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRefusal {
    /// Unknown or revoked client, or a wrong secret (401 `invalid_client`).
    InvalidClient,
    /// A refresh token that is not the client's (400 `invalid_grant`).
    InvalidGrant,
    /// The credential store failed.
    Internal(String),
}

/// Grants and resolves access tokens. Called on every token-authenticated request, so
/// `resolve` must be cheap and must refuse a revoked client's tokens at once.
#[async_trait::async_trait]
pub trait AccessTokenResolver: Send + Sync + 'static {
    /// The token endpoint's refresh-token grant.
    async fn grant(&self, grant: &RefreshGrant) -> Result<GrantedToken, GrantRefusal>;

    /// Who an access token stands for. Refusals are `Rejection::Auth` with
    /// [`crate::AuthError::InvalidAccessToken`], `AccessTokenExpired` or
    /// `AccessTokenRevoked`, or `Rejection::Internal` when the lookup failed.
    async fn resolve(&self, access_token: &str) -> Result<Principal, Rejection>;
}
