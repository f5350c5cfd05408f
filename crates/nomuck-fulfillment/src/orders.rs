//! Outbound fulfillment orders (SP-API Fulfillment Outbound 2020-07-01).
//! (To be completed.)

use serde::{Deserialize, Serialize};

use crate::record::Record;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub seller_fulfillment_order_id: String,
    pub generation: i64,
}

impl Order {
    /// The package numbers of the order's shipments.
    pub fn package_numbers(&self) -> impl Iterator<Item = i64> + '_ {
        std::iter::empty()
    }
}

impl Record for Order {
    const KIND: &'static str = "order";
    fn id(&self) -> &str {
        &self.seller_fulfillment_order_id
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
