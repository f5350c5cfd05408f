use nomuck_meta::MetaError;

/// Why a KMS operation failed; [`KmsError::code`] is AWS's error `__type`.
/// Messages never contain plaintext or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmsError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Disabled(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    InvalidCiphertext(String),
    #[error("{0}")]
    IncorrectKey(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    InvalidArn(String),
    #[error("{0}")]
    MalformedPolicy(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    InvalidAliasName(String),
    #[error("{0}")]
    Tag(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Internal(String),
}

impl KmsError {
    /// AWS's error type (`__type` of the JSON error).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "NotFoundException",
            Self::Disabled(_) => "DisabledException",
            Self::InvalidState(_) => "KMSInvalidStateException",
            Self::InvalidCiphertext(_) => "InvalidCiphertextException",
            Self::IncorrectKey(_) => "IncorrectKeyException",
            Self::AlreadyExists(_) => "AlreadyExistsException",
            Self::Validation(_) => "ValidationException",
            Self::InvalidArn(_) => "InvalidArnException",
            Self::MalformedPolicy(_) => "MalformedPolicyDocumentException",
            Self::AccessDenied(_) => "AccessDeniedException",
            Self::InvalidAliasName(_) => "InvalidAliasNameException",
            Self::Tag(_) => "TagException",
            Self::Unsupported(_) => "UnsupportedOperationException",
            Self::Internal(_) => "KMSInternalException",
        }
    }

    /// Whether the caller is at fault (HTTP 400) rather than the service (500).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Self::Internal(_))
    }
}

impl From<MetaError> for KmsError {
    fn from(e: MetaError) -> Self {
        Self::Internal(format!("key store: {e}"))
    }
}
