//! Billing's records (see [`crate::billing`]): one state row, per-day sums
//! whose `partial` is an i128 kept as decimal text, runs, frozen bills.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::errors::db_err;
use crate::MetaError;
use std::collections::HashMap;

use crate::billing::{
    BillingMutation, BillingState, ClosedBill, DayUsageRecord, KeepWhole, ReportBucket,
    ReportTarget, RunRecord, UsageDays,
};
use crate::{StoredUsageEvent, UsageEvent};

pub(super) fn apply(conn: &Connection, m: &BillingMutation) -> Result<(), MetaError> {
    match m {
        BillingMutation::Rate {
            expect,
            cursor,
            days,
            runs,
        } => {
            check_state(conn, expect)?;
            for d in days {
                add_day(conn, d)?;
            }
            for r in runs {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO billing_runs (run_key, account_id, started_at, seconds) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut s| s.execute(params![r.run_key, r.account_id, r.started_at, r.seconds]))
                .map_err(db_err)?;
            }
            conn.prepare_cached("UPDATE billing_state SET cursor = ?1 WHERE id = 1")
                .and_then(|mut s| s.execute(params![cursor]))
                .map_err(db_err)?;
            Ok(())
        }
        BillingMutation::CloseMonth {
            expect,
            month,
            bills,
        } => {
            check_state(conn, expect)?;
            if let Some(last) = &expect.closed_through
                && next_month(last).as_deref() != Some(month.as_str())
            {
                return Err(MetaError::Conflict(format!(
                    "month {month} is not the one after {last}, the last closed"
                )));
            }
            for b in bills {
                conn.prepare_cached(
                    "INSERT INTO billing_closed (account_id, month, body) VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut s| s.execute(params![b.account_id, b.month, b.body]))
                .map_err(db_err)?;
            }
            conn.prepare_cached("UPDATE billing_state SET closed_through = ?1 WHERE id = 1")
                .and_then(|mut s| s.execute(params![month]))
                .map_err(db_err)?;
            Ok(())
        }
        BillingMutation::SetReportBucket { account_id, target } => {
            match target {
                Some(t) => conn
                    .prepare_cached(
                        "INSERT INTO billing_report_buckets \
                         (account_id, bucket, report_name, s3_prefix, s3_region, gzip) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                         ON CONFLICT (account_id) DO UPDATE SET bucket = excluded.bucket, \
                         report_name = excluded.report_name, s3_prefix = excluded.s3_prefix, \
                         s3_region = excluded.s3_region, gzip = excluded.gzip, written_day = NULL",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            account_id,
                            t.bucket,
                            t.report_name,
                            t.s3_prefix,
                            t.s3_region,
                            t.gzip
                        ])
                    }),
                None => conn
                    .prepare_cached("DELETE FROM billing_report_buckets WHERE account_id = ?1")
                    .and_then(|mut s| s.execute(params![account_id])),
            }
            .map_err(db_err)?;
            Ok(())
        }
        BillingMutation::ReportWritten { account_id, day } => {
            let n = conn
                .prepare_cached(
                    "UPDATE billing_report_buckets SET written_day = ?2 WHERE account_id = ?1",
                )
                .and_then(|mut s| s.execute(params![account_id, day]))
                .map_err(db_err)?;
            if n == 0 {
                return Err(MetaError::NotFound(format!(
                    "report bucket of account {account_id}"
                )));
            }
            Ok(())
        }
    }
}

/// `YYYY-MM` after `month`, if it parses.
fn next_month(month: &str) -> Option<String> {
    let y: i64 = month.get(..4)?.parse().ok()?;
    let m: i64 = month.get(5..)?.parse().ok()?;
    Some(if m >= 12 {
        format!("{:04}-01", y + 1)
    } else {
        format!("{y:04}-{:02}", m + 1)
    })
}

fn check_state(conn: &Connection, expect: &BillingState) -> Result<(), MetaError> {
    let stored = state(conn)?;
    if stored != *expect {
        return Err(MetaError::Conflict(format!(
            "billing state is {stored:?}, not {expect:?}: another rater moved on"
        )));
    }
    Ok(())
}

