//! Rating: usage events after the cursor become per-day sums, committed in one
//! transaction with the cursor's move, so each event counts exactly once
//! however often the rater is killed and restarted.
//!
//! - Every event is summed into its account, service, meter and UTC day, with
//!   `quantity * (end of day - at)` beside it: for stored bytes that is what a
//!   delta adds to the day's byte-milliseconds, so storage integrates exactly
//!   from added/removed events, in any order (a late event lands in its own
//!   day; later days see it through the level, the sum of earlier days).
//! - `BoxUsage:*` running seconds add to their instance run; the run's started
//!   hours (`ceil(seconds / 3600)`) that are new are stored as instance-hours in
//!   the days those hours started.
//! - An event whose day is in a closed month is rated into the first day of
//!   the first open month, with `at` unchanged: its quantity (and, for stored
//!   bytes, the closed months' share of byte-milliseconds too) is billed there.
//!   A closed month never changes.

use std::collections::HashMap;

use nomuck_meta::billing::{BillingMutation, BillingState, DayUsageRecord, KeepWhole, RunRecord};
use nomuck_meta::{MetaStore, Mutation, StoredUsageEvent};

use crate::BillingError;
use crate::calendar::{Month, day_of, day_start};
use crate::lines::meters;

const HOUR_MS: i64 = 3_600_000;

type DayKey = (String, i64, String, String);

#[derive(Default)]
pub(crate) struct Batch {
    days: HashMap<DayKey, (String, i64, i128)>,
    runs: HashMap<String, RunRecord>,
    /// Days before this one belong to closed months.
    first_open_day: i64,
}

/// `(run key, run start)` of a compute interval: its idempotency key is
/// `ec2/<id>/running/<from>/run/<start>`; an older key without the run's start
/// makes the interval a run of its own.
fn run_of(key: &str) -> Option<(String, i64)> {
    let rest = key.strip_prefix("ec2/")?;
    let (id, rest) = rest.split_once("/running/")?;
    match rest.split_once("/run/") {
        Some((_, start)) => Some((format!("{id}/{start}"), start.parse().ok()?)),
        None => Some((format!("{id}/{rest}"), rest.parse().ok()?)),
    }
}

impl Batch {
    pub(crate) fn new(state: &BillingState) -> Result<Self, BillingError> {
        let first_open_day = match &state.closed_through {
            Some(m) => Month::parse(m)?.end_day()?,
            None => i64::MIN,
        };
        Ok(Self {
            first_open_day,
            ..Self::default()
        })
    }

    #[allow(clippy::too_many_arguments)] // one event's fields, named
    fn add(
        &mut self,
        account: &str,
        day: i64,
        service: &str,
        meter: &str,
        unit: &str,
        q: i64,
        at: i64,
    ) {
        let day = day.max(self.first_open_day);
        let end = day_start(day.saturating_add(1));
        let partial = i128::from(q) * i128::from(end.saturating_sub(at));
        let key = (
            account.to_owned(),
            day,
            service.to_owned(),
            meter.to_owned(),
        );
        let slot = self
            .days
            .entry(key)
            .or_insert_with(|| (unit.to_owned(), 0, 0));
        slot.1 = slot.1.saturating_add(q);
        slot.2 = slot.2.saturating_add(partial);
    }

