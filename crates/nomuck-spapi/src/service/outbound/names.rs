//! The model's enums exist twice, as wire types (serde) and as domain types
//! (`name()`/`from_name()`), both spelled exactly as the model spells them;
//! the name is the bridge, so no mapping table can drift from either side.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A domain enum with the model's names (`nomuck_fulfillment::orders`).
pub(super) trait Named: Sized {
    fn name(self) -> &'static str;
    fn from_name(name: &str) -> Option<Self>;
}

macro_rules! named {
    ($($t:ty),+) => {$(
        impl Named for $t {
            fn name(self) -> &'static str {
                <$t>::name(self)
            }
            fn from_name(name: &str) -> Option<Self> {
                <$t>::from_name(name)
            }
        }
    )+};
}

use nomuck_fulfillment::orders as d;
named!(
    d::Speed,
    d::FulfillmentAction,
    d::FulfillmentPolicy,
    d::OrderStatus,
    d::ShipmentStatus,
    d::TrackingStatus,
    d::ReturnStatus,
    d::ReturnCondition
);

fn mismatch(name: &str) -> ApiError {
    ApiError::internal(format!("'{name}' has no counterpart in the model"))
}

/// The domain's value of a wire enum.
pub(super) fn domain<W: Serialize, D: Named>(wire: &W) -> Result<D, ApiError> {
    let value = serde_json::to_value(wire).map_err(|e| ApiError::internal(e.to_string()))?;
    let name = value.as_str().unwrap_or_default();
    D::from_name(name).ok_or_else(|| mismatch(name))
}

/// The wire's value of a domain enum.
pub(super) fn wire<D: Named, W: DeserializeOwned>(value: D) -> Result<W, ApiError> {
    by_name(value.name())
}

/// A wire enum by its model name (fee names, reason codes the domain holds as text).
pub(super) fn by_name<W: DeserializeOwned>(name: &str) -> Result<W, ApiError> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).map_err(|_| mismatch(name))
}
