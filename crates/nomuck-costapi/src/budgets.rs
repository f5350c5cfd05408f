//! Budgets (`X-Amz-Target: AWSBudgetServiceGateway.<Op>`, scope `budgets`):
//! monthly COST budgets with threshold notifications to the account's own SNS
//! topics. CreateBudget, DescribeBudget(s), UpdateBudget, DeleteBudget,
//! DescribeNotificationsForBudget, CreateNotification, DeleteNotification.
//!
//! A budget is stored as [`StoredBudget`] (the wire `Budget` as given, plus
//! its notifications) in meta's budgets seam. `CalculatedSpend` is never
//! stored: every read computes it from the [`CostSource`].

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use nomuck_http::json::{self, JsonError, JsonOperations, JsonReply};
use nomuck_http::{Principal, RequestContext};
use nomuck_meta::budgets::{BudgetMutation, BudgetRecord};
use nomuck_meta::{MetaError, MetaStore, Mutation};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::{
    Clock, CostSource, DailyCost, amount, month_key, month_spend, month_start, system_clock,
};

const MAX_BODY: u64 = 256 * 1024;
/// AWS's default end of a budget with no end: 2087-06-15.
const FOREVER: i64 = 3_706_473_600;

fn invalid(message: impl Into<String>) -> JsonError {
    JsonError::client("InvalidParameterException", message)
}

fn not_found(message: impl Into<String>) -> JsonError {
    JsonError::client("NotFoundException", message)
}

fn internal(e: impl std::fmt::Display) -> JsonError {
    JsonError::internal("InternalErrorException", e.to_string())
}

