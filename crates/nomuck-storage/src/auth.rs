//! The one place that decides who may do what. In this issue every bucket and
//! its objects belong to one account and only that account may act on them;
//! bucket policies and ACLs will extend this function.

use nomuck_meta::Bucket;

use crate::{Caller, StorageError};

/// What a caller wants to do to a bucket or its objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    ReadBucket,
    WriteBucket,
    DeleteBucket,
    ListObjects,
    ReadObject,
    WriteObject,
    DeleteObject,
}

pub(crate) fn authorize(
    caller: &Caller,
    bucket: &Bucket,
    _action: Action,
) -> Result<(), StorageError> {
    match &caller.account_id {
        Some(account) if *account == bucket.owner => Ok(()),
        _ => Err(StorageError::AccessDenied),
    }
}
