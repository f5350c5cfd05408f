//! The seller's side of outbound orders: create (reserving stock), read,
//! list, update, cancel. Each is a pure fn over `(&mut Book, &mut Tx)` that
//! checks everything before it changes anything; `outbound_api.rs` wraps
//! them in `Fulfillment::write`.

use std::collections::HashMap;

use nomuck_ledger::{Bucket, Movement, OrderLine, Reason};
use sha2::{Digest, Sha256};

use crate::book::{Book, Tx};
use crate::config::{Address, FulfillmentConfig};
use crate::error::{FulfillmentError, Result};
use crate::order_events::{DEFAULT_MARKETPLACE, set_status};
use crate::orders::{
    FulfillmentAction, FulfillmentPolicy, Order, OrderItem, OrderItemUpdate, OrderRequest,
    OrderStatus, OrderUpdate, Shipment, ShipmentItem, ShipmentStatus,
};
use crate::preview::{centers_nearest, estimate, quantity};
use crate::record::Record;

/// Stores `order` in the book and in the call's Tx, keeping the book's
/// indexes (due work, package numbers) true. The last step of every op.
pub(crate) fn put_order(book: &mut Book, tx: &mut Tx, mut order: Order) -> Result<()> {
    order.refresh_due();
    order.updated_at = tx.now;
    tx.save(&book.account_id, &mut order)?;
    let id = order.seller_fulfillment_order_id.clone();
    let old_due = book.orders.get(&id).and_then(|o| o.due);
    book.outbound.reindex(&id, old_due, order.due);
    book.orders.insert(id, order);
    Ok(())
}

/// A copy of the order to change, or NotFound.
pub(crate) fn order_of(book: &Book, id: &str) -> Result<Order> {
    book.orders
        .get(id)
        .cloned()
        .ok_or_else(|| FulfillmentError::NotFound(format!("fulfillment order {id:?}")))
}

/// The canonical hash of a request: serde's field order is fixed by the
/// struct, so equal requests hash equal whatever the client's key order.
pub fn fingerprint<T: serde::Serialize>(req: &T) -> Result<String> {
    let body = serde_json::to_vec(req)
        .map_err(|e| FulfillmentError::Internal(format!("cannot hash a request: {e}")))?;
    Ok(hex::encode(Sha256::digest(&body)))
}

fn max_len(field: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(FulfillmentError::invalid(
            field,
            format!("longer than {max} characters"),
        ));
    }
    Ok(())
}

fn required(field: &str, value: &str, max: usize) -> Result<()> {
    if value.trim().is_empty() {
        return Err(FulfillmentError::invalid(field, "required"));
    }
    max_len(field, value, max)
}

pub(crate) fn check_address(field: &str, a: &Address) -> Result<()> {
    required(&format!("{field}.name"), &a.name, 50)?;
    required(&format!("{field}.addressLine1"), &a.address_line1, 60)?;
    required(&format!("{field}.postalCode"), &a.postal_code, 20)?;
    required(&format!("{field}.countryCode"), &a.country_code, 2)?;
    max_len(&format!("{field}.stateOrRegion"), &a.state_or_region, 150)
}

/// A line's free texts: `giftMessage` ≤ 512, `displayableComment` ≤ 250.
fn line_texts(
    field: &dyn Fn(&str) -> String,
    gift_message: Option<&str>,
    displayable_comment: Option<&str>,
) -> Result<()> {
    max_len(&field("giftMessage"), gift_message.unwrap_or(""), 512)?;
    max_len(
        &field("displayableComment"),
        displayable_comment.unwrap_or(""),
        250,
    )
}

/// A line's `fulfillmentNetworkSku`, when given, must be its SKU's.
fn check_fn_sku(field: &str, seller_sku: &str, given: Option<&str>, fn_sku: &str) -> Result<()> {
    match given {
        Some(given) if given != fn_sku => Err(FulfillmentError::invalid(
            field,
            format!(
                "{given:?} is not the fulfillment network SKU of seller SKU {seller_sku:?} (that is {fn_sku:?})"
            ),
        )),
        _ => Ok(()),
    }
}