// ---------------------------------------------------------------- wire

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Spend {
    pub amount: String,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimePeriod {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CalculatedSpend {
    pub actual_spend: Spend,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecasted_spend: Option<Spend>,
}

/// The wire `Budget`: what the client sent, with AWS's defaults filled in.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Budget {
    #[serde(default)]
    pub budget_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_limit: Option<Spend>,
    #[serde(default)]
    pub cost_filters: BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_types: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub time_unit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_period: Option<TimePeriod>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calculated_spend: Option<CalculatedSpend>,
    #[serde(default)]
    pub budget_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated_time: Option<f64>,
    /// Features this endpoint does not have: refused when given, never stored.
    #[serde(default, skip_serializing)]
    pub planned_budget_limits: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub auto_adjust_data: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub filter_expression: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub billing_view_arn: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Notification {
    #[serde(default)]
    pub notification_type: String,
    #[serde(default)]
    pub comparison_operator: String,
    #[serde(default)]
    pub threshold: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_state: Option<String>,
}

impl Notification {
    /// Its identity within a budget (AWS identifies a notification by these).
    pub fn key(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.notification_type,
            self.comparison_operator,
            self.threshold,
            self.threshold_type.as_deref().unwrap_or("PERCENTAGE")
        )
    }

    /// The spend above which it fires, for a budget of `limit`.
    pub fn threshold_amount(&self, limit: Decimal) -> Decimal {
        let t = Decimal::try_from(self.threshold).unwrap_or(Decimal::MAX);
        match self.threshold_type.as_deref() {
            Some("ABSOLUTE_VALUE") => t,
            _ => (limit * t / Decimal::ONE_HUNDRED).round_dp(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subscriber {
    #[serde(default)]
    pub subscription_type: String,
    #[serde(default)]
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationWithSubscribers {
    pub notification: Notification,
    #[serde(default)]
    pub subscribers: Vec<Subscriber>,
}

/// A budget as meta stores it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct StoredBudget {
    pub budget: Budget,
    pub notifications: Vec<NotificationWithSubscribers>,
}

impl StoredBudget {
    pub fn decode(r: &BudgetRecord) -> Result<StoredBudget, JsonError> {
        serde_json::from_slice(&r.body).map_err(|e| internal(format!("budget {:?}: {e}", r.name)))
    }

    pub fn limit(&self) -> Decimal {
        self.budget
            .budget_limit
            .as_ref()
            .and_then(|l| l.amount.parse().ok())
            .unwrap_or_default()
    }

    /// Whether a cost row counts towards this budget (its `CostFilters`).
    pub fn counts(&self, r: &DailyCost) -> bool {
        self.budget.cost_filters.iter().all(|(k, values)| {
            let v = match k.as_str() {
                "Service" => &r.service,
                "UsageType" => &r.usage_type,
                "Operation" => &r.operation,
                _ => return false,
            };
            values.iter().any(|want| want == v)
        })
    }
}

// ---------------------------------------------------------------- checks

fn check_account(caller: &Principal, account_id: Option<&str>) -> Result<(), JsonError> {
    match account_id {
        Some(id) if id == caller.account_id => Ok(()),
        Some(id) => Err(JsonError::client(
            "AccessDeniedException",
            format!(
                "User: arn:aws:iam::{}:root is not authorized to access the budgets of account {id}",
                caller.account_id
            ),
        )),
        None => Err(invalid("AccountId is required")),
    }
}

fn check_name(name: Option<&str>) -> Result<&str, JsonError> {
    let name = name.ok_or_else(|| invalid("BudgetName is required"))?;
    let len = name.chars().count();
    if !(1..=100).contains(&len) || name.contains([':', '\\']) {
        return Err(invalid(
            "BudgetName must be 1 to 100 characters long and contain neither ':' nor '\\'",
        ));
    }
    Ok(name)
}

/// A decimal amount as the model's `NumericValue` pattern allows it.
fn check_amount(field: &str, a: &str) -> Result<Decimal, JsonError> {
    let ok = !a.is_empty()
        && a.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && a.bytes().filter(|b| *b == b'.').count() <= 1
        && !a.ends_with('.');
    ok.then(|| a.parse::<Decimal>().ok())
        .flatten()
        .ok_or_else(|| invalid(format!("{field} {a:?} is not a decimal number")))
}

fn check_notification(n: &Notification) -> Result<(), JsonError> {
    if !matches!(n.notification_type.as_str(), "ACTUAL" | "FORECASTED") {
        return Err(invalid(format!(
            "NotificationType {:?} is not valid; use ACTUAL or FORECASTED",
            n.notification_type
        )));
    }
    if n.comparison_operator != "GREATER_THAN" {
        return Err(invalid(format!(
            "ComparisonOperator {:?} is not available on this endpoint; use GREATER_THAN",
            n.comparison_operator
        )));
    }
    match n.threshold_type.as_deref() {
        None | Some("PERCENTAGE" | "ABSOLUTE_VALUE") => {}
        Some(other) => {
            return Err(invalid(format!(
                "ThresholdType {other:?} is not valid; use PERCENTAGE or ABSOLUTE_VALUE"
            )));
        }
    }
    if !(n.threshold.is_finite() && (0.0..=15_000_000_000_000.0).contains(&n.threshold)) {
        return Err(invalid("Threshold must be between 0 and 15000000000000"));
    }
    if n.threshold_type.as_deref() != Some("ABSOLUTE_VALUE") && n.threshold > 1000.0 {
        return Err(invalid("A PERCENTAGE threshold must be at most 1000"));
    }
    Ok(())
}

/// Subscribers of the caller's own SNS topics.
fn check_subscribers(caller: &Principal, subs: &[Subscriber]) -> Result<(), JsonError> {
    if !(1..=11).contains(&subs.len()) {
        return Err(invalid("A notification must have 1 to 11 subscribers"));
    }
    for s in subs {
        if s.subscription_type != "SNS" {
            return Err(invalid(format!(
                "SubscriptionType {:?} is not delivered by this endpoint; use SNS with a topic ARN",
                s.subscription_type
            )));
        }
        match nomuck_webhook::parse_arn(&s.address) {
            Some((owner, _)) if owner == caller.account_id => {}
            Some(_) => {
                return Err(invalid(format!(
                    "SNS topic {} belongs to another account",
                    s.address
                )));
            }
            None => return Err(invalid(format!("{:?} is not an SNS topic ARN", s.address))),
        }
    }
    Ok(())
}

fn check_notifications(
    caller: &Principal,
    list: &[NotificationWithSubscribers],
) -> Result<(), JsonError> {
    if list.len() > 10 {
        return Err(invalid("A budget can have at most 10 notifications"));
    }
    let mut keys = std::collections::BTreeSet::new();
    for n in list {
        check_notification(&n.notification)?;
        check_subscribers(caller, &n.subscribers)?;
        if !keys.insert(n.notification.key()) {
            return Err(JsonError::client(
                "DuplicateRecordException",
                "The budget already has this notification",
            ));
        }
    }
    Ok(())
}

fn default_cost_types() -> serde_json::Map<String, serde_json::Value> {
    let flags = [
        ("IncludeTax", true),
        ("IncludeSubscription", true),
        ("UseBlended", false),
        ("IncludeRefund", true),
        ("IncludeCredit", true),
        ("IncludeUpfront", true),
        ("IncludeRecurring", true),
        ("IncludeOtherSubscription", true),
        ("IncludeSupport", true),
        ("IncludeDiscount", true),
        ("UseAmortized", false),
    ];
    flags
        .into_iter()
        .map(|(k, v)| (k.to_owned(), serde_json::Value::Bool(v)))
        .collect()
}

/// Checks a budget as given and fills in AWS's defaults.
fn normalize(mut b: Budget, today: Date) -> Result<Budget, JsonError> {
    check_name(Some(&b.budget_name))?;
    if b.budget_type != "COST" {
        return Err(invalid(format!(
            "BudgetType {:?} is not available on this endpoint; only COST budgets are",
            b.budget_type
        )));
    }
    if b.time_unit != "MONTHLY" {
        return Err(invalid(format!(
            "TimeUnit {:?} is not available on this endpoint; COST budgets here are MONTHLY",
            b.time_unit
        )));
    }
    for (given, name) in [
        (&b.planned_budget_limits, "PlannedBudgetLimits"),
        (&b.auto_adjust_data, "AutoAdjustData"),
        (&b.filter_expression, "FilterExpression"),
        (&b.billing_view_arn, "BillingViewArn"),
    ] {
        if given.as_ref().is_some_and(|v| !v.is_null()) {
            return Err(invalid(format!("{name} is not available on this endpoint")));
        }
    }
    let limit = b
        .budget_limit
        .as_ref()
        .ok_or_else(|| invalid("A COST budget must have a BudgetLimit"))?;
    check_amount("BudgetLimit.Amount", &limit.amount)?;
    if limit.unit != "USD" {
        return Err(invalid(format!(
            "BudgetLimit.Unit {:?} is not valid; costs are in USD",
            limit.unit
        )));
    }
    for (k, values) in &b.cost_filters {
        if !matches!(k.as_str(), "Service" | "UsageType" | "Operation") {
            return Err(invalid(format!(
                "CostFilters key {k:?} is not available on this endpoint; use Service, UsageType or Operation"
            )));
        }
        if values.is_empty() {
            return Err(invalid(format!("CostFilters {k:?} must have values")));
        }
    }
    let start = month_start(today).midnight().assume_utc().unix_timestamp();
    let period = b.time_period.get_or_insert_with(TimePeriod::default);
    period.start.get_or_insert(start as f64);
    period.end.get_or_insert(FOREVER as f64);
    if b.cost_types.is_none() {
        b.cost_types = Some(default_cost_types());
    }
    // Computed on every read, never taken from the client.
    b.calculated_spend = None;
    b.last_updated_time = None;
    Ok(b)
}

fn meta_error(e: MetaError, name: &str) -> JsonError {
    match e {
        MetaError::NotFound(_) => not_found(format!(
            "Unable to get budget: {name} - the budget doesn't exist."
        )),
        MetaError::Conflict(_) => JsonError::client(
            "DuplicateRecordException",
            format!("Error creating budget: {name} - the budget already exists."),
        ),
        other => internal(other),
    }
}

fn next_token(name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name)
}

fn from_token(t: &str) -> Result<String, JsonError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| JsonError::client("InvalidNextTokenException", "The next token is invalid."))
}

fn millis_now(now: OffsetDateTime) -> i64 {
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A CreateBudget request checked as the API checks it: the budget to store.
fn create_request(caller: &Principal, body: &[u8], today: Date) -> Result<StoredBudget, JsonError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        account_id: Option<String>,
        budget: Option<Budget>,
        #[serde(default)]
        notifications_with_subscribers: Vec<NotificationWithSubscribers>,
    }
    let req: Req = json::parse(body)?;
    check_account(caller, req.account_id.as_deref())?;
    let budget = req.budget.ok_or_else(|| invalid("Budget is required"))?;
    let budget = normalize(budget, today)?;
    check_notifications(caller, &req.notifications_with_subscribers)?;
    Ok(StoredBudget {
        budget,
        notifications: req.notifications_with_subscribers,
    })
}

/// Checks a CreateBudget body for account `111111111111`, for fuzzing: any
/// input must give a budget or an error, never a panic.
pub fn check_request(body: &[u8]) -> Result<(), JsonError> {
    let caller = Principal {
        account_id: "111111111111".into(),
        account_name: "fuzz".into(),
        access_key_id: "AK".into(),
        is_admin: false,
    };
    let stored = create_request(&caller, body, time::macros::date!(2026 - 12 - 10))?;
    serde_json::to_vec(&stored).map_err(internal)?;
    Ok(())
}

// ---------------------------------------------------------------- the API

pub struct BudgetsApi {
    meta: Arc<dyn MetaStore>,
    costs: Arc<dyn CostSource>,
    clock: Clock,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NameRequest {
    account_id: Option<String>,
    budget_name: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

impl BudgetsApi {
    pub fn new(meta: Arc<dyn MetaStore>, costs: Arc<dyn CostSource>) -> Self {
        Self {
            meta,
            costs,
            clock: system_clock(),
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    async fn load(
        &self,
        account: &str,
        name: &str,
    ) -> Result<(BudgetRecord, StoredBudget), JsonError> {
        let record = self
            .meta
            .budgets()
            .budget(account, name)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                not_found(format!(
                    "Unable to get budget: {name} - the budget doesn't exist."
                ))
            })?;
        let stored = StoredBudget::decode(&record)?;
        Ok((record, stored))
    }

    async fn save(
        &self,
        previous: Option<&BudgetRecord>,
        account: &str,
        stored: &StoredBudget,
    ) -> Result<(), JsonError> {
        let now = millis_now((self.clock)());
        let name = &stored.budget.budget_name;
        let record = BudgetRecord {
            account_id: account.to_owned(),
            name: name.clone(),
            created_at: previous.map_or(now, |p| p.created_at),
            updated_at: now,
            generation: previous.map_or(1, |p| p.generation + 1),
            body: serde_json::to_vec(stored).map_err(internal)?,
        };
        self.meta
            .commit(vec![Mutation::Budgets(BudgetMutation::Put {
                record: Box::new(record),
                expect_generation: previous.map(|p| p.generation),
            })])
            .await
            .map(|_| ())
            .map_err(|e| meta_error(e, name))
    }

    /// The budgets as DescribeBudget(s) answer: with this month's spend.
    async fn render(
        &self,
        account: &str,
        records: &[BudgetRecord],
    ) -> Result<Vec<Budget>, JsonError> {
        let today = (self.clock)().date();
        let rows = if records.is_empty() {
            Vec::new()
        } else {
            self.costs
                .daily_costs(account, month_start(today), today + time::Duration::days(1))
                .await
                .map_err(internal)?
        };
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let stored = StoredBudget::decode(r)?;
            let spend = month_spend(&rows, today, |row| stored.counts(row));
            let mut b = stored.budget;
            b.calculated_spend = Some(CalculatedSpend {
                actual_spend: Spend {
                    amount: amount(spend.actual),
                    unit: "USD".into(),
                },
                forecasted_spend: Some(Spend {
                    amount: amount(spend.forecast),
                    unit: "USD".into(),
                }),
            });
            b.last_updated_time = Some(r.updated_at as f64 / 1000.0);
            out.push(b);
        }
        Ok(out)
    }

    async fn create_budget(&self, caller: &Principal, body: &[u8]) -> Result<JsonReply, JsonError> {
        let stored = create_request(caller, body, (self.clock)().date())?;
        self.save(None, &caller.account_id, &stored).await?;
        json::ok("CreateBudget", &serde_json::json!({}))
    }

    async fn describe_budget(
        &self,
        caller: &Principal,
        body: &[u8],
    ) -> Result<JsonReply, JsonError> {
        let req: NameRequest = json::parse(body)?;
        check_account(caller, req.account_id.as_deref())?;
        let name = check_name(req.budget_name.as_deref())?;
        let (record, _) = self.load(&caller.account_id, name).await?;
        let budget = self.render(&caller.account_id, &[record]).await?;
        json::ok(
            "DescribeBudget",
            &serde_json::json!({ "Budget": budget.first() }),
        )
    }

    async fn describe_budgets(
        &self,
        caller: &Principal,
        body: &[u8],
    ) -> Result<JsonReply, JsonError> {
        let req: NameRequest = json::parse(body)?;
        check_account(caller, req.account_id.as_deref())?;
        let limit = match req.max_results {
            None => 100,
            Some(n @ 1..=1000) => n as usize,
            Some(_) => return Err(invalid("MaxResults must be between 1 and 1000")),
        };
        let after = req.next_token.as_deref().map(from_token).transpose()?;
        let mut records = self
            .meta
            .budgets()
            .budgets(&caller.account_id, after.as_deref(), limit + 1)
            .await
            .map_err(internal)?;
        let more = records.len() > limit;
        records.truncate(limit);
        let next = more
            .then(|| records.last().map(|r| next_token(&r.name)))
            .flatten();
        let budgets = self.render(&caller.account_id, &records).await?;
        let mut reply = serde_json::json!({ "Budgets": budgets });
        if let Some(t) = next {
            reply["NextToken"] = t.into();
        }
        json::ok("DescribeBudgets", &reply)
    }

    async fn update_budget(&self, caller: &Principal, body: &[u8]) -> Result<JsonReply, JsonError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            account_id: Option<String>,
            new_budget: Option<Budget>,
        }
        let req: Req = json::parse(body)?;
        check_account(caller, req.account_id.as_deref())?;
        let budget = req
            .new_budget
            .ok_or_else(|| invalid("NewBudget is required"))?;
        let name = check_name(Some(&budget.budget_name))?.to_owned();
        let (record, mut stored) = self.load(&caller.account_id, &name).await?;
        let mut budget = normalize(budget, (self.clock)().date())?;
        // A period the update leaves out keeps the one the budget had.
        if let (Some(new), Some(old)) = (&mut budget.time_period, &stored.budget.time_period) {
            new.start = new.start.or(old.start);
        }
        stored.budget = budget;
        self.save(Some(&record), &caller.account_id, &stored)
            .await?;
        json::ok("UpdateBudget", &serde_json::json!({}))
    }

    async fn delete_budget(&self, caller: &Principal, body: &[u8]) -> Result<JsonReply, JsonError> {
        let req: NameRequest = json::parse(body)?;
        check_account(caller, req.account_id.as_deref())?;
        let name = check_name(req.budget_name.as_deref())?;
        self.meta
            .commit(vec![Mutation::Budgets(BudgetMutation::Delete {
                account_id: caller.account_id.clone(),
                name: name.to_owned(),
            })])
            .await
            .map_err(|e| meta_error(e, name))?;
        json::ok("DeleteBudget", &serde_json::json!({}))
    }

    async fn describe_notifications(
        &self,
        caller: &Principal,
        body: &[u8],
    ) -> Result<JsonReply, JsonError> {
        let req: NameRequest = json::parse(body)?;
        check_account(caller, req.account_id.as_deref())?;
        let name = check_name(req.budget_name.as_deref())?;
        let limit = match req.max_results {
            None => 100,
            Some(n @ 1..=100) => n as usize,
            Some(_) => return Err(invalid("MaxResults must be between 1 and 100")),
        };
        let offset = match req.next_token.as_deref().map(from_token).transpose()? {
            Some(t) => t.parse::<usize>().map_err(|_| {
                JsonError::client("InvalidNextTokenException", "The next token is invalid.")
            })?,
            None => 0,
        };
        let (_, stored) = self.load(&caller.account_id, name).await?;
        let period = month_key((self.clock)().date());
        let alerts = self
            .meta
            .budgets()
            .budget_alerts(&caller.account_id, name)
            .await
            .map_err(internal)?;
        let list: Vec<Notification> = stored
            .notifications
            .iter()
            .skip(offset)
            .take(limit)
            .map(|n| {
                let mut n = n.notification.clone();
                let fired = alerts
                    .iter()
                    .any(|a| a.notification == n.key() && a.period == period);
                n.notification_state = Some(if fired { "ALARM" } else { "OK" }.into());
                n.threshold_type.get_or_insert_with(|| "PERCENTAGE".into());
                n
            })
            .collect();
        let mut reply = serde_json::json!({ "Notifications": list });
        if offset + limit < stored.notifications.len() {
            reply["NextToken"] = next_token(&(offset + limit).to_string()).into();
        }
        json::ok("DescribeNotificationsForBudget", &reply)
    }

    async fn change_notification(
        &self,
        caller: &Principal,
        body: &[u8],
        create: bool,
    ) -> Result<JsonReply, JsonError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            account_id: Option<String>,
            budget_name: Option<String>,
            notification: Option<Notification>,
            #[serde(default)]
            subscribers: Vec<Subscriber>,
        }
        let req: Req = json::parse(body)?;
        check_account(caller, req.account_id.as_deref())?;
        let name = check_name(req.budget_name.as_deref())?;
        let mut n = req
            .notification
            .ok_or_else(|| invalid("Notification is required"))?;
        check_notification(&n)?;
        n.notification_state = None;
        let (record, mut stored) = self.load(&caller.account_id, name).await?;
        let key = n.key();
        let at = stored
            .notifications
            .iter()
            .position(|x| x.notification.key() == key);
        let operation = if create {
            check_subscribers(caller, &req.subscribers)?;
            if at.is_some() {
                return Err(JsonError::client(
                    "DuplicateRecordException",
                    format!("The budget {name} already has this notification"),
                ));
            }
            stored.notifications.push(NotificationWithSubscribers {
                notification: n,
                subscribers: req.subscribers,
            });
            check_notifications(caller, &stored.notifications)?;
            "CreateNotification"
        } else {
            let i = at.ok_or_else(|| not_found("The budget has no such notification"))?;
            stored.notifications.remove(i);
            "DeleteNotification"
        };
        self.save(Some(&record), &caller.account_id, &stored)
            .await?;
        json::ok(operation, &serde_json::json!({}))
    }
}

#[async_trait::async_trait]
impl JsonOperations for BudgetsApi {
    fn scope_names(&self) -> &'static [&'static str] {
        &["budgets"]
    }

    fn body_limit(&self) -> u64 {
        MAX_BODY
    }

    fn target_prefix(&self) -> &'static str {
        "AWSBudgetServiceGateway"
    }

    async fn call(
        &self,
        _ctx: &RequestContext,
        caller: &Principal,
        operation: &str,
        body: &[u8],
    ) -> Option<Result<JsonReply, JsonError>> {
        Some(match operation {
            "CreateBudget" => self.create_budget(caller, body).await,
            "DescribeBudget" => self.describe_budget(caller, body).await,
            "DescribeBudgets" => self.describe_budgets(caller, body).await,
            "UpdateBudget" => self.update_budget(caller, body).await,
            "DeleteBudget" => self.delete_budget(caller, body).await,
            "DescribeNotificationsForBudget" => self.describe_notifications(caller, body).await,
            "CreateNotification" => self.change_notification(caller, body, true).await,
            "DeleteNotification" => self.change_notification(caller, body, false).await,
            _ => return None,
        })
    }
}
