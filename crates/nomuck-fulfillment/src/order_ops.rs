//! The seller's side of outbound orders: create (reserving stock), read,
//! list, update, cancel. Each is a pure fn over `(&mut Book, &mut Tx)` that
//! checks everything before it changes anything; `outbound_api.rs` wraps
//! them in `Fulfillment::write`.

use nomuck_ledger::{Bucket, Movement, OrderLine, Reason};
use sha2::{Digest, Sha256};

use crate::book::{Book, Tx};
use crate::config::{Address, FulfillmentConfig};
use crate::error::{FulfillmentError, Result};
use crate::order_events::{DEFAULT_MARKETPLACE, set_status};
use crate::orders::{
    FulfillmentAction, FulfillmentPolicy, Order, OrderItem, OrderItemRequest, OrderRequest,
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

/// A line's `fulfillmentNetworkSku`, when given, must be its SKU's.
fn check_fn_sku(field: &str, it: &OrderItemRequest, fn_sku: &str) -> Result<()> {
    match &it.fulfillment_network_sku {
        Some(given) if given != fn_sku => Err(FulfillmentError::invalid(
            field,
            format!(
                "{given:?} is not the fulfillment network SKU of seller SKU {:?} (that is {fn_sku:?})",
                it.seller_sku
            ),
        )),
        _ => Ok(()),
    }
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
        max_len(
            &f("giftMessage"),
            it.gift_message.as_deref().unwrap_or(""),
            512,
        )?;
        max_len(
            &f("displayableComment"),
            it.displayable_comment.as_deref().unwrap_or(""),
            250,
        )?;
        let units = quantity(&f("quantity"), it.quantity)?;
        // SP-API refuses an order naming a SKU it does not know (400).
        let item = book.items.get(&it.seller_sku).ok_or_else(|| {
            FulfillmentError::invalid(f("sellerSku"), format!("unknown SKU {:?}", it.seller_sku))
        })?;
        check_fn_sku(&f("fulfillmentNetworkSku"), it, &item.fn_sku)?;
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
    let mut centers = centers_nearest(&config.centers, &req.destination_address);
    if let Some(country) = &req.ship_from_country_code {
        centers.retain(|id| {
            config
                .centers
                .iter()
                .any(|c| &c.id == id && c.address.country_code.eq_ignore_ascii_case(country))
        });
    }
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

/// updateFulfillmentOrder: release a Hold, or change the address and the
/// displayable fields while the center has not started.
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
    // Checked.
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