/// The centers that may source an order to `to`, nearest first: only those
/// in `ship_from`'s country when it is given.
fn sourcing(config: &FulfillmentConfig, to: &Address, ship_from: Option<&str>) -> Vec<String> {
    let mut centers = centers_nearest(&config.centers, to);
    if let Some(country) = ship_from {
        centers.retain(|id| {
            config
                .centers
                .iter()
                .any(|c| &c.id == id && c.address.country_code.eq_ignore_ascii_case(country))
        });
    }
    centers
}

/// Every check of a create request; the lines as (fnSku, units).
fn check(book: &Book, config: &FulfillmentConfig, req: &OrderRequest) -> Result<Vec<OrderLine>> {
    required(
        "sellerFulfillmentOrderId",
        &req.seller_fulfillment_order_id,
        40,
    )?;
    required("displayableOrderId", &req.displayable_order_id, 40)?;
    max_len(
        "displayableOrderComment",
        &req.displayable_order_comment,
        750,
    )?;
    check_address("destinationAddress", &req.destination_address)?;
    for (i, c) in req.feature_constraints.iter().enumerate() {
        let field = format!("featureConstraints[{i}]");
        required(&format!("{field}.featureName"), &c.feature_name, 100)?;
        // No optional feature is offered here: one the order requires
        // cannot be honoured, one it does not require is simply not used.
        if c.feature_fulfillment_policy != "NotRequired" {
            return Err(FulfillmentError::invalid(
                format!("{field}.featureFulfillmentPolicy"),
                format!(
                    "feature {:?} is not offered by this fulfillment network, so it cannot be Required",
                    c.feature_name
                ),
            ));
        }
    }
    if let Some(country) = &req.ship_from_country_code
        && !config
            .centers
            .iter()
            .any(|c| c.address.country_code.eq_ignore_ascii_case(country))
    {
        return Err(FulfillmentError::invalid(
            "shipFromCountryCode",
            format!("no fulfillment center in {country:?}"),
        ));
    }
    if req.items.is_empty() {
        return Err(FulfillmentError::invalid("items", "at least one item"));
    }
    let mut lines: Vec<OrderLine> = Vec::with_capacity(req.items.len());
    for (i, it) in req.items.iter().enumerate() {
        let f = |name: &str| format!("items[{i}].{name}");
        required(&f("sellerSku"), &it.seller_sku, 50)?;
        required(
            &f("sellerFulfillmentOrderItemId"),
            &it.seller_fulfillment_order_item_id,
            50,
        )?;
        line_texts(
            &f,
            it.gift_message.as_deref(),
            it.displayable_comment.as_deref(),
        )?;
        let units = quantity(&f("quantity"), it.quantity)?;
        // SP-API refuses an order naming a SKU it does not know (400).
        let item = book.items.get(&it.seller_sku).ok_or_else(|| {
            FulfillmentError::invalid(f("sellerSku"), format!("unknown SKU {:?}", it.seller_sku))
        })?;
        check_fn_sku(
            &f("fulfillmentNetworkSku"),
            &it.seller_sku,
            it.fulfillment_network_sku.as_deref(),
            &item.fn_sku,
        )?;
        if lines
            .iter()
            .any(|l| l.item_id == it.seller_fulfillment_order_item_id)
        {
            return Err(FulfillmentError::invalid(
                f("sellerFulfillmentOrderItemId"),
                "appears twice",
            ));
        }
        lines.push(OrderLine {
            item_id: it.seller_fulfillment_order_item_id.clone(),
            sku: item.fn_sku.clone(),
            quantity: units,
        });
    }
    Ok(lines)
}

