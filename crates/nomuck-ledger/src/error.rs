use crate::bucket::Bucket;

/// Why the ledger refused a movement (or a batch of them). A refused call changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("{bucket:?} of {sku} at {center} holds {available} units, {requested} requested")]
    Insufficient {
        sku: String,
        center: String,
        bucket: Bucket,
        available: u64,
        requested: u64,
    },
    #[error("a movement must move at least one unit")]
    ZeroQuantity,
    #[error("a movement must change where units are (from and to are the same)")]
    SameBucket,
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error(
        "idempotency key {key:?} was already used for a different movement (seq {original_seq})"
    )]
    IdempotencyConflict { key: String, original_seq: u64 },
    #[error("more units than a u64 counts")]
    Overflow,
    #[error("entry seq {got} where {expected} was expected")]
    OutOfSequence { expected: u64, got: u64 },
    #[error("order {order:?} was already reserved for a different request")]
    OrderConflict { order: String },
    #[error("order line {item_id:?} appears twice")]
    DuplicateLine { item_id: String },
    #[error("internal: {0}")]
    Internal(&'static str),
}
