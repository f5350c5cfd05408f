//! The simulated operator of outbound work at `simulated` centers, and the
//! book's index of orders with due work that keeps its step cheap.
//!
//! [`sim_outbound`] runs on the account's writer and calls the same op fns
//! the operations API does (wave, pick, pack, label, ship, scans, returns).
//! Each order's next due time is stored on the order, so a restart
//! continues where it stopped. Scenarios (short pick, carrier delay, lost
//! package, customer return) are decided by a hash of what they concern, so
//! a run is reproducible.

use std::collections::{BTreeSet, HashMap};

use nomuck_meta::Millis;
use sha2::{Digest, Sha256};

use crate::book::{Book, Tx};
use crate::config::FulfillmentConfig;
use crate::error::{FulfillmentError, Result};
use crate::order_ops::{order_of, put_order};
use crate::orders::ReturnCondition;
use crate::orders::{FulfillmentAction, Order, ShipmentStatus, TrackingStatus};
use crate::preview::{scaled, transit_days};
use crate::returns::{CreateReturnItem, create_return, receive_return};
use crate::time::{DAY_MS, HOUR_MS};
use crate::tracking::carrier_event;
use crate::warehouse::{pick_pack_label, plan_wave, ship};

/// Orders handled per step at most: bounds the time a step holds the book
/// (and so delays the account's other calls); a step that did work says so,
/// and the driver calls again at once.
const MAX_PER_STEP: usize = 256;

/// Orders by their next due time, and the next package number.
#[derive(Debug, Default)]
pub struct OutboundIndex {
    built: bool,
    due: BTreeSet<(Millis, String)>,
    next_package: i64,
}

impl OutboundIndex {
    pub(crate) fn reindex(&mut self, id: &str, old: Option<Millis>, new: Option<Millis>) {
        if old == new {
            return;
        }
        if let Some(t) = old {
            self.due.remove(&(t, id.to_owned()));
        }
        if let Some(t) = new {
            self.due.insert((t, id.to_owned()));
        }
    }

    /// The next unused package number (numbers are never reused).
    pub(crate) fn next_package_number(&mut self, packages: &HashMap<i64, String>) -> i64 {
        if self.next_package == 0 {
            self.next_package = packages.keys().max().copied().unwrap_or(0) + 1;
        }
        let n = self.next_package;
        self.next_package += 1;
        n
    }

    /// Builds the due index from the orders (after a load).
    fn build(&mut self, orders: &std::collections::BTreeMap<String, Order>) {
        self.due = orders
            .values()
            .filter_map(|o| o.due.map(|t| (t, o.seller_fulfillment_order_id.clone())))
            .collect();
        self.built = true;
    }

    /// How many orders have work due at or before `now`.
    pub fn due_count(&self, now: Millis) -> usize {
        self.due.iter().take_while(|(t, _)| *t <= now).count()
    }
}

