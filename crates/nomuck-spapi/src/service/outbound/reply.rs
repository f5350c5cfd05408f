//! Domain results → outbound reply bodies (wire). Every field the model
//! requires is filled; lists are sent even when empty; times are ISO 8601
//! UTC; money is rendered exactly from micro-dollars.

use nomuck_fulfillment::config::{Address as DomainAddress, Center};
use nomuck_fulfillment::fees::Fee as DomainFee;
use nomuck_fulfillment::orders::{
    Money as DomainMoney, Order, Package, ReturnItem as DomainReturnItem, Shipment, TrackingStatus,
};
use nomuck_fulfillment::preview::{PreviewBySpeed, PreviewShipment, UnfulfillableItem};
use nomuck_fulfillment::returns::CreateReturnResult;

use super::names::{by_name, wire};
use crate::date::Timestamp;
use crate::decimal::Decimal;
use crate::error::ApiError;
use crate::wire::outbound::{
    Address, DeliveryWindow, FeatureFulfillmentPolicy, FeatureSettings, Money,
};
use crate::wire::outbound_reply::{
    CreateFulfillmentReturnResult, Fee, FulfillmentOrder, FulfillmentOrderItem, FulfillmentPreview,
    FulfillmentPreviewItem, FulfillmentPreviewShipment, FulfillmentShipment,
    FulfillmentShipmentItem, FulfillmentShipmentPackage, GetFulfillmentOrderResult,
    GetFulfillmentPreviewResult, InvalidItemReason, InvalidReturnItem, PackageTrackingDetails,
    ReturnAuthorization, ReturnItem, TrackingAddress, TrackingEvent, UnfulfillablePreviewItem,
    Weight, WeightCalculationMethod, WeightUnit,
};

type Mapped<T> = Result<T, ApiError>;

/// A stored instant. The domain's times come from the clock or from parsed
/// requests, so one out of range is a fault, not bad input.
fn ts(ms: i64) -> Mapped<Timestamp> {
    Timestamp::from_unix_millis(ms)
        .ok_or_else(|| ApiError::internal(format!("the stored time {ms} is out of range")))
}

fn opt_ts(ms: Option<i64>) -> Mapped<Option<Timestamp>> {
    ms.map(ts).transpose()
}

