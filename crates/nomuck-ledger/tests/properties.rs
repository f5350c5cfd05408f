//! Model-based properties: random sequences of movements, batches, reservations and
//! replays, checked after every step against a naive model kept by the test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nomuck_ledger::{Bucket, Entry, FillPolicy, Ledger, LedgerError, Movement, OrderLine, Reason};
use proptest::prelude::*;

const SKUS: [&str; 2] = ["X00A", "X00B"];
const CENTERS: [&str; 2] = ["SIM1", "SIM2"];
const REASONS: [Reason; 4] = [
    Reason::Receipt,
    Reason::Shipment,
    Reason::Removal,
    Reason::Adjustment,
];

fn bucket() -> impl Strategy<Value = Option<Bucket>> {
    // Entering and leaving as often as any one bucket, so stock builds up and drains.
    prop_oneof![
        3 => Just(None),
        10 => proptest::sample::select(Bucket::ALL.to_vec()).prop_map(Some),
    ]
}

fn movement() -> impl Strategy<Value = Movement> {
    (
        0..SKUS.len(),
        0..CENTERS.len(),
        bucket(),
        bucket(),
        0u64..12,
        0..REASONS.len(),
        0u32..40,
    )
        .prop_map(|(s, c, from, to, quantity, r, key)| Movement {
            sku: SKUS[s].into(),
            center: CENTERS[c].into(),
            from,
            to,
            quantity,
            reason: REASONS[r],
            reference: format!("ref-{key}"),
            // A small key space, so keys repeat: sometimes with the same movement (a
            // retry), mostly with a different one (a conflict).
            idempotency_key: format!("k{key}"),
        })
}

#[derive(Debug, Clone)]
enum Op {
    Apply(Movement),
    Batch(Vec<Movement>),
    /// Re-apply the movement of entry number `index % len`.
    Retry(usize),
    Reserve {
        order: u32,
        lines: Vec<(usize, u64)>,
        policy: FillPolicy,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let policy = prop_oneof![
        Just(FillPolicy::FillOrKill),
        Just(FillPolicy::FillAll),
        Just(FillPolicy::FillAllAvailable)
    ];
    prop_oneof![
        6 => movement().prop_map(Op::Apply),
        2 => proptest::collection::vec(movement(), 0..4).prop_map(Op::Batch),
        2 => any::<usize>().prop_map(Op::Retry),
        2 => (0u32..6, proptest::collection::vec((0..SKUS.len(), 1u64..8), 1..3), policy)
            .prop_map(|(order, lines, policy)| Op::Reserve { order, lines, policy }),
    ]
}

/// The naive fold: signed per-bucket counts and entered/left per (sku, center).
#[derive(Debug, Default, PartialEq)]
struct Naive {
    buckets: HashMap<(String, String, Bucket), i128>,
    entered: HashMap<(String, String), i128>,
    left: HashMap<(String, String), i128>,
}

impl Naive {
    fn fold<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Naive {
        let mut n = Naive::default();
        for e in entries {
            n.add(&e.movement);
        }
        n
    }

    fn add(&mut self, m: &Movement) {
        let pos = (m.sku.clone(), m.center.clone());
        let q = i128::from(m.quantity);
        match m.from {
            Some(b) => {
                *self
                    .buckets
                    .entry((m.sku.clone(), m.center.clone(), b))
                    .or_default() -= q
            }
            None => *self.entered.entry(pos.clone()).or_default() += q,
        }
        match m.to {
            Some(b) => {
                *self
                    .buckets
                    .entry((m.sku.clone(), m.center.clone(), b))
                    .or_default() += q
            }
            None => *self.left.entry(pos).or_default() += q,
        }
    }

