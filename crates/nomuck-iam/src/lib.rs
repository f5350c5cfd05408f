//! Accounts, access keys, and LWA clients with their access tokens ([`lwa`]).
//!
//! An account owns resources across every service; an access key (id + secret) lets a
//! program act as its account. Secrets are generated here, shown once, and stored
//! sealed ([`seal`]). The edge resolves an access key id on every signed request through
//! [`Iam::active_key`], which is cached and invalidated on revocation so a revoked key
//! stops working at once.

pub mod access_token;
mod ids;
pub mod lwa;
pub mod seal;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use nomuck_meta::{AccessKey, Account, MetaError, MetaStore, Millis, Mutation};

pub use ids::{is_account_id, validate_account_name};
pub use lwa::{
    ACCESS_TOKEN_TTL_SECS, AccessTokens, ActiveLwaClient, GrantError, IssuedToken, LwaClientInfo,
    NewLwaClient, TokenError,
};
pub use seal::{MASTER_KEY_LEN, SecretSealer};

/// Name of the account made on first start.
pub const ADMIN_ACCOUNT_NAME: &str = "admin";

#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("{0}")]
    InvalidName(String),
    #[error("account {0:?} already exists")]
    AccountExists(String),
    #[error("no account {0:?}")]
    NoSuchAccount(String),
    #[error("no access key {0:?}")]
    NoSuchKey(String),
    #[error("no LWA client {0:?}")]
    NoSuchLwaClient(String),
    #[error(
        "the secret of access key {0} cannot be decrypted: the data directory's master key does not match the database"
    )]
    SecretUndecryptable(String),
    #[error(transparent)]
    Store(MetaError),
}

impl From<MetaError> for IamError {
    fn from(e: MetaError) -> Self {
        IamError::Store(e)
    }
}

/// A newly created access key. The only time the secret is visible.
#[derive(Debug, Clone)]
pub struct NewAccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account: Account,
}

/// A key that may sign requests right now, with its account.
#[derive(Debug)]
pub struct ActiveKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account: Account,
}

/// A key as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub access_key_id: String,
    pub account_id: String,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

pub struct Iam {
    store: Arc<dyn MetaStore>,
    sealer: SecretSealer,
    /// `None` marks a key known to be revoked or absent after a revocation; see
    /// [`Iam::active_key`] for why lookups never overwrite it.
    cache: RwLock<HashMap<String, Option<Arc<ActiveKey>>>>,
    /// LWA clients by id, kept as `cache` is (see [`Iam::active_lwa_client`]).
    lwa_cache: RwLock<HashMap<String, Option<Arc<ActiveLwaClient>>>>,
}

impl Iam {
    pub fn new(store: Arc<dyn MetaStore>, master_key: &[u8; MASTER_KEY_LEN]) -> Self {
        Self {
            store,
            sealer: SecretSealer::new(master_key),
            cache: RwLock::new(HashMap::new()),
            lwa_cache: RwLock::new(HashMap::new()),
        }
    }

    /// Seals a secret of another kind (a webhook signing secret) with the data
    /// directory's master key, bound to `label`.
    pub fn seal_secret(&self, label: &str, secret: &str) -> Vec<u8> {
        self.sealer.seal(label, secret)
    }

    /// Opens what [`Iam::seal_secret`] sealed under the same `label`.
    pub fn open_secret(&self, label: &str, sealed: &[u8]) -> Result<String, IamError> {
        self.sealer.open(label, sealed)
    }

    /// On a store with no accounts, create the admin account and its first key.
    /// `persist` runs before the commit (to write the credentials file), so a crash
    /// can never leave an admin whose secret nobody was given: without the commit the
    /// next start simply bootstraps again.
    pub async fn bootstrap_admin<E>(
        &self,
        persist: impl FnOnce(&NewAccessKey) -> Result<(), E>,
    ) -> Result<Option<NewAccessKey>, BootstrapError<E>> {
        if !self
            .store
            .accounts()
            .await
            .map_err(IamError::from)?
            .is_empty()
        {
            return Ok(None);
        }
        let account = new_account(ADMIN_ACCOUNT_NAME, true);
        let (key, mutation) = self.new_key(&account);
        persist(&key).map_err(BootstrapError::Persist)?;
        self.store
            .commit(vec![Mutation::CreateAccount(account), mutation])
            .await
            .map_err(IamError::from)?;
        Ok(Some(key))
    }