/// Whether a scenario of probability `p` happens to `what`.
pub(crate) fn chance(account: &str, scenario: &str, what: &str, p: f64) -> bool {
    if p <= 0.0 {
        return false;
    }
    let d = Sha256::digest(format!("{account}:{scenario}:{what}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(d.get(..8).unwrap_or(&[0; 8]));
    (u64::from_be_bytes(b) as f64 / u64::MAX as f64) < p
}

/// One step of the simulated operator over the orders due by `now`; says
/// whether it did anything. An order whose step fails is logged and left
/// out until the next load (it would fail the same way every tick).
pub fn sim_outbound(book: &mut Book, tx: &mut Tx, now: Millis, config: &FulfillmentConfig) -> bool {
    if !book.outbound.built {
        book.outbound.build(&book.orders);
    }
    let due: Vec<(Millis, String)> = book
        .outbound
        .due
        .iter()
        .take_while(|(t, _)| *t <= now)
        .take(MAX_PER_STEP)
        .cloned()
        .collect();
    for (t, id) in &due {
        if let Err(e) = step(book, tx, now, config, id) {
            tracing::warn!(account = %book.account_id, order = %id, error = %e, "simulated operator skipped an order");
            book.outbound.due.remove(&(*t, id.clone()));
        }
    }
    !due.is_empty()
}

fn simulated(config: &FulfillmentConfig, center: &str) -> bool {
    config.simulator.enabled && config.center(center).is_some_and(|c| c.simulated)
}

fn step(
    book: &mut Book,
    tx: &mut Tx,
    now: Millis,
    config: &FulfillmentConfig,
    id: &str,
) -> Result<()> {
    let order = order_of(book, id)?;
    for (si, s) in order.shipments.iter().enumerate() {
        let center = s.fulfillment_center_id.as_str();
        if s.due.is_some_and(|t| t <= now) && simulated(config, center) {
            shipment_step(book, tx, now, config, id, si)?;
        }
    }
    let order = order_of(book, id)?;
    for s in &order.shipments {
        for p in &s.packages {
            if p.due.is_some_and(|t| t <= now) && simulated(config, &s.fulfillment_center_id) {
                package_step(
                    book,
                    tx,
                    now,
                    config,
                    id,
                    &s.fulfillment_center_id,
                    p.package_number,
                )?;
            }
        }
    }
    // Whatever is left due in the past would spin: the index must move on.
    let order = order_of(book, id)?;
    if order.due.is_some_and(|t| t <= now) {
        return Err(FulfillmentError::Internal(format!(
            "order {id:?} made no progress"
        )));
    }
    Ok(())
}

/// Changes `id` with `f` and stores it.
fn with_order(book: &mut Book, tx: &mut Tx, id: &str, f: impl FnOnce(&mut Order)) -> Result<()> {
    let mut o = order_of(book, id)?;
    f(&mut o);
    put_order(book, tx, o)
}

/// A shipment's work: wave, pick, pack and label at once, then ship when
/// the center's pick-and-pack time has passed.
fn shipment_step(
    book: &mut Book,
    tx: &mut Tx,
    now: Millis,
    config: &FulfillmentConfig,
    id: &str,
    si: usize,
) -> Result<()> {
    let order = order_of(book, id)?;
    let Some(s) = order.shipments.get(si).cloned() else {
        return Ok(());
    };
    let center = s.fulfillment_center_id.clone();
    let clear = |o: &mut Order| {
        if let Some(s) = o.shipments.get_mut(si) {
            s.due = None;
        }
    };
    if s.fulfillment_shipment_status != ShipmentStatus::Pending
        || order.fulfillment_action == FulfillmentAction::Hold
    {
        return with_order(book, tx, id, clear);
    }
    let account = book.account_id.clone();
    // Not yet picked and packed (or only partly, by an operator): do it now
    // and ship once the center's pick-and-pack time has passed.
    let unpacked = s
        .items
        .iter()
        .any(|it| it.picked.is_none_or(|p| p > it.packed));
    if !s.waved || unpacked {
        if !s.waved {
            plan_wave(book, tx, &center, &[id.to_owned()])?;
        }
        let short_pick = config.simulator.scenarios.short_pick;
        let numbers = pick_pack_label(book, tx, &center, id, |it| {
            let what = format!("{id}:{}:{center}", it.seller_fulfillment_order_item_id);
            if chance(&account, "short_pick", &what, short_pick) {
                it.quantity - 1
            } else {
                it.quantity
            }
        })?;
        if !numbers.is_empty() {
            let hours = config
                .center(&center)
                .map_or(4.0, |c| c.processing.pick_pack_hours);
            let at = now.saturating_add(scaled(
                config,
                config.center(&center),
                hours * HOUR_MS as f64,
            ));
            return with_order(book, tx, id, |o| {
                if let Some(s) = o.shipments.get_mut(si) {
                    s.due = Some(at);
                }
            });
        }
        return with_order(book, tx, id, clear);
    }
    let numbers = pick_pack_label(book, tx, &center, id, |it| it.quantity)?;
    for n in numbers {
        ship(book, tx, config, &center, n)?;
    }
    let transit = transit_ms(config, &center, &order);
    with_order(book, tx, id, |o| {
        clear(o);
        if let Some(s) = o.shipments.get_mut(si) {
            for p in &mut s.packages {
                if p.current_status == Some(TrackingStatus::InTransit) && p.due.is_none() {
                    p.due = Some(now.saturating_add(transit / 2));
                }
            }
        }
    })
}

fn transit_ms(config: &FulfillmentConfig, center: &str, order: &Order) -> Millis {
    let days = transit_days(config, order.shipping_speed_category);
    scaled(
        config,
        config.center(center),
        f64::from(days) * DAY_MS as f64,
    )
}

/// A package's next scan. Planned from its ship date: a delay scan halfway
/// (carrier_delay, one more day), out for delivery, then delivered — or
/// undeliverable (lost_package); a customer_return comes back a transit
/// time after delivery.
fn package_step(
    book: &mut Book,
    tx: &mut Tx,
    now: Millis,
    config: &FulfillmentConfig,
    id: &str,
    center: &str,
    number: i64,
) -> Result<()> {
    let order = order_of(book, id)?;
    let Some((_, p)) = order.package(number) else {
        return Ok(());
    };
    let p = p.clone();
    let Some(shipped) = p.ship_date else {
        return Ok(());
    };
    let account = book.account_id.clone();
    let what = format!("{number}");
    let sc = &config.simulator.scenarios;
    let transit = transit_ms(config, center, &order);
    let delayed = chance(&account, "carrier_delay", &what, sc.carrier_delay);
    let lost = chance(&account, "lost_package", &what, sc.lost_package);
    let returned = chance(&account, "customer_return", &what, sc.customer_return);
    let extra = if delayed {
        scaled(config, config.center(center), DAY_MS as f64)
    } else {
        0
    };
    let deliver_at = shipped.saturating_add(transit).saturating_add(extra);
    let ofd_at = deliver_at.saturating_sub(transit / 8).max(shipped + 1);
    let was_delayed = p
        .tracking_events
        .iter()
        .any(|e| e.status == TrackingStatus::Delayed);
    let (status, next) = match p.current_status {
        Some(TrackingStatus::InTransit) if delayed && !was_delayed => {
            (Some(TrackingStatus::Delayed), Some(ofd_at))
        }
        Some(TrackingStatus::InTransit | TrackingStatus::Delayed) if lost => {
            (Some(TrackingStatus::Undeliverable), None)
        }
        Some(TrackingStatus::InTransit | TrackingStatus::Delayed) => {
            (Some(TrackingStatus::OutForDelivery), Some(deliver_at))
        }
        Some(TrackingStatus::OutForDelivery) => (
            Some(TrackingStatus::Delivered),
            returned.then_some(deliver_at.saturating_add(transit)),
        ),
        Some(TrackingStatus::Delivered) if returned => (None, None),
        _ => (None, None),
    };
    match status {
        Some(s) => carrier_event(book, tx, config, center, number, s, now)?,
        None if returned && p.current_status == Some(TrackingStatus::Delivered) => {
            customer_return(book, tx, id, center, &order, number)?
        }
        None => {}
    }
    let next = next.map(|t| t.max(now + 1));
    with_order(book, tx, id, |o| {
        if let Some(pk) = o
            .shipments
            .iter_mut()
            .flat_map(|s| s.packages.iter_mut())
            .find(|pk| pk.package_number == number)
        {
            pk.due = next;
        }
    })
}

/// The customer sends a delivered package back: one return item per unit,
/// received sellable.
fn customer_return(
    book: &mut Book,
    tx: &mut Tx,
    id: &str,
    center: &str,
    order: &Order,
    number: i64,
) -> Result<()> {
    let Some((si, p)) = order.package(number) else {
        return Ok(());
    };
    let shipment = order
        .shipments
        .get(si)
        .map(|s| s.amazon_shipment_id.clone())
        .unwrap_or_default();
    let mut items = Vec::new();
    for pit in &p.items {
        for k in 0..pit.quantity {
            items.push(CreateReturnItem {
                seller_return_item_id: format!(
                    "sim-{number}-{}-{k}",
                    pit.seller_fulfillment_order_item_id
                ),
                seller_fulfillment_order_item_id: pit.seller_fulfillment_order_item_id.clone(),
                amazon_shipment_id: shipment.clone(),
                return_reason_code: "CR-UNWANTED_ITEM".to_owned(),
                return_comment: None,
            });
        }
    }
    let created = create_return(book, tx, id, items)?;
    for r in created.return_items {
        receive_return(
            book,
            tx,
            center,
            id,
            &r.seller_return_item_id,
            ReturnCondition::Sellable,
        )?;
    }
    Ok(())
}
