//! The center's side of outbound orders: wave, pick, pack, label, ship and
//! the carrier's scans. Each op is a pure fn over `(&mut Book, &mut Tx)` for
//! one center, checking everything before it changes anything; the
//! operations API and the simulated operator call the same fns.

use nomuck_ledger::{Bucket, Movement, Reason};
use nomuck_meta::fulfillment::ItemDimensions;

use crate::book::{Book, Tx};
use crate::carrier::Carrier;
use crate::config::FulfillmentConfig;
use crate::error::{FulfillmentError, Result};
use crate::fees::{self, PER_ORDER, PER_UNIT, WEIGHT_HANDLING, fee_key};
use crate::order_events::{set_status, shipment_changed};
use crate::order_ops::{order_of, put_order};
use crate::orders::{
    FulfillmentAction, Order, OrderStatus, Package, PackageItem, RequestKey, ShipmentStatus,
    TrackingStatus,
};
use crate::preview::{scaled, transit_days};
use crate::stock::{center_key, check_key};
use crate::time::DAY_MS;

fn conflict<T>(msg: String) -> Result<T> {
    Err(FulfillmentError::Conflict(msg))
}

/// The index of the order's pending shipment at `center`.
fn shipment_at(order: &Order, center: &str) -> Result<usize> {
    order
        .shipments
        .iter()
        .position(|s| s.fulfillment_center_id == center)
        .ok_or_else(|| {
            FulfillmentError::NotFound(format!(
                "a shipment of order {:?} at center {center:?}",
                order.seller_fulfillment_order_id
            ))
        })
}

/// The order's shipment at `center`, to change, with its index.
fn shipment_mut<'a>(
    order: &'a mut Order,
    center: &str,
) -> Result<(usize, &'a mut crate::orders::Shipment)> {
    let i = shipment_at(order, center)?;
    let s = order
        .shipments
        .get_mut(i)
        .ok_or_else(|| FulfillmentError::Internal("shipment".into()))?;
    Ok((i, s))
}

fn key(step: &str, order: &str, rest: &str) -> String {
    format!("{step}:{}:{order}:{rest}", order.len())
}

/// Releases the orders' shipments at `center` to picking: Received →
/// Planning → Processing, their units RESERVED_CUSTOMER_ORDER →
/// RESERVED_FC_PROCESSING. Orders already waved are skipped; held,
/// unknown or closed ones are an error before anything changes.
pub fn plan_wave(
    book: &mut Book,
    tx: &mut Tx,
    center: &str,
    ids: &[String],
) -> Result<Vec<String>> {
    let mut todo = Vec::new();
    for id in ids {
        let order = order_of(book, id)?;
        let i = shipment_at(&order, center)?;
        let s = order
            .shipments
            .get(i)
            .ok_or_else(|| FulfillmentError::Internal("shipment".into()))?;
        if s.waved {
            continue;
        }
        if order.fulfillment_action == FulfillmentAction::Hold {
            return conflict(format!("fulfillment order {id:?} is on hold"));
        }
        if !order.fulfillment_order_status.before_processing()
            && order.fulfillment_order_status != OrderStatus::Processing
            || s.fulfillment_shipment_status != ShipmentStatus::Pending
        {
            return conflict(format!(
                "fulfillment order {id:?} is {}: nothing to pick",
                order.fulfillment_order_status.name()
            ));
        }
        todo.push((order, i));
    }
    let account = book.account_id.clone();
    let mut waved = Vec::new();
    for (mut order, i) in todo {
        let id = order.seller_fulfillment_order_id.clone();
        let Some(s) = order.shipments.get_mut(i) else {
            continue;
        };
        let movements = s
            .items
            .iter()
            .map(|it| Movement {
                sku: it.fulfillment_network_sku.clone(),
                center: center.to_owned(),
                from: Some(Bucket::ReservedCustomerOrder),
                to: Some(Bucket::ReservedFcProcessing),
                quantity: it.quantity,
                reason: Reason::Processing,
                reference: id.clone(),
                idempotency_key: key(
                    "wave",
                    &id,
                    &format!("{}:{center}", it.seller_fulfillment_order_item_id),
                ),
            })
            .collect();
        book.move_units(tx, movements)?;
        s.waved = true;
        set_status(tx, &account, &mut order, OrderStatus::Planning);
        set_status(tx, &account, &mut order, OrderStatus::Processing);
        put_order(book, tx, order)?;
        waved.push(id);
    }
    Ok(waved)
}

