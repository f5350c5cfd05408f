//! Login-with-Amazon-style clients, for SP-API client libraries that do not sign.
//!
//! Such a library holds a client id, a client secret and a refresh token; it trades
//! them at the token endpoint for an access token ([`crate::access_token`]) and sends
//! that alone as `x-amz-access-token`. A client belongs to one account; its secret and
//! refresh token are generated here, shown once, and sealed as access-key secrets are.
//! Lookups are cached like access keys, with the same tombstone on revocation, so a
//! revoked client's refresh token and access tokens stop working at once.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nomuck_meta::{Account, LwaClient, MetaError, Millis, Mutation};
use rand::RngCore;
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;

use crate::access_token::{AccessTokenKey, TokenFault};
use crate::{Iam, IamError, now_millis, read, write};

/// Lifetime of an access token, as LWA's `expires_in`.
pub const ACCESS_TOKEN_TTL_SECS: u64 = 3600;

const CLIENT_ID_PREFIX: &str = "amzn1.application-oa2-client.";
const CLIENT_SECRET_PREFIX: &str = "amzn1.oa2-cs.v1.";
const REFRESH_TOKEN_PREFIX: &str = "Atzr|";

/// A newly created client. The only time its secret and refresh token are visible.
#[derive(Debug, Clone)]
pub struct NewLwaClient {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    pub account: Account,
}

/// A client as listed: never its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LwaClientInfo {
    pub client_id: String,
    pub account_id: String,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

/// A client that may obtain and use tokens right now, with its account.
#[derive(Debug)]
pub struct ActiveLwaClient {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    pub account: Account,
}

/// An access token handed out by [`AccessTokens::exchange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u64,
}

/// Why a refresh-token grant was refused, in LWA's terms.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// Unknown or revoked client, or a wrong secret (LWA `invalid_client`).
    #[error("the client is unknown or its secret is wrong")]
    InvalidClient,
    /// The refresh token is not this client's (LWA `invalid_grant`).
    #[error("the refresh token is invalid")]
    InvalidGrant,
    #[error(transparent)]
    Iam(#[from] IamError),
}

