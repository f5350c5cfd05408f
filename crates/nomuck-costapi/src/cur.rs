//! The Cost and Usage Report API (`X-Amz-Target:
//! AWSOrigamiServiceGatewayService.<Op>`, scope `cur`): an account defines
//! where the billing worker puts its monthly CSV report, daily.
//! PutReportDefinition, ModifyReportDefinition, DescribeReportDefinitions,
//! DeleteReportDefinition.
//!
//! A definition is billing's [`ReportTarget`] in meta's billing seam, one per
//! account (the one `nomuck bill report-bucket` sets too). Only what the
//! report really is can be asked for: a DAILY, gzipped `textORcsv` report
//! that overwrites the month's object, in a bucket of the caller's in the
//! bucket's region. Everything else AWS offers (ZIP or Parquet, HOURLY or
//! MONTHLY rows, resource IDs, Athena/Redshift/QuickSight artifacts,
//! refreshing closed months, new report versions, billing views, tags) is
//! refused with `ValidationException`, never ignored. The bucket's owner is
//! checked when the definition is set; the worker puts the report as the
//! account, so a bucket deleted later makes the put fail (retried daily).

use std::sync::Arc;

use nomuck_http::json::{self, JsonError, JsonOperations, JsonReply};
use nomuck_http::{Principal, RequestContext};
use nomuck_meta::billing::{BillingMutation, ReportTarget};
use nomuck_meta::{MetaStore, Mutation};
use serde::Deserialize;
use serde_json::{Value, json};

fn invalid(message: impl Into<String>) -> JsonError {
    JsonError::client("ValidationException", message)
}

fn internal(e: impl std::fmt::Display) -> JsonError {
    JsonError::internal("InternalErrorException", e.to_string())
}

/// The wire `ReportDefinition`, every member optional so a missing one is
/// our `ValidationException` rather than a parse error.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Definition {
    report_name: Option<String>,
    time_unit: Option<String>,
    format: Option<String>,
    compression: Option<String>,
    additional_schema_elements: Option<Vec<String>>,
    s3_bucket: Option<String>,
    s3_prefix: Option<String>,
    s3_region: Option<String>,
    #[serde(default)]
    additional_artifacts: Vec<String>,
    refresh_closed_reports: Option<bool>,
    report_versioning: Option<String>,
    billing_view_arn: Option<String>,
    // `ReportStatus` is read-only (what AWS reports about deliveries); a
    // client echoing a described definition back may send it, and it sets
    // nothing, so it is not read.
}

fn required<'a>(name: &str, v: Option<&'a str>) -> Result<&'a str, JsonError> {
    v.ok_or_else(|| invalid(format!("{name} is required")))
}

/// AWS's patterns: names of `[0-9A-Za-z!\-_.*'()]`, prefixes also `/`.
fn check_chars(name: &str, v: &str, slash: bool, empty_ok: bool) -> Result<(), JsonError> {
    let ok_char =
        |c: char| c.is_ascii_alphanumeric() || "!-_.*'()".contains(c) || (slash && c == '/');
    if (v.is_empty() && !empty_ok) || v.len() > 256 || !v.chars().all(ok_char) {
        return Err(invalid(format!("{name} {v:?} is not valid")));
    }
    Ok(())
}

fn only(name: &str, got: &str, allowed: &str, why: &str) -> Result<(), JsonError> {
    if got == allowed {
        Ok(())
    } else {
        Err(invalid(format!(
            "{name} {got} is not supported: only {allowed} ({why})"
        )))
    }
}

/// The wire `ReportDefinition` of a stored target. One set by the operator
/// is plain CSV, which no `Compression` value names, so it has none.
fn describe(t: &ReportTarget) -> Value {
    let mut d = json!({
        "ReportName": t.report_name,
        "TimeUnit": "DAILY",
        "Format": "textORcsv",
        "AdditionalSchemaElements": [],
        "S3Bucket": t.bucket,
        "S3Prefix": t.s3_prefix,
        "S3Region": t.s3_region,
        "AdditionalArtifacts": [],
        "RefreshClosedReports": false,
        "ReportVersioning": "OVERWRITE_REPORT",
    });
    if t.gzip {
        d["Compression"] = json!("GZIP");
    }
    d
}

