//! How the domain's state machines are persisted: each is a [`Record`] stored
//! whole (serde JSON) in the store's fulfillment documents.

use nomuck_meta::fulfillment::DocRecord;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{FulfillmentError, Result};

/// A persisted state machine (an inbound shipment, an order, a return, …).
pub trait Record: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The store's `kind` for this type; unique per type.
    const KIND: &'static str;
    fn id(&self) -> &str;
    /// Work remains (not in a final state): loaded at start, visited by the
    /// simulator.
    fn is_open(&self) -> bool;
    fn generation(&self) -> i64;
    fn set_generation(&mut self, generation: i64);
}

pub(crate) fn decode<R: Record>(doc: &DocRecord) -> Result<R> {
    serde_json::from_slice(&doc.body).map_err(|e| {
        FulfillmentError::Internal(format!(
            "stored {} {:?} is unreadable: {e}",
            R::KIND,
            doc.id
        ))
    })
}

pub(crate) fn encode<R: Record>(account_id: &str, r: &R, at: i64) -> Result<DocRecord> {
    let body = serde_json::to_vec(r).map_err(|e| {
        FulfillmentError::Internal(format!("cannot encode {} {:?}: {e}", R::KIND, r.id()))
    })?;
    Ok(DocRecord {
        account_id: account_id.to_owned(),
        kind: R::KIND.to_owned(),
        id: r.id().to_owned(),
        open: r.is_open(),
        updated_at: at,
        generation: r.generation(),
        body,
    })
}