/// Records the pick of one line at `center`: `picked` units were found. The
/// missing ones go RESERVED_FC_PROCESSING → RESEARCHING and the line counts
/// them unfulfillable.
pub fn pick(
    book: &mut Book,
    tx: &mut Tx,
    center: &str,
    id: &str,
    item_id: &str,
    picked: u64,
) -> Result<()> {
    let mut order = order_of(book, id)?;
    let (i, s) = shipment_mut(&mut order, center)?;
    if !s.waved {
        return conflict(format!(
            "order {id:?} is not released to picking at {center}"
        ));
    }
    let it = s
        .items
        .iter_mut()
        .find(|it| it.seller_fulfillment_order_item_id == item_id)
        .ok_or_else(|| {
            FulfillmentError::NotFound(format!("item {item_id:?} of order {id:?} at {center}"))
        })?;
    if it.picked.is_some() {
        return conflict(format!(
            "item {item_id:?} of order {id:?} was already picked"
        ));
    }
    if picked > it.quantity {
        return Err(FulfillmentError::invalid(
            "quantity",
            format!("{picked} picked where {} were to pick", it.quantity),
        ));
    }
    let missing = it.quantity - picked;
    let sku = it.fulfillment_network_sku.clone();
    if missing > 0 {
        book.move_units(
            tx,
            vec![Movement {
                sku,
                center: center.to_owned(),
                from: Some(Bucket::ReservedFcProcessing),
                to: Some(Bucket::Researching),
                quantity: missing,
                reason: Reason::Adjustment,
                reference: id.to_owned(),
                idempotency_key: key("short-pick", id, &format!("{item_id}:{center}")),
            }],
        )?;
    }
    it.picked = Some(picked);
    if let Some(line) = order.item_mut(item_id) {
        line.unfulfillable_quantity = line.unfulfillable_quantity.saturating_add(missing);
    }
    settle(book, tx, &mut order, i);
    put_order(book, tx, order)
}

/// One package to pack: units per line, weight and dimensions, and the
/// operator's idempotency key for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackRequest {
    pub items: Vec<PackageItem>,
    pub weight_mg: i64,
    pub dimensions: Option<ItemDimensions>,
    pub key: Option<RequestKey>,
}

/// The package an earlier pack of order `id` at `center` made under `key`,
/// if the key was used: the same request (fingerprint) again is answered
/// with it; the key used for anything else is a conflict.
pub fn packed_under(book: &Book, center: &str, id: &str, key: &RequestKey) -> Result<Option<i64>> {
    let Some(&number) = book.pack_keys.get(&center_key(center, &key.key)) else {
        return Ok(None);
    };
    let (order, si, pi) = package_of(book, center, number)?;
    let kept = order
        .shipments
        .get(si)
        .and_then(|s| s.packages.get(pi))
        .and_then(|p| p.key.as_ref());
    if order.seller_fulfillment_order_id == id && kept == Some(key) {
        Ok(Some(number))
    } else {
        conflict(format!(
            "idempotencyKey {:?} was already used at {center} for another packing request \
             (package {number} of order {:?})",
            key.key, order.seller_fulfillment_order_id
        ))
    }
}

