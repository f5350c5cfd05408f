//! The budget alert evaluator: a background pass over every budget that
//! compares this month's actual and forecast spend with each notification's
//! threshold and, on a crossing, queues an alert to the subscribed SNS topics
//! through the webhook outbox (`EnqueueDelivery`, sent by the existing
//! dispatcher). The alert's mark (`RecordAlert`) is committed with the
//! deliveries, and a second mark for the same notification and month is
//! refused by the store, so each crossing is announced once per month, across
//! restarts and concurrent passes.
//!
//! The payload is JSON (webhook deliveries are `application/json`): the
//! budget, the notification, the amounts, and in `Message` the text AWS
//! Budgets sends in its alert e-mails and SNS messages.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use nomuck_meta::budgets::{BudgetAlertRecord, BudgetMutation, BudgetRecord};
use nomuck_meta::events::NewDelivery;
use nomuck_meta::{MetaError, MetaStore, Mutation};
use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;

use crate::budgets::{Notification, StoredBudget};
use crate::{Clock, CostSource, amount, month_key, month_spend, month_start};

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertReport {
    pub budgets: usize,
    /// Alerts queued in this pass.
    pub sent: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Store(#[from] MetaError),
    #[error(transparent)]
    Costs(#[from] crate::CostSourceError),
}

pub struct BudgetAlerts {
    meta: Arc<dyn MetaStore>,
    costs: Arc<dyn CostSource>,
    clock: Clock,
    /// Woken after alerts are queued, so the dispatcher sends them at once.
    queued: Option<Arc<tokio::sync::Notify>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Money {
    amount: String,
    unit: &'static str,
}

fn usd(d: Decimal) -> Money {
    Money {
        amount: amount(d),
        unit: "USD",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AlertMessage<'a> {
    #[serde(rename = "Type")]
    kind: &'static str,
    account_id: &'a str,
    budget_name: &'a str,
    budget_type: &'a str,
    time_unit: &'a str,
    /// `YYYY-MM`.
    period: &'a str,
    budget_limit: Money,
    notification_type: &'a str,
    comparison_operator: &'a str,
    threshold: f64,
    threshold_type: &'a str,
    threshold_amount: Money,
    actual_spend: Money,
    forecasted_spend: Money,
    message: String,
}

/// Dollars with cents, as AWS's alert text shows them.
fn dollars(d: Decimal) -> String {
    format!("${:.2}", d.round_dp(2))
}

impl BudgetAlerts {
    pub fn new(meta: Arc<dyn MetaStore>, costs: Arc<dyn CostSource>, clock: Clock) -> Arc<Self> {
        Arc::new(Self {
            meta,
            costs,
            clock,
            queued: None,
        })
    }

    pub fn with_wakeup(
        meta: Arc<dyn MetaStore>,
        costs: Arc<dyn CostSource>,
        clock: Clock,
        queued: Arc<tokio::sync::Notify>,
    ) -> Arc<Self> {
        Arc::new(Self {
            meta,
            costs,
            clock,
            queued: Some(queued),
        })
    }

    /// Runs a pass every `every` until the evaluator is dropped.
    pub fn start(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Self> = Arc::downgrade(self);
        let every = every.max(Duration::from_millis(10));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(me) = weak.upgrade() else { return };
                if let Err(e) = me.evaluate_now().await {
                    tracing::warn!(error = %e, "budget alert pass failed; will retry");
                }
            }
        })
    }

    /// One pass over every budget.
    pub async fn evaluate_now(&self) -> Result<AlertReport, AlertError> {
        let today = (self.clock)().date();
        // Deliveries are due by the wall clock the dispatcher polls with,
        // whatever day the budgets are evaluated for.
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let mut report = AlertReport::default();
        let mut after: Option<(String, String)> = None;
        loop {
            let page = self
                .meta
                .budgets()
                .all_budgets(after.as_ref().map(|(a, n)| (a.as_str(), n.as_str())), 256)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some((last.account_id.clone(), last.name.clone()));
            // Costs are read once per account per page.
            let mut by_account: BTreeMap<&str, Vec<&BudgetRecord>> = BTreeMap::new();
            for r in &page {
                by_account.entry(&r.account_id).or_default().push(r);
            }
            for (account, records) in by_account {
                let rows = self
                    .costs
                    .daily_costs(account, month_start(today), today + time::Duration::days(1))
                    .await?;
                for r in records {
                    report.budgets += 1;
                    let Ok(stored) = StoredBudget::decode(r) else {
                        tracing::warn!(account, budget = %r.name, "budget record does not decode; skipped");
                        continue;
                    };
                    let spend = month_spend(&rows, today, |row| stored.counts(row));
                    for n in &stored.notifications {
                        let value = match n.notification.notification_type.as_str() {
                            "FORECASTED" => spend.forecast,
                            _ => spend.actual,
                        };
                        let limit = stored.limit();
                        if value <= n.notification.threshold_amount(limit) {
                            continue;
                        }
                        let payload = message(account, &stored, &n.notification, today, spend);
                        if self
                            .send(
                                account,
                                r,
                                &n.notification,
                                n.subscriber_topics(),
                                today,
                                at,
                                payload,
                            )
                            .await?
                        {
                            report.sent += 1;
                        }
                    }
                }
            }
        }
        if report.sent > 0
            && let Some(q) = &self.queued
        {
            q.notify_one();
        }
        Ok(report)
    }

    /// Commits the alert's mark with its deliveries; `false` if it was
    /// already sent (or the budget went away meanwhile).
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        account: &str,
        r: &BudgetRecord,
        n: &Notification,
        topics: Vec<String>,
        today: Date,
        at: i64,
        payload: Vec<u8>,
    ) -> Result<bool, MetaError> {
        let mut muts = vec![Mutation::Budgets(BudgetMutation::RecordAlert(
            BudgetAlertRecord {
                account_id: account.to_owned(),
                budget_name: r.name.clone(),
                notification: n.key(),
                period: month_key(today),
                at,
            },
        ))];
        for topic in topics {
            muts.push(Mutation::EnqueueDelivery(NewDelivery {
                account_id: account.to_owned(),
                topic,
                payload: payload.clone(),
                at,
            }));
        }
        match self.meta.commit(muts).await {
            Ok(_) => Ok(true),
            Err(MetaError::Conflict(_) | MetaError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl crate::budgets::NotificationWithSubscribers {
    /// Names of the caller's topics it goes to (checked to be the account's
    /// own when the budget was saved).
    fn subscriber_topics(&self) -> Vec<String> {
        self.subscribers
            .iter()
            .filter(|s| s.subscription_type == "SNS")
            .filter_map(|s| nomuck_webhook::parse_arn(&s.address).map(|(_, name)| name.to_owned()))
            .collect()
    }
}

fn message(
    account: &str,
    b: &StoredBudget,
    n: &Notification,
    today: Date,
    spend: crate::MonthSpend,
) -> Vec<u8> {
    let limit = b.limit();
    let threshold = n.threshold_amount(limit);
    let kind = n.notification_type.as_str();
    let value = if kind == "FORECASTED" {
        spend.forecast
    } else {
        spend.actual
    };
    let month = today.month();
    let text = format!(
        "AWS Budget Notification {month} {:02}, {}\nAWS Account {account}\n\nDear AWS Customer,\n\n\
You requested that we alert you when the {kind} Cost associated with your {name} budget is greater than {th} for the current month. \
The {kind} Cost associated with this budget is {val}.\n\n\
Budget Name: {name}\nBudget Type: Cost\nBudgeted Amount: {lim}\nAlert Type: {kind}\nAlert Threshold: > {th}\n{kind} Amount: {val}\n",
        today.day(),
        today.year(),
        name = b.budget.budget_name,
        th = dollars(threshold),
        val = dollars(value),
        lim = dollars(limit),
    );
    let period = month_key(today);
    let m = AlertMessage {
        kind: "BudgetNotification",
        account_id: account,
        budget_name: &b.budget.budget_name,
        budget_type: &b.budget.budget_type,
        time_unit: &b.budget.time_unit,
        period: &period,
        budget_limit: usd(limit),
        notification_type: kind,
        comparison_operator: &n.comparison_operator,
        threshold: n.threshold,
        threshold_type: n.threshold_type.as_deref().unwrap_or("PERCENTAGE"),
        threshold_amount: usd(threshold),
        actual_spend: usd(spend.actual),
        forecasted_spend: usd(spend.forecast),
        message: text,
    };
    serde_json::to_vec(&m).unwrap_or_default()
}
