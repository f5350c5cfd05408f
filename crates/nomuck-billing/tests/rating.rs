//! Scripted workloads per service over a real SQLite store, billed and
//! checked against amounts computed by hand, to the cent.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use nomuck_billing::{Bill, Billing, BillingOptions, Decimal, Month, PriceBook};
use nomuck_meta::{MetaStore, Mutation, SqliteMetaStore, UsageEvent};
use time::macros::{date, datetime};

const A: &str = "000000000001";
const B: &str = "000000000002";
const GIB: i64 = 1 << 30;
const HOUR: i64 = 3_600_000;

fn ms(t: time::PrimitiveDateTime) -> i64 {
    i64::try_from(t.assume_utc().unix_timestamp_nanos() / 1_000_000).unwrap()
}

fn usd(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

struct World {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Arc<SqliteMetaStore>,
    now: Arc<AtomicI64>,
    keys: AtomicI64,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        let store = Arc::new(SqliteMetaStore::open(&path).unwrap());
        Self {
            _dir: dir,
            path,
            store,
            now: Arc::new(AtomicI64::new(ms(datetime!(2026-05-02 00:00)))),
            keys: AtomicI64::new(0),
        }
    }

    fn billing_with(&self, book: PriceBook, batch: usize) -> Billing {
        let now = self.now.clone();
        Billing::new(
            self.store.clone(),
            book,
            BillingOptions {
                grace: Duration::from_secs(3 * 86_400),
                batch,
                interval: Duration::from_millis(10),
            },
        )
        .with_clock(Arc::new(move || now.load(Ordering::SeqCst)))
    }

    fn billing(&self) -> Billing {
        self.billing_with(PriceBook::default(), 1000)
    }

    fn set_now(&self, t: i64) {
        self.now.store(t, Ordering::SeqCst);
    }

    async fn meter(&self, account: &str, service: &str, meter: &str, unit: &str, q: i64, at: i64) {
        let n = self.keys.fetch_add(1, Ordering::SeqCst);
        self.meter_keyed(account, service, meter, unit, q, at, format!("test/{n}"))
            .await;
    }

    #[allow(clippy::too_many_arguments)]
    async fn meter_keyed(
        &self,
        account: &str,
        service: &str,
        meter: &str,
        unit: &str,
        q: i64,
        at: i64,
        key: String,
    ) {
        self.store
            .commit(vec![Mutation::RecordUsage(UsageEvent {
                account_id: account.into(),
                service: service.into(),
                meter: meter.into(),
                quantity: q,
                unit: unit.into(),
                at,
                idempotency_key: key,
            })])
            .await
            .unwrap();
    }

    async fn stored(&self, account: &str, bytes: i64, at: i64) {
        let (meter, q) = if bytes >= 0 {
            ("storage.bytes-added", bytes)
        } else {
            ("storage.bytes-removed", -bytes)
        };
        self.meter(account, "s3", meter, "bytes", q, at).await;
    }

    /// A run of `instance` from `start`, metered as compute does: whole-second
    /// checkpoints every `every` ms, then the rest when it stops at `end`.
    async fn run(&self, account: &str, instance: &str, ty: &str, start: i64, end: i64, every: i64) {
        let mut from = start;
        while from < end {
            let to = (from + every).min(end);
            self.meter_keyed(
                account,
                "ec2",
                &format!("BoxUsage:{ty}"),
                "instance-seconds",
                (to - from + 999) / 1000,
                to,
                format!("ec2/{instance}/running/{from}/run/{start}"),
            )
            .await;
            from = to;
        }
    }
}

fn line<'a>(bill: &'a Bill, usage_type: &str) -> &'a nomuck_billing::BillLine {
    bill.lines
        .iter()
        .find(|l| l.usage_type == usage_type)
        .unwrap_or_else(|| panic!("no {usage_type} in {bill:#?}"))
}

