//! KMS's part of the persistence seam: keys and aliases, with their own trait
//! ([`KmsStore`], reached through [`crate::MetaStore::kms`]), their own
//! mutations ([`KmsMutation`], committed through [`crate::MetaStore::commit`]),
//! their own migration and their own conformance cases.
//!
//! A key is stored whole as the KMS domain's own serialization (its metadata,
//! policy and *sealed* key material versions): the store keys it by id, knows
//! its owning account and compares generations, but never looks inside `body`.
//! An alias maps `(account, alias name)` to a key id.

use serde::{Deserialize, Serialize};

use crate::model::{check_account_id, non_empty};
use crate::{MetaError, Millis};

/// A KMS key as the domain serialized it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KmsKeyRecord {
    /// Unique across accounts (a UUID).
    pub key_id: String,
    pub account_id: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub generation: i64,
    pub body: Vec<u8>,
}

/// An alias of a key in one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KmsAliasRecord {
    pub account_id: String,
    /// `alias/…`, unique per account.
    pub name: String,
    pub key_id: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// KMS's writes. Committed with [`crate::Mutation::Kms`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmsMutation {
    /// Insert (`expect_generation: None`: the id must be new, else `Conflict`)
    /// or replace the key stored at `expect_generation` (`NotFound` if there is
    /// none, `Conflict` if it moved); the new generation must be greater.
    PutKey {
        record: Box<KmsKeyRecord>,
        expect_generation: Option<i64>,
    },
    /// Removes a key stored at `expect_generation` and every alias naming it;
    /// `NotFound` if absent, `Conflict` if it moved.
    DeleteKey {
        key_id: String,
        expect_generation: i64,
    },
    /// Creates an alias (`replace: false`: the name must be new, else
    /// `Conflict`) or points an existing one at another key (`replace: true`,
    /// `NotFound` if absent). The key must exist in the same account
    /// (`NotFound` otherwise).
    PutAlias {
        record: KmsAliasRecord,
        replace: bool,
    },
    /// `NotFound` if absent.
    DeleteAlias { account_id: String, name: String },
}

/// KMS's reads.
#[async_trait::async_trait]
pub trait KmsStore: Send + Sync {
    async fn kms_key(&self, key_id: &str) -> Result<Option<KmsKeyRecord>, MetaError>;
    /// The account's keys with an id after `after_key_id`, in id order, at most `limit`.
    async fn kms_keys(
        &self,
        account_id: &str,
        after_key_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<KmsKeyRecord>, MetaError>;
    /// Every account's keys after `after_key_id` in id order, at most `limit`
    /// (the deletion pass's walk).
    async fn all_kms_keys(
        &self,
        after_key_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<KmsKeyRecord>, MetaError>;
    async fn kms_alias(
        &self,
        account_id: &str,
        name: &str,
    ) -> Result<Option<KmsAliasRecord>, MetaError>;
    /// The account's aliases after `after_name` in name order, at most `limit`;
    /// only those of `key_id` when given.
    async fn kms_aliases(
        &self,
        account_id: &str,
        key_id: Option<&str>,
        after_name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<KmsAliasRecord>, MetaError>;
}

impl KmsMutation {
    /// Rejects malformed records before they reach a backend.
    pub(crate) fn validate(&self) -> Result<(), MetaError> {
        match self {
            Self::PutKey { record, .. } => {
                check_account_id(&record.account_id)?;
                non_empty("key id", &record.key_id)
            }
            Self::DeleteKey { key_id, .. } => non_empty("key id", key_id),
            Self::PutAlias { record, .. } => {
                check_account_id(&record.account_id)?;
                non_empty("key id", &record.key_id)?;
                if !record.name.starts_with("alias/") || record.name.len() <= "alias/".len() {
                    return Err(MetaError::Invalid(format!(
                        "alias name {:?} does not start with alias/",
                        record.name
                    )));
                }
                Ok(())
            }
            Self::DeleteAlias { account_id, name } => {
                check_account_id(account_id)?;
                non_empty("alias name", name)
            }
        }
    }
}