fn add_day(conn: &Connection, d: &DayUsageRecord) -> Result<(), MetaError> {
    let stored: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT quantity, partial FROM billing_days \
             WHERE account_id = ?1 AND day = ?2 AND service = ?3 AND meter = ?4",
        )
        .and_then(|mut s| {
            s.query_row(params![d.account_id, d.day, d.service, d.meter], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        })
        .map_err(db_err)?;
    let (quantity, partial) = match stored {
        None => (d.quantity, d.partial),
        Some((q, p)) => {
            let p: i128 = p
                .parse()
                .map_err(|_| MetaError::Corrupt(format!("billing partial {p:?}")))?;
            let overflow = || MetaError::Invalid("billing sums overflow".into());
            (
                q.checked_add(d.quantity).ok_or_else(overflow)?,
                p.checked_add(d.partial).ok_or_else(overflow)?,
            )
        }
    };
    conn.prepare_cached(
        "INSERT OR REPLACE INTO billing_days \
         (account_id, day, service, meter, unit, quantity, partial) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            d.account_id,
            d.day,
            d.service,
            d.meter,
            d.unit,
            quantity,
            partial.to_string()
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

pub(super) fn state(conn: &Connection) -> Result<BillingState, MetaError> {
    conn.prepare_cached("SELECT cursor, closed_through FROM billing_state WHERE id = 1")
        .and_then(|mut s| {
            s.query_row([], |r| {
                Ok(BillingState {
                    cursor: r.get(0)?,
                    closed_through: r.get(1)?,
                })
            })
        })
        .map_err(db_err)
}

fn day_row(r: &Row<'_>) -> rusqlite::Result<(DayUsageRecord, String)> {
    Ok((
        DayUsageRecord {
            account_id: r.get(0)?,
            day: r.get(1)?,
            service: r.get(2)?,
            meter: r.get(3)?,
            unit: r.get(4)?,
            quantity: r.get(5)?,
            partial: 0,
        },
        r.get(6)?,
    ))
}

pub(super) fn day_usage(
    conn: &Connection,
    account_id: Option<&str>,
    from_day: i64,
    to_day: i64,
) -> Result<Vec<DayUsageRecord>, MetaError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT account_id, day, service, meter, unit, quantity, partial FROM billing_days \
             WHERE (?1 IS NULL OR account_id = ?1) AND day >= ?2 AND day < ?3 \
             ORDER BY account_id, day, service, meter",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![account_id, from_day, to_day], day_row)
        .map_err(db_err)?;
    rows.map(|r| {
        let (mut d, p) = r.map_err(db_err)?;
        d.partial = p
            .parse()
            .map_err(|_| MetaError::Corrupt(format!("billing partial {p:?}")))?;
        Ok(d)
    })
    .collect()
}

pub(super) fn quantity_before(
    conn: &Connection,
    account_id: Option<&str>,
    day: i64,
) -> Result<Vec<DayUsageRecord>, MetaError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT account_id, 0, service, meter, MAX(unit), SUM(quantity), '0' FROM billing_days \
             WHERE (?1 IS NULL OR account_id = ?1) AND day < ?2 \
             GROUP BY account_id, service, meter ORDER BY account_id, service, meter",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![account_id, day], day_row)
        .map_err(db_err)?;
    rows.map(|r| r.map(|(d, _)| d).map_err(db_err)).collect()
}

pub(super) fn run(conn: &Connection, run_key: &str) -> Result<Option<RunRecord>, MetaError> {
    conn.prepare_cached(
        "SELECT run_key, account_id, started_at, seconds FROM billing_runs WHERE run_key = ?1",
    )
    .and_then(|mut s| {
        s.query_row(params![run_key], |r| {
            Ok(RunRecord {
                run_key: r.get(0)?,
                account_id: r.get(1)?,
                started_at: r.get(2)?,
                seconds: r.get(3)?,
            })
        })
        .optional()
    })
    .map_err(db_err)
}

fn bill_row(r: &Row<'_>) -> rusqlite::Result<ClosedBill> {
    Ok(ClosedBill {
        account_id: r.get(0)?,
        month: r.get(1)?,
        body: r.get(2)?,
    })
}

pub(super) fn closed_bill(
    conn: &Connection,
    account_id: &str,
    month: &str,
) -> Result<Option<ClosedBill>, MetaError> {
    conn.prepare_cached(
        "SELECT account_id, month, body FROM billing_closed WHERE account_id = ?1 AND month = ?2",
    )
    .and_then(|mut s| s.query_row(params![account_id, month], bill_row).optional())
    .map_err(db_err)
}

pub(super) fn closed_bills(conn: &Connection, month: &str) -> Result<Vec<ClosedBill>, MetaError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT account_id, month, body FROM billing_closed WHERE month = ?1 ORDER BY account_id",
        )
        .map_err(db_err)?;
    let rows = stmt.query_map(params![month], bill_row).map_err(db_err)?;
    rows.map(|r| r.map_err(db_err)).collect()
}

fn bucket_row(r: &Row<'_>) -> rusqlite::Result<ReportBucket> {
    Ok(ReportBucket {
        account_id: r.get(0)?,
        target: ReportTarget {
            bucket: r.get(1)?,
            report_name: r.get(3)?,
            s3_prefix: r.get(4)?,
            s3_region: r.get(5)?,
            gzip: r.get(6)?,
        },
        written_day: r.get(2)?,
    })
}

