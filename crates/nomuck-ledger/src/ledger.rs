//! Movements, entries and the in-memory fold of the ledger.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::bucket::{Bucket, Quantities};
use crate::error::LedgerError;

/// Milliseconds since the Unix epoch (the metadata store's unit).
pub type Millis = i64;

/// Why units moved. Mirrors the event types of Amazon's inventory ledger report
/// (receipts, shipments, customer returns, removals, transfers, adjustments) plus the
/// steps inside the center that move units between buckets without entering or leaving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The seller added or removed units on an inbound shipment that is still being
    /// prepared (enters or leaves `InboundWorking`).
    InboundPlan,
    /// An inbound shipment moved on: shipped by the seller, arrived at the dock.
    InboundTransit,
    /// Received and graded at the dock.
    Receipt,
    /// Reserved for an order (or for a transfer).
    Reserve,
    /// A reservation was given back (order cancelled, policy dropped the line).
    Release,
    /// Released to picking and packing.
    Processing,
    /// Left the center in a package to a customer.
    Shipment,
    /// Came back from a customer.
    CustomerReturn,
    /// Returned to the seller or disposed of on request (a removal order).
    Removal,
    /// Between centers.
    Transfer,
    /// Cycle count, damage in the warehouse, research found or lost units.
    Adjustment,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::InboundPlan => "InboundPlan",
            Reason::InboundTransit => "InboundTransit",
            Reason::Receipt => "Receipt",
            Reason::Reserve => "Reserve",
            Reason::Release => "Release",
            Reason::Processing => "Processing",
            Reason::Shipment => "Shipment",
            Reason::CustomerReturn => "CustomerReturn",
            Reason::Removal => "Removal",
            Reason::Transfer => "Transfer",
            Reason::Adjustment => "Adjustment",
        }
    }

    pub fn from_name(name: &str) -> Option<Reason> {
        [
            Reason::InboundPlan,
            Reason::InboundTransit,
            Reason::Receipt,
            Reason::Reserve,
            Reason::Release,
            Reason::Processing,
            Reason::Shipment,
            Reason::CustomerReturn,
            Reason::Removal,
            Reason::Transfer,
            Reason::Adjustment,
        ]
        .into_iter()
        .find(|r| r.name() == name)
    }
}

/// `quantity` units of `sku` at `center` moving `from` one bucket `to` another. `from:
/// None` means the units enter the system, `to: None` that they leave it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Movement {
    /// The fnSku (see the crate docs for why not the seller SKU).
    pub sku: String,
    /// Fulfillment center id (`SIM1`, …).
    pub center: String,
    pub from: Option<Bucket>,
    pub to: Option<Bucket>,
    pub quantity: u64,
    pub reason: Reason,
    /// The order, shipment, receipt, return or adjustment id this movement belongs to.
    pub reference: String,
    /// The same key twice has one effect.
    pub idempotency_key: String,
}

/// A movement accepted into the ledger. `seq` is 1, 2, 3, … without gaps; `at` never
/// decreases along `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub at: Millis,
    pub movement: Movement,
}

/// The fold of the entries of one (sku, center), or of one sku across centers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Units per bucket.
    pub quantities: Quantities,
    /// Units that ever entered (`from: None`).
    pub entered: u64,
    /// Units that left to a customer (`to: None`, reason `Shipment`).
    pub shipped: u64,
    /// Units that left any other way (removal, disposal, lost).
    pub removed: u64,
    /// The last entry that changed this summary (0: none), and its time.
    pub last_seq: u64,
    pub last_at: Millis,
}