/// Packs picked units of the order at `center` into packages; returns their
/// numbers (unique in the account). A package requested under a key that
/// already made one is that package (see [`packed_under`]), packed once.
pub fn pack(
    book: &mut Book,
    tx: &mut Tx,
    center: &str,
    id: &str,
    requests: Vec<PackRequest>,
) -> Result<Vec<i64>> {
    let mut order = order_of(book, id)?;
    if requests.is_empty() || requests.iter().any(|p| p.items.is_empty()) {
        return Err(FulfillmentError::invalid(
            "packages",
            "each package holds at least one item",
        ));
    }
    // Each request is either done already (its number) or to pack now.
    let mut numbers: Vec<Option<i64>> = Vec::with_capacity(requests.len());
    let mut keys = std::collections::HashSet::new();
    for p in &requests {
        let done = match &p.key {
            Some(k) => {
                check_key("idempotencyKey", &k.key)?;
                if !keys.insert(k.key.as_str()) {
                    return Err(FulfillmentError::invalid(
                        "idempotencyKey",
                        format!("{:?} names two packages of one request", k.key),
                    ));
                }
                packed_under(book, center, id, k)?
            }
            None => None,
        };
        numbers.push(done);
    }
    let packages: Vec<PackRequest> = requests
        .into_iter()
        .zip(&numbers)
        .filter(|(_, done)| done.is_none())
        .map(|(p, _)| p)
        .collect();
    let (_, s) = shipment_mut(&mut order, center)?;
    let mut packed = s.items.iter().map(|it| it.packed).collect::<Vec<_>>();
    for p in &packages {
        if p.weight_mg <= 0 {
            return Err(FulfillmentError::invalid(
                "weight",
                "a package weighs something",
            ));
        }
        for pi in &p.items {
            let (k, it) = s
                .items
                .iter()
                .enumerate()
                .find(|(_, it)| {
                    it.seller_fulfillment_order_item_id == pi.seller_fulfillment_order_item_id
                })
                .ok_or_else(|| {
                    FulfillmentError::invalid(
                        "items",
                        format!(
                            "{:?} is not in this shipment",
                            pi.seller_fulfillment_order_item_id
                        ),
                    )
                })?;
            let slot = packed
                .get_mut(k)
                .ok_or_else(|| FulfillmentError::Internal("slot".into()))?;
            *slot = slot.saturating_add(pi.quantity);
            if pi.quantity == 0 || *slot > it.picked.unwrap_or(0) {
                return Err(FulfillmentError::invalid(
                    "quantity",
                    format!(
                        "more units of {:?} packed than picked",
                        pi.seller_fulfillment_order_item_id
                    ),
                ));
            }
        }
    }
    if packages.is_empty() {
        return Ok(numbers.into_iter().flatten().collect());
    }
    let mut made = Vec::with_capacity(packages.len());
    for p in packages {
        let n = book.outbound.next_package_number(&book.packages);
        if n > i64::from(i32::MAX) {
            return Err(FulfillmentError::Conflict(
                "the account has used every package number".into(),
            ));
        }
        book.packages.insert(n, id.to_owned());
        if let Some(k) = &p.key {
            book.pack_keys.insert(center_key(center, &k.key), n);
        }
        made.push(n);
        s.packages.push(Package {
            package_number: n,
            items: p.items,
            weight_mg: p.weight_mg,
            dimensions: p.dimensions,
            carrier_code: None,
            tracking_number: None,
            label_price_micro_usd: 0,
            ship_date: None,
            estimated_arrival_date: None,
            current_status: None,
            tracking_events: Vec::new(),
            due: None,
            key: p.key,
        });
    }
    for (it, n) in s.items.iter_mut().zip(packed) {
        it.packed = n;
    }
    put_order(book, tx, order)?;
    let mut made = made.into_iter();
    Ok(numbers
        .into_iter()
        .filter_map(|done| done.or_else(|| made.next()))
        .collect())
}

/// The order holding package `number` of `center`, and where in it.
pub(crate) fn package_of(book: &Book, center: &str, number: i64) -> Result<(Order, usize, usize)> {
    let id = book
        .packages
        .get(&number)
        .ok_or_else(|| FulfillmentError::NotFound(format!("package {number}")))?;
    let order = order_of(book, id)?;
    let (si, _) = order
        .package(number)
        .ok_or_else(|| FulfillmentError::NotFound(format!("package {number}")))?;
    let pi = order
        .shipments
        .get(si)
        .and_then(|s| s.packages.iter().position(|p| p.package_number == number))
        .ok_or_else(|| FulfillmentError::NotFound(format!("package {number}")))?;
    check_center(&order, si, center, number)?;
    Ok((order, si, pi))
}

pub(crate) fn check_center(order: &Order, si: usize, center: &str, number: i64) -> Result<()> {
    match order.shipments.get(si) {
        Some(s) if s.fulfillment_center_id == center => Ok(()),
        _ => Err(FulfillmentError::NotFound(format!(
            "package {number} at center {center:?}"
        ))),
    }
}