/// createFulfillmentOrder. The same id with the same body returns the order
/// as it is; with another body it is a conflict.
pub(crate) fn create(
    book: &mut Book,
    tx: &mut Tx,
    config: &FulfillmentConfig,
    req: OrderRequest,
) -> Result<Order> {
    let hash = fingerprint(&req)?;
    if let Some(o) = book.orders.get(&req.seller_fulfillment_order_id) {
        if o.request_hash == hash {
            return Ok(o.clone());
        }
        return Err(FulfillmentError::Conflict(format!(
            "sellerFulfillmentOrderId {:?} was already used for a different request",
            req.seller_fulfillment_order_id
        )));
    }
    let lines = check(book, config, &req)?;
    let id = req.seller_fulfillment_order_id.clone();
    let policy = req
        .fulfillment_policy
        .unwrap_or(FulfillmentPolicy::FillOrKill);
    let centers = sourcing(
        config,
        &req.destination_address,
        req.ship_from_country_code.as_deref(),
    );
    // Checked: from here on the call changes things.
    let head = book.ledger.last_seq();
    let reservation = book
        .ledger
        .reserve(&id, &centers, &lines, policy.fill(), tx.now)?;
    book.record_entries(tx, head, &reservation.entries);

    let mut shipments: Vec<Shipment> = Vec::new();
    let mut items = Vec::with_capacity(req.items.len());
    for (it, line) in req.items.iter().zip(&reservation.lines) {
        for (center, units) in &line.reserved {
            let si = ShipmentItem {
                seller_sku: it.seller_sku.clone(),
                fulfillment_network_sku: line.sku.clone(),
                seller_fulfillment_order_item_id: line.item_id.clone(),
                quantity: *units,
                picked: None,
                packed: 0,
                shipped: 0,
            };
            match shipments
                .iter_mut()
                .find(|s| &s.fulfillment_center_id == center)
            {
                Some(s) => s.items.push(si),
                None => shipments.push(new_shipment(&id, center, shipments.len(), si)),
            }
        }
        let killed = policy == FulfillmentPolicy::FillOrKill && line.cancelled > 0;
        let first = line.reserved.first().map(|(c, _)| c.as_str()).unwrap_or("");
        let est = estimate(config, first, req.shipping_speed_category, tx.now);
        items.push(OrderItem {
            seller_sku: it.seller_sku.clone(),
            fulfillment_network_sku: line.sku.clone(),
            seller_fulfillment_order_item_id: line.item_id.clone(),
            quantity: line.requested,
            cancelled_quantity: if killed { 0 } else { line.cancelled },
            unfulfillable_quantity: if killed {
                line.requested
            } else {
                line.backordered
            },
            estimated_ship_date: (!line.reserved.is_empty()).then_some(est.earliest_ship),
            estimated_arrival_date: (!line.reserved.is_empty()).then_some(est.earliest_arrival),
            gift_message: it.gift_message.clone(),
            displayable_comment: it.displayable_comment.clone(),
            per_unit_declared_value: it.per_unit_declared_value.clone(),
            per_unit_price: it.per_unit_price.clone(),
            per_unit_tax: it.per_unit_tax.clone(),
        });
    }
    let mut order = Order {
        seller_fulfillment_order_id: id,
        marketplace_id: req
            .marketplace_id
            .clone()
            .unwrap_or_else(|| DEFAULT_MARKETPLACE.to_owned()),
        displayable_order_id: req.displayable_order_id.clone(),
        displayable_order_date: req.displayable_order_date,
        displayable_order_comment: req.displayable_order_comment.clone(),
        shipping_speed_category: req.shipping_speed_category,
        delivery_window: req.delivery_window,
        destination_address: req.destination_address.clone(),
        fulfillment_action: req.fulfillment_action.unwrap_or(FulfillmentAction::Ship),
        fulfillment_policy: policy,
        received_date: tx.now,
        fulfillment_order_status: OrderStatus::New,
        status_updated_date: tx.now,
        notification_emails: req.notification_emails.clone(),
        ship_from_country_code: req.ship_from_country_code.clone(),
        feature_constraints: req.feature_constraints.clone(),
        items,
        shipments,
        return_items: Vec::new(),
        request_hash: hash,
        fees_metered: false,
        due: None,
        updated_at: tx.now,
        generation: 0,
    };
    let account = book.account_id.clone();
    let status = if order.shipments.is_empty() {
        OrderStatus::Unfulfillable
    } else {
        OrderStatus::Received
    };
    set_status(tx, &account, &mut order, status);
    schedule(config, &mut order, tx.now);
    put_order(book, tx, order.clone())?;
    Ok(book.orders.get(order.id()).cloned().unwrap_or(order))
}

