//! The center's side of inbound: dock arrival, check-in, receiving box by
//! box, closing, and the simulated operator that drives the same steps.
//!
//! Each step is a plain `fn(book, tx, center, …) -> Result` (checks first,
//! then changes) that both the public method (a center's staff) and
//! [`sim_inbound`] call, so the simulator can do nothing a real operator
//! could not. Every step already at its target status is a no-op that
//! answers the shipment: scanners retry.

use std::collections::BTreeMap;

use nomuck_ledger::{Bucket, Movement, Reason};
use nomuck_meta::Millis;

use crate::Fulfillment;
use crate::book::{Book, Tx};
use crate::config::FulfillmentConfig;
use crate::error::{FulfillmentError, Result};
use crate::inbound::{
    BoxLine, Condition, InboundItem, InboundShipment, ShipmentStatus, check_quantity,
    move_outstanding, set_status,
};
use crate::items::fnv1a;
use crate::record::Record;
use crate::time::HOUR_MS;

/// The longest box id a receiver may scan.
pub const MAX_BOX_ID_CHARS: usize = 64;

/// The shipment `id` bound for `center`, as a copy to change.
fn bound_for(book: &Book, center: &str, id: &str) -> Result<InboundShipment> {
    let s = book
        .inbound
        .get(id)
        .ok_or_else(|| FulfillmentError::NotFound(format!("shipment {id:?}")))?;
    if s.destination_fulfillment_center_id != center {
        return Err(FulfillmentError::Forbidden(format!(
            "shipment {id:?} is bound for {}, not {center}",
            s.destination_fulfillment_center_id
        )));
    }
    Ok(s.clone())
}

fn wrong_status(s: &InboundShipment, step: &str) -> FulfillmentError {
    FulfillmentError::Conflict(format!(
        "shipment {:?} is {}: cannot {step}",
        s.shipment_id,
        s.shipment_status.name()
    ))
}

fn store(book: &mut Book, tx: &mut Tx, mut s: InboundShipment) -> Result<InboundShipment> {
    tx.save(&book.account_id.clone(), &mut s)?;
    book.inbound.insert(s.shipment_id.clone(), s.clone());
    Ok(s)
}

/// SHIPPED → IN_TRANSIT: the carrier has it.
pub(crate) fn in_transit(
    book: &mut Book,
    tx: &mut Tx,
    center: &str,
    id: &str,
) -> Result<InboundShipment> {
    let mut s = bound_for(book, center, id)?;
    match s.shipment_status {
        ShipmentStatus::InTransit => Ok(s),
        ShipmentStatus::Shipped => {
            set_status(tx, &mut s, ShipmentStatus::InTransit);
            store(book, tx, s)
        }
        _ => Err(wrong_status(&s, "go in transit")),
    }
}

/// SHIPPED or IN_TRANSIT → DELIVERED: it is at the dock (passing through
/// IN_TRANSIT, so the stream shows every step).
pub(crate) fn dock_arrive(
    book: &mut Book,
    tx: &mut Tx,
    center: &str,
    id: &str,
) -> Result<InboundShipment> {
    let mut s = bound_for(book, center, id)?;
    match s.shipment_status {
        ShipmentStatus::Delivered => return Ok(s),
        ShipmentStatus::Shipped => set_status(tx, &mut s, ShipmentStatus::InTransit),
        ShipmentStatus::InTransit => {}
        _ => return Err(wrong_status(&s, "arrive at the dock")),
    }
    set_status(tx, &mut s, ShipmentStatus::Delivered);
    store(book, tx, s)
}

/// DELIVERED → CHECKED_IN: its units move to `INBOUND_RECEIVING`.
pub(crate) fn check_in(
    book: &mut Book,
    tx: &mut Tx,
    center: &str,
    id: &str,
) -> Result<InboundShipment> {
    let mut s = bound_for(book, center, id)?;
    match s.shipment_status {
        ShipmentStatus::CheckedIn => return Ok(s),
        ShipmentStatus::Delivered => {}
        _ => return Err(wrong_status(&s, "check in")),
    }
    let movements = move_outstanding(
        &s,
        Bucket::InboundShipped,
        Some(Bucket::InboundReceiving),
        Reason::InboundTransit,
        "check-in",
    );
    book.move_units(tx, movements)?;
    set_status(tx, &mut s, ShipmentStatus::CheckedIn);
    store(book, tx, s)
}