    async fn add_running(
        &mut self,
        store: &dyn MetaStore,
        e: &StoredUsageEvent,
    ) -> Result<bool, BillingError> {
        let u = &e.event;
        let Some((run_key, started_at)) = run_of(&u.idempotency_key) else {
            return Ok(false);
        };
        let run = match self.runs.get_mut(&run_key) {
            Some(r) => r,
            None => {
                let stored = store.billing().run(&run_key).await?;
                self.runs
                    .entry(run_key.clone())
                    .or_insert(stored.unwrap_or(RunRecord {
                        run_key: run_key.clone(),
                        account_id: u.account_id.clone(),
                        started_at,
                        seconds: 0,
                    }))
            }
        };
        let hours = |s: i64| (s.max(0) + 3599) / 3600;
        let mut k = hours(run.seconds);
        run.seconds = run.seconds.saturating_add(u.quantity);
        let new = hours(run.seconds);
        let started = run.started_at;
        // The new hours, by the day each started in.
        while k < new {
            let day = day_of(started.saturating_add(k.saturating_mul(HOUR_MS)));
            let next_day = day_start(day + 1);
            // First hour starting on or after the next day.
            let until = ((next_day - started + HOUR_MS - 1) / HOUR_MS).clamp(k + 1, new);
            self.add(
                &u.account_id,
                day,
                &u.service,
                &u.meter,
                meters::INSTANCE_HOURS,
                until - k,
                day_start(day),
            );
            k = until;
        }
        Ok(true)
    }

    pub(crate) async fn add_event(
        &mut self,
        store: &dyn MetaStore,
        e: &StoredUsageEvent,
    ) -> Result<(), BillingError> {
        let u = &e.event;
        if u.service == meters::EC2
            && u.meter.starts_with(meters::BOX_USAGE)
            && self.add_running(store, e).await?
        {
            return Ok(());
        }
        self.add(
            &u.account_id,
            day_of(u.at),
            &u.service,
            &u.meter,
            &u.unit,
            u.quantity,
            u.at,
        );
        Ok(())
    }

    /// Adds a day's sums of events read together (see `add` for the moving
    /// of closed months' usage).
    fn add_day(&mut self, d: DayUsageRecord) {
        let (day, partial) = if d.day < self.first_open_day {
            let moved = day_start(self.first_open_day + 1) - day_start(d.day + 1);
            let extra = i128::from(d.quantity) * i128::from(moved);
            (self.first_open_day, d.partial.saturating_add(extra))
        } else {
            (d.day, d.partial)
        };
        let slot = self
            .days
            .entry((d.account_id, day, d.service, d.meter))
            .or_insert_with(|| (d.unit, 0, 0));
        slot.1 = slot.1.saturating_add(d.quantity);
        slot.2 = slot.2.saturating_add(partial);
    }

    pub(crate) fn into_mutation(self, expect: BillingState, cursor: i64) -> Mutation {
        let days = self
            .days
            .into_iter()
            .map(
                |((account_id, day, service, meter), (unit, quantity, partial))| DayUsageRecord {
                    account_id,
                    day,
                    service,
                    meter,
                    unit,
                    quantity,
                    partial,
                },
            )
            .collect();
        Mutation::Billing(BillingMutation::Rate {
            expect,
            cursor,
            days,
            runs: self.runs.into_values().collect(),
        })
    }
}

/// Rates up to `limit` events after the cursor; the number rated. The store
/// sums them by day; compute's running time comes whole, for its runs.
pub(crate) async fn rate_batch(store: &dyn MetaStore, limit: usize) -> Result<usize, BillingError> {
    let seam = store.billing();
    let state = seam.billing_state().await?;
    let keep = [KeepWhole {
        service: meters::EC2.into(),
        meter_prefix: meters::BOX_USAGE.into(),
    }];
    let read = seam.usage_days(state.cursor, limit, &keep).await?;
    let Some(last) = read.last_seq else {
        return Ok(0);
    };
    let mut batch = Batch::new(&state)?;
    for d in read.days {
        batch.add_day(d);
    }
    for e in &read.kept {
        batch.add_event(store, e).await?;
    }
    store.commit(vec![batch.into_mutation(state, last)]).await?;
    Ok(read.events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_keys() {
        assert_eq!(
            run_of("ec2/i-1/running/5000/run/1000"),
            Some(("i-1/1000".into(), 1000))
        );
        assert_eq!(
            run_of("ec2/i-1/running/5000"),
            Some(("i-1/5000".into(), 5000))
        );
        assert_eq!(run_of("s3:reads:x"), None);
        assert_eq!(run_of("ec2/i-1/running/x"), None);
    }
}
