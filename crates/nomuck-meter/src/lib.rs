//! The usage meter: an append-only record of billable use.
//!
//! Every billable change emits a [`UsageEvent`]; billing is derived from these events,
//! never from counters. An event carries an idempotency key, so a retried operation is
//! metered once. A service records usage in the same commit as the change that caused
//! it by adding [`usage_mutation`] to that commit; [`Meter::record`] is for usage with
//! no other change attached (requests served, bytes sent).

mod sums;

use std::collections::BTreeMap;
use std::sync::Arc;

use nomuck_meta::{MetaError, MetaStore, Millis, Mutation, UsageQuery};
pub use nomuck_meta::{StoredUsageEvent, UsageEvent};
pub use sums::RequestSums;

/// Units a quantity can be counted in. Quantities are integers in the smallest unit,
/// so sums are exact.
pub mod unit {
    pub const REQUESTS: &str = "requests";
    pub const BYTES: &str = "bytes";
    pub const BYTE_SECONDS: &str = "byte-seconds";
    pub const INSTANCE_SECONDS: &str = "instance-seconds";
    pub const UNITS: &str = "units";
}

/// Longest idempotency key accepted; keys are built by services, not users, so a long
/// one is a bug worth reporting rather than truncating.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum MeterError {
    #[error("invalid usage event: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] MetaError),
}

/// Check an event before it is written: the meter is append-only, so a bad event
/// would stay forever.
pub fn validate(event: &UsageEvent) -> Result<(), MeterError> {
    let field = |name: &str, value: &str| {
        if value.is_empty() {
            Err(MeterError::Invalid(format!("{name} is empty")))
        } else {
            Ok(())
        }
    };
    field("account_id", &event.account_id)?;
    field("service", &event.service)?;
    field("meter", &event.meter)?;
    field("unit", &event.unit)?;
    field("idempotency_key", &event.idempotency_key)?;
    if event.idempotency_key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(MeterError::Invalid(format!(
            "idempotency_key is {} bytes, at most {MAX_IDEMPOTENCY_KEY_LEN}",
            event.idempotency_key.len()
        )));
    }
    if event.quantity < 0 {
        return Err(MeterError::Invalid(format!(
            "quantity {} is negative",
            event.quantity
        )));
    }
    Ok(())
}

/// The mutation that appends `event`, for inclusion in a service's own commit.
pub fn usage_mutation(event: UsageEvent) -> Result<Mutation, MeterError> {
    validate(&event)?;
    Ok(Mutation::RecordUsage(event))
}

/// Outcome of [`Meter::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// Events newly appended.
    pub appended: usize,
    /// Events whose idempotency key was already present, and so changed nothing.
    pub duplicates: usize,
}

/// Total use of one meter over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterTotal {
    pub service: String,
    pub meter: String,
    pub unit: String,
    pub quantity: i64,
}

#[derive(Clone)]
pub struct Meter {
    store: Arc<dyn MetaStore>,
}

impl Meter {
    pub fn new(store: Arc<dyn MetaStore>) -> Self {
        Self { store }
    }

    /// Append events in one commit: all of them or none.
    pub async fn record(
        &self,
        events: impl IntoIterator<Item = UsageEvent>,
    ) -> Result<Recorded, MeterError> {
        let mutations = events
            .into_iter()
            .map(usage_mutation)
            .collect::<Result<Vec<_>, _>>()?;
        let submitted = mutations.len();
        if submitted == 0 {
            return Ok(Recorded {
                appended: 0,
                duplicates: 0,
            });
        }
        let receipt = self.store.commit(mutations).await?;
        Ok(Recorded {
            appended: submitted - receipt.duplicate_usage,
            duplicates: receipt.duplicate_usage,
        })
    }

    /// Events of one account in `[from, to)`, in append order.
    pub async fn events(
        &self,
        account_id: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<StoredUsageEvent>, MeterError> {
        const PAGE: usize = 10_000;
        let mut out = Vec::new();
        let mut after_seq = None;
        loop {
            let page = self
                .store
                .usage(&UsageQuery {
                    account_id: Some(account_id.to_owned()),
                    from: Some(from),
                    to: Some(to),
                    after_seq,
                    limit: PAGE,
                })
                .await?;
            let full = page.len() == PAGE;
            after_seq = page.last().map(|e| e.seq);
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// Sum of each meter of one account in `[from, to)`, ordered by service and meter.
    pub async fn totals(
        &self,
        account_id: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<MeterTotal>, MeterError> {
        let mut sums: BTreeMap<(String, String, String), i64> = BTreeMap::new();
        for stored in self.events(account_id, from, to).await? {
            let e = stored.event;
            *sums.entry((e.service, e.meter, e.unit)).or_default() += e.quantity;
        }
        Ok(sums
            .into_iter()
            .map(|((service, meter, unit), quantity)| MeterTotal {
                service,
                meter,
                unit,
                quantity,
            })
            .collect())
    }
}
