//! Handlers: outbound operations. (Being written.)

use super::{Call, Handled};
use crate::error::ApiError;
use crate::route::Operation;

pub(crate) async fn handle(call: &Call<'_>, op: Operation) -> Handled {
    let _ = call;
    Err(ApiError::not_found(format!("{} is not served yet", op.name())))
}
