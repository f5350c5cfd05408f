//! Cost Explorer (`X-Amz-Target: AWSInsightsIndexService.<Op>`, scope `ce`):
//! GetCostAndUsage, GetCostForecast and GetDimensionValues over the caller's
//! own rated costs.
//!
//! Offered: metrics `UnblendedCost` and `UsageQuantity`; granularity `DAILY`
//! and `MONTHLY`; grouping and filtering by the `SERVICE`, `USAGE_TYPE` and
//! `OPERATION` dimensions (filters nest with `And`/`Or`/`Not`). Everything
//! else AWS has (tags, cost categories, hourly data, blended or amortized
//! cost) is refused with a `ValidationException` rather than answered wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

use std::sync::Arc;

use base64::Engine;
use nomuck_http::json::{self, JsonError, JsonOperations, JsonReply};
use nomuck_http::{Principal, RequestContext};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, Duration};

use crate::{Clock, CostSource, DailyCost, amount, month_start, next_month, system_clock};

/// Groups (or ungrouped periods) per GetCostAndUsage page.
pub const DEFAULT_PAGE_SIZE: usize = 1000;
/// Longest TimePeriod (ten years): far beyond any bill's history.
const MAX_SPAN_DAYS: i64 = 3660;

fn invalid(message: impl Into<String>) -> JsonError {
    JsonError::client("ValidationException", message)
}

fn unavailable(e: crate::CostSourceError) -> JsonError {
    JsonError::client("DataUnavailableException", e.to_string())
}

