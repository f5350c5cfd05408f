//! The account's event stream and its webhook deliveries.
//!
//! Every state change and every ledger movement is an event, numbered in the
//! account's stream in the commit of the change. The same commit queues a
//! delivery to each of the account's topics (the existing signed-webhook
//! outbox) whose `nomuck:EventSources` attribute names [`SOURCE`]; the SP-API
//! notification types go out in SP-API's envelope, the rest as the stream's
//! own JSON. The event id (`NotificationId`) is stable, so a receiver can
//! drop the outbox's at-least-once repeats.

use nomuck_ledger::Entry;
use nomuck_meta::MetaStore;
use nomuck_meta::fulfillment::EventRecord;
use serde_json::{Value, json};

use crate::time::iso8601;

pub const EVENT_SOURCES_ATTRIBUTE: &str = "nomuck:EventSources";
/// Optional topic attribute: a comma-separated list of event types wanted.
pub const EVENT_TYPES_ATTRIBUTE: &str = "nomuck:EventTypes";
pub const SOURCE: &str = "nomuck.fulfillment";

pub const FULFILLMENT_ORDER_STATUS: &str = "FULFILLMENT_ORDER_STATUS";
pub const FBA_INVENTORY_AVAILABILITY_CHANGES: &str = "FBA_INVENTORY_AVAILABILITY_CHANGES";
pub const INVENTORY_MOVEMENT: &str = "INVENTORY_MOVEMENT";
pub const INBOUND_SHIPMENT_STATUS: &str = "INBOUND_SHIPMENT_STATUS";
pub const PACKAGE_TRACKING: &str = "PACKAGE_TRACKING";
pub const RETURN_STATUS: &str = "RETURN_STATUS";
pub const ITEM_REGISTERED: &str = "ITEM_REGISTERED";

/// A topic that wants this account's fulfillment events.
#[derive(Debug, Clone)]
pub(crate) struct Subscriber {
    pub topic: String,
    /// `None`: every type.
    pub types: Option<Vec<String>>,
}

impl Subscriber {
    pub(crate) fn wants(&self, event_type: &str) -> bool {
        self.types
            .as_ref()
            .is_none_or(|t| t.iter().any(|x| x == event_type))
    }
}

pub(crate) async fn subscribers(store: &dyn MetaStore, account_id: &str) -> Vec<Subscriber> {
    let topics = match store.topics_of(account_id).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(%e, "cannot read topics; fulfillment events are not pushed this batch");
            return Vec::new();
        }
    };
    topics
        .into_iter()
        .filter(|t| {
            t.attributes.iter().any(|(k, v)| {
                k == EVENT_SOURCES_ATTRIBUTE && v.split(',').any(|s| s.trim() == SOURCE)
            })
        })
        .map(|t| Subscriber {
            types: t
                .attributes
                .iter()
                .find(|(k, _)| k == EVENT_TYPES_ATTRIBUTE)
                .map(|(_, v)| v.split(',').map(|s| s.trim().to_owned()).collect()),
            topic: t.name,
        })
        .collect()
}

/// The stable id of an event: unique across accounts and streams.
pub fn event_id(account_id: &str, seq: i64) -> String {
    format!("{account_id}-{seq:012}")
}

/// The stream's own JSON for an event (also what `/fws/v1/events` lists).
pub fn event_json(e: &EventRecord) -> Value {
    json!({
        "seq": e.seq,
        "eventId": event_id(&e.account_id, e.seq),
        "time": iso8601(e.at),
        "eventType": e.event_type,
        "subject": e.subject,
        "payload": serde_json::from_slice::<Value>(&e.payload).unwrap_or(Value::Null),
    })
}

/// What a webhook receives for `e`.
pub(crate) fn delivery_payload(e: &EventRecord) -> Vec<u8> {
    let body = match e.event_type.as_str() {
        FULFILLMENT_ORDER_STATUS | FBA_INVENTORY_AVAILABILITY_CHANGES => json!({
            "NotificationVersion": "1.0",
            "NotificationType": e.event_type,
            "PayloadVersion": "1.0",
            "EventTime": iso8601(e.at),
            "Payload": serde_json::from_slice::<Value>(&e.payload).unwrap_or(Value::Null),
            "NotificationMetadata": {
                "ApplicationId": "nomuck",
                "SubscriptionId": format!("{}-{}", e.account_id, e.event_type),
                "PublishTime": iso8601(e.at),
                "NotificationId": event_id(&e.account_id, e.seq),
            },
        }),
        _ => event_json(e),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// One movement in an `INVENTORY_MOVEMENT` event's `movements`.
pub(crate) fn movement_json(e: &Entry, seller_sku: &str) -> Value {
    let m = &e.movement;
    json!({
        "ledgerSeq": e.seq,
        "fnSku": m.sku,
        "sellerSku": seller_sku,
        "centerId": m.center,
        "fromBucket": m.from.map(|b| b.name()),
        "toBucket": m.to.map(|b| b.name()),
        "quantity": m.quantity,
        "reason": m.reason.name(),
        "reference": m.reference,
        "idempotencyKey": m.idempotency_key,
    })
}
