//! `nomuck bill …`: bills and cost reports, read from the data directory's
//! billing records. The operator's view: every account unless `--account`.
//!
//! With no server running, the directory is opened (and locked) and every
//! event metered so far is rated first, so the bill is current. While a
//! server owns the directory, its metadata database is only read (SQLite in
//! WAL mode serves readers of other processes): the server's rater is at most
//! a second or so behind the meter.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use nomuck_billing::{Bill, Billing, Decimal, Month};
use nomuck_meta::MetaStore;

use crate::config::BillingConfig;
use crate::data_dir::{Create, DataDir, OpenOutcome};

/// The billing service over the data directory, and the directory if this
/// process holds it (dropping it releases the lock).
struct Opened {
    billing: Billing,
    store: Arc<dyn MetaStore>,
    dir: Option<DataDir>,
}

async fn open(data_dir: &Path, config: &BillingConfig) -> anyhow::Result<Opened> {
    let (store, dir) = match DataDir::open(data_dir, Create::Never)? {
        OpenOutcome::Opened(dir) => (dir.store.clone(), Some(dir)),
        OpenOutcome::InUse { .. } => (crate::data_dir::open_meta_shared(data_dir)?, None),
    };
    let billing = Billing::new(store.clone(), config.book.clone(), config.options.clone());
    if dir.is_some() {
        billing.rate_pending().await?;
        billing.close_due_months().await?;
    }
    Ok(Opened {
        billing,
        store,
        dir,
    })
}

/// A 12-digit account id as given, or the id of the account so named.
async fn account_id(store: &dyn MetaStore, account: &str) -> anyhow::Result<String> {
    if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(account.to_owned());
    }
    match store.account_by_name(account).await? {
        Some(a) => Ok(a.id),
        None => bail!("no account named {account:?}"),
    }
}

fn month_or_current(month: Option<&str>) -> anyhow::Result<Month> {
    match month {
        Some(m) => Ok(Month::parse(m)?),
        None => {
            let now = time::OffsetDateTime::now_utc();
            Ok(Month {
                year: now.year(),
                month: u8::from(now.month()),
            })
        }
    }
}

fn show_decimal(d: Decimal, places: u32) -> String {
    d.round_dp(places).normalize().to_string()
}

fn print_table(bill: &Bill) {
    println!(
        "Account {}, {} ({})",
        bill.account_id,
        bill.month,
        if bill.closed { "closed" } else { "open" }
    );
    let rows: Vec<[String; 6]> = bill
        .lines
        .iter()
        .map(|l| {
            [
                l.service.clone(),
                l.usage_type.clone(),
                show_decimal(l.quantity, 6),
                l.unit.clone(),
                show_decimal(l.rate, 10),
                show_decimal(l.cost, 6),
            ]
        })
        .collect();
    let header = ["SERVICE", "USAGE TYPE", "QUANTITY", "UNIT", "RATE", "COST"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    for r in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = r
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                // Numbers right-aligned, words left.
                if matches!(i, 2 | 4 | 5) {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
    println!("TOTAL {} USD", bill.total_usd);
}

pub async fn show(
    data_dir: &Path,
    config: &BillingConfig,
    account: Option<&str>,
    month: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let month = month_or_current(month)?;
    let opened = open(data_dir, config).await?;
    let account = match account {
        Some(a) => Some(account_id(opened.store.as_ref(), a).await?),
        None => None,
    };
    let bills = match &account {
        Some(a) => vec![opened.billing.bill(a, month).await?],
        None => opened.billing.bills(None, month).await?,
    };
    if json {
        let text = match (&account, bills.first()) {
            (Some(_), Some(bill)) => serde_json::to_string_pretty(bill)?,
            _ => serde_json::to_string_pretty(&bills)?,
        };
        println!("{text}");
        return Ok(());
    }
    if bills.is_empty() {
        println!("No usage in {month}.");
    }
    for (i, bill) in bills.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print_table(bill);
    }
    Ok(())
}

pub async fn report(
    data_dir: &Path,
    config: &BillingConfig,
    account: Option<&str>,
    month: &str,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let month = Month::parse(month)?;
    let opened = open(data_dir, config).await?;
    let account = match account {
        Some(a) => Some(account_id(opened.store.as_ref(), a).await?),
        None => None,
    };
    let csv = opened.billing.report_csv(account.as_deref(), month).await?;
    match out {
        Some(path) => std::fs::write(&path, csv)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().write_all(csv.as_bytes())?,
    }
    Ok(())
}

/// Sets (or clears) the bucket an account's daily cost report is put into.
/// A write: only with no server holding the data directory.
pub async fn set_report_bucket(
    data_dir: &Path,
    config: &BillingConfig,
    account: &str,
    bucket: Option<&str>,
) -> anyhow::Result<()> {
    let opened = open(data_dir, config).await?;
    if opened.dir.is_none() {
        bail!(
            "a server is using data directory {}; stop it to change report buckets",
            data_dir.display()
        );
    }
    let account = account_id(opened.store.as_ref(), account).await?;
    opened.billing.set_report_bucket(&account, bucket).await?;
    match bucket {
        Some(b) => println!(
            "account {account}: the month's cost report is put daily into s3://{b}/{}",
            nomuck_billing::report_key(
                &nomuck_meta::billing::ReportTarget::plain(b),
                month_or_current(None)?
            )
        ),
        None => println!("account {account}: no report bucket"),
    }
    Ok(())
}
