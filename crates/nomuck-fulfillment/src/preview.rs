//! Where an order's units come from and when they arrive: the centers
//! nearest the destination first, and `getFulfillmentPreview`.
//!
//! Nearness is coarse on purpose (no geocoding): a center in the
//! destination's country and state first, then the same country, then the
//! rest; ties keep the order of the centers in the configuration, so an
//! operator ranks them by listing them.

use std::collections::HashMap;

use nomuck_ledger::Bucket;
use nomuck_meta::Millis;
use serde::{Deserialize, Serialize};

use crate::book::Book;
use crate::config::{Address, Center, FulfillmentConfig};
use crate::error::{FulfillmentError, Result};
use crate::fees::{self, Fee};
use crate::orders::Speed;
use crate::time::{DAY_MS, HOUR_MS};

/// Why an item cannot be sent (`itemUnfulfillableReasons`).
pub const INVALID_SKU: &str = "InvalidSKU";
pub const INVENTORY_UNAVAILABLE: &str = "InventoryUnavailable";

/// Center ids, nearest to `to` first.
pub fn centers_nearest(centers: &[Center], to: &Address) -> Vec<String> {
    let rank = |c: &Center| {
        let country = c
            .address
            .country_code
            .eq_ignore_ascii_case(&to.country_code);
        let state = c
            .address
            .state_or_region
            .eq_ignore_ascii_case(&to.state_or_region);
        match (country, state) {
            (true, true) => 0,
            (true, false) => 1,
            _ => 2,
        }
    };
    let mut ranked: Vec<(u8, &Center)> = centers.iter().map(|c| (rank(c), c)).collect();
    // Stable: equal ranks keep the configuration's order.
    ranked.sort_by_key(|(r, _)| *r);
    ranked.into_iter().map(|(_, c)| c.id.clone()).collect()
}

/// A duration of the center's work in real milliseconds: a simulated
/// center works `speed` times faster.
pub fn scaled(config: &FulfillmentConfig, center: Option<&Center>, ms: f64) -> Millis {
    let sim = &config.simulator;
    let speed = if center.is_some_and(|c| c.simulated) && sim.enabled && sim.speed > 0.0 {
        sim.speed
    } else {
        1.0
    };
    // Saturating float→int cast; at least 1 ms so order is kept.
    ((ms / speed) as Millis).max(1)
}

pub fn transit_days(config: &FulfillmentConfig, speed: Speed) -> u32 {
    let s = &config.simulator;
    match speed {
        Speed::Standard => s.transit_days_standard,
        Speed::Expedited => s.transit_days_expedited,
        Speed::Priority | Speed::ScheduledDelivery => s.transit_days_priority,
    }
}

/// Estimated dates of a shipment from `center` accepted at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    pub earliest_ship: Millis,
    pub latest_ship: Millis,
    pub earliest_arrival: Millis,
    pub latest_arrival: Millis,
}

pub fn estimate(
    config: &FulfillmentConfig,
    center_id: &str,
    speed: Speed,
    now: Millis,
) -> Estimate {
    let center = config.center(center_id);
    let pick_pack = center.map_or(4.0, |c| c.processing.pick_pack_hours);
    let earliest_ship = now.saturating_add(scaled(config, center, pick_pack * HOUR_MS as f64));
    let latest_ship = earliest_ship.saturating_add(scaled(config, center, DAY_MS as f64));
    let transit = scaled(
        config,
        center,
        f64::from(transit_days(config, speed)) * DAY_MS as f64,
    );
    Estimate {
        earliest_ship,
        latest_ship,
        earliest_arrival: earliest_ship.saturating_add(transit),
        latest_arrival: latest_ship.saturating_add(transit),
    }
}

/// Where each line's units would come from now: (center, units) per line,
/// nearest first, split across centers when one cannot fill it. Lines are
/// (fnSku, units).
pub fn source(book: &Book, centers: &[String], lines: &[(String, u64)]) -> Vec<Vec<(String, u64)>> {
    let mut free: HashMap<(&str, &str), u64> = HashMap::new();
    lines
        .iter()
        .map(|(sku, quantity)| {
            let mut remaining = *quantity;
            let mut taken = Vec::new();
            for center in centers {
                if remaining == 0 {
                    break;
                }
                let f = free
                    .entry((sku.as_str(), center.as_str()))
                    .or_insert_with(|| book.units(sku, center, Bucket::Fulfillable));
                let take = remaining.min(*f);
                if take > 0 {
                    *f -= take;
                    remaining -= take;
                    taken.push((center.clone(), take));
                }
            }
            taken
        })
        .collect()
}

/// One line of a preview request (`GetFulfillmentPreviewItem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewItemRequest {
    pub seller_sku: String,
    pub seller_fulfillment_order_item_id: String,
    pub quantity: i64,
}

/// `GetFulfillmentPreviewRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewRequest {
    pub marketplace_id: Option<String>,
    pub address: Address,
    pub items: Vec<PreviewItemRequest>,
    /// Empty: Standard, Expedited and Priority.
    pub shipping_speed_categories: Vec<Speed>,
}

