//! The exact inventory ledger of nomuck's fulfillment service.
//!
//! Pure domain code: no HTTP, no JSON wire shapes, no metadata store. The API crate maps
//! these types to SP-API shapes; persistence stores [`Entry`]s and rebuilds a [`Ledger`]
//! with [`Ledger::replay`].
//!
//! # Model
//! Units of a SKU at a fulfillment center sit in [`Bucket`]s (the reference's names; each
//! maps to one field of FBA Inventory v1 `inventoryDetails`, see [`InventoryDetails`]).
//! Every change is a [`Movement`] of `quantity` units `from` one bucket `to` another;
//! `from: None` is units entering the system (an inbound plan, a customer return, found
//! stock), `to: None` units leaving it (shipped to a customer, removed, disposed, lost).
//! An accepted movement becomes an [`Entry`] with a gap-free `seq` and a time. Summaries
//! are folds of the entries, kept up to date incrementally per (sku, center) and per sku.
//!
//! The SKU of a movement is the **fnSku**, not the seller SKU: nomuck mints it per
//! (seller, seller SKU), so it is unique across accounts and the ledger needs no seller
//! column to keep two sellers' `ABC-1` apart; it is what the labels on physical units
//! carry, what a center scans, and what Amazon's own inventory ledger report is keyed by.
//! The item registry maps it back to the seller SKU for summaries.
//!
//! # Invariants, and why
//! - **No bucket goes negative**: a movement taking more than a bucket holds is refused
//!   ([`LedgerError::Insufficient`]). Negative stock is how oversell hides; a refusal is
//!   where the caller must decide (backorder, cancel, research).
//! - **Units are conserved**: for every summary, the sum over buckets equals units
//!   entered − units left ([`Summary::entered`], [`Summary::shipped`],
//!   [`Summary::removed`]). Units appear and disappear only through `None` sides, so every
//!   unit is accounted for by an entry with a reason and a reference.
//! - **Replaying the entries rebuilds identical summaries** ([`Ledger::replay`],
//!   [`Ledger::as_of`]): the entries are the truth and summaries are a cache of them, so
//!   inventory as of any past seq or time is exact, not a drifting snapshot. Checkpoints
//!   (the positions every [`CHECKPOINT_EVERY`] entries) are a cache too: a past position
//!   ([`Ledger::positions_at`]) is the nearest one folded forward, equal to the replay.
//! - **The same idempotency key twice has one effect**: a repeat returns the original
//!   entry; the same key with a different movement is refused
//!   ([`LedgerError::IdempotencyConflict`]). Callers retry after timeouts without fear.
//!   Keys are one namespace per ledger: callers derive them from their own ids.
//! - **Nothing half-applies**: [`Ledger::apply_all`] and [`Ledger::reserve`] apply all of
//!   their movements or none, so an order is never left partly reserved by an error.
//! - **No reservation of stock that is not there**: [`Ledger::reserve`] reads availability
//!   and applies under one `&mut self`; the no-negative rule backs it.
//! - Zero-unit movements and movements from a bucket to itself are refused: they would be
//!   entries that record nothing.
//!
//! No input panics: quantities use checked arithmetic ([`LedgerError::Overflow`]), and
//! the crate denies `unwrap`, `expect`, `panic` and indexing outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod bucket;
mod error;
mod ledger;
mod reserve;

pub use bucket::{
    Bucket, Damage, InventoryDetails, Quantities, ReservedQuantity, UnfulfillableQuantity,
};
pub use error::LedgerError;
pub use ledger::{
    CHECKPOINT_EVERY, Entries, Entry, Ledger, Millis, Movement, Positions, Reason, Summary,
};
pub use reserve::{FillPolicy, LineReservation, OrderLine, Reservation, reserve_key};