impl Summary {
    /// Folds one movement in, or refuses it leaving `self` unchanged.
    fn apply(&mut self, m: &Movement, seq: u64, at: Millis) -> Result<(), LedgerError> {
        let mut next = *self;
        if let Some(from) = m.from {
            let slot = next.quantities.slot(from);
            *slot = slot
                .checked_sub(m.quantity)
                .ok_or_else(|| LedgerError::Insufficient {
                    sku: m.sku.clone(),
                    center: m.center.clone(),
                    bucket: from,
                    available: *slot,
                    requested: m.quantity,
                })?;
        } else {
            next.entered = next
                .entered
                .checked_add(m.quantity)
                .ok_or(LedgerError::Overflow)?;
        }
        match m.to {
            Some(to) => {
                let slot = next.quantities.slot(to);
                *slot = slot.checked_add(m.quantity).ok_or(LedgerError::Overflow)?;
            }
            None if m.reason == Reason::Shipment => {
                next.shipped = next
                    .shipped
                    .checked_add(m.quantity)
                    .ok_or(LedgerError::Overflow)?;
            }
            None => {
                next.removed = next
                    .removed
                    .checked_add(m.quantity)
                    .ok_or(LedgerError::Overflow)?;
            }
        }
        next.last_seq = seq;
        next.last_at = at;
        *self = next;
        Ok(())
    }

    /// Units that left the system, however.
    pub fn left(&self) -> u64 {
        self.shipped.saturating_add(self.removed)
    }
}

/// The ledger: every entry, and the summaries folded from them incrementally.
///
/// Nothing here grows by copying what it holds: entries live in fixed-size
/// chunks and idempotency keys in an ordered map. A `Vec` or a hash map that
/// doubles moves or rehashes everything at once, which stalled the account's
/// writer for 60–100 ms each time a busy ledger passed 2^17, 2^18, … entries.
///
/// Every [`CHECKPOINT_EVERY`] entries it keeps the [`Positions`] as they were
/// after that entry (a checkpoint), so the positions as of any past seq are
/// a copy of the nearest checkpoint below it plus a fold of fewer than
/// [`CHECKPOINT_EVERY`] entries ([`Ledger::positions_at`]), not a replay of
/// the whole ledger.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    entries: Chunks,
    positions: Positions,
    keys: BTreeMap<String, u64>,
    /// `checkpoints[i]`: the positions after entry `(i + 1) * every`.
    checkpoints: Vec<Arc<Positions>>,
    /// Entries between checkpoints; 0 is [`CHECKPOINT_EVERY`].
    every: u64,
}

/// Two ledgers are equal when they hold the same entries (and so the same
/// positions and keys); checkpoints are a cache of those, however spaced.
impl PartialEq for Ledger {
    fn eq(&self, other: &Ledger) -> bool {
        self.entries == other.entries
            && self.positions == other.positions
            && self.keys == other.keys
    }
}

impl Eq for Ledger {}

/// Entries between two checkpoints of a [`Ledger`] by default: at most this
/// many entries are folded to answer [`Ledger::positions_at`], and a
/// checkpoint costs a copy of the positions once per this many entries.
pub const CHECKPOINT_EVERY: u64 = 65_536;

/// The summaries of every (sku, center) and every sku: what a ledger's
/// entries fold to, now ([`Ledger`]) or as of a past seq
/// ([`Ledger::positions_at`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Positions {
    /// Per sku (nested rather than keyed by a (sku, center) pair so that reads look up
    /// borrowed `&str`s without allocating).
    skus: BTreeMap<String, SkuSummaries>,
}

impl Positions {
    /// The summary of `sku` at `center` (all zeros if it never had units there).
    pub fn summary(&self, sku: &str, center: &str) -> Summary {
        self.skus
            .get(sku)
            .and_then(|s| s.centers.get(center))
            .copied()
            .unwrap_or_default()
    }

    /// The summary of `sku` across all centers.
    pub fn total(&self, sku: &str) -> Summary {
        self.skus.get(sku).map(|s| s.total).unwrap_or_default()
    }

    /// Every (sku, center) summary, ordered by sku then center.
    pub fn positions(&self) -> impl Iterator<Item = (&str, &str, &Summary)> {
        self.skus.iter().flat_map(|(sku, s)| {
            s.centers
                .iter()
                .map(move |(center, s)| (sku.as_str(), center.as_str(), s))
        })
    }

