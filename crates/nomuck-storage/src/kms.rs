//! What the storage engine needs of a key management service, for SSE-KMS.
//!
//! The engine depends on no KMS: the binary adapts the built-in one
//! (`nomuck-kms`) to [`KeyManager`] and hands it to the engine.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

/// Non-secret pairs bound to a sealed data key as authenticated data: the same
/// context must be given to unseal it.
pub type EncryptionContext = BTreeMap<String, String>;

/// A fresh 256-bit data key and the same key sealed by a KMS key.
pub struct DataKey {
    /// Zeroed on drop; never stored, logged or put in an error.
    pub plaintext: Zeroizing<[u8; 32]>,
    /// Opaque to the engine; what [`KeyManager::decrypt`] takes back. Stored
    /// with the object.
    pub ciphertext: Vec<u8>,
    /// ARN of the KMS key that sealed it (what S3 reports as
    /// `x-amz-server-side-encryption-aws-kms-key-id`).
    pub key_arn: String,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("key_arn", &self.key_arn)
            .finish_non_exhaustive()
    }
}

/// Why a KMS call failed; each maps to the S3 error AWS returns for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmsError {
    /// `KMS.NotFoundException`: no such key or alias (for this caller).
    #[error("{0}")]
    NotFound(String),
    /// `KMS.DisabledException`.
    #[error("{0}")]
    Disabled(String),
    /// `KMS.KMSInvalidStateException`: pending deletion, say.
    #[error("{0}")]
    InvalidState(String),
    /// `AccessDenied`: the key policy does not allow the caller this use.
    #[error("{0}")]
    AccessDenied(String),
    /// `KMS.InvalidCiphertextException`: not sealed by this KMS, tampered with,
    /// or a different encryption context.
    #[error("{0}")]
    InvalidCiphertext(String),
    /// The KMS itself failed (its store is unavailable, say).
    #[error("{0}")]
    Internal(String),
}

/// Data keys for SSE-KMS. Every call is made on behalf of `account_id`, the
/// requester's account, whose permission the key's policy decides
/// (`kms:GenerateDataKey`, `kms:Decrypt`), and is metered to it.
#[async_trait::async_trait]
pub trait KeyManager: Send + Sync {
    /// A new data key sealed under `key_id` (a key id, key ARN, alias name
    /// `alias/…` or alias ARN). `None` names the account's AWS-managed key
    /// `alias/aws/s3`, created on first use as AWS does.
    async fn generate_data_key(
        &self,
        account_id: &str,
        key_id: Option<&str>,
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsError>;

    /// Unseals a data key made by [`KeyManager::generate_data_key`]; returns
    /// it and the ARN of the key that sealed it.
    async fn decrypt(
        &self,
        account_id: &str,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<(Zeroizing<[u8; 32]>, String), KmsError>;
}
