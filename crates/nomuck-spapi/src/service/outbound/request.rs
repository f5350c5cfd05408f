//! Outbound request bodies (wire) → the domain's requests. The wire types
//! already checked shapes, lengths and quantities; the domain checks the
//! rest (known SKUs, its own address limits) and answers with field names.

use nomuck_fulfillment::config::Address as DomainAddress;
use nomuck_fulfillment::orders::{
    DeliveryWindow as DomainWindow, FeatureConstraint, FulfillmentAction, FulfillmentPolicy,
    Money as DomainMoney, Order, OrderItemRequest, OrderItemUpdate, OrderRequest, OrderStatus,
    OrderUpdate, Speed,
};
use nomuck_fulfillment::preview::{PreviewItemRequest, PreviewRequest};
use nomuck_fulfillment::returns::CreateReturnItem;

use super::names::domain;
use crate::date::Timestamp;
use crate::error::ApiError;
use crate::wire::outbound::{
    Address, CreateFulfillmentOrderRequest, CreateFulfillmentReturnRequest, DeliveryWindow,
    FeatureFulfillmentPolicy, GetFulfillmentPreviewRequest, Money,
    SubmitFulfillmentOrderStatusUpdateRequest, UpdateFulfillmentOrderRequest,
};

/// A request's instant in the domain's milliseconds.
pub(super) fn millis(field: &str, at: Timestamp) -> Result<i64, ApiError> {
    i64::try_from(at.unix_millis())
        .map_err(|_| ApiError::invalid_input(format!("{field} is out of range")))
}

fn address(a: Address) -> DomainAddress {
    DomainAddress {
        name: a.name,
        address_line1: a.address_line1,
        address_line2: a.address_line2,
        address_line3: a.address_line3,
        city: a.city,
        district_or_county: a.district_or_county,
        state_or_region: a.state_or_region.unwrap_or_default(),
        postal_code: a.postal_code,
        country_code: a.country_code,
        phone: a.phone,
    }
}

/// The seller's amount, kept as the exact decimal it parsed to.
fn money(m: Money) -> DomainMoney {
    DomainMoney {
        currency_code: m.currency_code,
        value: m.value.to_string(),
    }
}

fn window(field: &str, w: DeliveryWindow) -> Result<DomainWindow, ApiError> {
    Ok(DomainWindow {
        start_date: millis(&format!("{field}.startDate"), w.start_date)?,
        end_date: millis(&format!("{field}.endDate"), w.end_date)?,
    })
}

pub(super) fn preview(r: GetFulfillmentPreviewRequest) -> Result<PreviewRequest, ApiError> {
    Ok(PreviewRequest {
        marketplace_id: r.marketplace_id,
        address: address(r.address),
        items: r
            .items
            .into_iter()
            .map(|it| PreviewItemRequest {
                seller_sku: it.seller_sku,
                seller_fulfillment_order_item_id: it.seller_fulfillment_order_item_id,
                quantity: i64::from(it.quantity.get()),
            })
            .collect(),
        shipping_speed_categories: r
            .shipping_speed_categories
            .unwrap_or_default()
            .iter()
            .map(domain::<_, Speed>)
            .collect::<Result<_, _>>()?,
    })
}