/// A unit count on the wire (the domain keeps them within `i32`).
fn units(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn package_number(n: i64) -> Mapped<i32> {
    i32::try_from(n)
        .map_err(|_| ApiError::internal(format!("package number {n} is beyond the model's int32")))
}

/// `mantissa × 10^-scale`, with trailing zeros dropped down to `min_scale`.
fn exact(mut mantissa: i64, mut scale: u32, min_scale: u32) -> Decimal {
    while scale > min_scale && mantissa % 10 == 0 {
        mantissa /= 10;
        scale -= 1;
    }
    // Scales here are at most 6, inside Decimal's bound.
    Decimal::new(mantissa, scale).unwrap_or(Decimal::cents(0))
}

/// Micro-dollars as USD: `1000000` is `"1.00"`, `1234567` is `"1.234567"`.
pub(super) fn usd(micro: i64) -> Money {
    Money {
        currency_code: "USD".into(),
        value: exact(micro, 6, 2),
    }
}

/// Milligrams as kilograms, exactly: `200000` is `"0.2"`.
fn weight(mg: i64) -> Weight {
    Weight {
        unit: WeightUnit::Kg,
        value: exact(mg, 6, 0).to_string(),
    }
}

/// The seller's own amount; the domain only holds what parsed as a decimal.
fn seller_money(m: &DomainMoney) -> Option<Money> {
    Some(Money {
        currency_code: m.currency_code.clone(),
        value: Decimal::parse(&m.value).ok()?,
    })
}

fn address(a: &DomainAddress) -> Address {
    Address {
        name: a.name.clone(),
        address_line1: a.address_line1.clone(),
        address_line2: a.address_line2.clone(),
        address_line3: a.address_line3.clone(),
        city: a.city.clone(),
        district_or_county: a.district_or_county.clone(),
        state_or_region: (!a.state_or_region.is_empty()).then(|| a.state_or_region.clone()),
        postal_code: a.postal_code.clone(),
        country_code: a.country_code.clone(),
        phone: a.phone.clone(),
    }
}

pub(super) fn order(o: &Order) -> Mapped<FulfillmentOrder> {
    Ok(FulfillmentOrder {
        seller_fulfillment_order_id: o.seller_fulfillment_order_id.clone(),
        marketplace_id: o.marketplace_id.clone(),
        displayable_order_id: o.displayable_order_id.clone(),
        displayable_order_date: ts(o.displayable_order_date)?,
        displayable_order_comment: o.displayable_order_comment.clone(),
        shipping_speed_category: wire(o.shipping_speed_category)?,
        delivery_window: o
            .delivery_window
            .map(|w| -> Mapped<_> {
                Ok(DeliveryWindow {
                    start_date: ts(w.start_date)?,
                    end_date: ts(w.end_date)?,
                })
            })
            .transpose()?,
        destination_address: address(&o.destination_address),
        fulfillment_action: Some(wire(o.fulfillment_action)?),
        fulfillment_policy: Some(wire(o.fulfillment_policy)?),
        received_date: ts(o.received_date)?,
        fulfillment_order_status: wire(o.fulfillment_order_status)?,
        status_updated_date: ts(o.status_updated_date)?,
        notification_emails: Some(o.notification_emails.clone()),
        feature_constraints: (!o.feature_constraints.is_empty()).then(|| {
            o.feature_constraints
                .iter()
                .map(|f| FeatureSettings {
                    feature_name: Some(f.feature_name.clone()),
                    feature_fulfillment_policy: Some(
                        if f.feature_fulfillment_policy == "Required" {
                            FeatureFulfillmentPolicy::Required
                        } else {
                            FeatureFulfillmentPolicy::NotRequired
                        },
                    ),
                })
                .collect()
        }),
    })
}

fn order_items(o: &Order) -> Mapped<Vec<FulfillmentOrderItem>> {
    o.items
        .iter()
        .map(|it| {
            Ok(FulfillmentOrderItem {
                seller_sku: it.seller_sku.clone(),
                seller_fulfillment_order_item_id: it.seller_fulfillment_order_item_id.clone(),
                quantity: units(it.quantity),
                gift_message: it.gift_message.clone(),
                displayable_comment: it.displayable_comment.clone(),
                fulfillment_network_sku: Some(it.fulfillment_network_sku.clone()),
                order_item_disposition: None,
                cancelled_quantity: units(it.cancelled_quantity),
                unfulfillable_quantity: units(it.unfulfillable_quantity),
                estimated_ship_date: opt_ts(it.estimated_ship_date)?,
                estimated_arrival_date: opt_ts(it.estimated_arrival_date)?,
                per_unit_price: it.per_unit_price.as_ref().and_then(seller_money),
                per_unit_tax: it.per_unit_tax.as_ref().and_then(seller_money),
                per_unit_declared_value: it.per_unit_declared_value.as_ref().and_then(seller_money),
            })
        })
        .collect()
}

/// A shipment's lines: the packed units per package (with its number),
/// then what is not packed yet (of the units picked, or reserved before
/// picking).
fn shipment_items(s: &Shipment) -> Mapped<Vec<FulfillmentShipmentItem>> {
    let line = |item_id: &str, quantity: u64, package: Option<i32>| {
        let sku = s
            .items
            .iter()
            .find(|i| i.seller_fulfillment_order_item_id == item_id)
            .map(|i| i.seller_sku.clone())
            .unwrap_or_default();
        FulfillmentShipmentItem {
            seller_sku: sku,
            seller_fulfillment_order_item_id: item_id.to_owned(),
            quantity: units(quantity),
            package_number: package,
            serial_number: None,
            manufacturer_lot_codes: None,
        }
    };
    let mut out = Vec::new();
    for p in &s.packages {
        let number = package_number(p.package_number)?;
        for pi in &p.items {
            out.push(line(
                &pi.seller_fulfillment_order_item_id,
                pi.quantity,
                Some(number),
            ));
        }
    }
    for it in &s.items {
        let packed: u64 = s
            .packages
            .iter()
            .flat_map(|p| &p.items)
            .filter(|pi| pi.seller_fulfillment_order_item_id == it.seller_fulfillment_order_item_id)
            .map(|pi| pi.quantity)
            .sum();
        let rest = it.picked.unwrap_or(it.quantity).saturating_sub(packed);
        if rest > 0 {
            out.push(line(&it.seller_fulfillment_order_item_id, rest, None));
        }
    }
    Ok(out)
}

/// The packages a carrier has taken on (the model requires a carrier code,
/// which a package has once its label is bought).
fn shipment_packages(s: &Shipment) -> Mapped<Vec<FulfillmentShipmentPackage>> {
    s.packages
        .iter()
        .filter_map(|p| p.carrier_code.as_ref().map(|c| (p, c)))
        .map(|(p, carrier)| {
            Ok(FulfillmentShipmentPackage {
                package_number: package_number(p.package_number)?,
                carrier_code: carrier.clone(),
                tracking_number: p.tracking_number.clone(),
                estimated_arrival_date: opt_ts(p.estimated_arrival_date)?,
            })
        })
        .collect()
}

fn shipments(o: &Order) -> Mapped<Vec<FulfillmentShipment>> {
    o.shipments
        .iter()
        .map(|s| {
            Ok(FulfillmentShipment {
                amazon_shipment_id: s.amazon_shipment_id.clone(),
                fulfillment_center_id: s.fulfillment_center_id.clone(),
                fulfillment_shipment_status: wire(s.fulfillment_shipment_status)?,
                shipping_date: opt_ts(s.shipping_date)?,
                estimated_arrival_date: opt_ts(s.estimated_arrival_date)?,
                shipping_notes: None,
                fulfillment_shipment_item: shipment_items(s)?,
                fulfillment_shipment_package: Some(shipment_packages(s)?),
            })
        })
        .collect()
}

/// The return authorization of a shipment's returns. The service keeps
/// none of its own: a unit goes back to the center that sent it, so the
/// authorization is derived from the shipment, one per shipment.
fn authorization_id(amazon_shipment_id: &str) -> String {
    format!("RA-{amazon_shipment_id}")
}

/// `auths` are the order's derived authorizations: an item names its own
/// when there is one.
fn return_item(r: &DomainReturnItem, auths: &[ReturnAuthorization]) -> Mapped<ReturnItem> {
    let id = authorization_id(&r.amazon_shipment_id);
    let authorized = auths.iter().any(|a| a.return_authorization_id == id);
    Ok(ReturnItem {
        seller_return_item_id: r.seller_return_item_id.clone(),
        seller_fulfillment_order_item_id: r.seller_fulfillment_order_item_id.clone(),
        amazon_shipment_id: r.amazon_shipment_id.clone(),
        seller_return_reason_code: r.seller_return_reason_code.clone(),
        return_comment: r.return_comment.clone(),
        amazon_return_reason_code: None,
        status: wire(r.status)?,
        status_changed_date: ts(r.status_changed_date)?,
        return_authorization_id: authorized.then_some(id),
        return_received_condition: r.return_received_condition.map(wire).transpose()?,
        fulfillment_center_id: r.fulfillment_center_id.clone(),
    })
}

/// One authorization per shipment that `returns` name, addressed to the
/// center that sent it. `rmaPageURL` is empty: there is no label page to
/// print (the simulated center and carrier need none).
fn authorizations(
    o: &Order,
    returns: &[DomainReturnItem],
    centers: &[Center],
) -> Vec<ReturnAuthorization> {
    let mut out: Vec<ReturnAuthorization> = Vec::new();
    for r in returns {
        let id = authorization_id(&r.amazon_shipment_id);
        if out.iter().any(|a| a.return_authorization_id == id) {
            continue;
        }
        let Some(center) = o
            .shipments
            .iter()
            .find(|s| s.amazon_shipment_id == r.amazon_shipment_id)
            .and_then(|s| centers.iter().find(|c| c.id == s.fulfillment_center_id))
        else {
            continue;
        };
        out.push(ReturnAuthorization {
            amazon_rma_id: format!("RMA-{}", r.amazon_shipment_id),
            return_authorization_id: id,
            fulfillment_center_id: center.id.clone(),
            return_to_address: address(&center.address),
            rma_page_url: String::new(),
        });
    }
    out
}

pub(super) fn order_result(o: &Order, centers: &[Center]) -> Mapped<GetFulfillmentOrderResult> {
    let auths = authorizations(o, &o.return_items, centers);
    Ok(GetFulfillmentOrderResult {
        fulfillment_order: order(o)?,
        fulfillment_order_items: order_items(o)?,
        fulfillment_shipments: Some(shipments(o)?),
        return_items: o
            .return_items
            .iter()
            .map(|r| return_item(r, &auths))
            .collect::<Mapped<_>>()?,
        return_authorizations: auths,
    })
}

pub(super) fn return_result(
    r: &CreateReturnResult,
    o: &Order,
    centers: &[Center],
) -> Mapped<CreateFulfillmentReturnResult> {
    let auths = authorizations(o, &r.return_items, centers);
    Ok(CreateFulfillmentReturnResult {
        return_items: r
            .return_items
            .iter()
            .map(|it| return_item(it, &auths))
            .collect::<Mapped<_>>()?,
        invalid_return_items: r
            .invalid_return_items
            .iter()
            .map(|i| {
                Ok(InvalidReturnItem {
                    seller_return_item_id: i.seller_return_item_id.clone(),
                    seller_fulfillment_order_item_id: i.seller_fulfillment_order_item_id.clone(),
                    invalid_item_reason: InvalidItemReason {
                        invalid_item_reason_code: by_name(i.invalid_item_reason)?,
                        description: invalid_reason_text(i.invalid_item_reason).into(),
                    },
                })
            })
            .collect::<Mapped<_>>()?,
        return_authorizations: auths,
    })
}

fn invalid_reason_text(code: &str) -> &'static str {
    match code {
        "DuplicateRequest" => "this sellerReturnItemId was already used for another item",
        "NoCompletedShipItems" => "no unit of this line has shipped in that shipment",
        "NoReturnableQuantity" => "every shipped unit of this line is already being returned",
        _ => "a value is missing, too long, or not a known return reason code",
    }
}