const APRIL: &str = "2026-04";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_requests_and_transfer_to_the_cent() {
    let w = World::new();
    let apr = |d: u8, h: u8| {
        ms(time::PrimitiveDateTime::new(
            time::Date::from_calendar_date(2026, time::Month::April, d).unwrap(),
            time::Time::from_hms(h, 0, 0).unwrap(),
        ))
    };
    // 10 GiB for all of April: 10 GB-months, $1.50.
    w.stored(A, 10 * GIB, apr(1, 0)).await;
    // 3 GiB more from the 11th to the 21st: 10 of 30 days, 1 GB-month, $0.15.
    w.stored(A, 3 * GIB, apr(11, 0)).await;
    w.stored(A, -3 * GIB, apr(21, 0)).await;
    // 1 GiB for 12 hours: 1/60 GB-month, $0.0025.
    w.stored(A, GIB, apr(5, 6)).await;
    w.stored(A, -GIB, apr(5, 18)).await;
    // 25,000 PUTs ($0.25), 120,000 GETs ($0.12), 500 DELETEs (free),
    // 50 GiB out ($10.00), metered in several flushes as storage does.
    for (meter, unit, q) in [
        ("requests.put-copy-post-list", "requests", 20_000),
        ("requests.put-copy-post-list", "requests", 5_000),
        ("requests.get-other", "requests", 100_000),
        ("requests.get-other", "requests", 20_000),
        ("requests.delete", "requests", 500),
        ("transfer.bytes-out", "bytes", 30 * GIB),
        ("transfer.bytes-out", "bytes", 20 * GIB),
    ] {
        w.meter(A, "s3", meter, unit, q, apr(7, 12)).await;
    }
    let billing = w.billing();
    assert_eq!(billing.rate_pending().await.unwrap(), 12);
    let bill = billing.bill(A, Month::parse(APRIL).unwrap()).await.unwrap();
    let storage = line(&bill, "TimedStorage-ByteHrs");
    assert_eq!(storage.service, "Amazon Simple Storage Service");
    assert_eq!(storage.unit, "GB-Mo");
    assert_eq!(storage.quantity.round_dp(6), usd("11.016667"));
    assert_eq!(storage.cost.round_dp(2), usd("1.65"));
    assert_eq!(storage.cost.round_dp(4), usd("1.6525"));
    assert_eq!(line(&bill, "Requests-Tier1").cost, usd("0.25"));
    assert_eq!(line(&bill, "Requests-Tier1").rate, usd("0.00001"));
    assert_eq!(line(&bill, "Requests-Tier2").cost, usd("0.12"));
    assert_eq!(line(&bill, "Requests-NoCharge").cost, Decimal::ZERO);
    let out = line(&bill, "DataTransfer-Out-Bytes");
    assert_eq!(
        (out.quantity, out.cost, out.unit.as_str()),
        (usd("50"), usd("10"), "GB")
    );
    // 1.6525 + 0.25 + 0.12 + 0 + 10.00
    assert_eq!(bill.total, usd("12.0225"));
    assert_eq!(bill.total_usd.to_string(), "12.02");
    assert!(!bill.closed);

    // Per day: the 5th stores 10 GiB all day and 1 GiB for half of it.
    let days = billing
        .daily_costs(A, date!(2026 - 04 - 05), date!(2026 - 04 - 06))
        .await
        .unwrap();
    assert_eq!(days.len(), 1, "{days:#?}");
    assert_eq!(days[0].quantity, usd("10.5") / usd("30"));
    // The month's days sum to the month (to 10 places per day).
    let month = billing
        .daily_costs(A, date!(2026 - 04 - 01), date!(2026 - 05 - 01))
        .await
        .unwrap();
    let sum: Decimal = month.iter().map(|d| d.cost).sum();
    assert_eq!(sum.round_dp(6), bill.total.round_dp(6));
    // No usage at all in May, but the 10 GiB is still stored on the 1st.
    let may = billing
        .daily_costs(A, date!(2026 - 05 - 01), date!(2026 - 06 - 01))
        .await
        .unwrap();
    assert_eq!(may.len(), 1, "until now (May 2nd, 00:00): {may:#?}");
    assert_eq!(
        may[0].cost,
        (usd("0.15") * usd("10") / usd("31")).round_dp(10)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_started_hour_of_a_run_is_billed() {
    let w = World::new();
    let start = ms(datetime!(2026-04-05 22:30));
    // 3 h 10 min, metered hourly then the rest: 4 hours, $0.40.
    w.run(
        A,
        "i-1",
        "m1.small",
        start,
        start + 3 * HOUR + 600_000,
        HOUR,
    )
    .await;
    // The same length metered every 7 minutes: still 4 hours.
    w.run(
        A,
        "i-2",
        "m1.small",
        start,
        start + 3 * HOUR + 600_000,
        420_000,
    )
    .await;
    // A second run of i-1 (stopped and started): its own started hours, 1.
    let again = start + 10 * HOUR;
    w.run(A, "i-1", "m1.small", again, again + 60_000, HOUR)
        .await;
    // A t3.micro (half of a small) for 90 minutes: 2 hours at $0.05.
    w.run(A, "i-3", "t3.micro", start, start + 90 * 60_000, HOUR)
        .await;
    let billing = w.billing();
    billing.rate_pending().await.unwrap();
    let bill = billing.bill(A, Month::parse(APRIL).unwrap()).await.unwrap();
    let small = line(&bill, "BoxUsage:m1.small");
    assert_eq!(small.service, "Amazon Elastic Compute Cloud - Compute");
    assert_eq!((small.quantity, small.unit.as_str()), (usd("9"), "Hrs"));
    assert_eq!(small.cost, usd("0.90"));
    let micro = line(&bill, "BoxUsage:t3.micro");
    assert_eq!(
        (micro.quantity, micro.rate, micro.cost),
        (usd("2"), usd("0.05"), usd("0.10"))
    );
    assert_eq!(bill.total_usd, usd("1.00"));
    // Hours are billed on the day they started: i-1's and i-2's first two
    // (22:30, 23:30) on the 5th, their other two on the 6th.
    let days = billing
        .daily_costs(A, date!(2026 - 04 - 05), date!(2026 - 04 - 06))
        .await
        .unwrap();
    let small5: Decimal = days
        .iter()
        .filter(|d| d.usage_type == "BoxUsage:m1.small")
        .map(|d| d.quantity)
        .sum();
    assert_eq!(small5, usd("4"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_always_on_m1_small_costs_72_dollars_for_30_days() {
    let w = World::new();
    let start = ms(datetime!(2026-04-01 00:00));
    let end = ms(datetime!(2026-05-01 00:00));
    // Checkpoints of 5 minutes 7 seconds: not a divisor of an hour.
    w.run(A, "i-1", "m1.small", start, end, 307_000).await;
    let billing = w.billing();
    billing.rate_pending().await.unwrap();
    let bill = billing.bill(A, Month::parse(APRIL).unwrap()).await.unwrap();
    assert_eq!(line(&bill, "BoxUsage:m1.small").quantity, usd("720"));
    assert_eq!(bill.total, usd("72"));
    assert_eq!(bill.total_usd.to_string(), "72.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fulfillment_fees_are_billed_at_their_metered_amounts() {
    use nomuck_fulfillment::{FeeSchedule, fees};
    let w = World::new();
    let at = ms(datetime!(2026-04-09 15:00));
    let schedule = FeeSchedule::default();
    // Two orders: 3 units of 2.5 lb in one package (8 lb after rounding up),
    // and 1 unit of 0.4 lb (1 lb).
    let lb = 453_592; // mg, just under a pound
    for (units, weights) in [(3_u64, vec![3 * (lb * 5 / 2)]), (1, vec![lb * 2 / 5])] {
        for fee in fees::order_fees(&schedule, units, &weights) {
            let meter = if fee.name == fees::TRANSPORTATION {
                fees::WEIGHT_HANDLING
            } else {
                fee.name
            };
            w.meter(A, "fulfillment", meter, "USD-micro", fee.micro_usd, at)
                .await;
        }
    }
    let billing = w.billing();
    billing.rate_pending().await.unwrap();
    let bill = billing.bill(A, Month::parse(APRIL).unwrap()).await.unwrap();
    // Per order $1.00 x 2; per unit $0.50 x 4; weight $0.40 x (8 + 1) lb.
    assert_eq!(line(&bill, "FBAPerOrderFulfillmentFee").cost, usd("2"));
    assert_eq!(line(&bill, "FBAPerUnitFulfillmentFee").cost, usd("2"));
    let weight = line(&bill, "FBAWeightHandlingFee");
    assert_eq!((weight.cost, weight.unit.as_str()), (usd("3.6"), "USD"));
    assert_eq!(weight.service, "Fulfillment by Amazon");
    assert_eq!(bill.total_usd, usd("7.60"));
}

/// A workload over two accounts and two months, with late events.
async fn workload(w: &World) {
    let t = ms(datetime!(2026-04-03 08:00));
    for i in 0..40_i64 {
        let at = t + i * 25 * HOUR;
        w.stored(A, (i + 1) * 1_000_000, at).await;
        w.meter(
            A,
            "s3",
            "requests.put-copy-post-list",
            "requests",
            3 + i,
            at,
        )
        .await;
        w.meter(B, "s3", "requests.get-other", "requests", 10_000 + i, at)
            .await;
        w.meter(B, "s3", "transfer.bytes-out", "bytes", GIB / 3 + i, at)
            .await;
    }
    w.run(A, "i-9", "m5.large", t, t + 50 * HOUR + 1, HOUR)
        .await;
    // Late: April usage metered after May's.
    w.stored(A, 5 * GIB, t + HOUR).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rating_resumes_after_a_crash_without_counting_twice() {
    let once = World::new();
    workload(&once).await;
    once.billing().rate_pending().await.unwrap();

    let w = World::new();
    workload(&w).await;
    // Rate two batches of 7, then "crash": drop everything, reopen the file.
    let billing = w.billing_with(PriceBook::default(), 7);
    assert_eq!(billing.rate_batch().await.unwrap(), 7);
    assert_eq!(billing.rate_batch().await.unwrap(), 7);
    drop(billing);
    let path = w.path.clone();
    let World { store, now, .. } = w;
    drop(store);
    let store = Arc::new(SqliteMetaStore::open(&path).unwrap());
    let reopened = Billing::new(
        store.clone(),
        PriceBook::default(),
        BillingOptions {
            batch: 5,
            ..BillingOptions::default()
        },
    )
    .with_clock(Arc::new(move || now.load(Ordering::SeqCst)));
    let rest = reopened.rate_pending().await.unwrap();
    assert!(rest > 100, "{rest}");
    // A second rater racing on the same state rates nothing again.
    assert_eq!(reopened.rate_pending().await.unwrap(), 0);
    let expect = once.billing();
    for month in ["2026-04", "2026-05"] {
        let m = Month::parse(month).unwrap();
        for account in [A, B] {
            let (a, b) = (
                reopened.bill(account, m).await.unwrap(),
                expect.bill(account, m).await.unwrap(),
            );
            assert_eq!(a, b, "{account} {month}");
            assert!(a.total > Decimal::ZERO, "{account} {month}: {a:#?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_month_never_changes() {
    let w = World::new();
    workload(&w).await;
    let april = Month::parse(APRIL).unwrap();
    let billing = w.billing();
    billing.rate_pending().await.unwrap();
    // Grace not over on May 2nd: April stays open.
    assert!(billing.close_due_months().await.unwrap().is_empty());
    w.set_now(ms(datetime!(2026-05-04 00:00:01)));
    assert_eq!(billing.close_due_months().await.unwrap(), vec![april]);
    let bill = billing.bill(A, april).await.unwrap();
    assert!(bill.closed);
    let report = billing.report_csv(None, april).await.unwrap();
    let json = serde_json::to_string(&billing.bills(None, april).await.unwrap()).unwrap();

    // Late April usage, and a price book that would reprice April.
    let late_at = ms(datetime!(2026-04-20 12:00));
    w.meter(
        A,
        "s3",
        "requests.put-copy-post-list",
        "requests",
        100_000,
        late_at,
    )
    .await;
    w.stored(A, 2 * GIB, late_at).await;
    let repriced = w.billing_with(
        PriceBook::from_toml("[[version]]\neffective = \"2026-04-01\"\nstorage_gb_month = \"9\"\nrequests_tier1_per_1000 = \"9\"").unwrap(),
        1000,
    );
    repriced.rate_pending().await.unwrap();
    assert_eq!(repriced.report_csv(None, april).await.unwrap(), report);
    assert_eq!(
        serde_json::to_string(&repriced.bills(None, april).await.unwrap()).unwrap(),
        json
    );
    // The late usage is billed on the first day of May, the first open month:
    // the PUTs, and the 2 GiB's byte-time since April 20th.
    let may1 = billing
        .daily_costs(A, date!(2026 - 05 - 01), date!(2026 - 05 - 02))
        .await
        .unwrap();
    let baseline = {
        let w2 = World::new();
        workload(&w2).await;
        w2.billing().rate_pending().await.unwrap();
        w2.billing()
            .daily_costs(A, date!(2026 - 05 - 01), date!(2026 - 05 - 02))
            .await
            .unwrap()
    };
    let sum = |days: &[nomuck_billing::DailyCost], t: &str| -> Decimal {
        days.iter()
            .filter(|d| d.usage_type == t)
            .map(|d| d.quantity)
            .sum()
    };
    assert_eq!(
        sum(&may1, "Requests-Tier1") - sum(&baseline, "Requests-Tier1"),
        usd("100000")
    );
    let added = sum(&may1, "TimedStorage-ByteHrs") - sum(&baseline, "TimedStorage-ByteHrs");
    // 2 GiB for April 20th 12:00 to 30th (10.5 days) and the 1st of May, in
    // May's GB-months (31 days).
    assert_eq!(
        added.round_dp(8),
        (usd("2") * usd("11.5") / usd("31")).round_dp(8)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_sees_only_its_own_costs() {
    let w = World::new();
    workload(&w).await;
    let billing = w.billing();
    billing.rate_pending().await.unwrap();
    let april = Month::parse(APRIL).unwrap();
    let a = billing.bill(A, april).await.unwrap();
    let b = billing.bill(B, april).await.unwrap();
    assert!(
        a.lines
            .iter()
            .all(|l| l.usage_type != "DataTransfer-Out-Bytes"),
        "{a:#?}"
    );
    assert!(
        b.lines.iter().all(|l| l.usage_type != "Requests-Tier1"),
        "{b:#?}"
    );
    let b_days = billing
        .daily_costs(B, date!(2026 - 04 - 01), date!(2026 - 06 - 01))
        .await
        .unwrap();
    assert!(!b_days.is_empty());
    assert!(
        b_days.iter().all(
            |d| d.usage_type != "TimedStorage-ByteHrs" && !d.usage_type.starts_with("BoxUsage")
        )
    );
    let report = billing.report_csv(Some(B), april).await.unwrap();
    assert!(report.lines().skip(1).all(|l| l.starts_with(B)), "{report}");
    let all = billing.report_csv(None, april).await.unwrap();
    assert!(all.lines().any(|l| l.starts_with(A)) && all.lines().any(|l| l.starts_with(B)));
    let nobody = billing.bill("000000000003", april).await.unwrap();
    assert!(nobody.lines.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_change_applies_from_its_effective_date() {
    let w = World::new();
    // 1 GiB all April, 1,000 PUTs on the 10th and on the 20th.
    w.stored(A, GIB, ms(datetime!(2026-04-01 00:00))).await;
    w.meter(
        A,
        "s3",
        "requests.put-copy-post-list",
        "requests",
        1000,
        ms(datetime!(2026-04-10 00:00)),
    )
    .await;
    w.meter(
        A,
        "s3",
        "requests.put-copy-post-list",
        "requests",
        1000,
        ms(datetime!(2026-04-20 00:00)),
    )
    .await;
    let book = PriceBook::from_toml(
        "[[version]]\neffective = \"2006-03-14\"\n\n[[version]]\neffective = \"2026-04-16\"\nstorage_gb_month = \"0.30\"\nrequests_tier1_per_1000 = \"0.02\"\n",
    )
    .unwrap();
    let billing = w.billing_with(book, 1000);
    billing.rate_pending().await.unwrap();
    let bill = billing.bill(A, Month::parse(APRIL).unwrap()).await.unwrap();
    // Storage: 15 days at $0.15, 15 at $0.30: 0.5 GB-month each.
    let storage: Vec<_> = bill
        .lines
        .iter()
        .filter(|l| l.usage_type == "TimedStorage-ByteHrs")
        .collect();
    assert_eq!(storage.len(), 2, "{bill:#?}");
    assert_eq!(
        (storage[0].quantity, storage[0].rate, storage[0].cost),
        (usd("0.5"), usd("0.15"), usd("0.075"))
    );
    assert_eq!(
        (storage[1].quantity, storage[1].rate, storage[1].cost),
        (usd("0.5"), usd("0.3"), usd("0.15"))
    );
    let puts: Decimal = bill
        .lines
        .iter()
        .filter(|l| l.usage_type == "Requests-Tier1")
        .map(|l| l.cost)
        .sum();
    assert_eq!(puts, usd("0.03"));
    assert_eq!(bill.total, usd("0.255"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_event_is_rated_into_its_own_day() {
    let w = World::new();
    w.meter(
        A,
        "s3",
        "requests.get-other",
        "requests",
        10,
        ms(datetime!(2026-04-20 00:00)),
    )
    .await;
    let billing = w.billing();
    billing.rate_pending().await.unwrap();
    w.meter(
        A,
        "s3",
        "requests.get-other",
        "requests",
        7,
        ms(datetime!(2026-04-03 00:00)),
    )
    .await;
    billing.rate_pending().await.unwrap();
    let days = billing
        .daily_costs(A, date!(2026 - 04 - 01), date!(2026 - 05 - 01))
        .await
        .unwrap();
    let got: Vec<_> = days.iter().map(|d| (d.day, d.quantity)).collect();
    assert_eq!(
        got,
        vec![
            (date!(2026 - 04 - 03), usd("7")),
            (date!(2026 - 04 - 20), usd("10"))
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_rates_and_closes_in_the_background() {
    let w = World::new();
    w.meter(
        A,
        "s3",
        "requests.get-other",
        "requests",
        10_000,
        ms(datetime!(2026-04-20 00:00)),
    )
    .await;
    w.set_now(ms(datetime!(2026-05-10 00:00)));
    let billing = w.billing();
    let task = billing.clone().start();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let bill = billing.bill(A, Month::parse(APRIL).unwrap()).await.unwrap();
        if bill.closed {
            assert_eq!(bill.total, usd("0.01"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not closed: {bill:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
}

/// One put: account, bucket, key, body.
type Put = (String, String, String, Vec<u8>);

/// Puts are recorded; the first `fail` of them fail.
#[derive(Default)]
struct Sink {
    puts: std::sync::Mutex<Vec<Put>>,
    fail: AtomicI64,
}

#[async_trait::async_trait]
impl nomuck_billing::ReportSink for Sink {
    async fn put(
        &self,
        account: &str,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> Result<(), String> {
        if self.fail.fetch_sub(1, Ordering::SeqCst) > 0 {
            return Err("bucket unavailable".into());
        }
        self.puts
            .lock()
            .unwrap()
            .push((account.into(), bucket.into(), key.into(), body));
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_put_into_the_accounts_bucket_once_a_day() {
    let w = World::new();
    workload(&w).await;
    let billing = w.billing();
    billing.rate_pending().await.unwrap();
    billing.set_report_bucket(A, Some("costs")).await.unwrap();
    let sink = Sink::default();
    sink.fail.store(1, Ordering::SeqCst);
    // May 2nd: the failed put is tried again in the next round.
    assert_eq!(billing.write_due_reports(&sink).await.unwrap(), 0);
    assert_eq!(billing.write_due_reports(&sink).await.unwrap(), 1);
    assert_eq!(billing.write_due_reports(&sink).await.unwrap(), 0);
    let expected = billing
        .report_csv(Some(A), Month::parse("2026-05").unwrap())
        .await
        .unwrap();
    {
        let puts = sink.puts.lock().unwrap();
        let (account, bucket, key, body) = &puts[0];
        assert_eq!(
            (account.as_str(), bucket.as_str(), key.as_str()),
            (A, "costs", "nomuck-cost-reports/2026-05.csv")
        );
        assert_eq!(body, expected.as_bytes());
        assert!(expected.lines().skip(1).all(|l| l.starts_with(A)));
    }
    // The 1st of June: May's last report and June's first.
    w.set_now(ms(datetime!(2026-06-01 00:10)));
    assert_eq!(billing.write_due_reports(&sink).await.unwrap(), 2);
    let keys: Vec<String> = sink
        .puts
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.2.clone())
        .collect();
    assert_eq!(
        keys[1..],
        [
            "nomuck-cost-reports/2026-05.csv",
            "nomuck-cost-reports/2026-06.csv"
        ]
    );
    billing.set_report_bucket(A, None).await.unwrap();
    w.set_now(ms(datetime!(2026-06-02 00:10)));
    assert_eq!(billing.write_due_reports(&sink).await.unwrap(), 0);
    // A definition from the Cost and Usage Report API: its prefix and name,
    // gzipped; a new definition is written the same day.
    w.store
        .commit(vec![Mutation::Billing(
            nomuck_meta::billing::BillingMutation::SetReportBucket {
                account_id: A.into(),
                target: Some(nomuck_meta::billing::ReportTarget {
                    bucket: "cur".into(),
                    report_name: "monthly".into(),
                    s3_prefix: "billing".into(),
                    s3_region: "us-east-1".into(),
                    gzip: true,
                }),
            },
        )])
        .await
        .unwrap();
    assert_eq!(billing.write_due_reports(&sink).await.unwrap(), 1);
    let june = billing
        .report_csv(Some(A), Month::parse("2026-06").unwrap())
        .await
        .unwrap();
    let puts = sink.puts.lock().unwrap();
    let (_, bucket, key, body) = puts.last().unwrap();
    assert_eq!(
        (bucket.as_str(), key.as_str()),
        ("cur", "billing/monthly/2026-06.csv.gz")
    );
    assert_eq!(body, &nomuck_billing::gzip_stored(june.as_bytes()));
}