/// Why an access token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the access token is malformed or was not issued by this server")]
    Malformed,
    #[error("the access token has expired")]
    Expired,
    /// Its client was revoked, or its account is gone.
    #[error("the access token's client has been revoked")]
    Revoked,
    #[error(transparent)]
    Iam(#[from] IamError),
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// Seal label of a client's refresh token; its secret is sealed under the client id
/// alone, so neither sealed value can stand in for the other.
fn refresh_label(client_id: &str) -> String {
    format!("{client_id}/refresh-token")
}

impl Iam {
    /// A new client for the account, with a fresh secret and refresh token.
    pub async fn create_lwa_client(
        &self,
        account_id_or_name: &str,
    ) -> Result<NewLwaClient, IamError> {
        let account = self.account(account_id_or_name).await?;
        let client_id = format!("{CLIENT_ID_PREFIX}{}", hex::encode(random_bytes::<16>()));
        let client_secret = format!(
            "{CLIENT_SECRET_PREFIX}{}",
            hex::encode(random_bytes::<32>())
        );
        let refresh_token = format!(
            "{REFRESH_TOKEN_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(random_bytes::<48>())
        );
        let record = LwaClient {
            secret_sealed: self.sealer.seal(&client_id, &client_secret),
            refresh_token_sealed: self.sealer.seal(&refresh_label(&client_id), &refresh_token),
            client_id: client_id.clone(),
            account_id: account.id.clone(),
            created_at: now_millis(),
            revoked_at: None,
        };
        self.store
            .commit(vec![Mutation::CreateLwaClient(record)])
            .await?;
        Ok(NewLwaClient {
            client_id,
            client_secret,
            refresh_token,
            account,
        })
    }

    /// The account's clients, revoked ones included.
    pub async fn lwa_clients(
        &self,
        account_id_or_name: &str,
    ) -> Result<Vec<LwaClientInfo>, IamError> {
        let account = self.account(account_id_or_name).await?;
        Ok(self
            .store
            .lwa_clients(&account.id)
            .await?
            .into_iter()
            .map(|c| LwaClientInfo {
                client_id: c.client_id,
                account_id: c.account_id,
                created_at: c.created_at,
                revoked_at: c.revoked_at,
            })
            .collect())
    }

    /// Revoke a client. Once this returns, neither its refresh token nor any access
    /// token minted for it is accepted.
    pub async fn revoke_lwa_client(&self, client_id: &str) -> Result<(), IamError> {
        let revoke = Mutation::RevokeLwaClient {
            client_id: client_id.to_owned(),
            at: now_millis(),
        };
        match self.store.commit(vec![revoke]).await {
            Ok(_) => {}
            Err(MetaError::NotFound(_)) => {
                return Err(IamError::NoSuchLwaClient(client_id.to_owned()));
            }
            Err(e) => return Err(e.into()),
        }
        write(&self.lwa_cache).insert(client_id.to_owned(), None);
        Ok(())
    }

    /// The client and its account if `client_id` exists, is not revoked and its
    /// account still exists. Cached as [`Iam::active_key`] is.
    pub async fn active_lwa_client(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<ActiveLwaClient>>, IamError> {
        if let Some(cached) = read(&self.lwa_cache).get(client_id) {
            return Ok(cached.clone());
        }
        let Some(record) = self.store.lwa_client(client_id).await? else {
            return Ok(None);
        };
        let account = match record.revoked_at {
            Some(_) => None,
            None => self.store.account(&record.account_id).await?,
        };
        let active = match account {
            None => None,
            Some(account) => Some(Arc::new(ActiveLwaClient {
                client_secret: self.sealer.open(&record.client_id, &record.secret_sealed)?,
                refresh_token: self.sealer.open(
                    &refresh_label(&record.client_id),
                    &record.refresh_token_sealed,
                )?,
                client_id: record.client_id,
                account,
            })),
        };
        // As for keys: an entry already present (a revocation's tombstone) wins.
        Ok(write(&self.lwa_cache)
            .entry(client_id.to_owned())
            .or_insert(active)
            .clone())
    }
}

/// Mints and verifies access tokens for the token endpoint and the edge.
pub struct AccessTokens {
    iam: Arc<Iam>,
    key: AccessTokenKey,
}

impl AccessTokens {
    /// `key` must survive restarts for tokens to (derive it from the master key).
    pub fn new(iam: Arc<Iam>, key: [u8; 32]) -> Self {
        Self {
            iam,
            key: AccessTokenKey::from_bytes(key),
        }
    }

    /// LWA's refresh-token grant: an access token for the client, if its secret and
    /// refresh token are right (compared in constant time).
    pub async fn exchange(
        &self,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
    ) -> Result<IssuedToken, GrantError> {
        let client = self
            .iam
            .active_lwa_client(client_id)
            .await?
            .ok_or(GrantError::InvalidClient)?;
        if !bool::from(
            client
                .client_secret
                .as_bytes()
                .ct_eq(client_secret.as_bytes()),
        ) {
            return Err(GrantError::InvalidClient);
        }
        if !bool::from(
            client
                .refresh_token
                .as_bytes()
                .ct_eq(refresh_token.as_bytes()),
        ) {
            return Err(GrantError::InvalidGrant);
        }
        let expiry_ms = (now_millis().max(0) as u64).saturating_add(ACCESS_TOKEN_TTL_SECS * 1000);
        Ok(IssuedToken {
            access_token: self
                .key
                .mint(&client.account.id, &client.client_id, expiry_ms),
            expires_in: ACCESS_TOKEN_TTL_SECS,
        })
    }

    /// The client (and its account) an access token stands for.
    pub async fn verify(&self, token: &str) -> Result<Arc<ActiveLwaClient>, TokenError> {
        let claims =
            self.key
                .open(token, now_millis().max(0) as u64)
                .map_err(|fault| match fault {
                    TokenFault::Malformed => TokenError::Malformed,
                    TokenFault::Expired => TokenError::Expired,
                })?;
        match self.iam.active_lwa_client(&claims.client_id).await? {
            Some(client) if client.account.id == claims.account_id => Ok(client),
            _ => Err(TokenError::Revoked),
        }
    }
}