fn new_shipment(order: &str, center: &str, index: usize, item: ShipmentItem) -> Shipment {
    let digest = Sha256::digest(order.as_bytes());
    Shipment {
        amazon_shipment_id: format!(
            "{center}-{}-{}",
            hex::encode(digest.get(..6).unwrap_or(&[])),
            index + 1
        ),
        fulfillment_center_id: center.to_owned(),
        fulfillment_shipment_status: ShipmentStatus::Pending,
        waved: false,
        shipping_date: None,
        estimated_arrival_date: None,
        items: vec![item],
        packages: Vec::new(),
        due: None,
    }
}

/// Gives the simulated operator its first work on an accepted order that is
/// to ship: its pending shipments at simulated centers are due now.
pub(crate) fn schedule(config: &FulfillmentConfig, order: &mut Order, now: i64) {
    if !config.simulator.enabled
        || order.fulfillment_action != FulfillmentAction::Ship
        || order.fulfillment_order_status.is_final()
    {
        return;
    }
    for s in &mut order.shipments {
        let simulated = config
            .center(&s.fulfillment_center_id)
            .is_some_and(|c| c.simulated);
        if simulated && s.fulfillment_shipment_status == ShipmentStatus::Pending && s.due.is_none()
        {
            s.due = Some(now);
        }
    }
}

/// The lines of an update, checked against the order: existing lines only
/// (by id), each once, their SKU as it is, sizes as in a create.
fn check_lines(order: &Order, items: &[OrderItemUpdate]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (i, u) in items.iter().enumerate() {
        let f = |name: &str| format!("items[{i}].{name}");
        let id = &u.seller_fulfillment_order_item_id;
        let line = order.item(id).ok_or_else(|| {
            FulfillmentError::invalid(
                f("sellerFulfillmentOrderItemId"),
                format!("{id:?} is not a line of this order (lines can be changed, not added)"),
            )
        })?;
        if !seen.insert(id.as_str()) {
            return Err(FulfillmentError::invalid(
                f("sellerFulfillmentOrderItemId"),
                "appears twice",
            ));
        }
        if let Some(sku) = u.seller_sku.as_ref().filter(|s| **s != line.seller_sku) {
            return Err(FulfillmentError::invalid(
                f("sellerSku"),
                format!(
                    "line {id:?} is of SKU {:?}, not {sku:?}: a line's SKU cannot change",
                    line.seller_sku
                ),
            ));
        }
        check_fn_sku(
            &f("fulfillmentNetworkSku"),
            &line.seller_sku,
            u.fulfillment_network_sku.as_deref(),
            &line.fulfillment_network_sku,
        )?;
        quantity(&f("quantity"), u.quantity)?;
        line_texts(
            &f,
            u.gift_message.as_deref(),
            u.displayable_comment.as_deref(),
        )?;
    }
    Ok(())
}