    pub async fn create_account(&self, name: &str, is_admin: bool) -> Result<Account, IamError> {
        validate_account_name(name).map_err(IamError::InvalidName)?;
        // A random 12-digit id can collide; retry rather than fail the caller.
        for _ in 0..8 {
            let account = new_account(name, is_admin);
            match self
                .store
                .commit(vec![Mutation::CreateAccount(account.clone())])
                .await
            {
                Ok(_) => return Ok(account),
                Err(MetaError::Conflict(_)) => {
                    if self.store.account_by_name(name).await?.is_some() {
                        return Err(IamError::AccountExists(name.to_owned()));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(IamError::Store(MetaError::Conflict(
            "could not find a free account id".into(),
        )))
    }

    pub async fn accounts(&self) -> Result<Vec<Account>, IamError> {
        Ok(self.store.accounts().await?)
    }

    /// Find an account by its 12-digit id or by its name.
    pub async fn account(&self, id_or_name: &str) -> Result<Account, IamError> {
        let found = if is_account_id(id_or_name) {
            self.store.account(id_or_name).await?
        } else {
            self.store.account_by_name(id_or_name).await?
        };
        found.ok_or_else(|| IamError::NoSuchAccount(id_or_name.to_owned()))
    }

    pub async fn create_key(&self, account_id_or_name: &str) -> Result<NewAccessKey, IamError> {
        let account = self.account(account_id_or_name).await?;
        let (key, mutation) = self.new_key(&account);
        self.store.commit(vec![mutation]).await?;
        Ok(key)
    }

    pub async fn keys(&self, account_id_or_name: &str) -> Result<Vec<KeyInfo>, IamError> {
        let account = self.account(account_id_or_name).await?;
        Ok(self
            .store
            .access_keys(&account.id)
            .await?
            .into_iter()
            .map(|k| KeyInfo {
                access_key_id: k.id,
                account_id: k.account_id,
                created_at: k.created_at,
                revoked_at: k.revoked_at,
            })
            .collect())
    }

    /// Revoke a key. Once this returns, no request signed with it is accepted.
    pub async fn revoke_key(&self, access_key_id: &str) -> Result<(), IamError> {
        match self
            .store
            .commit(vec![Mutation::RevokeAccessKey {
                key_id: access_key_id.to_owned(),
                at: now_millis(),
            }])
            .await
        {
            Ok(_) => {}
            Err(MetaError::NotFound(_)) => {
                return Err(IamError::NoSuchKey(access_key_id.to_owned()));
            }
            Err(e) => return Err(e.into()),
        }
        write(&self.cache).insert(access_key_id.to_owned(), None);
        Ok(())
    }

    /// The key and its account if `access_key_id` exists and is not revoked.
    pub async fn active_key(
        &self,
        access_key_id: &str,
    ) -> Result<Option<Arc<ActiveKey>>, IamError> {
        if let Some(cached) = read(&self.cache).get(access_key_id) {
            return Ok(cached.clone());
        }
        let Some(key) = self.store.access_key(access_key_id).await? else {
            return Ok(None);
        };
        let active = if key.revoked_at.is_some() {
            None
        } else {
            let account = self
                .store
                .account(&key.account_id)
                .await?
                .ok_or_else(|| IamError::NoSuchAccount(key.account_id.clone()))?;
            Some(Arc::new(ActiveKey {
                secret_access_key: self.sealer.open(&key.id, &key.secret_sealed)?,
                access_key_id: key.id,
                account,
            }))
        };
        // A revocation may have landed since the read above: it leaves `None` here,
        // and an entry already present always wins over what this lookup read.
        Ok(write(&self.cache)
            .entry(access_key_id.to_owned())
            .or_insert(active)
            .clone())
    }

    fn new_key(&self, account: &Account) -> (NewAccessKey, Mutation) {
        let access_key_id = ids::new_access_key_id();
        let secret_access_key = ids::new_secret_access_key();
        let mutation = Mutation::CreateAccessKey(AccessKey {
            secret_sealed: self.sealer.seal(&access_key_id, &secret_access_key),
            id: access_key_id.clone(),
            account_id: account.id.clone(),
            created_at: now_millis(),
            revoked_at: None,
        });
        let key = NewAccessKey {
            access_key_id,
            secret_access_key,
            account: account.clone(),
        };
        (key, mutation)
    }
}

// The caches hold no invariant a panicking writer could break half-way.
pub(crate) fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError<E> {
    #[error("could not save the admin credentials: {0}")]
    Persist(E),
    #[error(transparent)]
    Iam(#[from] IamError),
}

fn new_account(name: &str, is_admin: bool) -> Account {
    Account {
        id: ids::new_account_id(),
        name: name.to_owned(),
        is_admin,
        created_at: now_millis(),
    }
}
