use std::path::Path;

use rusqlite::ErrorCode;

use crate::MetaError;

/// Classifies a rusqlite error, keeping SQLite's own message.
pub(super) fn db_err(e: rusqlite::Error) -> MetaError {
    let msg = e.to_string();
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => MetaError::Corrupt(msg),
            ErrorCode::ConstraintViolation => MetaError::Conflict(msg),
            ErrorCode::CannotOpen
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied
            | ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::OutOfMemory
            | ErrorCode::FileLockingProtocolFailed
            | ErrorCode::NoLargeFileSupport
            | ErrorCode::OperationInterrupted => MetaError::Unavailable(msg),
            _ => MetaError::Internal(msg),
        },
        // Stored values that do not decode mean the file holds data we never wrote.
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..) => MetaError::Corrupt(msg),
        _ => MetaError::Internal(msg),
    }
}

/// Prefixes open-time errors with the file path so operators know which file.
pub(super) fn with_path(e: MetaError, path: &Path) -> MetaError {
    let p = path.display().to_string();
    // rusqlite already names the file in some messages (e.g. CannotOpen).
    let prefix = |m: String| {
        if m.contains(&p) {
            m
        } else {
            format!("{p}: {m}")
        }
    };
    match e {
        MetaError::Corrupt(m) => MetaError::Corrupt(prefix(m)),
        MetaError::Unavailable(m) => MetaError::Unavailable(prefix(m)),
        MetaError::Internal(m) => MetaError::Internal(prefix(m)),
        other => other,
    }
}
