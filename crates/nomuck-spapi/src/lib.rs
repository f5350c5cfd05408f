//! The JSON protocols of nomuck's fulfillment service: SP-API's Fulfillment Outbound
//! 2020-07-01, FBA Inventory v1 and Fulfillment Inbound v0 under `/fba/…`, the SP-API
//! notification envelope, and nomuck's own `/fws/v1/…` (centers, items, ledger, events,
//! and the warehouse operations API).
//!
//! Protocol only: [`route`] names the operation a request asks for, [`parse_body`] turns
//! its body into a validated wire type, [`error_response`] and [`render_rejection`]
//! answer failures in SP-API's error shape. The handlers that connect these to the
//! fulfillment domain live with the `ServiceApi` implementation, not here.

pub mod date;
pub mod decimal;
pub mod error;
pub mod json;
pub mod query;
pub mod route;
mod service;
pub mod wire;

pub use date::{DateOnly, Timestamp};
pub use decimal::Decimal;
pub use error::{
    ApiError, error_body, error_response, json_response, rejection_error, render_rejection, reply,
};
pub use json::{Count, Quantity, Validate, parse_body};
pub use route::{Operation, WarehouseOp, is_fulfillment_path, route};
pub use service::SpApi;