/// Brings the lines' reservations to their new quantities (checked by
/// [`check_lines`]; no shipment waved). More units are reserved nearest
/// first as at acceptance (what is missing is refused under `FillOrKill`,
/// backordered under `FillAll`, cancelled under `FillAllAvailable`); fewer
/// come first out of units the order does not hold (backordered, then
/// cancelled), then are released, farthest center first. One ledger call:
/// all of it or none, and never more than is fulfillable.
fn requantify(
    book: &mut Book,
    tx: &mut Tx,
    config: &FulfillmentConfig,
    order: &mut Order,
    items: &[OrderItemUpdate],
) -> Result<()> {
    let id = order.seller_fulfillment_order_id.clone();
    // The ledger's head names this change: a later one has a later head.
    let head = book.ledger.last_seq();
    let key = |item: &str, center: &str| {
        format!(
            "update:{}:{id}:{head}:{}:{item}:{center}",
            id.len(),
            item.len()
        )
    };
    let centers = sourcing(
        config,
        &order.destination_address,
        order.ship_from_country_code.as_deref(),
    );
    let rank = |c: &str| centers.iter().position(|x| x == c).unwrap_or(usize::MAX);
    // Fulfillable units left per (fnSku, center) as this update takes them.
    let mut free: HashMap<(String, String), u64> = HashMap::new();
    let mut movements = Vec::new();
    for u in items {
        let item_id = u.seller_fulfillment_order_item_id.as_str();
        let Some(line) = order.item(item_id).cloned() else {
            continue;
        };
        let want = u64::try_from(u.quantity).unwrap_or(0);
        let sku = line.fulfillment_network_sku.clone();
        let mut reserve: Vec<(String, u64)> = Vec::new();
        let mut release: Vec<(String, u64)> = Vec::new();
        let (mut backordered, mut cancelled) =
            (line.unfulfillable_quantity, line.cancelled_quantity);
        if want > line.quantity {
            let mut more = want - line.quantity;
            for c in &centers {
                let slot = free
                    .entry((sku.clone(), c.clone()))
                    .or_insert_with(|| book.units(&sku, c, Bucket::Fulfillable));
                let take = more.min(*slot);
                if take > 0 {
                    *slot -= take;
                    more -= take;
                    reserve.push((c.clone(), take));
                }
            }
            match order.fulfillment_policy {
                _ if more == 0 => {}
                FulfillmentPolicy::FillOrKill => {
                    return Err(FulfillmentError::Conflict(format!(
                        "line {item_id:?} can have {} more units of {:?}, not {}: a FillOrKill order \
                         takes every unit or none, so the update changed nothing",
                        want - line.quantity - more,
                        line.seller_sku,
                        want - line.quantity
                    )));
                }
                FulfillmentPolicy::FillAll => backordered += more,
                FulfillmentPolicy::FillAllAvailable => cancelled += more,
            }
        } else {
            let mut fewer = line.quantity - want;
            for not_held in [&mut backordered, &mut cancelled] {
                let take = fewer.min(*not_held);
                *not_held -= take;
                fewer -= take;
            }
            let mut held: Vec<(String, u64)> = order
                .shipments
                .iter()
                .filter_map(|s| {
                    let it = s
                        .items
                        .iter()
                        .find(|it| it.seller_fulfillment_order_item_id == item_id)?;
                    Some((s.fulfillment_center_id.clone(), it.quantity))
                })
                .collect();
            held.sort_by_key(|(c, _)| std::cmp::Reverse(rank(c)));
            for (c, n) in held {
                let take = fewer.min(n);
                if take > 0 {
                    fewer -= take;
                    release.push((c, take));
                }
            }
        }
        let movement = |center: &str, quantity, reserving: bool| Movement {
            sku: sku.clone(),
            center: center.to_owned(),
            from: Some(if reserving {
                Bucket::Fulfillable
            } else {
                Bucket::ReservedCustomerOrder
            }),
            to: Some(if reserving {
                Bucket::ReservedCustomerOrder
            } else {
                Bucket::Fulfillable
            }),
            quantity,
            reason: if reserving {
                Reason::Reserve
            } else {
                Reason::Release
            },
            reference: id.clone(),
            idempotency_key: key(item_id, center),
        };
        for (c, n) in &reserve {
            movements.push(movement(c, *n, true));
            add_to_shipment(order, c, &line, *n);
        }
        for (c, n) in &release {
            movements.push(movement(c, *n, false));
            take_from_shipment(order, c, item_id, *n);
        }
        let first = reserve.first().map(|(c, _)| c.clone());
        let speed = order.shipping_speed_category;
        if let Some(l) = order.item_mut(item_id) {
            l.quantity = want;
            l.unfulfillable_quantity = backordered;
            l.cancelled_quantity = cancelled;
            if let (None, Some(c)) = (l.estimated_ship_date, first) {
                let est = estimate(config, &c, speed, tx.now);
                l.estimated_ship_date = Some(est.earliest_ship);
                l.estimated_arrival_date = Some(est.earliest_arrival);
            }
        }
    }
    book.move_units(tx, movements)?;
    Ok(())
}

/// `n` more units of `line` reserved at `center`: onto the order's pending
/// shipment there, or a new one.
fn add_to_shipment(order: &mut Order, center: &str, line: &OrderItem, n: u64) {
    let item_id = line.seller_fulfillment_order_item_id.as_str();
    let id = order.seller_fulfillment_order_id.clone();
    if let Some(s) = order
        .shipments
        .iter_mut()
        .find(|s| s.fulfillment_center_id == center)
    {
        match s
            .items
            .iter_mut()
            .find(|it| it.seller_fulfillment_order_item_id == item_id)
        {
            Some(it) => it.quantity += n,
            None => s.items.push(shipment_item(line, n)),
        }
        return;
    }
    // Its id names the center, where the order has no other shipment, so
    // it is unique in the order whatever the index.
    let s = new_shipment(&id, center, order.shipments.len(), shipment_item(line, n));
    order.shipments.push(s);
}