/// `FulfillmentPreviewItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewItem {
    pub seller_sku: String,
    pub seller_fulfillment_order_item_id: String,
    pub quantity: u64,
    pub estimated_shipping_weight_mg: i64,
}

/// `FulfillmentPreviewShipment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewShipment {
    pub fulfillment_center_id: String,
    pub estimate: Estimate,
    pub items: Vec<PreviewItem>,
}

/// `UnfulfillablePreviewItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnfulfillableItem {
    pub seller_sku: String,
    pub seller_fulfillment_order_item_id: String,
    pub quantity: u64,
    pub reasons: Vec<&'static str>,
}

/// `FulfillmentPreview` for one speed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewBySpeed {
    pub shipping_speed_category: Speed,
    pub is_fulfillable: bool,
    pub estimated_shipping_weight_mg: i64,
    pub estimated_fees: Vec<Fee>,
    pub shipments: Vec<PreviewShipment>,
    pub unfulfillable_items: Vec<UnfulfillableItem>,
    pub order_unfulfillable_reasons: Vec<&'static str>,
}

/// Checks a quantity is a model `Quantity` (int32) and at least one.
pub(crate) fn quantity(field: &str, q: i64) -> Result<u64> {
    if q < 1 || q > i64::from(i32::MAX) {
        return Err(FulfillmentError::invalid(
            field,
            format!("{q} is not a quantity between 1 and {}", i32::MAX),
        ));
    }
    u64::try_from(q).map_err(|_| FulfillmentError::invalid(field, "negative"))
}

/// The preview of `req` against the book's stock now.
pub fn preview(
    book: &Book,
    config: &FulfillmentConfig,
    req: &PreviewRequest,
    now: Millis,
) -> Result<Vec<PreviewBySpeed>> {
    if req.items.is_empty() {
        return Err(FulfillmentError::invalid("items", "at least one item"));
    }
    let mut lines = Vec::with_capacity(req.items.len());
    for (i, it) in req.items.iter().enumerate() {
        lines.push((it, quantity(&format!("items[{i}].quantity"), it.quantity)?));
    }
    let centers = centers_nearest(&config.centers, &req.address);
    let known: Vec<(String, u64)> = lines
        .iter()
        .map(|(it, q)| {
            let fn_sku = book.items.get(&it.seller_sku).map(|i| i.fn_sku.clone());
            (
                fn_sku.unwrap_or_default(),
                if book.items.contains_key(&it.seller_sku) {
                    *q
                } else {
                    0
                },
            )
        })
        .collect();
    let sourced = source(book, &centers, &known);
    let mut unfulfillable = Vec::new();
    // center → its preview items, in nearness order.
    let mut by_center: Vec<(String, Vec<PreviewItem>)> = Vec::new();
    for ((it, q), taken) in lines.iter().zip(&sourced) {
        let got: u64 = taken.iter().map(|(_, n)| n).sum();
        if !book.items.contains_key(&it.seller_sku) || got < *q {
            let reason = if book.items.contains_key(&it.seller_sku) {
                INVENTORY_UNAVAILABLE
            } else {
                INVALID_SKU
            };
            unfulfillable.push(UnfulfillableItem {
                seller_sku: it.seller_sku.clone(),
                seller_fulfillment_order_item_id: it.seller_fulfillment_order_item_id.clone(),
                quantity: *q,
                reasons: vec![reason],
            });
            continue;
        }
        for (center, n) in taken {
            let item = PreviewItem {
                seller_sku: it.seller_sku.clone(),
                seller_fulfillment_order_item_id: it.seller_fulfillment_order_item_id.clone(),
                quantity: *n,
                estimated_shipping_weight_mg: fees::units_weight_mg(book, &it.seller_sku, *n),
            };
            match by_center.iter_mut().find(|(c, _)| c == center) {
                Some((_, items)) => items.push(item),
                None => by_center.push((center.clone(), vec![item])),
            }
        }
    }
    let speeds = if req.shipping_speed_categories.is_empty() {
        vec![Speed::Standard, Speed::Expedited, Speed::Priority]
    } else {
        req.shipping_speed_categories.clone()
    };
    let weights: Vec<i64> = by_center
        .iter()
        .map(|(_, items)| items.iter().map(|i| i.estimated_shipping_weight_mg).sum())
        .collect();
    let units: u64 = by_center
        .iter()
        .flat_map(|(_, i)| i)
        .map(|i| i.quantity)
        .sum();
    let fulfillable = unfulfillable.is_empty();
    Ok(speeds
        .into_iter()
        .map(|speed| PreviewBySpeed {
            shipping_speed_category: speed,
            is_fulfillable: fulfillable,
            estimated_shipping_weight_mg: weights.iter().sum(),
            estimated_fees: if fulfillable {
                fees::order_fees(&config.fees, units, &weights)
            } else {
                Vec::new()
            },
            shipments: if fulfillable {
                by_center
                    .iter()
                    .map(|(center, items)| PreviewShipment {
                        fulfillment_center_id: center.clone(),
                        estimate: estimate(config, center, speed, now),
                        items: items.clone(),
                    })
                    .collect()
            } else {
                Vec::new()
            },
            unfulfillable_items: unfulfillable.clone(),
            order_unfulfillable_reasons: Vec::new(),
        })
        .collect())
}
