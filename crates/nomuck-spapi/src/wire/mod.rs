//! Request and reply bodies. `outbound*`, `inventory`, `inbound` and `notification`
//! follow Amazon's public SP-API models field for field (names, required-ness, enums);
//! `native` and `warehouse` are nomuck's own `/fws/v1` shapes.
//!
//! Conventions: a field the model marks required is a plain field (always serialized,
//! lists as `[]`), an optional one an `Option` skipped when `None`. Request types
//! implement [`crate::Validate`]; unknown fields are ignored.

pub mod inbound;
pub mod inventory;
pub mod native;
pub mod notification;
pub mod outbound;
pub mod outbound_reply;
pub mod warehouse;

use serde::{Deserialize, Serialize};

/// SP-API's success envelope: `{"payload": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload<T> {
    pub payload: T,
}

impl<T> Payload<T> {
    pub fn new(payload: T) -> Payload<T> {
        Payload { payload }
    }
}

/// The reply of operations whose models return only `errors` (create, update, cancel,
/// status update): `{}` on success.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}