/// `createFulfillmentOrder`. Everything is kept and part of the request's
/// identity; an item's `fulfillmentNetworkSku` must be its SKU's (the
/// domain checks it against the item registry).
pub(super) fn create(r: CreateFulfillmentOrderRequest) -> Result<OrderRequest, ApiError> {
    Ok(OrderRequest {
        marketplace_id: r.marketplace_id,
        seller_fulfillment_order_id: r.seller_fulfillment_order_id,
        displayable_order_id: r.displayable_order_id,
        displayable_order_date: millis("displayableOrderDate", r.displayable_order_date)?,
        displayable_order_comment: r.displayable_order_comment,
        shipping_speed_category: domain(&r.shipping_speed_category)?,
        delivery_window: r
            .delivery_window
            .map(|w| window("deliveryWindow", w))
            .transpose()?,
        destination_address: address(r.destination_address),
        fulfillment_action: r
            .fulfillment_action
            .as_ref()
            .map(domain::<_, FulfillmentAction>)
            .transpose()?,
        fulfillment_policy: r
            .fulfillment_policy
            .as_ref()
            .map(domain::<_, FulfillmentPolicy>)
            .transpose()?,
        notification_emails: r.notification_emails.unwrap_or_default(),
        items: r
            .items
            .into_iter()
            .map(|it| OrderItemRequest {
                seller_sku: it.seller_sku,
                seller_fulfillment_order_item_id: it.seller_fulfillment_order_item_id,
                quantity: i64::from(it.quantity.get()),
                gift_message: it.gift_message,
                displayable_comment: it.displayable_comment,
                per_unit_declared_value: it.per_unit_declared_value.map(money),
                per_unit_price: it.per_unit_price.map(money),
                per_unit_tax: it.per_unit_tax.map(money),
                fulfillment_network_sku: it.fulfillment_network_sku,
            })
            .collect(),
        ship_from_country_code: r.ship_from_country_code,
        feature_constraints: r
            .feature_constraints
            .unwrap_or_default()
            .into_iter()
            .map(|f| FeatureConstraint {
                feature_name: f.feature_name.unwrap_or_default(),
                feature_fulfillment_policy: match f.feature_fulfillment_policy {
                    Some(FeatureFulfillmentPolicy::Required) => "Required",
                    Some(FeatureFulfillmentPolicy::NotRequired) | None => "NotRequired",
                }
                .to_owned(),
            })
            .collect(),
    })
}

/// `updateFulfillmentOrder` against the order as it is. The policy cannot
/// change after acceptance (the stock was reserved under it), so an update
/// that would is refused rather than half applied; one that repeats it is
/// accepted. Lines' quantities change until picking starts (the domain
/// re-reserves them).
pub(super) fn update(
    r: UpdateFulfillmentOrderRequest,
    order: &Order,
) -> Result<OrderUpdate, ApiError> {
    if let Some(p) = &r.fulfillment_policy
        && domain::<_, FulfillmentPolicy>(p)? != order.fulfillment_policy
    {
        return Err(ApiError::invalid_input(
            "fulfillmentPolicy cannot be changed once the order is accepted",
        ));
    }
    Ok(OrderUpdate {
        displayable_order_id: r.displayable_order_id,
        displayable_order_date: r
            .displayable_order_date
            .map(|d| millis("displayableOrderDate", d))
            .transpose()?,
        displayable_order_comment: r.displayable_order_comment,
        shipping_speed_category: r
            .shipping_speed_category
            .as_ref()
            .map(domain::<_, Speed>)
            .transpose()?,
        destination_address: r.destination_address.map(address),
        fulfillment_action: r
            .fulfillment_action
            .as_ref()
            .map(domain::<_, FulfillmentAction>)
            .transpose()?,
        notification_emails: r.notification_emails,
        items: r
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|it| OrderItemUpdate {
                seller_fulfillment_order_item_id: it.seller_fulfillment_order_item_id,
                seller_sku: it.seller_sku,
                fulfillment_network_sku: it.fulfillment_network_sku,
                quantity: i64::from(it.quantity.get()),
                gift_message: it.gift_message,
                displayable_comment: it.displayable_comment,
                per_unit_declared_value: it.per_unit_declared_value.map(money),
                per_unit_price: it.per_unit_price.map(money),
                per_unit_tax: it.per_unit_tax.map(money),
            })
            .collect(),
    })
}

pub(super) fn status(
    r: &SubmitFulfillmentOrderStatusUpdateRequest,
) -> Result<OrderStatus, ApiError> {
    let status = r
        .fulfillment_order_status
        .as_ref()
        .ok_or_else(|| ApiError::invalid_input("fulfillmentOrderStatus is required"))?;
    domain(status)
}

pub(super) fn return_items(r: CreateFulfillmentReturnRequest) -> Vec<CreateReturnItem> {
    r.items
        .into_iter()
        .map(|it| CreateReturnItem {
            seller_return_item_id: it.seller_return_item_id,
            seller_fulfillment_order_item_id: it.seller_fulfillment_order_item_id,
            amazon_shipment_id: it.amazon_shipment_id,
            return_reason_code: it.return_reason_code,
            return_comment: it.return_comment,
        })
        .collect()
}