    fn get(&self, sku: &str, center: &str, b: Bucket) -> i128 {
        self.buckets
            .get(&(sku.into(), center.into(), b))
            .copied()
            .unwrap_or(0)
    }
}

/// Would the naive model accept `m` as a new movement?
fn acceptable(naive: &Naive, m: &Movement) -> bool {
    m.quantity > 0
        && m.from != m.to
        && m.from
            .is_none_or(|b| naive.get(&m.sku, &m.center, b) >= i128::from(m.quantity))
}

/// Every invariant, against the naive re-fold of all entries.
fn check(ledger: &Ledger) -> Result<(), TestCaseError> {
    let entries: Vec<Entry> = ledger.entries_after(0).cloned().collect();
    for (i, e) in entries.iter().enumerate() {
        prop_assert_eq!(e.seq, i as u64 + 1);
    }
    prop_assert!(entries.windows(2).all(|w| w[0].at <= w[1].at));
    let naive = Naive::fold(&entries);
    for sku in SKUS {
        let mut across = [0u64; Bucket::ALL.len()];
        for center in CENTERS {
            let s = ledger.summary(sku, center);
            for (i, b) in Bucket::ALL.into_iter().enumerate() {
                let n = naive.get(sku, center, b);
                prop_assert!(n >= 0, "naive fold negative: {sku} {center} {b:?}");
                prop_assert_eq!(i128::from(s.quantities.get(b)), n);
                across[i] += s.quantities.get(b);
            }
            let pos = (sku.to_string(), center.to_string());
            prop_assert_eq!(
                i128::from(s.entered),
                naive.entered.get(&pos).copied().unwrap_or(0)
            );
            prop_assert_eq!(
                i128::from(s.left()),
                naive.left.get(&pos).copied().unwrap_or(0)
            );
            // Conservation.
            prop_assert_eq!(s.quantities.total(), s.entered - s.shipped - s.removed);
        }
        let t = ledger.total(sku);
        for (i, b) in Bucket::ALL.into_iter().enumerate() {
            prop_assert_eq!(t.quantities.get(b), across[i]);
        }
        prop_assert_eq!(t.quantities.total(), t.entered - t.shipped - t.removed);
    }
    // Summaries are exactly what a replay of the entries rebuilds.
    prop_assert_eq!(
        &Ledger::replay(entries.to_vec()).map_err(|e| TestCaseError::fail(e.to_string()))?,
        ledger
    );
    Ok(())
}

fn centers() -> Vec<String> {
    CENTERS.iter().map(|c| c.to_string()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_operations_keep_every_invariant(
        ops in proptest::collection::vec(op(), 1..60),
        cut in any::<u64>(),
        every in 1u64..9,
    ) {
        // Checkpoints every few entries, so that batches cross them.
        let mut ledger = Ledger::with_checkpoints_every(every);
        for (step, op) in ops.into_iter().enumerate() {
            let at = step as i64 * 10;
            let before = ledger.clone();
            match op {
                Op::Apply(m) => {
                    let previous = ledger.entry_by_key(&m.idempotency_key).cloned();
                    let result = ledger.apply(m.clone(), at);
                    match (previous, result) {
                        (Some(original), Ok(e)) => {
                            prop_assert_eq!(&e, &original);
                            prop_assert_eq!(&ledger, &before, "a retry changes nothing");
                        }
                        (Some(original), Err(err)) => {
                            prop_assert!(original.movement != m);
                            // An invalid movement is refused as invalid; a valid one
                            // as a conflict with the key's first use.
                            if m.quantity > 0 && m.from != m.to {
                                prop_assert!(
                                    matches!(err, LedgerError::IdempotencyConflict { .. }),
                                    "{}",
                                    err
                                );
                            }
                            prop_assert_eq!(&ledger, &before);
                        }
                        (None, Ok(e)) => {
                            prop_assert!(acceptable(&Naive::fold(before.entries_after(0)), &m));
                            prop_assert_eq!(e.seq, before.last_seq() + 1);
                            prop_assert_eq!(e.movement, m);
                        }
                        (None, Err(_)) => {
                            prop_assert!(!acceptable(&Naive::fold(before.entries_after(0)), &m));
                            prop_assert_eq!(&ledger, &before, "a refusal changes nothing");
                        }
                    }
                }
                Op::Batch(ms) => {
                    let n = ms.len();
                    match ledger.apply_all(ms, at) {
                        Ok(entries) => prop_assert_eq!(entries.len(), n),
                        Err(_) => prop_assert_eq!(&ledger, &before, "a refused batch changes nothing"),
                    }
                }
                Op::Retry(i) => {
                    if !before.is_empty() {
                        let original = before.entries_after(0).nth(i % before.len()).unwrap().clone();
                        let again = ledger.apply(original.movement.clone(), at);
                        prop_assert_eq!(again, Ok(original));
                        prop_assert_eq!(&ledger, &before, "a retry changes nothing");
                    }
                }
                Op::Reserve { order, lines, policy } => {
                    let lines: Vec<OrderLine> = lines
                        .into_iter()
                        .enumerate()
                        .map(|(i, (s, quantity))| OrderLine { item_id: i.to_string(), sku: SKUS[s].into(), quantity })
                        .collect();
                    let order = format!("order-{order}");
                    if let Ok(r) = ledger.reserve(&order, &centers(), &lines, policy, at) {
                        for (line, out) in lines.iter().zip(&r.lines) {
                            prop_assert_eq!(out.reserved_total() + out.backordered + out.cancelled, line.quantity);
                        }
                        if policy == FillPolicy::FillOrKill {
                            prop_assert!(r.is_complete() || r.entries.is_empty());
                        }
                        let reserved: u64 = r.lines.iter().map(|l| l.reserved_total()).sum();
                        let moved: u64 = r.entries.iter().map(|e| e.movement.quantity).sum();
                        prop_assert_eq!(reserved, moved);
                    } else {
                        prop_assert_eq!(&ledger, &before);
                    }
                }
            }
            check(&ledger)?;
        }
        // as_of(n) is the fold of the first n entries.
        let n = cut % (ledger.last_seq() + 1);
        let past = ledger.as_of(n).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let prefix: Vec<Entry> = ledger.entries_after(0).take(n as usize).cloned().collect();
        prop_assert!(past.entries_after(0).eq(prefix.iter()));
        let naive = Naive::fold(&prefix);
        for sku in SKUS {
            for center in CENTERS {
                for b in Bucket::ALL {
                    prop_assert_eq!(i128::from(past.summary(sku, center).quantities.get(b)), naive.get(sku, center, b));
                }
            }
        }
        check(&past)?;
        // positions_at(n), from the nearest checkpoint, is as_of(n)'s
        // summaries, for every n.
        for n in 0..=ledger.last_seq() + 1 {
            let full = ledger.as_of(n).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let quick = ledger.positions_at(n).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(quick.positions().eq(full.positions()), "positions at {}", n);
            prop_assert!(quick.totals().eq(full.totals()), "totals at {}", n);
        }
    }
}

/// Many threads reserving against one stock: never more reserved than there was, every
/// reserved unit accounted for by exactly one outcome, `FillOrKill` all or nothing.
#[test]
fn interleaved_reservations_never_oversell() {
    const THREADS: u64 = 8;
    const ORDERS: u64 = 300;
    let stock = [("SIM1", 150u64), ("SIM2", 250u64)];
    let mut ledger = Ledger::new();
    for (center, n) in stock {
        ledger
            .apply(
                Movement {
                    sku: "X00A".into(),
                    center: center.into(),
                    from: None,
                    to: Some(Bucket::Fulfillable),
                    quantity: n,
                    reason: Reason::Receipt,
                    reference: "inbound-1".into(),
                    idempotency_key: format!("receive-{center}"),
                },
                0,
            )
            .unwrap();
    }
    let ledger = Arc::new(Mutex::new(ledger));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let ledger = Arc::clone(&ledger);
            std::thread::spawn(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (t + 1);
                let mut next = move || {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng
                };
                let mut outcomes = Vec::new();
                for o in 0..ORDERS {
                    let policy = [
                        FillPolicy::FillOrKill,
                        FillPolicy::FillAll,
                        FillPolicy::FillAllAvailable,
                    ][(next() % 3) as usize];
                    let lines: Vec<OrderLine> = (0..1 + next() % 2)
                        .map(|i| OrderLine {
                            item_id: i.to_string(),
                            sku: "X00A".into(),
                            quantity: 1 + next() % 4,
                        })
                        .collect();
                    // Alternate the nearest center so both are drained from both ends.
                    let mut centers = vec!["SIM1".to_string(), "SIM2".to_string()];
                    if next() % 2 == 0 {
                        centers.reverse();
                    }
                    let order = format!("t{t}-o{o}");
                    let r = ledger
                        .lock()
                        .unwrap()
                        .reserve(&order, &centers, &lines, policy, o as i64)
                        .unwrap();
                    if policy == FillPolicy::FillOrKill {
                        assert!(r.is_complete() || r.entries.is_empty(), "{order}: {r:?}");
                    }
                    outcomes.push(r);
                    // A retry of the same order reserves nothing more.
                    if next() % 5 == 0 {
                        let again = ledger
                            .lock()
                            .unwrap()
                            .reserve(&order, &centers, &lines, policy, o as i64)
                            .unwrap();
                        if !again.entries.is_empty() {
                            assert_eq!(again.entries, outcomes.last().unwrap().entries);
                        }
                    }
                }
                outcomes
            })
        })
        .collect();
    let outcomes: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let ledger = ledger.lock().unwrap();
    let mut reserved_by_outcomes: HashMap<&str, u64> = HashMap::new();
    for r in &outcomes {
        for line in &r.lines {
            for (center, q) in &line.reserved {
                *reserved_by_outcomes.entry(center.as_str()).or_default() += q;
            }
        }
    }
    for (center, n) in stock {
        let s = ledger.summary("X00A", center);
        let reserved = s.quantities.get(Bucket::ReservedCustomerOrder);
        assert_eq!(
            reserved,
            reserved_by_outcomes.get(center).copied().unwrap_or(0),
            "{center}"
        );
        assert!(reserved <= n, "{center}: oversold");
        assert_eq!(
            reserved + s.quantities.get(Bucket::Fulfillable),
            n,
            "{center}"
        );
    }
    // 8 × 300 orders of 1–8 units against 400: the stock runs out, and at the end every
    // unit is reserved (FillAll and FillAllAvailable take the last units).
    assert_eq!(ledger.total("X00A").quantities.get(Bucket::Fulfillable), 0);
    assert!(outcomes.iter().any(|r| !r.is_complete()));
}