/// Receives one box: each line's units leave `INBOUND_RECEIVING` for the
/// bucket of their condition; units beyond what the shipment still expects
/// of that SKU are an over-receipt and enter the ledger there. The same box
/// id again with the same lines changes nothing; with other lines it is a
/// conflict.
pub(crate) fn receive_box(
    book: &mut Book,
    tx: &mut Tx,
    center: &str,
    id: &str,
    box_id: &str,
    lines: Vec<BoxLine>,
) -> Result<InboundShipment> {
    let mut s = bound_for(book, center, id)?;
    let n = box_id.chars().count();
    if n == 0 || n > MAX_BOX_ID_CHARS || box_id.chars().any(char::is_control) {
        return Err(FulfillmentError::invalid(
            "boxId",
            format!("1 to {MAX_BOX_ID_CHARS} characters"),
        ));
    }
    if let Some(b) = s.boxes.iter().find(|b| b.box_id == box_id) {
        return if b.lines == lines {
            Ok(s)
        } else {
            Err(FulfillmentError::Conflict(format!(
                "box {box_id:?} was already received with other contents"
            )))
        };
    }
    if !matches!(
        s.shipment_status,
        ShipmentStatus::CheckedIn | ShipmentStatus::Receiving
    ) {
        return Err(wrong_status(&s, "receive boxes"));
    }
    if lines.is_empty() {
        return Err(FulfillmentError::invalid(
            "lines",
            "a box has at least one line",
        ));
    }
    let mut outstanding: BTreeMap<&str, u64> = s
        .items
        .iter()
        .map(|i| (i.seller_sku.as_str(), i.outstanding()))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut movements = Vec::new();
    let mut overs = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        check_quantity(&format!("lines[{i}].quantity"), line.quantity)?;
        let item = book.items.get(&line.seller_sku).ok_or_else(|| {
            FulfillmentError::invalid(
                format!("lines[{i}].sellerSku"),
                format!("{:?} is not a registered SKU", line.seller_sku),
            )
        })?;
        if !seen.insert((&line.seller_sku, line.condition)) {
            return Err(FulfillmentError::invalid(
                format!("lines[{i}]"),
                "the same SKU and condition twice in one box",
            ));
        }
        let left = outstanding.entry(line.seller_sku.as_str()).or_insert(0);
        let expected = line.quantity.min(*left);
        *left -= expected;
        let over = line.quantity - expected;
        overs.push(over);
        let key = format!("inbound/{id}/box/{box_id}/{i}");
        let movement = |from, quantity, key| Movement {
            sku: item.fn_sku.clone(),
            center: center.to_owned(),
            from,
            to: Some(line.condition.bucket()),
            quantity,
            reason: Reason::Receipt,
            reference: id.to_owned(),
            idempotency_key: key,
        };
        if expected > 0 {
            movements.push(movement(
                Some(Bucket::InboundReceiving),
                expected,
                key.clone(),
            ));
        }
        if over > 0 {
            movements.push(movement(None, over, format!("{key}/over")));
        }
    }
    book.move_units(tx, movements)?;

    for (line, over) in lines.iter().zip(overs) {
        let pos = match s.items.iter().position(|i| i.seller_sku == line.seller_sku) {
            Some(p) => p,
            None => {
                // A SKU the seller did not list: all of it is over-receipt.
                s.items.push(InboundItem {
                    shipment_id: id.to_owned(),
                    seller_sku: line.seller_sku.clone(),
                    fulfillment_network_sku: book
                        .items
                        .get(&line.seller_sku)
                        .map(|i| i.fn_sku.clone())
                        .unwrap_or_default(),
                    ..InboundItem::default()
                });
                s.items.len() - 1
            }
        };
        if let Some(item) = s.items.get_mut(pos) {
            item.quantity_received = item.quantity_received.saturating_add(line.quantity);
            item.quantity_over = item.quantity_over.saturating_add(over);
            *item
                .received_by_condition
                .entry(line.condition.name().to_owned())
                .or_insert(0) += line.quantity;
            item.updated_at = tx.now;
        }
    }
    s.boxes.push(crate::inbound::ReceivedBox {
        box_id: box_id.to_owned(),
        lines,
        received_at: tx.now,
    });
    if s.shipment_status == ShipmentStatus::CheckedIn {
        set_status(tx, &mut s, ShipmentStatus::Receiving);
    } else {
        s.updated_at = tx.now;
    }
    store(book, tx, s)
}

