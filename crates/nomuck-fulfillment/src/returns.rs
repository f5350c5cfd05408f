//! Customer returns of fulfillment orders. (To be completed.)

use serde::{Deserialize, Serialize};

use crate::record::Record;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Return {
    pub return_id: String,
    pub generation: i64,
}

impl Record for Return {
    const KIND: &'static str = "return";
    fn id(&self) -> &str {
        &self.return_id
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