/// Buys the package's label from `carrier` (once: a package with a label
/// keeps it).
pub fn buy_label(
    book: &mut Book,
    tx: &mut Tx,
    carrier: &dyn Carrier,
    center: &str,
    number: i64,
) -> Result<Package> {
    let (mut order, si, pi) = package_of(book, center, number)?;
    let to = order.destination_address.clone();
    let account = book.account_id.clone();
    let p = order
        .shipments
        .get_mut(si)
        .and_then(|s| s.packages.get_mut(pi))
        .ok_or_else(|| FulfillmentError::Internal("package".into()))?;
    if p.tracking_number.is_some() {
        return Ok(p.clone());
    }
    let label = carrier.buy_label(&account, number, p.weight_mg, &to);
    p.carrier_code = Some(label.carrier_code);
    p.tracking_number = Some(label.tracking_number);
    p.label_price_micro_usd = label.price_micro_usd;
    let out = p.clone();
    put_order(book, tx, order)?;
    Ok(out)
}

/// Hands the package to the carrier: its units leave the ledger
/// (RESERVED_FC_PROCESSING → none, Shipment), the fees are metered, and the
/// order completes when nothing is left to send.
pub fn ship(
    book: &mut Book,
    tx: &mut Tx,
    config: &FulfillmentConfig,
    center: &str,
    number: i64,
) -> Result<()> {
    let fees = &config.fees;
    let (mut order, si, pi) = package_of(book, center, number)?;
    let id = order.seller_fulfillment_order_id.clone();
    let account = book.account_id.clone();
    let s = order
        .shipments
        .get_mut(si)
        .ok_or_else(|| FulfillmentError::Internal("shipment".into()))?;
    let p = s
        .packages
        .get(pi)
        .ok_or_else(|| FulfillmentError::Internal("package".into()))?
        .clone();
    if p.ship_date.is_some() {
        return Ok(());
    }
    if p.tracking_number.is_none() {
        return conflict(format!("package {number} has no label yet"));
    }
    let mut movements = Vec::new();
    for pit in &p.items {
        let it = s
            .items
            .iter()
            .find(|it| it.seller_fulfillment_order_item_id == pit.seller_fulfillment_order_item_id)
            .ok_or_else(|| FulfillmentError::Internal("package item".into()))?;
        movements.push(Movement {
            sku: it.fulfillment_network_sku.clone(),
            center: center.to_owned(),
            from: Some(Bucket::ReservedFcProcessing),
            to: None,
            quantity: pit.quantity,
            reason: Reason::Shipment,
            reference: id.clone(),
            idempotency_key: key(
                "ship",
                &id,
                &format!("{}:{number}", pit.seller_fulfillment_order_item_id),
            ),
        });
    }
    book.move_units(tx, movements)?;
    for pit in &p.items {
        if let Some(it) = s
            .items
            .iter_mut()
            .find(|it| it.seller_fulfillment_order_item_id == pit.seller_fulfillment_order_item_id)
        {
            it.shipped = it.shipped.saturating_add(pit.quantity);
        }
    }
    let units: u64 = p.items.iter().map(|i| i.quantity).sum();
    tx.fee(
        &account,
        PER_UNIT,
        fees::per_unit(fees, units),
        fee_key(&account, &id, PER_UNIT, number),
    );
    tx.fee(
        &account,
        WEIGHT_HANDLING,
        fees::weight_handling(fees, p.weight_mg),
        fee_key(&account, &id, WEIGHT_HANDLING, number),
    );
    if !order.fees_metered {
        tx.fee(
            &account,
            PER_ORDER,
            fees.order_handling_per_order,
            fee_key(&account, &id, PER_ORDER, 0),
        );
        order.fees_metered = true;
    }
    let transit = transit_days(config, order.shipping_speed_category);
    let eta = tx.now.saturating_add(scaled(
        config,
        config.center(center),
        f64::from(transit) * DAY_MS as f64,
    ));
    let s = order
        .shipments
        .get_mut(si)
        .ok_or_else(|| FulfillmentError::Internal("shipment".into()))?;
    if let Some(pk) = s.packages.get_mut(pi) {
        pk.ship_date = Some(tx.now);
        pk.estimated_arrival_date = Some(eta);
    }
    s.shipping_date.get_or_insert(tx.now);
    s.estimated_arrival_date = Some(s.estimated_arrival_date.map_or(eta, |e| e.max(eta)));
    let origin = crate::tracking::center_place(config, center);
    crate::tracking::scan(
        tx,
        &account,
        &mut order,
        si,
        pi,
        TrackingStatus::InTransit,
        tx.now,
        &origin,
    );
    settle(book, tx, &mut order, si);
    put_order(book, tx, order)
}

