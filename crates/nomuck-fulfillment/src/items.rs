//! The seller's SKUs: sellerSku → fnSku, minted once per (account, SKU).
//! (To be completed: registration, reads, lists.)

/// A registered SKU, as the store keeps it.
pub type Item = nomuck_meta::fulfillment::ItemRecord;
