//! A key as stored: its metadata, policy and sealed material versions, one
//! JSON document (the store never looks inside).

use serde::{Deserialize, Serialize};

use nomuck_meta::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "Enabled",
            Self::Disabled => "Disabled",
            Self::PendingDeletion => "PendingDeletion",
        }
    }
}

/// Who manages a key: the account, or AWS (the `alias/aws/…` keys services
/// create on first use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyManager {
    Customer,
    Aws,
}

impl KeyManager {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "CUSTOMER",
            Self::Aws => "AWS",
        }
    }
}

/// One version of a key's material, sealed under the master key (see
/// `nomuck_iam::SecretSealer`), bound to the key id and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedMaterial {
    pub version: u32,
    pub created_at: Millis,
    /// Hex of the sealed bytes.
    pub sealed: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDoc {
    pub key_id: String,
    pub account_id: String,
    pub arn: String,
    pub description: String,
    pub state: KeyState,
    pub manager: KeyManager,
    pub created_at: Millis,
    /// When a key pending deletion is deleted.
    pub deletion_date: Option<Millis>,
    pub pending_window_days: Option<u32>,
    pub policy: String,
    /// Rotation period in days when automatic rotation is on.
    pub rotation_period_days: Option<u32>,
    pub next_rotation: Option<Millis>,
    /// Oldest first; encryption uses the last.
    pub materials: Vec<SealedMaterial>,
    pub tags: Vec<(String, String)>,
}

/// What `DescribeKey` says about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMetadata {
    pub account_id: String,
    pub key_id: String,
    pub arn: String,
    pub created_at: Millis,
    pub enabled: bool,
    pub description: String,
    pub state: KeyState,
    pub manager: KeyManager,
    pub deletion_date: Option<Millis>,
    pub pending_window_days: Option<u32>,
}

impl KeyDoc {
    pub fn metadata(&self) -> KeyMetadata {
        KeyMetadata {
            account_id: self.account_id.clone(),
            key_id: self.key_id.clone(),
            arn: self.arn.clone(),
            created_at: self.created_at,
            enabled: self.state == KeyState::Enabled,
            description: self.description.clone(),
            state: self.state,
            manager: self.manager,
            deletion_date: self.deletion_date,
            pending_window_days: self.pending_window_days,
        }
    }

    /// The label a material version is sealed under: moving sealed material to
    /// another key or version makes it unopenable.
    pub fn seal_label(key_id: &str, version: u32) -> String {
        format!("kms:{key_id}:{version}")
    }
}