fn fee(f: &DomainFee) -> Mapped<Fee> {
    Ok(Fee {
        name: by_name(f.name)?,
        amount: usd(f.micro_usd),
    })
}

fn preview_shipment(s: &PreviewShipment) -> Mapped<FulfillmentPreviewShipment> {
    let e = &s.estimate;
    Ok(FulfillmentPreviewShipment {
        earliest_ship_date: Some(ts(e.earliest_ship)?),
        latest_ship_date: Some(ts(e.latest_ship)?),
        earliest_arrival_date: Some(ts(e.earliest_arrival)?),
        latest_arrival_date: Some(ts(e.latest_arrival)?),
        shipping_notes: None,
        fulfillment_preview_items: s
            .items
            .iter()
            .map(|it| FulfillmentPreviewItem {
                seller_sku: it.seller_sku.clone(),
                quantity: units(it.quantity),
                seller_fulfillment_order_item_id: it.seller_fulfillment_order_item_id.clone(),
                estimated_shipping_weight: Some(weight(it.estimated_shipping_weight_mg)),
                shipping_weight_calculation_method: Some(WeightCalculationMethod::Package),
            })
            .collect(),
    })
}

fn unfulfillable(it: &UnfulfillableItem) -> UnfulfillablePreviewItem {
    UnfulfillablePreviewItem {
        seller_sku: it.seller_sku.clone(),
        quantity: units(it.quantity),
        seller_fulfillment_order_item_id: it.seller_fulfillment_order_item_id.clone(),
        item_unfulfillable_reasons: Some(it.reasons.iter().map(|r| (*r).to_owned()).collect()),
    }
}

