//! Inbound shipments (SP-API Fulfillment Inbound v0 shapes, FWS's simple
//! flow). (To be completed.)

use serde::{Deserialize, Serialize};

use crate::record::Record;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InboundShipment {
    pub shipment_id: String,
    pub generation: i64,
}

impl Record for InboundShipment {
    const KIND: &'static str = "inbound";
    fn id(&self) -> &str {
        &self.shipment_id
    }
    fn is_open(&self) -> bool {
        true
    }
    fn generation(&self) -> i64 {
        self.generation
    }
    fn set_generation(&mut self, generation: i64) {
        self.generation = generation;
    }
}