pub struct CurApi {
    meta: Arc<dyn MetaStore>,
    /// Held from reading a definition to writing it, so two racing calls
    /// cannot both see "none yet" and both succeed (one server owns the
    /// data directory, so a lock in the process is enough).
    writes: tokio::sync::Mutex<()>,
}

impl CurApi {
    pub fn new(meta: Arc<dyn MetaStore>) -> Self {
        Self {
            meta,
            writes: tokio::sync::Mutex::new(()),
        }
    }

    /// The target `d` asks for, if this endpoint can write it for `caller`.
    async fn target(&self, caller: &Principal, d: Definition) -> Result<ReportTarget, JsonError> {
        let name = required("ReportName", d.report_name.as_deref())?;
        check_chars("ReportName", name, false, false)?;
        let unit = required("TimeUnit", d.time_unit.as_deref())?;
        only("TimeUnit", unit, "DAILY", "the report has a row per day")?;
        let format = required("Format", d.format.as_deref())?;
        only("Format", format, "textORcsv", "the report is a CSV")?;
        let compression = required("Compression", d.compression.as_deref())?;
        only(
            "Compression",
            compression,
            "GZIP",
            "the CSV is written gzipped",
        )?;
        let elements = d
            .additional_schema_elements
            .ok_or_else(|| invalid("AdditionalSchemaElements is required"))?;
        if !elements.is_empty() {
            return Err(invalid(format!(
                "AdditionalSchemaElements {elements:?} are not supported: the report has no resource columns"
            )));
        }
        if !d.additional_artifacts.is_empty() {
            return Err(invalid(format!(
                "AdditionalArtifacts {:?} are not supported",
                d.additional_artifacts
            )));
        }
        if d.refresh_closed_reports == Some(true) {
            return Err(invalid(
                "RefreshClosedReports true is not supported: a closed month's bill never changes",
            ));
        }
        if let Some(v) = d.report_versioning.as_deref() {
            only(
                "ReportVersioning",
                v,
                "OVERWRITE_REPORT",
                "each day's report replaces the month's object",
            )?;
        }
        if d.billing_view_arn.is_some() {
            return Err(invalid("BillingViewArn is not supported"));
        }
        let bucket = required("S3Bucket", d.s3_bucket.as_deref())?;
        let prefix = required("S3Prefix", d.s3_prefix.as_deref())?;
        check_chars("S3Prefix", prefix, true, true)?;
        let region = required("S3Region", d.s3_region.as_deref())?;
        // The same answer for a bucket that is missing and one of another
        // account's, so a definition reveals nothing about other accounts.
        let found = self.meta.bucket(bucket).await.map_err(internal)?;
        let b = found
            .filter(|b| b.owner == caller.account_id)
            .ok_or_else(|| {
                invalid(format!(
                    "Failed to verify customer bucket permission: {bucket} is not a bucket of this account"
                ))
            })?;
        if b.region != region {
            return Err(invalid(format!(
                "S3Region {region} is not the region of bucket {bucket} ({})",
                b.region
            )));
        }
        Ok(ReportTarget {
            bucket: bucket.to_owned(),
            report_name: name.to_owned(),
            s3_prefix: prefix.to_owned(),
            s3_region: region.to_owned(),
            gzip: true,
        })
    }

    async fn current(&self, caller: &Principal) -> Result<Option<ReportTarget>, JsonError> {
        Ok(self
            .meta
            .billing()
            .report_bucket(&caller.account_id)
            .await
            .map_err(internal)?
            .map(|r| r.target))
    }