pub(super) fn preview(
    previews: &[PreviewBySpeed],
    marketplace_id: &str,
) -> Mapped<GetFulfillmentPreviewResult> {
    let one = |p: &PreviewBySpeed| -> Mapped<FulfillmentPreview> {
        Ok(FulfillmentPreview {
            shipping_speed_category: wire(p.shipping_speed_category)?,
            scheduled_delivery_info: None,
            is_fulfillable: p.is_fulfillable,
            is_cod_capable: false,
            estimated_shipping_weight: Some(weight(p.estimated_shipping_weight_mg)),
            estimated_fees: Some(p.estimated_fees.iter().map(fee).collect::<Mapped<_>>()?),
            fulfillment_preview_shipments: Some(
                p.shipments
                    .iter()
                    .map(preview_shipment)
                    .collect::<Mapped<_>>()?,
            ),
            unfulfillable_preview_items: Some(
                p.unfulfillable_items.iter().map(unfulfillable).collect(),
            ),
            order_unfulfillable_reasons: Some(
                p.order_unfulfillable_reasons
                    .iter()
                    .map(|r| (*r).to_owned())
                    .collect(),
            ),
            marketplace_id: marketplace_id.to_owned(),
            feature_constraints: None,
        })
    };
    Ok(GetFulfillmentPreviewResult {
        fulfillment_previews: previews.iter().map(one).collect::<Mapped<_>>()?,
    })
}