pub(super) fn report_buckets(
    conn: &Connection,
    account_id: Option<&str>,
) -> Result<Vec<ReportBucket>, MetaError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT account_id, bucket, written_day, report_name, s3_prefix, s3_region, gzip \
             FROM billing_report_buckets \
             WHERE (?1 IS NULL OR account_id = ?1) ORDER BY account_id",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![account_id], bucket_row)
        .map_err(db_err)?;
    rows.map(|r| r.map_err(db_err)).collect()
}

const DAY_MS: i64 = 86_400_000;

/// Interned (account, service, meter, unit) and the day.
type DayKey = (u32, u32, u32, u32, i64);

/// FxHash (rustc's): the read hashes four short strings and a key per row,
/// where SipHash's resistance to chosen keys buys nothing (keys are meter
/// names and account ids from our own services) and costs a third of the read.
#[derive(Default)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            for (d, s) in word.iter_mut().zip(chunk) {
                *d = *s;
            }
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_i64(&mut self, n: i64) {
        self.add(n.cast_unsigned());
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fx>>;

/// Small ids for the strings of a read, so summing a row allocates nothing
/// once its account, service, meter and unit have been seen. The last string
/// looked up is remembered: rows of one flush share their account.
#[derive(Default)]
struct Interner {
    ids: FxMap<String, u32>,
    names: Vec<String>,
    last: Option<(String, u32)>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some((last, id)) = &self.last
            && last == s
        {
            return *id;
        }
        let id = self.lookup(s);
        match &mut self.last {
            Some((last, last_id)) => {
                last.clear();
                last.push_str(s);
                *last_id = id;
            }
            None => self.last = Some((s.to_owned(), id)),
        }
        id
    }

    fn lookup(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.ids.insert(s.to_owned(), id);
        self.names.push(s.to_owned());
        id
    }

    fn name(&self, id: u32) -> String {
        self.names
            .get(usize::try_from(id).unwrap_or(usize::MAX))
            .cloned()
            .unwrap_or_default()
    }
}

fn text<'r>(r: &'r Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    r.get_ref(i)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(super) fn usage_days(
    conn: &Connection,
    after_seq: i64,
    limit: usize,
    keep: &[KeepWhole],
) -> Result<UsageDays, MetaError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, account_id, service, meter, quantity, unit, at, idempotency_key \
             FROM usage_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(db_err)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows = stmt.query(params![after_seq, limit]).map_err(db_err)?;
    // One interner per column: each keeps its column's last value.
    let mut names = [
        Interner::default(),
        Interner::default(),
        Interner::default(),
        Interner::default(),
    ];
    let mut sums: FxMap<DayKey, (i64, i128)> = FxMap::default();
    let mut out = UsageDays::default();
    while let Some(r) = rows.next().map_err(db_err)? {
        let seq: i64 = r.get(0).map_err(db_err)?;
        let (service, meter) = (text(r, 2).map_err(db_err)?, text(r, 3).map_err(db_err)?);
        let quantity: i64 = r.get(4).map_err(db_err)?;
        let at: i64 = r.get(6).map_err(db_err)?;
        out.last_seq = Some(seq);
        out.events += 1;
        if keep
            .iter()
            .any(|k| k.service == service && meter.starts_with(&k.meter_prefix))
        {
            out.kept.push(StoredUsageEvent {
                seq,
                event: UsageEvent {
                    account_id: r.get(1).map_err(db_err)?,
                    service: service.to_owned(),
                    meter: meter.to_owned(),
                    quantity,
                    unit: r.get(5).map_err(db_err)?,
                    at,
                    idempotency_key: r.get(7).map_err(db_err)?,
                },
            });
            continue;
        }
        let [accounts, services, meters, units] = &mut names;
        let key = (
            accounts.id(text(r, 1).map_err(db_err)?),
            services.id(service),
            meters.id(meter),
            units.id(text(r, 5).map_err(db_err)?),
            at.div_euclid(DAY_MS),
        );
        let end = (key.4 + 1) * DAY_MS;
        let slot = sums.entry(key).or_default();
        slot.0 = slot.0.saturating_add(quantity);
        slot.1 = slot
            .1
            .saturating_add(i128::from(quantity) * i128::from(end - at));
    }
    let [accounts, services, meters, units] = &names;
    out.days = sums
        .into_iter()
        .map(|((a, s, m, u, day), (quantity, partial))| DayUsageRecord {
            account_id: accounts.name(a),
            day,
            service: services.name(s),
            meter: meters.name(m),
            unit: units.name(u),
            quantity,
            partial,
        })
        .collect();
    Ok(out)
}