/// → CLOSED: every unit still expected is short, taken out of the ledger
/// (reason `Receipt`: the receipt came up short) and recorded per SKU.
pub(crate) fn close(
    book: &mut Book,
    tx: &mut Tx,
    center: &str,
    id: &str,
) -> Result<InboundShipment> {
    let mut s = bound_for(book, center, id)?;
    match s.shipment_status {
        ShipmentStatus::Closed => return Ok(s),
        ShipmentStatus::CheckedIn | ShipmentStatus::Receiving => {}
        _ => return Err(wrong_status(&s, "close")),
    }
    let movements = move_outstanding(&s, Bucket::InboundReceiving, None, Reason::Receipt, "short");
    book.move_units(tx, movements)?;
    for item in &mut s.items {
        let short = item.outstanding();
        if short > 0 {
            item.quantity_short = item.quantity_short.saturating_add(short);
            item.updated_at = tx.now;
        }
    }
    s.sim_due = None;
    set_status(tx, &mut s, ShipmentStatus::Closed);
    store(book, tx, s)
}

impl Fulfillment {
    async fn center_op<F>(
        &self,
        center: &str,
        account_id: &str,
        shipment_id: &str,
        op: F,
    ) -> Result<InboundShipment>
    where
        F: FnOnce(&mut Book, &mut Tx, &str, &str) -> Result<InboundShipment> + Send + 'static,
    {
        self.check_center_exists(center)?;
        let (center, id) = (center.to_owned(), shipment_id.to_owned());
        self.write(account_id, move |b, tx| {
            let s = op(b, tx, &center, &id)?;
            if s.by_hand {
                return Ok(s);
            }
            store(b, tx, InboundShipment { by_hand: true, ..s })
        })
        .await
    }

    /// The carrier picked the shipment up: SHIPPED → IN_TRANSIT.
    pub async fn mark_in_transit(
        &self,
        center: &str,
        account_id: &str,
        shipment_id: &str,
    ) -> Result<InboundShipment> {
        self.center_op(center, account_id, shipment_id, in_transit)
            .await
    }

    /// The truck is at the dock: → DELIVERED.
    pub async fn dock_arrive(
        &self,
        center: &str,
        account_id: &str,
        shipment_id: &str,
    ) -> Result<InboundShipment> {
        self.center_op(center, account_id, shipment_id, dock_arrive)
            .await
    }

    /// DELIVERED → CHECKED_IN (units to `INBOUND_RECEIVING`).
    pub async fn check_in(
        &self,
        center: &str,
        account_id: &str,
        shipment_id: &str,
    ) -> Result<InboundShipment> {
        self.center_op(center, account_id, shipment_id, check_in)
            .await
    }

    /// Receives one box (→ RECEIVING); see [`receive_box`].
    pub async fn receive_box(
        &self,
        center: &str,
        account_id: &str,
        shipment_id: &str,
        box_id: &str,
        lines: Vec<BoxLine>,
    ) -> Result<InboundShipment> {
        let box_id = box_id.to_owned();
        self.center_op(center, account_id, shipment_id, move |b, tx, c, id| {
            receive_box(b, tx, c, id, &box_id, lines)
        })
        .await
    }

    /// → CLOSED; what was not received is short.
    pub async fn close_shipment(
        &self,
        center: &str,
        account_id: &str,
        shipment_id: &str,
    ) -> Result<InboundShipment> {
        self.center_op(center, account_id, shipment_id, close).await
    }
}

/// `hours / speed` in milliseconds (a non-positive or absurd speed counts
/// as 1).
fn scaled(hours: f64, speed: f64) -> Millis {
    let speed = if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    };
    let ms = hours.max(0.0) * HOUR_MS as f64 / speed;
    if ms.is_finite() {
        ms as Millis
    } else {
        Millis::MAX / 4
    }
}

/// Units of one SKU line found damaged on receipt: unit `k` is damaged when
/// a hash of (shipment, SKU, k) falls below `p`, so a rerun decides the same.
/// Beyond a million units the expected count stands in (a loop that long
/// would hold the writer).
fn damaged_units(shipment: &str, sku: &str, quantity: u64, p: f64) -> u64 {
    if p.is_nan() || p <= 0.0 {
        return 0;
    }
    if quantity > 1_000_000 {
        return ((quantity as f64 * p.min(1.0)).round() as u64).min(quantity);
    }
    (0..quantity)
        .filter(|k| {
            let h = mix(fnv1a(&[
                shipment.as_bytes(),
                sku.as_bytes(),
                &k.to_be_bytes(),
            ]));
            (h as f64 / u64::MAX as f64) < p
        })
        .count() as u64
}

