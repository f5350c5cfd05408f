use nomuck_ledger::LedgerError;
use nomuck_meta::MetaError;

/// Why a fulfillment call was refused. A refused call changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FulfillmentError {
    /// The request is malformed; `field` names what is wrong (the API crate
    /// puts it in the error's `details`).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0} not found")]
    NotFound(String),
    /// The request contradicts what exists (an idempotency key reused with a
    /// different body, a transition the state machine does not allow).
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this (a seller on a center's operations API).
    #[error("{0}")]
    Forbidden(String),
    /// The store failed; the caller may retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

pub type Result<T, E = FulfillmentError> = std::result::Result<T, E>;

impl FulfillmentError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<MetaError> for FulfillmentError {
    fn from(e: MetaError) -> Self {
        match e {
            MetaError::NotFound(m) => Self::NotFound(m),
            MetaError::Conflict(m) => Self::Conflict(m),
            MetaError::Invalid(m) => Self::Internal(format!("store refused a record: {m}")),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl From<LedgerError> for FulfillmentError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Insufficient { .. } => Self::Conflict(e.to_string()),
            LedgerError::IdempotencyConflict { .. } | LedgerError::OrderConflict { .. } => {
                Self::Conflict(e.to_string())
            }
            LedgerError::ZeroQuantity => Self::invalid("quantity", e.to_string()),
            LedgerError::DuplicateLine { .. } => Self::invalid("items", e.to_string()),
            LedgerError::Empty { field } => Self::invalid(field, e.to_string()),
            LedgerError::Overflow => Self::invalid("quantity", e.to_string()),
            LedgerError::SameBucket
            | LedgerError::OutOfSequence { .. }
            | LedgerError::Internal(_) => Self::Internal(e.to_string()),
        }
    }
}