// ---------------------------------------------------------------- wire

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DateInterval {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupDefinition {
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    pub key: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Expression {
    pub or: Option<Vec<Expression>>,
    pub and: Option<Vec<Expression>>,
    pub not: Option<Box<Expression>>,
    pub dimensions: Option<DimensionValues>,
    pub tags: Option<serde_json::Value>,
    pub cost_categories: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DimensionValues {
    pub key: Option<String>,
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default)]
    pub match_options: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetCostAndUsageRequest {
    time_period: Option<DateInterval>,
    granularity: Option<String>,
    filter: Option<Expression>,
    #[serde(default)]
    metrics: Vec<String>,
    #[serde(default)]
    group_by: Vec<GroupDefinition>,
    next_page_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricValue {
    amount: String,
    unit: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Group {
    keys: Vec<String>,
    metrics: BTreeMap<String, MetricValue>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ResultByTime {
    time_period: DateInterval,
    total: BTreeMap<String, MetricValue>,
    groups: Vec<Group>,
    estimated: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetCostAndUsageResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    group_definitions: Vec<GroupDefinition>,
    results_by_time: Vec<ResultByTime>,
    dimension_value_attributes: Vec<serde_json::Value>,
}

// ---------------------------------------------------------------- parsing

const DATE: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

fn parse_date(field: &str, value: &str) -> Result<Date, JsonError> {
    Date::parse(value, DATE).map_err(|_| {
        invalid(format!(
            "{field} {value:?} is not a date of the form YYYY-MM-DD"
        ))
    })
}

fn format_date(d: Date) -> String {
    d.format(DATE).unwrap_or_default()
}

/// `[start, end)` of a required `TimePeriod`.
fn period(p: Option<&DateInterval>) -> Result<(Date, Date), JsonError> {
    let p = p.ok_or_else(|| invalid("TimePeriod is required"))?;
    let start = parse_date("TimePeriod.Start", &p.start)?;
    let end = parse_date("TimePeriod.End", &p.end)?;
    if start >= end {
        return Err(invalid(
            "Start date (and hour) should be before end date (and hour)",
        ));
    }
    // Each day can become a result: bound the work one request asks for.
    if (end - start).whole_days() > MAX_SPAN_DAYS {
        return Err(invalid(format!(
            "TimePeriod spans more than {MAX_SPAN_DAYS} days"
        )));
    }
    Ok((start, end))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Granularity {
    Daily,
    Monthly,
}

fn granularity(g: Option<&str>) -> Result<Granularity, JsonError> {
    match g {
        Some("DAILY") => Ok(Granularity::Daily),
        Some("MONTHLY") => Ok(Granularity::Monthly),
        Some("HOURLY") => Err(invalid(
            "Hourly granularity is not available on this endpoint; use DAILY or MONTHLY",
        )),
        Some(other) => Err(invalid(format!(
            "Granularity {other:?} is not valid; use DAILY or MONTHLY"
        ))),
        None => Err(invalid("Granularity is required")),
    }
}

/// The periods of `[start, end)`: days, or calendar months clipped to it.
fn periods(start: Date, end: Date, g: Granularity) -> Vec<(Date, Date)> {
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        let next = match g {
            Granularity::Daily => at + Duration::days(1),
            Granularity::Monthly => next_month(at).min(end),
        };
        out.push((at, next));
        at = next;
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dim {
    Service,
    UsageType,
    Operation,
}

impl Dim {
    fn parse(key: Option<&str>) -> Result<Dim, JsonError> {
        match key {
            Some("SERVICE") => Ok(Dim::Service),
            Some("USAGE_TYPE") => Ok(Dim::UsageType),
            Some("OPERATION") => Ok(Dim::Operation),
            Some(other) => Err(invalid(format!(
                "Dimension {other} is not available on this endpoint; use SERVICE, USAGE_TYPE or OPERATION"
            ))),
            None => Err(invalid("Dimension key is required")),
        }
    }

    fn of(self, r: &DailyCost) -> &str {
        match self {
            Dim::Service => &r.service,
            Dim::UsageType => &r.usage_type,
            Dim::Operation => &r.operation,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    Equals,
    StartsWith,
    EndsWith,
    Contains,
}

/// A checked filter expression.
#[derive(Debug, Clone)]
enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Dim {
        dim: Dim,
        values: Vec<String>,
        how: Match,
        case_insensitive: bool,
    },
}

impl Filter {
    /// AWS's rules: exactly one operand per expression, `And`/`Or` of at least two.
    fn parse(e: &Expression) -> Result<Filter, JsonError> {
        let set = [
            e.or.is_some(),
            e.and.is_some(),
            e.not.is_some(),
            e.dimensions.is_some(),
            e.tags.is_some(),
            e.cost_categories.is_some(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        if set != 1 {
            return Err(invalid(
                "Expression must have exactly one of And, Or, Not, Dimensions, Tags or CostCategories",
            ));
        }
        let list = |l: &Vec<Expression>, op: &str| -> Result<Vec<Filter>, JsonError> {
            if l.len() < 2 {
                return Err(invalid(format!(
                    "{op} expression must have at least 2 operands"
                )));
            }
            l.iter().map(Filter::parse).collect()
        };
        if let Some(l) = &e.and {
            return Ok(Filter::And(list(l, "And")?));
        }
        if let Some(l) = &e.or {
            return Ok(Filter::Or(list(l, "Or")?));
        }
        if let Some(n) = &e.not {
            return Ok(Filter::Not(Box::new(Filter::parse(n)?)));
        }
        let Some(d) = &e.dimensions else {
            return Err(invalid(
                "Tags and CostCategories are not available on this endpoint",
            ));
        };
        let dim = Dim::parse(d.key.as_deref())?;
        if d.values.is_empty() {
            return Err(invalid("Dimensions.Values must not be empty"));
        }
        let (mut how, mut case_insensitive) = (Match::Equals, false);
        for o in &d.match_options {
            match o.as_str() {
                "EQUALS" => how = Match::Equals,
                "STARTS_WITH" => how = Match::StartsWith,
                "ENDS_WITH" => how = Match::EndsWith,
                "CONTAINS" => how = Match::Contains,
                "CASE_SENSITIVE" => case_insensitive = false,
                "CASE_INSENSITIVE" => case_insensitive = true,
                other => {
                    return Err(invalid(format!(
                        "MatchOption {other} is not supported for Dimensions"
                    )));
                }
            }
        }
        let values = if case_insensitive {
            d.values.iter().map(|v| v.to_lowercase()).collect()
        } else {
            d.values.clone()
        };
        Ok(Filter::Dim {
            dim,
            values,
            how,
            case_insensitive,
        })
    }

    fn keeps(&self, r: &DailyCost) -> bool {
        match self {
            Filter::And(l) => l.iter().all(|f| f.keeps(r)),
            Filter::Or(l) => l.iter().any(|f| f.keeps(r)),
            Filter::Not(f) => !f.keeps(r),
            Filter::Dim {
                dim,
                values,
                how,
                case_insensitive,
            } => {
                let lowered;
                let v = if *case_insensitive {
                    lowered = dim.of(r).to_lowercase();
                    lowered.as_str()
                } else {
                    dim.of(r)
                };
                values.iter().any(|want| match how {
                    Match::Equals => v == want,
                    Match::StartsWith => v.starts_with(want.as_str()),
                    Match::EndsWith => v.ends_with(want.as_str()),
                    Match::Contains => v.contains(want.as_str()),
                })
            }
        }
    }
}

fn filter(e: Option<&Expression>) -> Result<Option<Filter>, JsonError> {
    e.map(Filter::parse).transpose()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    UnblendedCost,
    UsageQuantity,
}

/// A metric name as GetCostAndUsage takes it; AWS's other metrics are refused.
fn metric(name: &str) -> Result<Metric, JsonError> {
    match name {
        "UnblendedCost" => Ok(Metric::UnblendedCost),
        "UsageQuantity" => Ok(Metric::UsageQuantity),
        "BlendedCost"
        | "AmortizedCost"
        | "NetUnblendedCost"
        | "NetAmortizedCost"
        | "NormalizedUsageAmount" => Err(invalid(format!(
            "Metric {name} is not available on this endpoint; use UnblendedCost or UsageQuantity"
        ))),
        other => Err(invalid(format!("Unsupported metric {other:?}"))),
    }
}

/// Opaque page tokens: where the next page starts and a fingerprint of the
/// request, so that a token is only good for the query that made it.
fn token(offset: usize, fingerprint: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{offset}:{fingerprint:x}"))
}

fn untoken(t: &str, fingerprint: u64) -> Result<usize, JsonError> {
    let bad = || {
        JsonError::client(
            "InvalidNextTokenException",
            "The next page token is invalid.",
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (offset, fp) = raw.split_once(':').ok_or_else(bad)?;
    if u64::from_str_radix(fp, 16).ok() != Some(fingerprint) {
        return Err(bad());
    }
    offset.parse().map_err(|_| bad())
}

/// The request without its page token, canonically (object members sorted).
fn fingerprint(caller: &str, body: &[u8]) -> u64 {
    let mut v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("NextPageToken");
    }
    // SipHash with fixed keys: stable for the life of the binary, which is
    // as long as a token needs to last.
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    caller.hash(&mut h);
    v.to_string().hash(&mut h);
    h.finish()
}

// ---------------------------------------------------------------- the API

/// Sums of one group (or one ungrouped period).
#[derive(Debug, Default, Clone)]
struct Sums {
    cost: Decimal,
    quantity: Decimal,
    /// The one unit of the usage summed; `None` once units mix.
    unit: Option<Option<String>>,
}

impl Sums {
    fn add(&mut self, r: &DailyCost) {
        self.cost += r.cost;
        self.quantity += r.quantity;
        self.unit = match self.unit.take() {
            None => Some(Some(r.unit.clone())),
            Some(Some(u)) if u == r.unit => Some(Some(u)),
            Some(_) => Some(None),
        };
    }

    fn metrics(&self, wanted: &[(String, Metric)]) -> BTreeMap<String, MetricValue> {
        wanted
            .iter()
            .map(|(name, m)| {
                let value = match m {
                    Metric::UnblendedCost => MetricValue {
                        amount: amount(self.cost),
                        unit: "USD".into(),
                    },
                    Metric::UsageQuantity => MetricValue {
                        amount: amount(self.quantity),
                        unit: match &self.unit {
                            Some(Some(u)) => u.clone(),
                            _ => "N/A".into(),
                        },
                    },
                };
                (name.clone(), value)
            })
            .collect()
    }
}

pub struct CostExplorerApi {
    costs: Arc<dyn CostSource>,
    clock: Clock,
    page_size: usize,
}

impl CostExplorerApi {
    pub fn new(costs: Arc<dyn CostSource>) -> Self {
        Self {
            costs,
            clock: system_clock(),
            page_size: DEFAULT_PAGE_SIZE,
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Groups per GetCostAndUsage page (at least one).
    pub fn with_page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    fn today(&self) -> Date {
        (self.clock)().date()
    }

    async fn get_cost_and_usage(&self, caller: &str, body: &[u8]) -> Result<JsonReply, JsonError> {
        let req: GetCostAndUsageRequest = json::parse(body)?;
        let (start, end) = period(req.time_period.as_ref())?;
        let g = granularity(req.granularity.as_deref())?;
        if req.metrics.is_empty() {
            return Err(invalid("Metrics must contain at least one metric"));
        }
        let metrics = req
            .metrics
            .iter()
            .map(|name| Ok((name.clone(), metric(name)?)))
            .collect::<Result<Vec<_>, JsonError>>()?;
        if req.group_by.len() > 2 {
            return Err(invalid("GroupBy can have at most 2 group definitions"));
        }
        let mut dims = Vec::new();
        for d in &req.group_by {
            if d.kind.as_deref() != Some("DIMENSION") {
                return Err(invalid(format!(
                    "Group definition type {:?} is not available on this endpoint; use DIMENSION",
                    d.kind.as_deref().unwrap_or("")
                )));
            }
            let dim = Dim::parse(d.key.as_deref())?;
            if dims.contains(&dim) {
                return Err(invalid("GroupBy must not name the same dimension twice"));
            }
            dims.push(dim);
        }
        let filter = filter(req.filter.as_ref())?;
        let fp = fingerprint(caller, body);
        let offset = match &req.next_page_token {
            Some(t) => untoken(t, fp)?,
            None => 0,
        };

        let rows = self
            .costs
            .daily_costs(caller, start, end)
            .await
            .map_err(unavailable)?;
        let spans = periods(start, end, g);
        // One map per period: group keys (empty when ungrouped) to sums.
        // Keys borrow from the rows (unused places empty): no allocation per row.
        let mut sums: Vec<BTreeMap<[&str; 2], Sums>> = vec![BTreeMap::new(); spans.len()];
        for r in &rows {
            if r.day < start || r.day >= end || filter.as_ref().is_some_and(|f| !f.keeps(r)) {
                continue;
            }
            let i = match g {
                Granularity::Daily => usize::try_from((r.day - start).whole_days()).ok(),
                Granularity::Monthly => spans.iter().position(|(s, e)| r.day >= *s && r.day < *e),
            };
            let Some(slot) = i.and_then(|i| sums.get_mut(i)) else {
                continue;
            };
            let mut keys = [""; 2];
            for (k, d) in keys.iter_mut().zip(&dims) {
                *k = d.of(r);
            }
            slot.entry(keys).or_default().add(r);
        }

        // A page holds `page_size` entries: groups, or periods when ungrouped.
        let this_month = month_start(self.today());
        let mut results = Vec::new();
        let mut seen = 0usize;
        let mut next = None;
        for ((s, e), groups) in spans.iter().zip(&sums) {
            let entries = if dims.is_empty() { 1 } else { groups.len() };
            let (from, to) = (seen, seen + entries);
            seen = to;
            let first = offset.max(from);
            let last = (offset + self.page_size).min(to);
            if to > offset + self.page_size && next.is_none() {
                next = Some(offset + self.page_size);
            }
            // An empty grouped period shows on the page that reaches it.
            let shows = if entries == 0 {
                from >= offset && from < offset + self.page_size
            } else {
                first < last
            };
            if !shows {
                continue;
            }
            let (total, groups) = if dims.is_empty() {
                let sums = groups.values().next().cloned().unwrap_or_default();
                (sums.metrics(&metrics), Vec::new())
            } else {
                let page = groups
                    .iter()
                    .skip(first - from)
                    .take(last.saturating_sub(first))
                    .map(|(keys, sums)| Group {
                        keys: keys
                            .iter()
                            .take(dims.len())
                            .map(|k| (*k).to_owned())
                            .collect(),
                        metrics: sums.metrics(&metrics),
                    })
                    .collect();
                (BTreeMap::new(), page)
            };
            results.push(ResultByTime {
                time_period: DateInterval {
                    start: format_date(*s),
                    end: format_date(*e),
                },
                total,
                groups,
                // Only closed months are final.
                estimated: *e > this_month,
            });
        }
        if offset > 0 && offset >= seen.max(1) {
            return Err(JsonError::client(
                "InvalidNextTokenException",
                "The next page token is invalid.",
            ));
        }
        json::ok(
            "GetCostAndUsage",
            &GetCostAndUsageResponse {
                next_page_token: next.map(|n| token(n, fp)),
                group_definitions: req.group_by.clone(),
                results_by_time: results,
                dimension_value_attributes: Vec::new(),
            },
        )
    }

    async fn get_cost_forecast(&self, caller: &str, body: &[u8]) -> Result<JsonReply, JsonError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            time_period: Option<DateInterval>,
            metric: Option<String>,
            granularity: Option<String>,
            filter: Option<Expression>,
            prediction_interval_level: Option<i64>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Forecast {
            time_period: DateInterval,
            mean_value: String,
            prediction_interval_lower_bound: String,
            prediction_interval_upper_bound: String,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Resp {
            total: MetricValue,
            forecast_results_by_time: Vec<Forecast>,
        }
        let req: Req = json::parse(body)?;
        let (start, end) = period(req.time_period.as_ref())?;
        let g = granularity(req.granularity.as_deref())?;
        match req.metric.as_deref() {
            Some("UNBLENDED_COST") => {}
            Some(
                m @ ("BLENDED_COST"
                | "AMORTIZED_COST"
                | "NET_UNBLENDED_COST"
                | "NET_AMORTIZED_COST"
                | "USAGE_QUANTITY"
                | "NORMALIZED_USAGE_AMOUNT"),
            ) => {
                return Err(invalid(format!(
                    "Metric {m} is not available on this endpoint; use UNBLENDED_COST"
                )));
            }
            Some(other) => return Err(invalid(format!("Unsupported metric {other:?}"))),
            None => return Err(invalid("Metric is required")),
        }
        if let Some(level) = req.prediction_interval_level
            && !(51..=99).contains(&level)
        {
            return Err(invalid("PredictionIntervalLevel must be between 51 and 99"));
        }
        let today = self.today();
        if start < today {
            return Err(invalid(
                "Start date must be equal to or later than the current date to avoid mismatched historical and forecasted values",
            ));
        }
        let filter = filter(req.filter.as_ref())?;
        // The usage so far this month (from the previous month on its first
        // day, which has little to go on yet) at its daily rate.
        let mut from = month_start(today);
        if from == today {
            from = month_start(today - Duration::days(1));
        }
        let history = today + Duration::days(1);
        let rows = self
            .costs
            .daily_costs(caller, from, history)
            .await
            .map_err(unavailable)?;
        let mut per_day: BTreeMap<Date, Decimal> = BTreeMap::new();
        let mut any = false;
        for r in rows.iter().filter(|r| r.day >= from && r.day < history) {
            if filter.as_ref().is_none_or(|f| f.keeps(r)) {
                *per_day.entry(r.day).or_default() += r.cost;
                any = true;
            }
        }
        if !any {
            return Err(JsonError::client(
                "DataUnavailableException",
                "Insufficient amount of historical data to generate forecast.",
            ));
        }
        let days = (history - from).whole_days();
        let total: Decimal = per_day.values().sum();
        // Days without rows cost nothing: they count towards the low bound.
        let low = if i64::try_from(per_day.len()).unwrap_or(i64::MAX) < days {
            Decimal::ZERO
        } else {
            per_day.values().copied().min().unwrap_or_default()
        };
        let high = per_day.values().copied().max().unwrap_or_default();
        let scaled = |per: Decimal, n: i64| (per * Decimal::from(n)).round_dp(10);
        let mut out = Vec::new();
        let mut sum = Decimal::ZERO;
        for (s, e) in periods(start, end, g) {
            let n = (e - s).whole_days();
            let mean = (total * Decimal::from(n) / Decimal::from(days)).round_dp(10);
            sum += mean;
            out.push(Forecast {
                time_period: DateInterval {
                    start: format_date(s),
                    end: format_date(e),
                },
                mean_value: amount(mean),
                prediction_interval_lower_bound: amount(scaled(low, n)),
                prediction_interval_upper_bound: amount(scaled(high, n)),
            });
        }
        json::ok(
            "GetCostForecast",
            &Resp {
                total: MetricValue {
                    amount: amount(sum),
                    unit: "USD".into(),
                },
                forecast_results_by_time: out,
            },
        )
    }

    async fn get_dimension_values(
        &self,
        caller: &str,
        body: &[u8],
    ) -> Result<JsonReply, JsonError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            search_string: Option<String>,
            time_period: Option<DateInterval>,
            dimension: Option<String>,
            context: Option<String>,
            filter: Option<Expression>,
            max_results: Option<i64>,
            next_page_token: Option<String>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Value {
            value: String,
            attributes: BTreeMap<String, String>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Resp {
            dimension_values: Vec<Value>,
            return_size: usize,
            total_size: usize,
            #[serde(skip_serializing_if = "Option::is_none")]
            next_page_token: Option<String>,
        }
        let req: Req = json::parse(body)?;
        let (start, end) = period(req.time_period.as_ref())?;
        let dim = Dim::parse(req.dimension.as_deref())?;
        if let Some(c) = req.context.as_deref()
            && c != "COST_AND_USAGE"
        {
            return Err(invalid(format!(
                "Context {c} is not available on this endpoint; use COST_AND_USAGE"
            )));
        }
        let limit = match req.max_results {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
            Some(_) => return Err(invalid("MaxResults must be at least 1")),
        };
        let filter = filter(req.filter.as_ref())?;
        let fp = fingerprint(caller, body);
        let offset = match &req.next_page_token {
            Some(t) => untoken(t, fp)?,
            None => 0,
        };
        let search = req.search_string.as_deref().map(str::to_lowercase);
        let rows = self
            .costs
            .daily_costs(caller, start, end)
            .await
            .map_err(unavailable)?;
        let values: BTreeSet<&str> = rows
            .iter()
            .filter(|r| r.day >= start && r.day < end)
            .filter(|r| filter.as_ref().is_none_or(|f| f.keeps(r)))
            .map(|r| dim.of(r))
            .filter(|v| {
                search
                    .as_deref()
                    .is_none_or(|s| v.to_lowercase().contains(s))
            })
            .collect();
        let total = values.len();
        if offset > 0 && offset >= total {
            return Err(JsonError::client(
                "InvalidNextTokenException",
                "The next page token is invalid.",
            ));
        }
        let page: Vec<Value> = values
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|v| Value {
                value: v.to_owned(),
                attributes: BTreeMap::new(),
            })
            .collect();
        let next = (offset + page.len() < total).then(|| token(offset + page.len(), fp));
        json::ok(
            "GetDimensionValues",
            &Resp {
                return_size: page.len(),
                dimension_values: page,
                total_size: total,
                next_page_token: next,
            },
        )
    }
}

#[async_trait::async_trait]
impl JsonOperations for CostExplorerApi {
    fn scope_names(&self) -> &'static [&'static str] {
        &["ce"]
    }

    fn target_prefix(&self) -> &'static str {
        "AWSInsightsIndexService"
    }

    async fn call(
        &self,
        _ctx: &RequestContext,
        caller: &Principal,
        operation: &str,
        body: &[u8],
    ) -> Option<Result<JsonReply, JsonError>> {
        let account = caller.account_id.as_str();
        Some(match operation {
            "GetCostAndUsage" => self.get_cost_and_usage(account, body).await,
            "GetCostForecast" => self.get_cost_forecast(account, body).await,
            "GetDimensionValues" => self.get_dimension_values(account, body).await,
            _ => return None,
        })
    }
}

/// Parses a GetCostAndUsage request body the way the API does, for fuzzing:
/// any input must come back as a request or an error, never a panic.
pub fn check_request(body: &[u8]) -> Result<(), JsonError> {
    let req: GetCostAndUsageRequest = json::parse(body)?;
    period(req.time_period.as_ref())?;
    granularity(req.granularity.as_deref())?;
    for m in &req.metrics {
        metric(m)?;
    }
    filter(req.filter.as_ref())?;
    if let Some(t) = &req.next_page_token {
        untoken(t, 0)?;
    }
    Ok(())
}
