//! The cost and usage report: one CSV row per account, day and line, as a
//! spreadsheet opens it (RFC 4180: comma-separated, CRLF, fields quoted when
//! they hold a comma, a quote or a line break).

use crate::{Billing, BillingError, Month};

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

#[cfg(test)]
mod tests {
    #[test]
    fn fields_are_quoted_when_needed() {
        let mut s = String::new();
        super::field(&mut s, "a,\"b\"");
        assert_eq!(s, "\"a,\"\"b\"\"\"");
    }
}