/// What a scan to `status` means, in words (`eventDescription`).
fn status_text(status: TrackingStatus) -> &'static str {
    match status {
        TrackingStatus::InTransit => "Package picked up by the carrier and in transit",
        TrackingStatus::Delivered => "Package delivered",
        TrackingStatus::Returning => "Package being returned to the sender",
        TrackingStatus::Returned => "Package returned to the sender",
        TrackingStatus::Undeliverable => "Package could not be delivered",
        TrackingStatus::Delayed => "Package delayed",
        TrackingStatus::OutForDelivery => "Package out for delivery",
        TrackingStatus::DeliveryAttempted => "Delivery attempted",
    }
}

pub(super) fn tracking(p: &Package, o: &Order) -> Mapped<PackageTrackingDetails> {
    let to = &o.destination_address;
    Ok(PackageTrackingDetails {
        package_number: package_number(p.package_number)?,
        tracking_number: p.tracking_number.clone(),
        customer_tracking_link: None,
        carrier_code: p.carrier_code.clone(),
        carrier_phone_number: None,
        carrier_url: None,
        ship_date: opt_ts(p.ship_date)?,
        estimated_arrival_date: opt_ts(p.estimated_arrival_date)?,
        ship_to_address: Some(TrackingAddress {
            city: to.city.clone().unwrap_or_default(),
            state: to.state_or_region.clone(),
            country: to.country_code.clone(),
        }),
        current_status: p.current_status.map(wire).transpose()?,
        current_status_description: p.current_status.map(|s| status_text(s).to_owned()),
        delivery_window: None,
        signed_for_by: None,
        tracking_events: p
            .tracking_events
            .iter()
            .map(|e| {
                Ok(TrackingEvent {
                    event_date: ts(e.event_date)?,
                    event_address: TrackingAddress {
                        city: e.city.clone(),
                        state: e.state.clone(),
                        country: e.country.clone(),
                    },
                    event_code: e.event_code.clone(),
                    event_description: status_text(e.status).into(),
                })
            })
            .collect::<Mapped<_>>()?,
    })
}