    async fn set(&self, caller: &Principal, target: Option<ReportTarget>) -> Result<(), JsonError> {
        self.meta
            .commit(vec![Mutation::Billing(BillingMutation::SetReportBucket {
                account_id: caller.account_id.clone(),
                target,
            })])
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn put(&self, caller: &Principal, body: &[u8]) -> Result<JsonReply, JsonError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            report_definition: Option<Definition>,
            #[serde(default)]
            tags: Vec<Value>,
        }
        let req: Req = json::parse(body)?;
        if !req.tags.is_empty() {
            return Err(invalid("Tags are not supported"));
        }
        let d = req
            .report_definition
            .ok_or_else(|| invalid("ReportDefinition is required"))?;
        let target = self.target(caller, d).await?;
        let _writing = self.writes.lock().await;
        // One definition per account; a second put of the same one is
        // AWS's duplicate, a second name its limit.
        if let Some(old) = self.current(caller).await? {
            if old.report_name == target.report_name {
                return Err(JsonError::client(
                    "DuplicateReportNameException",
                    format!("A report named {} already exists", old.report_name),
                ));
            }
            return Err(JsonError::client(
                "ReportLimitReachedException",
                format!(
                    "An account has one report definition here; {} exists",
                    old.report_name
                ),
            ));
        }
        self.set(caller, Some(target)).await?;
        json::ok("PutReportDefinition", &json!({}))
    }

    async fn modify(&self, caller: &Principal, body: &[u8]) -> Result<JsonReply, JsonError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            report_name: Option<String>,
            report_definition: Option<Definition>,
        }
        let req: Req = json::parse(body)?;
        let name = required("ReportName", req.report_name.as_deref())?;
        let d = req
            .report_definition
            .ok_or_else(|| invalid("ReportDefinition is required"))?;
        if d.report_name.as_deref().is_some_and(|n| n != name) {
            return Err(invalid("A report cannot be renamed"));
        }
        let _writing = self.writes.lock().await;
        self.named(caller, name).await?;
        let target = self.target(caller, d).await?;
        self.set(caller, Some(target)).await?;
        json::ok("ModifyReportDefinition", &json!({}))
    }

    /// The caller's definition named `name`; another account's is as
    /// unknown as none.
    async fn named(&self, caller: &Principal, name: &str) -> Result<ReportTarget, JsonError> {
        self.current(caller)
            .await?
            .filter(|t| t.report_name == name)
            .ok_or_else(|| invalid(format!("There is no report named {name}")))
    }

    async fn describe_all(&self, caller: &Principal, body: &[u8]) -> Result<JsonReply, JsonError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            max_results: Option<i64>,
            next_token: Option<String>,
        }
        let req: Req = json::parse(body)?;
        if req.max_results.is_some_and(|m| !(1..=5).contains(&m)) {
            return Err(invalid("MaxResults must be between 1 and 5"));
        }
        // At most one definition: every answer is one page, so no token
        // was ever given out.
        if req.next_token.is_some() {
            return Err(invalid("NextToken is not valid"));
        }
        let defs: Vec<Value> = self.current(caller).await?.iter().map(describe).collect();
        json::ok(
            "DescribeReportDefinitions",
            &json!({ "ReportDefinitions": defs }),
        )
    }

    async fn delete(&self, caller: &Principal, body: &[u8]) -> Result<JsonReply, JsonError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            report_name: Option<String>,
        }
        let req: Req = json::parse(body)?;
        let name = required("ReportName", req.report_name.as_deref())?;
        let _writing = self.writes.lock().await;
        self.named(caller, name).await?;
        self.set(caller, None).await?;
        json::ok(
            "DeleteReportDefinition",
            &json!({ "ResponseMessage": format!("Report {name} deleted") }),
        )
    }
}

#[async_trait::async_trait]
impl JsonOperations for CurApi {
    fn scope_names(&self) -> &'static [&'static str] {
        &["cur"]
    }

    fn target_prefix(&self) -> &'static str {
        "AWSOrigamiServiceGatewayService"
    }

    async fn call(
        &self,
        _ctx: &RequestContext,
        caller: &Principal,
        operation: &str,
        body: &[u8],
    ) -> Option<Result<JsonReply, JsonError>> {
        Some(match operation {
            "PutReportDefinition" => self.put(caller, body).await,
            "ModifyReportDefinition" => self.modify(caller, body).await,
            "DescribeReportDefinitions" => self.describe_all(caller, body).await,
            "DeleteReportDefinition" => self.delete(caller, body).await,
            _ => return None,
        })
    }
}
