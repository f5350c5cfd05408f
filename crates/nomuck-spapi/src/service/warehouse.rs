//! Handlers: a center's warehouse operations. (Being written.)

use super::{Call, Handled};
use crate::error::ApiError;
use crate::route::WarehouseOp;

pub(crate) async fn handle(call: &Call<'_>, center_id: &str, op: WarehouseOp) -> Handled {
    let _ = (call, center_id);
    Err(ApiError::not_found(format!("{op:?} is not served yet")))
}
