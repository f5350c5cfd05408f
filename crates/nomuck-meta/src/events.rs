//! Records of event delivery: notification topics (an account's push
//! endpoints) and the outbox of deliveries to them. Services enqueue a
//! delivery in the same commit as the change that caused the event; a
//! dispatcher sends due deliveries and records each attempt.

use crate::Millis;

/// Where an account's events are pushed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Topic {
    pub account_id: String,
    /// Unique per account.
    pub name: String,
    /// `http://…` URL each event is POSTed to; empty: the topic takes no
    /// deliveries until one is set.
    pub push_endpoint: String,
    /// The delivery signing secret, sealed by the account service.
    pub secret_sealed: Vec<u8>,
    /// Other attributes, as given.
    pub attributes: Vec<(String, String)>,
    pub created_at: Millis,
}

/// An event to deliver to a topic. Enqueueing to a topic that does not
/// exist (deleted meanwhile) or has no endpoint is a no-op.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NewDelivery {
    pub account_id: String,
    pub topic: String,
    pub payload: Vec<u8>,
    pub at: Millis,
}

/// A pending delivery.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Delivery {
    pub id: i64,
    pub account_id: String,
    pub topic: String,
    pub payload: Vec<u8>,
    pub created_at: Millis,
    /// Attempts made so far.
    pub attempts: u32,
    pub next_attempt_at: Millis,
}

/// How one delivery attempt went.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeliveryOutcome {
    Delivered {
        at: Millis,
    },
    /// Failed; try again at `next_at`.
    Retry {
        next_at: Millis,
        error: String,
    },
    /// Failed for the last time.
    GaveUp {
        error: String,
    },
}
