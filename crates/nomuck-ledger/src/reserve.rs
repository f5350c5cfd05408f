//! Reserving fulfillable stock for an order's lines under an SP-API fulfillment policy.

use std::collections::{HashMap, HashSet};

use crate::bucket::Bucket;
use crate::error::LedgerError;
use crate::ledger::{Entry, Ledger, Millis, Movement, Reason};

/// SP-API Fulfillment Outbound 2020-07-01 `FulfillmentPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FillPolicy {
    /// Every unit of every line, or nothing (the order becomes `Unfulfillable`).
    FillOrKill,
    /// Reserve what is there now; the rest stays on the order, backordered, until stock
    /// arrives or the seller cancels it (the order stays in processing meanwhile).
    FillAll,
    /// Reserve what is there now; the rest is cancelled.
    FillAllAvailable,
}

impl FillPolicy {
    pub fn name(self) -> &'static str {
        match self {
            FillPolicy::FillOrKill => "FillOrKill",
            FillPolicy::FillAll => "FillAll",
            FillPolicy::FillAllAvailable => "FillAllAvailable",
        }
    }

    pub fn from_name(name: &str) -> Option<FillPolicy> {
        [
            FillPolicy::FillOrKill,
            FillPolicy::FillAll,
            FillPolicy::FillAllAvailable,
        ]
        .into_iter()
        .find(|p| p.name() == name)
    }
}

/// One line of an order: `quantity` units of `sku` (an fnSku), named by the seller's
/// `sellerFulfillmentOrderItemId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub item_id: String,
    pub sku: String,
    pub quantity: u64,
}

/// What happened to one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineReservation {
    pub item_id: String,
    pub sku: String,
    pub requested: u64,
    /// (center, units) reserved there, in the order the centers were preferred.
    pub reserved: Vec<(String, u64)>,
    /// Units still wanted (`FillAll`): to reserve when stock arrives.
    pub backordered: u64,
    /// Units given up (`FillAllAvailable`, or every unit of a killed `FillOrKill`).
    pub cancelled: u64,
}

impl LineReservation {
    pub fn reserved_total(&self) -> u64 {
        self.reserved
            .iter()
            .fold(0u64, |sum, (_, q)| sum.saturating_add(*q))
    }
}

/// The outcome of [`Ledger::reserve`]: the entries it applied and each line's split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub entries: Vec<Entry>,
    pub lines: Vec<LineReservation>,
}

impl Reservation {
    /// Every unit of every line is reserved.
    pub fn is_complete(&self) -> bool {
        self.lines.iter().all(|l| l.reserved_total() == l.requested)
    }
}

/// The idempotency key of the reservation of one line at one center. Lengths prefix the
/// caller's ids so that no two (order, item) pairs share a key whatever they contain.
pub fn reserve_key(order: &str, item_id: &str, center: &str) -> String {
    format!(
        "reserve:{}:{order}:{}:{item_id}:{center}",
        order.len(),
        item_id.len()
    )
}

