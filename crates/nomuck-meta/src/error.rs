use crate::storage::Refusal;

/// Errors from any [`crate::MetaStore`] backend.
///
/// `Clone` because one failed group commit is reported to every caller in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    /// A unique id or name is already taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A mutation refers to something that does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A mutation or query is malformed (empty key, bad id format, ...).
    #[error("invalid: {0}")]
    Invalid(String),
    /// An object-store rule refused a mutation; the [`Refusal`] says which.
    #[error("refused: {0}")]
    Refused(Refusal),
    /// The database was written by a newer nomuck; it is left untouched.
    #[error(
        "metadata schema version {found} is newer than this binary supports ({supported}); upgrade nomuck"
    )]
    NewerSchema { found: i64, supported: i64 },
    /// The database is not a nomuck metadata database or is damaged.
    #[error("corrupt metadata database: {0}")]
    Corrupt(String),
    /// The database cannot be reached right now: I/O error, locked, closed.
    #[error("metadata store unavailable: {0}")]
    Unavailable(String),
    /// A backend failure that fits no other category (a bug, most likely).
    #[error("metadata store internal error: {0}")]
    Internal(String),
}