/// splitmix64's finalizer: FNV leaves the high bits of inputs that differ
/// in one byte nearly equal, and a threshold test reads the high bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The simulated operator's inbound step for every shipment bound for a
/// simulated center: SHIPPED → IN_TRANSIT at once, → DELIVERED → CHECKED_IN
/// and every expected unit received (one box per SKU) once
/// `inbound_transit_hours / speed` have passed since shipping, CLOSED
/// `receive_hours / speed` later. Units the `damaged_on_receipt` scenario
/// picks are graded `DistributorDamaged` (they arrived damaged from the
/// seller's supply chain: the center did not damage them). Due times are on
/// the record, so a restart continues. Says whether anything changed.
pub fn sim_inbound(book: &mut Book, tx: &mut Tx, now: Millis, config: &FulfillmentConfig) -> bool {
    let speed = config.simulator.speed;
    let due: Vec<(String, String, f64, f64)> = book
        .inbound
        .values()
        .filter(|s| s.is_open() && !s.by_hand && s.shipment_status != ShipmentStatus::Working)
        .filter(|s| {
            s.sim_due.is_none_or(|d| d <= now) || s.shipment_status == ShipmentStatus::Shipped
        })
        .filter_map(|s| {
            let c = config.center(&s.destination_fulfillment_center_id)?;
            c.simulated.then(|| {
                (
                    s.shipment_id.clone(),
                    c.id.clone(),
                    c.processing.inbound_transit_hours,
                    c.processing.receive_hours,
                )
            })
        })
        .collect();
    let mut changed = false;
    for (id, center, transit_hours, receive_hours) in due {
        match sim_step(
            book,
            tx,
            now,
            &center,
            &id,
            scaled(transit_hours, speed),
            scaled(receive_hours, speed),
            config.simulator.scenarios.damaged_on_receipt,
        ) {
            Ok(c) => changed |= c,
            Err(e) => tracing::warn!(shipment = %id, error = %e, "simulated inbound step failed"),
        }
    }
    changed
}

#[allow(clippy::too_many_arguments)]
fn sim_step(
    book: &mut Book,
    tx: &mut Tx,
    now: Millis,
    center: &str,
    id: &str,
    transit: Millis,
    receive: Millis,
    damaged_p: f64,
) -> Result<bool> {
    let mut changed = false;
    let status = |book: &Book| {
        book.inbound
            .get(id)
            .map(|s| (s.shipment_status, s.sim_due, s.shipped_at))
    };
    if let Some((ShipmentStatus::Shipped, _, shipped_at)) = status(book) {
        let mut s = in_transit(book, tx, center, id)?;
        s.sim_due = Some(shipped_at.unwrap_or(now).saturating_add(transit));
        store(book, tx, s)?;
        changed = true;
    }
    let Some((st, mut due, shipped_at)) = status(book) else {
        return Ok(changed);
    };
    if st == ShipmentStatus::InTransit && due.is_none() {
        // Put in transit by a person: the transit time still runs from
        // shipping.
        let mut s = bound_for(book, center, id)?;
        due = Some(shipped_at.unwrap_or(now).saturating_add(transit));
        s.sim_due = due;
        store(book, tx, s)?;
        changed = true;
    }
    if due.is_some_and(|d| d > now) {
        return Ok(changed);
    }
    if matches!(st, ShipmentStatus::InTransit) {
        dock_arrive(book, tx, center, id)?;
        changed = true;
    }
    if matches!(status(book), Some((ShipmentStatus::Delivered, ..))) {
        check_in(book, tx, center, id)?;
        changed = true;
    }
    if matches!(status(book), Some((ShipmentStatus::CheckedIn, ..))) {
        let s = bound_for(book, center, id)?;
        for item in s.items.iter().filter(|i| i.outstanding() > 0) {
            let q = item.outstanding();
            let damaged = damaged_units(id, &item.seller_sku, q, damaged_p);
            let lines: Vec<BoxLine> = [
                (Condition::Sellable, q - damaged),
                (Condition::DistributorDamaged, damaged),
            ]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(condition, quantity)| BoxLine {
                seller_sku: item.seller_sku.clone(),
                quantity,
                condition,
            })
            .collect();
            let box_id = format!("SIM-{}", item.fulfillment_network_sku);
            receive_box(book, tx, center, id, &box_id, lines)?;
        }
        let mut s = bound_for(book, center, id)?;
        if s.shipment_status == ShipmentStatus::CheckedIn {
            // Nothing was outstanding: move on as if receiving happened.
            set_status(tx, &mut s, ShipmentStatus::Receiving);
        }
        s.sim_due = Some(now.saturating_add(receive));
        store(book, tx, s)?;
        return Ok(true);
    }
    if let Some((ShipmentStatus::Receiving, due, _)) = status(book) {
        match due {
            None => {
                let mut s = bound_for(book, center, id)?;
                s.sim_due = Some(now.saturating_add(receive));
                store(book, tx, s)?;
            }
            Some(_) => {
                close(book, tx, center, id)?;
            }
        }
        changed = true;
    }
    Ok(changed)
}

#[cfg(test)]
mod model_tests;