impl Ledger {
    /// Reserves `lines` of `order` from `Fulfillable` to `ReservedCustomerOrder`, taking
    /// each line from `centers` in the given order of preference (nearest first) and
    /// splitting it across centers when one cannot fill it. All the movements are applied
    /// atomically; with `&mut self` nothing interleaves between reading availability and
    /// applying, so no unit is reserved twice.
    ///
    /// Idempotent per order: if the order already has reservation entries, they are
    /// returned as they are and nothing new is reserved; a request those entries cannot
    /// have come from (another SKU on a line, more units reserved than now asked for, a
    /// `FillOrKill` shortfall) is [`LedgerError::OrderConflict`]. Only the order's own
    /// record can tell every changed request apart (the order layer compares bodies). (A killed `FillOrKill` has no
    /// entries, so a retry tries again; the order's own record decides whether to retry.)
    pub fn reserve(
        &mut self,
        order: &str,
        centers: &[String],
        lines: &[OrderLine],
        policy: FillPolicy,
        at: Millis,
    ) -> Result<Reservation, LedgerError> {
        if order.is_empty() {
            return Err(LedgerError::Empty { field: "order" });
        }
        let mut seen = HashSet::new();
        for line in lines {
            if line.sku.is_empty() {
                return Err(LedgerError::Empty { field: "sku" });
            }
            if line.quantity == 0 {
                return Err(LedgerError::ZeroQuantity);
            }
            if !seen.insert(line.item_id.as_str()) {
                return Err(LedgerError::DuplicateLine {
                    item_id: line.item_id.clone(),
                });
            }
        }
        if let Some(previous) = self.previous_reservation(order, centers, lines, policy)? {
            return Ok(previous);
        }

        let mut available: HashMap<(&str, &str), u64> = HashMap::new();
        let mut outcome = Vec::with_capacity(lines.len());
        for line in lines {
            let mut remaining = line.quantity;
            let mut reserved = Vec::new();
            for center in centers {
                let free = available
                    .entry((line.sku.as_str(), center.as_str()))
                    .or_insert_with(|| {
                        self.summary(&line.sku, center)
                            .quantities
                            .get(Bucket::Fulfillable)
                    });
                let take = remaining.min(*free);
                if take > 0 {
                    *free -= take;
                    remaining -= take;
                    reserved.push((center.clone(), take));
                }
            }
            outcome.push(split(line, reserved, policy));
        }
        if policy == FillPolicy::FillOrKill && outcome.iter().any(|l| l.cancelled > 0) {
            for line in &mut outcome {
                line.reserved.clear();
                line.cancelled = line.requested;
            }
        }

        let movements = outcome
            .iter()
            .flat_map(|line| {
                line.reserved
                    .iter()
                    .map(move |(center, quantity)| Movement {
                        sku: line.sku.clone(),
                        center: center.clone(),
                        from: Some(Bucket::Fulfillable),
                        to: Some(Bucket::ReservedCustomerOrder),
                        quantity: *quantity,
                        reason: Reason::Reserve,
                        reference: order.to_owned(),
                        idempotency_key: reserve_key(order, &line.item_id, center),
                    })
            })
            .collect();
        let entries = self.apply_all(movements, at)?;
        Ok(Reservation {
            entries,
            lines: outcome,
        })
    }

    /// The reservation `order` already made, rebuilt from its entries, if it made one.
    fn previous_reservation(
        &self,
        order: &str,
        centers: &[String],
        lines: &[OrderLine],
        policy: FillPolicy,
    ) -> Result<Option<Reservation>, LedgerError> {
        let mut entries = Vec::new();
        let mut outcome = Vec::with_capacity(lines.len());
        for line in lines {
            let mut reserved = Vec::new();
            for center in centers {
                let key = reserve_key(order, &line.item_id, center);
                let Some(entry) = self.entry_by_key(&key) else {
                    continue;
                };
                if entry.movement.sku != line.sku {
                    return Err(LedgerError::OrderConflict {
                        order: order.to_owned(),
                    });
                }
                reserved.push((center.clone(), entry.movement.quantity));
                entries.push(entry.clone());
            }
            outcome.push(split(line, reserved, policy));
        }
        if entries.is_empty() {
            return Ok(None);
        }
        // More reserved than now asked for, or a shortfall a FillOrKill could not have
        // accepted: not the request that made these entries.
        let killed = policy == FillPolicy::FillOrKill;
        if outcome
            .iter()
            .any(|l| l.reserved_total() > l.requested || (killed && l.cancelled > 0))
        {
            return Err(LedgerError::OrderConflict {
                order: order.to_owned(),
            });
        }
        Ok(Some(Reservation {
            entries,
            lines: outcome,
        }))
    }
}

/// A line's outcome given what was reserved for it: the shortfall is backordered under
/// `FillAll` and cancelled otherwise.
fn split(line: &OrderLine, reserved: Vec<(String, u64)>, policy: FillPolicy) -> LineReservation {
    let got = reserved
        .iter()
        .fold(0u64, |sum, (_, q)| sum.saturating_add(*q));
    let short = line.quantity.saturating_sub(got);
    let (backordered, cancelled) = match policy {
        FillPolicy::FillAll => (short, 0),
        FillPolicy::FillOrKill | FillPolicy::FillAllAvailable => (0, short),
    };
    LineReservation {
        item_id: line.item_id.clone(),
        sku: line.sku.clone(),
        requested: line.quantity,
        reserved,
        backordered,
        cancelled,
    }
}
