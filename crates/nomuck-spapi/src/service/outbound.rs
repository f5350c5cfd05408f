//! Fulfillment Outbound 2020-07-01: each operation parses its wire request,
//! calls the domain as the caller's account and renders the reply as SP-API
//! does: `{"payload": …}` for reads, previews and returns, `{}` for the
//! operations whose models answer with `errors` only (create, update,
//! cancel, status update). Another account's order is simply not found.

mod names;
mod reply;
mod request;

use nomuck_fulfillment::DEFAULT_MARKETPLACE;

use super::{Call, Handled, domain_error};
use crate::error::ApiError;
use crate::route::Operation;
use crate::wire::outbound::{
    CreateFulfillmentOrderRequest, CreateFulfillmentReturnRequest, GetFulfillmentPreviewRequest,
    NoBody, SubmitFulfillmentOrderStatusUpdateRequest, UpdateFulfillmentOrderRequest,
};
use crate::wire::outbound_reply::{
    ListAllFulfillmentOrdersResult, ListReturnReasonCodesResult, ReasonCodeDetails,
};
use crate::wire::{Empty, Payload};

/// Orders per page of listAllFulfillmentOrders.
pub(crate) const LIST_PAGE: usize = 100;

pub(crate) async fn handle(call: &Call<'_>, op: Operation) -> Handled {
    use Operation as O;
    match op {
        O::GetFulfillmentPreview => preview(call).await,
        O::CreateFulfillmentOrder => create(call).await,
        O::ListAllFulfillmentOrders {
            query_start_date,
            next_token,
        } => {
            let start = query_start_date
                .map(|d| request::millis("queryStartDate", d))
                .transpose()?;
            list(call, start, next_token.as_deref()).await
        }
        O::GetFulfillmentOrder {
            seller_fulfillment_order_id: id,
        } => get(call, &id).await,
        O::UpdateFulfillmentOrder {
            seller_fulfillment_order_id: id,
        } => update(call, &id).await,
        O::CancelFulfillmentOrder {
            seller_fulfillment_order_id: id,
        } => cancel(call, &id).await,
        O::SubmitFulfillmentOrderStatusUpdate {
            seller_fulfillment_order_id: id,
        } => status(call, &id).await,
        O::CreateFulfillmentReturn {
            seller_fulfillment_order_id: id,
        } => create_return(call, &id).await,
        O::GetPackageTrackingDetails { package_number } => tracking(call, package_number).await,
        O::ListReturnReasonCodes {
            seller_sku,
            seller_fulfillment_order_id,
            ..
        } => reason_codes(call, &seller_sku, seller_fulfillment_order_id.as_deref()).await,
        other => Err(ApiError::internal(format!(
            "{} is not an outbound operation",
            other.name()
        ))),
    }
}

async fn preview(call: &Call<'_>) -> Handled {
    let body: GetFulfillmentPreviewRequest = call.body()?;
    let marketplace = body
        .marketplace_id
        .clone()
        .unwrap_or_else(|| DEFAULT_MARKETPLACE.to_owned());
    let previews = call
        .f
        .preview(call.account, request::preview(body)?)
        .await
        .map_err(domain_error)?;
    call.ok(&Payload::new(reply::preview(&previews, &marketplace)?))
}

/// The same `sellerFulfillmentOrderId` with the same body is the original
/// order (200 again); with another body the domain answers 409.
async fn create(call: &Call<'_>) -> Handled {
    let body: CreateFulfillmentOrderRequest = call.body()?;
    call.f
        .create_order(call.account, request::create(body)?)
        .await
        .map_err(domain_error)?;
    call.ok(&Empty {})
}

async fn list(call: &Call<'_>, start: Option<i64>, next_token: Option<&str>) -> Handled {
    let (orders, next_token) = call
        .f
        .orders(call.account, start, next_token, LIST_PAGE)
        .await
        .map_err(domain_error)?;
    call.ok(&Payload::new(ListAllFulfillmentOrdersResult {
        next_token,
        fulfillment_orders: orders.iter().map(reply::order).collect::<Result<_, _>>()?,
    }))
}

async fn get(call: &Call<'_>, id: &str) -> Handled {
    let order = call.f.order(call.account, id).await.map_err(domain_error)?;
    call.ok(&Payload::new(reply::order_result(
        &order,
        call.f.centers(),
    )?))
}

async fn update(call: &Call<'_>, id: &str) -> Handled {
    let body: UpdateFulfillmentOrderRequest = call.body()?;
    let order = call.f.order(call.account, id).await.map_err(domain_error)?;
    let update = request::update(body, &order)?;
    call.f
        .update_order(call.account, id, update)
        .await
        .map_err(domain_error)?;
    call.ok(&Empty {})
}

async fn cancel(call: &Call<'_>, id: &str) -> Handled {
    let _: NoBody = call.body()?;
    call.f
        .cancel_order(call.account, id)
        .await
        .map_err(domain_error)?;
    call.ok(&Empty {})
}

async fn status(call: &Call<'_>, id: &str) -> Handled {
    let body: SubmitFulfillmentOrderStatusUpdateRequest = call.body()?;
    call.f
        .force_status(call.account, id, request::status(&body)?)
        .await
        .map_err(domain_error)?;
    call.ok(&Empty {})
}

async fn create_return(call: &Call<'_>, id: &str) -> Handled {
    let body: CreateFulfillmentReturnRequest = call.body()?;
    let result = call
        .f
        .create_return(call.account, id, request::return_items(body))
        .await
        .map_err(domain_error)?;
    // The authorizations name the centers of the order's shipments.
    let order = call.f.order(call.account, id).await.map_err(domain_error)?;
    call.ok(&Payload::new(reply::return_result(
        &result,
        &order,
        call.f.centers(),
    )?))
}

async fn tracking(call: &Call<'_>, package_number: i32) -> Handled {
    let (package, order) = call
        .f
        .tracking(call.account, i64::from(package_number))
        .await
        .map_err(domain_error)?;
    call.ok(&Payload::new(reply::tracking(&package, &order)?))
}

/// The codes are the same for every SKU; the SKU (and the order, when
/// named) must be the caller's.
async fn reason_codes(call: &Call<'_>, sku: &str, order: Option<&str>) -> Handled {
    if let Some(id) = order {
        call.f.order(call.account, id).await.map_err(domain_error)?;
    }
    let codes = call
        .f
        .return_reason_codes(call.account, sku)
        .await
        .map_err(domain_error)?;
    call.ok(&Payload::new(ListReturnReasonCodesResult {
        reason_code_details: codes
            .iter()
            .map(|(code, description)| ReasonCodeDetails {
                return_reason_code: (*code).to_owned(),
                description: (*description).to_owned(),
                translated_description: None,
            })
            .collect(),
    }))
}