/// `n` units of line `item_id` released at `center`: a shipment line (and a
/// shipment) left with none is dropped.
fn take_from_shipment(order: &mut Order, center: &str, item_id: &str, n: u64) {
    for s in order
        .shipments
        .iter_mut()
        .filter(|s| s.fulfillment_center_id == center)
    {
        for it in s
            .items
            .iter_mut()
            .filter(|it| it.seller_fulfillment_order_item_id == item_id)
        {
            it.quantity = it.quantity.saturating_sub(n);
        }
        s.items.retain(|it| it.quantity > 0);
    }
    order.shipments.retain(|s| !s.items.is_empty());
}

fn shipment_item(line: &OrderItem, quantity: u64) -> ShipmentItem {
    ShipmentItem {
        seller_sku: line.seller_sku.clone(),
        fulfillment_network_sku: line.fulfillment_network_sku.clone(),
        seller_fulfillment_order_item_id: line.seller_fulfillment_order_item_id.clone(),
        quantity,
        picked: None,
        packed: 0,
        shipped: 0,
    }
}

/// updateFulfillmentOrder: release a Hold, or change the address, the
/// displayable fields and the lines' quantities while the center has not
/// started (no unit of the order released to picking).
pub(crate) fn update(
    book: &mut Book,
    tx: &mut Tx,
    config: &FulfillmentConfig,
    id: &str,
    u: OrderUpdate,
) -> Result<Order> {
    let mut order = order_of(book, id)?;
    let status = order.fulfillment_order_status;
    if !status.before_processing() {
        return Err(FulfillmentError::Conflict(format!(
            "fulfillment order {id:?} is {}: it can be updated only while New, Received or Planning",
            status.name()
        )));
    }
    if let Some(a) = &u.destination_address {
        check_address("destinationAddress", a)?;
    }
    if let Some(v) = &u.displayable_order_id {
        required("displayableOrderId", v, 40)?;
    }
    if let Some(v) = &u.displayable_order_comment {
        max_len("displayableOrderComment", v, 750)?;
    }
    if u.fulfillment_action == Some(FulfillmentAction::Hold)
        && order.fulfillment_action == FulfillmentAction::Ship
        && order.shipments.iter().any(|s| s.waved)
    {
        return Err(FulfillmentError::Conflict(format!(
            "fulfillment order {id:?} is already being picked; it cannot be held"
        )));
    }
    check_lines(&order, &u.items)?;
    let changes_lines = u.items.iter().any(|it| {
        order
            .item(&it.seller_fulfillment_order_item_id)
            .is_some_and(|l| i64::try_from(l.quantity).ok() != Some(it.quantity))
    });
    if changes_lines && order.shipments.iter().any(|s| s.waved) {
        return Err(FulfillmentError::Conflict(format!(
            "fulfillment order {id:?} is already being picked; its lines can no longer change"
        )));
    }
    // Checked, but for stock: the address first, so that more units are
    // sourced nearest to where the order now goes.
    if let Some(v) = u.displayable_order_id {
        order.displayable_order_id = v;
    }
    if let Some(v) = u.displayable_order_date {
        order.displayable_order_date = v;
    }
    if let Some(v) = u.displayable_order_comment {
        order.displayable_order_comment = v;
    }
    if let Some(v) = u.shipping_speed_category {
        order.shipping_speed_category = v;
    }
    if let Some(v) = u.destination_address {
        order.destination_address = v;
    }
    if let Some(v) = u.notification_emails {
        order.notification_emails = v;
    }
    if changes_lines {
        requantify(book, tx, config, &mut order, &u.items)?;
    }
    for it in u.items {
        if let Some(l) = order.item_mut(&it.seller_fulfillment_order_item_id) {
            if it.gift_message.is_some() {
                l.gift_message = it.gift_message;
            }
            if it.displayable_comment.is_some() {
                l.displayable_comment = it.displayable_comment;
            }
            if it.per_unit_declared_value.is_some() {
                l.per_unit_declared_value = it.per_unit_declared_value;
            }
            if it.per_unit_price.is_some() {
                l.per_unit_price = it.per_unit_price;
            }
            if it.per_unit_tax.is_some() {
                l.per_unit_tax = it.per_unit_tax;
            }
        }
    }
    if changes_lines {
        // New shipments at simulated centers get their first due time.
        schedule(config, &mut order, tx.now);
    }
    if let Some(action) = u.fulfillment_action {
        order.fulfillment_action = action;
        if action == FulfillmentAction::Hold {
            for s in &mut order.shipments {
                s.due = None;
            }
        }
        schedule(config, &mut order, tx.now);
    }
    put_order(book, tx, order)?;
    order_of(book, id)
}