    /// Every sku's total across centers, ordered by sku.
    pub fn totals(&self) -> impl Iterator<Item = (&str, &Summary)> {
        self.skus.iter().map(|(sku, s)| (sku.as_str(), &s.total))
    }

    /// Folds one accepted entry in (looking names up borrowed: only a new
    /// sku or center allocates).
    fn fold(&mut self, e: &Entry) -> Result<(), LedgerError> {
        let m = &e.movement;
        if !self.skus.contains_key(&m.sku) {
            self.skus.insert(m.sku.clone(), SkuSummaries::default());
        }
        let s = self
            .skus
            .get_mut(&m.sku)
            .ok_or(LedgerError::Internal("a sku just inserted is missing"))?;
        if !s.centers.contains_key(&m.center) {
            s.centers.insert(m.center.clone(), Summary::default());
        }
        s.centers
            .get_mut(&m.center)
            .ok_or(LedgerError::Internal("a center just inserted is missing"))?
            .apply(m, e.seq, e.at)?;
        s.total.apply(m, e.seq, e.at)
    }
}

/// Entries per chunk.
const CHUNK: usize = 4096;

/// Entries in order, in chunks of [`CHUNK`] (all full but the last).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Chunks {
    chunks: Vec<Vec<Entry>>,
    len: usize,
}

impl Chunks {
    fn push(&mut self, entry: Entry) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(entry),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(entry);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    fn get(&self, index: usize) -> Option<&Entry> {
        self.chunks.get(index / CHUNK)?.get(index % CHUNK)
    }

    fn last(&self) -> Option<&Entry> {
        self.chunks.last()?.last()
    }

    /// Entries from `start` (0-based) on.
    fn iter_from(&self, start: usize) -> Entries<'_> {
        let start = start.min(self.len);
        let (chunk, offset) = (start / CHUNK, start % CHUNK);
        Entries {
            current: self
                .chunks
                .get(chunk)
                .and_then(|c| c.get(offset..))
                .unwrap_or(&[])
                .iter(),
            rest: self.chunks.get(chunk + 1..).unwrap_or(&[]),
            remaining: self.len - start,
        }
    }

    /// How many entries have `at <= t` (entries are in time order).
    fn count_at_or_before(&self, t: Millis) -> usize {
        let full = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|e| e.at <= t));
        match self.chunks.get(full) {
            Some(c) => full * CHUNK + c.partition_point(|e| e.at <= t),
            // Every chunk (the last maybe not full) is at or before `t`.
            None => self.len,
        }
    }
}

