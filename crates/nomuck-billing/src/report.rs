//! The cost and usage report: one CSV row per account, day and line, as a
//! spreadsheet opens it (RFC 4180: comma-separated, CRLF, fields quoted when
//! they hold a comma, a quote or a line break).

use nomuck_meta::Mutation;
use nomuck_meta::billing::{BillingMutation, ReportTarget};

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

/// The object key of a month's report in the account's bucket:
/// `{prefix}/{name}/{YYYY-MM}.csv` (`.csv.gz` when gzipped; without a prefix
/// `{name}/{YYYY-MM}.csv`, which for the operator's default name is the
/// `nomuck-cost-reports/YYYY-MM.csv` of `nomuck bill report-bucket`).
pub fn report_key(target: &ReportTarget, month: Month) -> String {
    let prefix = target.s3_prefix.trim_end_matches('/');
    let ext = if target.gzip { "csv.gz" } else { "csv" };
    if prefix.is_empty() {
        format!("{}/{month}.{ext}", target.report_name)
    } else {
        format!("{prefix}/{}/{month}.{ext}", target.report_name)
    }
}

/// `data` as a gzip member (RFC 1952) of stored, uncompressed deflate
/// blocks: what any gunzip opens, without a compressor. The reports are
/// small, so saving bytes is not worth a dependency.
pub fn gzip_stored(data: &[u8]) -> Vec<u8> {
    const MAX_BLOCK: usize = 65_535;
    let mut out = Vec::with_capacity(data.len() + data.len() / MAX_BLOCK * 5 + 23);
    // Magic, deflate, no flags, no mtime, no extra flags, OS unknown.
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    let mut chunks = data.chunks(MAX_BLOCK).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        // BFINAL on the last block, BTYPE 00 (stored); LEN and its complement.
        out.push(u8::from(last));
        let len = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    // ISIZE is the length modulo 2^32 by definition.
    #[allow(clippy::cast_possible_truncation)]
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
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
    /// Sets (or with `None` clears) the bucket `account_id`'s reports go to,
    /// under the operator's default name ([`ReportTarget::plain`]).
    pub async fn set_report_bucket(
        &self,
        account_id: &str,
        bucket: Option<&str>,
    ) -> Result<(), BillingError> {
        self.store
            .commit(vec![Mutation::Billing(BillingMutation::SetReportBucket {
                account_id: account_id.to_owned(),
                target: bucket.map(ReportTarget::plain),
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
                let key = report_key(&rb.target, month);
                let body = if rb.target.gzip {
                    gzip_stored(csv.as_bytes())
                } else {
                    csv.into_bytes()
                };
                let bucket = &rb.target.bucket;
                if let Err(e) = sink.put(&rb.account_id, bucket, &key, body).await {
                    tracing::warn!(account = %rb.account_id, %bucket, %key, error = %e, "billing: cannot write the cost report");
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
    use super::*;

    #[test]
    fn keys_follow_the_definition() {
        let month = Month::parse("2026-12").unwrap();
        assert_eq!(
            report_key(&ReportTarget::plain("b"), month),
            "nomuck-cost-reports/2026-12.csv"
        );
        let t = ReportTarget {
            report_name: "costs".into(),
            s3_prefix: "reports/".into(),
            gzip: true,
            ..ReportTarget::plain("b")
        };
        assert_eq!(report_key(&t, month), "reports/costs/2026-12.csv.gz");
    }

    #[test]
    fn gzip_stored_is_valid_gzip() {
        // Checked against the format by hand: header, one final stored
        // block, CRC-32 and length. (gunzip itself reads it in the e2e test.)
        let gz = gzip_stored(b"abc");
        assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
        assert_eq!(&gz[10..15], &[1, 3, 0, 0xfc, 0xff]);
        assert_eq!(&gz[15..18], b"abc");
        assert_eq!(&gz[18..22], &0x3524_41c2_u32.to_le_bytes());
        assert_eq!(&gz[22..], &3_u32.to_le_bytes());
        // Large input spans several blocks, only the last one final.
        let big = vec![b'x'; 70_000];
        let gz = gzip_stored(&big);
        assert_eq!(gz.len(), 10 + 5 + 65_535 + 5 + 4_465 + 8);
        assert_eq!(gz[10], 0);
        assert_eq!(gz[10 + 5 + 65_535], 1);
        assert_eq!(gzip_stored(b"")[10..15], [1, 0, 0, 0xff, 0xff]);
    }

    #[test]
    fn fields_are_quoted_when_needed() {
        let mut s = String::new();
        super::field(&mut s, "a,\"b\"");
        assert_eq!(s, "\"a,\"\"b\"\"\"");
    }
}