/// After a pick or a shipment: closes the shipment when it has nothing left
/// to send, and the order when none of its shipments has.
fn settle(book: &Book, tx: &mut Tx, order: &mut Order, si: usize) {
    let account = book.account_id.clone();
    if let Some(s) = order.shipments.get_mut(si) {
        let all_picked = s.items.iter().all(|it| it.picked.is_some());
        let sent = s
            .items
            .iter()
            .all(|it| it.shipped >= it.picked.unwrap_or(u64::MAX));
        if s.fulfillment_shipment_status == ShipmentStatus::Pending && all_picked && sent {
            let any = s.items.iter().any(|it| it.shipped > 0);
            s.fulfillment_shipment_status = if any {
                ShipmentStatus::Shipped
            } else {
                ShipmentStatus::CancelledByFulfiller
            };
            s.due = None;
            shipment_changed(tx, &account, order, si);
        }
    }
    if order.fulfillment_order_status.is_final()
        || order
            .shipments
            .iter()
            .any(|s| s.fulfillment_shipment_status == ShipmentStatus::Pending)
    {
        return;
    }
    let shipped: u64 = order
        .shipments
        .iter()
        .flat_map(|s| &s.items)
        .map(|i| i.shipped)
        .sum();
    let short = order.items.iter().any(|i| i.unfulfillable_quantity > 0);
    let status = match (shipped, short) {
        (0, _) => OrderStatus::Unfulfillable,
        (_, true) => OrderStatus::CompletePartialled,
        (_, false) => OrderStatus::Complete,
    };
    set_status(tx, &account, order, status);
}

/// Picks every line of the order's shipment at `center` not yet picked
/// (`found` says how many units of each line are found), packs what is
/// picked and not packed into one package weighed from its items, and
/// buys the labels its unshipped packages lack: the whole of a
/// center's work before shipping, for the simulated operator and the
/// sandbox. Returns the numbers of the packages not yet shipped.
pub(crate) fn pick_pack_label(
    book: &mut Book,
    tx: &mut Tx,
    center: &str,
    id: &str,
    found: impl Fn(&crate::orders::ShipmentItem) -> u64,
) -> Result<Vec<i64>> {
    let order = order_of(book, id)?;
    let si = shipment_at(&order, center)?;
    let items = order
        .shipments
        .get(si)
        .map(|s| s.items.clone())
        .unwrap_or_default();
    // Lines not yet picked are picked now; whatever is picked but not
    // packed (also by an operator's hand) goes into one package.
    for it in items.iter().filter(|it| it.picked.is_none()) {
        let n = found(it).min(it.quantity);
        pick(
            book,
            tx,
            center,
            id,
            &it.seller_fulfillment_order_item_id,
            n,
        )?;
    }
    let order = order_of(book, id)?;
    let shipment = order.shipments.get(si);
    let mut packed = Vec::new();
    let mut weight_mg = 0i64;
    for it in shipment.map(|s| s.items.as_slice()).unwrap_or(&[]) {
        let n = it.picked.unwrap_or(0).saturating_sub(it.packed);
        if n > 0 {
            weight_mg = weight_mg.saturating_add(fees::units_weight_mg(book, &it.seller_sku, n));
            packed.push(PackageItem {
                seller_fulfillment_order_item_id: it.seller_fulfillment_order_item_id.clone(),
                quantity: n,
            });
        }
    }
    let mut numbers = Vec::new();
    if !packed.is_empty() {
        let request = PackRequest {
            items: packed,
            weight_mg,
            dimensions: None,
            key: None,
        };
        pack(book, tx, center, id, vec![request])?;
    }
    let order = order_of(book, id)?;
    let unlabelled = order
        .shipments
        .get(si)
        .into_iter()
        .flat_map(|s| &s.packages)
        .filter(|p| p.ship_date.is_none());
    for p in unlabelled {
        buy_label(
            book,
            tx,
            &crate::carrier::SimCarrier,
            center,
            p.package_number,
        )?;
        numbers.push(p.package_number);
    }
    Ok(numbers)
}
