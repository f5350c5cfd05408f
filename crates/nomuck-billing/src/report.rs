//! The cost and usage report: one CSV row per account, day and line, as a
//! spreadsheet opens it (RFC 4180: comma-separated, CRLF, fields quoted when
//! they hold a comma, a quote or a line break).

use nomuck_meta::Mutation;
use nomuck_meta::billing::BillingMutation;

use crate::calendar::day_of;
use crate::{Billing, BillingError, Month};

/// Where an account's reports are put: the binary writes them through the
/// storage service's normal object put, as the account.
#[async_trait::async_trait]
pub trait ReportSink: Send + Sync {
    async fn put(
        &self,
        account_id: &str,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> Result<(), String>;
}

/// The object key of a month's report in the account's bucket.
pub fn report_key(month: Month) -> String {
    format!("nomuck-cost-reports/{month}.csv")
}

pub const HEADER: &str = "account,service,usage type,operation,start,end,quantity,unit,rate,cost";

fn field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

impl Billing {
    /// The report of `month` for one account, or every account (the admin's).
    pub async fn report_csv(
        &self,
        account: Option<&str>,
        month: Month,
    ) -> Result<String, BillingError> {
        let mut rows = self.month_daily(account, month).await?;
        rows.sort_by(|(a, x), (b, y)| {
            (a, x.day, &x.service, &x.usage_type, &x.operation).cmp(&(
                b,
                y.day,
                &y.service,
                &y.usage_type,
                &y.operation,
            ))
        });
        let mut out = String::from(HEADER);
        out.push_str("\r\n");
        for (account, d) in rows {
            let next = d.day.next_day().unwrap_or(d.day);
            let values = [
                account,
                d.service,
                d.usage_type,
                d.operation,
                format!("{}T00:00:00Z", d.day),
                format!("{next}T00:00:00Z"),
                d.quantity.to_string(),
                d.unit,
                d.rate.to_string(),
                d.cost.to_string(),
            ];
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                field(&mut out, v);
            }
            out.push_str("\r\n");
        }
        Ok(out)
    }
}

impl Billing {
    /// Sets (or with `None` clears) the bucket `account_id`'s reports go to.
    pub async fn set_report_bucket(
        &self,
        account_id: &str,
        bucket: Option<&str>,
    ) -> Result<(), BillingError> {
        self.store
            .commit(vec![Mutation::Billing(BillingMutation::SetReportBucket {
                account_id: account_id.to_owned(),
                bucket: bucket.map(str::to_owned),
            })])
            .await?;
        Ok(())
    }

    /// Once per UTC day per account with a report bucket, puts the report of
    /// the month so far, and of yesterday's month when that was another (its
    /// last day complete), into the bucket. A put that fails is tried again
    /// the next round. The number of reports put.
    pub async fn write_due_reports(&self, sink: &dyn ReportSink) -> Result<usize, BillingError> {
        let today = day_of(self.now());
        let mut written = 0;
        for rb in self.store.billing().report_buckets().await? {
            if rb.written_day == Some(today) {
                continue;
            }
            let mut months = vec![Month::of_day(today - 1)?, Month::of_day(today)?];
            months.dedup();
            let mut ok = true;
            for month in months {
                let csv = self.report_csv(Some(&rb.account_id), month).await?;
                let key = report_key(month);
                if let Err(e) = sink
                    .put(&rb.account_id, &rb.bucket, &key, csv.into_bytes())
                    .await
                {
                    tracing::warn!(account = %rb.account_id, bucket = %rb.bucket, %key, error = %e, "billing: cannot write the cost report");
                    ok = false;
                    break;
                }
                written += 1;
            }
            if ok {
                self.store
                    .commit(vec![Mutation::Billing(BillingMutation::ReportWritten {
                        account_id: rb.account_id,
                        day: today,
                    })])
                    .await?;
            }
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fields_are_quoted_when_needed() {
        let mut s = String::new();
        super::field(&mut s, "a,\"b\"");
        assert_eq!(s, "\"a,\"\"b\"\"\"");
    }
}