/// Entries of a [`Ledger`] in seq order (see [`Ledger::entries_after`]).
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    current: std::slice::Iter<'a, Entry>,
    rest: &'a [Vec<Entry>],
    remaining: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = &'a Entry;

    fn next(&mut self) -> Option<&'a Entry> {
        loop {
            if let Some(e) = self.current.next() {
                self.remaining -= 1;
                return Some(e);
            }
            let (next, rest) = self.rest.split_first()?;
            self.current = next.iter();
            self.rest = rest;
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Entries<'_> {}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct SkuSummaries {
    total: Summary,
    centers: BTreeMap<String, Summary>,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// An empty ledger keeping a checkpoint every `every` entries (at least
    /// 1) instead of every [`CHECKPOINT_EVERY`].
    pub fn with_checkpoints_every(every: u64) -> Ledger {
        Ledger {
            every: every.max(1),
            ..Ledger::default()
        }
    }

    fn every(&self) -> u64 {
        if self.every == 0 {
            CHECKPOINT_EVERY
        } else {
            self.every
        }
    }

    /// Rebuilds a ledger from stored entries, checking each again: seqs must be 1, 2, 3, …
    /// and every movement must be acceptable at its place. Entries' `at` are kept.
    pub fn replay(entries: impl IntoIterator<Item = Entry>) -> Result<Ledger, LedgerError> {
        let mut ledger = Ledger::new();
        for entry in entries {
            let expected = ledger.last_seq().saturating_add(1);
            if entry.seq != expected {
                return Err(LedgerError::OutOfSequence {
                    expected,
                    got: entry.seq,
                });
            }
            let applied = ledger.apply(entry.movement, entry.at)?;
            if applied.seq != expected {
                // A repeated key: the stored log holds a duplicate that was never applied.
                return Err(LedgerError::OutOfSequence {
                    expected,
                    got: applied.seq,
                });
            }
        }
        Ok(ledger)
    }

    /// Applies one movement (see [`Ledger::apply_all`]).
    pub fn apply(&mut self, movement: Movement, at: Millis) -> Result<Entry, LedgerError> {
        let mut entries = self.apply_all(vec![movement], at)?;
        entries
            .pop()
            .ok_or(LedgerError::Internal("a batch of one returned no entry"))
    }

    /// Applies `movements` in order, atomically: all are accepted or the ledger is left
    /// unchanged. A movement whose idempotency key is already in the ledger (or earlier in
    /// this batch) is not applied again; its original entry is returned in its place. `at`
    /// is raised to the last entry's time if earlier, so time never runs backwards.
    pub fn apply_all(
        &mut self,
        movements: Vec<Movement>,
        at: Millis,
    ) -> Result<Vec<Entry>, LedgerError> {
        let at = at.max(self.entries.last().map_or(Millis::MIN, |e| e.at));
        let mut positions: HashMap<(String, String), Summary> = HashMap::new();
        let mut totals: HashMap<String, Summary> = HashMap::new();
        let mut fresh: Vec<Entry> = Vec::new();
        let mut fresh_keys: HashMap<String, usize> = HashMap::new();
        let mut out = Vec::with_capacity(movements.len());
        for movement in movements {
            validate(&movement)?;
            let original = match self.keys.get(&movement.idempotency_key) {
                Some(seq) => self.entry(*seq),
                None => fresh_keys
                    .get(&movement.idempotency_key)
                    .and_then(|i| fresh.get(*i)),
            };
            if let Some(original) = original {
                if original.movement != movement {
                    return Err(LedgerError::IdempotencyConflict {
                        key: movement.idempotency_key,
                        original_seq: original.seq,
                    });
                }
                out.push(original.clone());
                continue;
            }
            let seq = self
                .last_seq()
                .checked_add(fresh.len() as u64 + 1)
                .ok_or(LedgerError::Overflow)?;
            let key = (movement.sku.clone(), movement.center.clone());
            let position = positions
                .entry(key)
                .or_insert_with(|| self.summary(&movement.sku, &movement.center));
            position.apply(&movement, seq, at)?;
            let total = totals
                .entry(movement.sku.clone())
                .or_insert_with(|| self.total(&movement.sku));
            total.apply(&movement, seq, at)?;
            fresh_keys.insert(movement.idempotency_key.clone(), fresh.len());
            let entry = Entry { seq, at, movement };
            out.push(entry.clone());
            fresh.push(entry);
        }
        let checkpoints = self.checkpoints_in(&fresh)?;
        // Everything checked: commit.
        for ((sku, center), summary) in positions {
            self.positions
                .skus
                .entry(sku)
                .or_default()
                .centers
                .insert(center, summary);
        }
        for (sku, summary) in totals {
            self.positions.skus.entry(sku).or_default().total = summary;
        }
        self.checkpoints.extend(checkpoints);
        for entry in fresh {
            self.keys
                .insert(entry.movement.idempotency_key.clone(), entry.seq);
            self.entries.push(entry);
        }
        Ok(out)
    }

    /// The checkpoints that `fresh` (entries about to follow the last one)
    /// passes: the positions before them, folded up to each boundary.
    fn checkpoints_in(&self, fresh: &[Entry]) -> Result<Vec<Arc<Positions>>, LedgerError> {
        let every = self.every();
        let end = self.last_seq().saturating_add(fresh.len() as u64);
        if end / every == self.last_seq() / every {
            return Ok(Vec::new());
        }
        let mut at = self.positions.clone();
        let mut out = Vec::new();
        for e in fresh {
            at.fold(e)?;
            if e.seq % every == 0 {
                out.push(Arc::new(at.clone()));
            }
        }
        Ok(out)
    }

    /// The positions as they were after entry `seq` (now, when `seq` is the
    /// last or beyond): the nearest checkpoint at or below `seq` and the
    /// entries after it folded in. Equal to `as_of(seq)`'s summaries, at a
    /// fraction of the cost (a 1,000,000-entry ledger: milliseconds where
    /// `as_of` took seconds).
    pub fn positions_at(&self, seq: u64) -> Result<Positions, LedgerError> {
        if seq >= self.last_seq() {
            return Ok(self.positions.clone());
        }
        let every = self.every();
        let below = seq / every;
        let (mut at, from) = match usize::try_from(below)
            .ok()
            .and_then(|k| k.checked_sub(1))
            .and_then(|i| self.checkpoints.get(i))
        {
            Some(c) => (Positions::clone(c), below * every),
            None => (Positions::default(), 0),
        };
        let n = usize::try_from(seq - from).unwrap_or(usize::MAX);
        for e in self.entries_after(from).take(n) {
            at.fold(e)?;
        }
        Ok(at)
    }

    /// The last entry's seq (0 when empty).
    pub fn last_seq(&self) -> u64 {
        self.entries.len as u64
    }

    pub fn len(&self) -> usize {
        self.entries.len
    }

    pub fn is_empty(&self) -> bool {
        self.entries.len == 0
    }

    /// The entry with this seq.
    pub fn entry(&self, seq: u64) -> Option<&Entry> {
        let index = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.entries.get(index)
    }

    /// The entry an idempotency key was first applied as.
    pub fn entry_by_key(&self, key: &str) -> Option<&Entry> {
        self.entry(*self.keys.get(key)?)
    }

    /// Entries with a seq greater than `seq`, in order: the never-expiring cursor.
    pub fn entries_after(&self, seq: u64) -> Entries<'_> {
        self.entries
            .iter_from(usize::try_from(seq).unwrap_or(usize::MAX))
    }

    /// The ledger as it was after entry `seq` (a fold of the entries up to it).
    /// Replaying a prefix of a valid ledger cannot fail; the `Result` is that of
    /// [`Ledger::replay`].
    pub fn as_of(&self, seq: u64) -> Result<Ledger, LedgerError> {
        let end = usize::try_from(seq).unwrap_or(usize::MAX);
        Ledger::replay(self.entries_after(0).take(end).cloned())
    }

    /// The last seq at or before time `at` (0 if none): `as_of(seq_at(t))` is the
    /// inventory at moment `t`.
    pub fn seq_at(&self, at: Millis) -> u64 {
        self.entries.count_at_or_before(at) as u64
    }

    /// The summary of `sku` at `center` (all zeros if it never had units there).
    pub fn summary(&self, sku: &str, center: &str) -> Summary {
        self.positions.summary(sku, center)
    }

    /// The summary of `sku` across all centers.
    pub fn total(&self, sku: &str) -> Summary {
        self.positions.total(sku)
    }

    /// Every (sku, center) summary, ordered by sku then center.
    pub fn positions(&self) -> impl Iterator<Item = (&str, &str, &Summary)> {
        self.positions.positions()
    }

    /// Every sku's total across centers, ordered by sku.
    pub fn totals(&self) -> impl Iterator<Item = (&str, &Summary)> {
        self.positions.totals()
    }
}

fn validate(m: &Movement) -> Result<(), LedgerError> {
    for (field, value) in [
        ("sku", &m.sku),
        ("center", &m.center),
        ("idempotency_key", &m.idempotency_key),
    ] {
        if value.is_empty() {
            return Err(LedgerError::Empty { field });
        }
    }
    if m.quantity == 0 {
        return Err(LedgerError::ZeroQuantity);
    }
    if m.from == m.to {
        return Err(LedgerError::SameBucket);
    }
    Ok(())
}