/// cancelFulfillmentOrder: until the center starts processing, gives the
/// reserved units back to fulfillable.
pub(crate) fn cancel(book: &mut Book, tx: &mut Tx, id: &str) -> Result<Order> {
    let mut order = order_of(book, id)?;
    let status = order.fulfillment_order_status;
    if status == OrderStatus::Cancelled {
        return Ok(order);
    }
    if !status.before_processing() || order.shipments.iter().any(|s| s.waved) {
        return Err(FulfillmentError::Conflict(format!(
            "fulfillment order {id:?} is {}: it can be cancelled only before processing starts",
            status.name()
        )));
    }
    release(book, tx, &mut order, ShipmentStatus::CancelledBySeller)?;
    for it in &mut order.items {
        it.cancelled_quantity = it.quantity.saturating_sub(it.unfulfillable_quantity);
    }
    let account = book.account_id.clone();
    set_status(tx, &account, &mut order, OrderStatus::Cancelled);
    put_order(book, tx, order)?;
    order_of(book, id)
}

/// Gives every unit `order` holds in `RESERVED_CUSTOMER_ORDER` back, and
/// closes its pending shipments as `closed`.
pub(crate) fn release(
    book: &mut Book,
    tx: &mut Tx,
    order: &mut Order,
    closed: ShipmentStatus,
) -> Result<()> {
    let id = order.seller_fulfillment_order_id.clone();
    let mut movements = Vec::new();
    for s in order.shipments.iter().filter(|s| !s.waved) {
        for it in &s.items {
            movements.push(Movement {
                sku: it.fulfillment_network_sku.clone(),
                center: s.fulfillment_center_id.clone(),
                from: Some(Bucket::ReservedCustomerOrder),
                to: Some(Bucket::Fulfillable),
                quantity: it.quantity,
                reason: Reason::Release,
                reference: id.clone(),
                idempotency_key: format!(
                    "release:{}:{id}:{}:{}",
                    id.len(),
                    it.seller_fulfillment_order_item_id,
                    s.fulfillment_center_id
                ),
            });
        }
    }
    book.move_units(tx, movements)?;
    for s in order.shipments.iter_mut().filter(|s| !s.waved) {
        s.fulfillment_shipment_status = closed;
        s.due = None;
    }
    Ok(())
}

/// A page of listAllFulfillmentOrders: orders updated at or after
/// `query_start`, in id order after the token's id. The token is the last
/// id returned, hex-encoded: it never expires and stays valid across
/// restarts.
pub fn list(
    book: &Book,
    query_start: Option<i64>,
    next_token: Option<&str>,
    limit: usize,
) -> Result<(Vec<Order>, Option<String>)> {
    let after = match next_token {
        Some(t) => Some(
            hex::decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    FulfillmentError::invalid("nextToken", "not a token this service issued")
                })?,
        ),
        None => None,
    };
    let range = match &after {
        Some(a) => book.orders.range::<str, _>((
            std::ops::Bound::Excluded(a.as_str()),
            std::ops::Bound::Unbounded,
        )),
        None => book.orders.range::<str, _>(..),
    };
    let limit = limit.max(1);
    let mut out: Vec<Order> = Vec::new();
    let mut more = false;
    for (_, o) in range.filter(|(_, o)| query_start.is_none_or(|t| o.updated_at >= t)) {
        if out.len() == limit {
            more = true;
            break;
        }
        out.push(o.clone());
    }
    let token = more
        .then(|| {
            out.last()
                .map(|o| hex::encode(o.seller_fulfillment_order_id.as_bytes()))
        })
        .flatten();
    Ok((out, token))
}
