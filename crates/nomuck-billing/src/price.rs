//! The price book: versions of rates, each effective from a UTC day. A day is
//! rated at the version in effect on it, so a new version changes nothing
//! before its effective date (and closed months are frozen anyway).
//!
//! The embedded book is Amazon's of 2006: S3 storage $0.15 per GB-month, data
//! transfer out $0.20 per GB (in free), $0.01 per 1,000 PUT/COPY/POST/LIST and
//! per 10,000 GET and other requests, EC2 $0.10 per m1.small instance-hour;
//! KMS (which did not exist in 2006) at today's $0.03 per 10,000 requests.
//! Other instance types cost the m1.small rate times their size's
//! normalization factor (AWS's own: nano 0.25, micro 0.5, small 1, medium 2,
//! large 4, xlarge 8, Nxlarge 8N), unless a version names their rate.
//!
//! Operators load a TOML file (`[billing] price_book_file`):
//!
//! ```toml
//! [[version]]
//! effective = "2006-03-14"          # the embedded rates unless named here
//!
//! [[version]]
//! effective = "2027-01-01"
//! storage_gb_month = "0.125"        # amounts are strings: exact decimals
//! [version.instance_hour_by_type]
//! "m5.large" = "0.38"
//! ```
//!
//! Each version starts from the one before it (the first from the embedded
//! rates), so a version names only what it changes.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;
use time::Date;

use crate::BillingError;
use crate::calendar::{date_of, day_of_date};

/// Rates, each per unit of its line (see [`crate::lines`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rates {
    pub storage_gb_month: Decimal,
    pub transfer_out_gb: Decimal,
    pub requests_tier1_per_1000: Decimal,
    pub requests_tier2_per_10000: Decimal,
    /// KMS cryptographic requests.
    pub kms_requests_per_10000: Decimal,
    /// An m1.small instance-hour.
    pub instance_hour: Decimal,
    /// Rates of instance types priced on their own (`m5.large` → per hour).
    pub instance_hour_by_type: BTreeMap<String, Decimal>,
}

impl Rates {
    /// Amazon's prices of 2006.
    pub fn aws_2006() -> Self {
        Self {
            storage_gb_month: Decimal::new(15, 2),
            transfer_out_gb: Decimal::new(20, 2),
            requests_tier1_per_1000: Decimal::new(1, 2),
            requests_tier2_per_10000: Decimal::new(1, 2),
            kms_requests_per_10000: Decimal::new(3, 2),
            instance_hour: Decimal::new(10, 2),
            instance_hour_by_type: BTreeMap::new(),
        }
    }

    /// An hour of `instance_type`; `None` for a size nomuck cannot price.
    pub fn instance_type_hour(&self, instance_type: &str) -> Option<Decimal> {
        if let Some(r) = self.instance_hour_by_type.get(instance_type) {
            return Some(*r);
        }
        normalization_factor(instance_type).map(|f| self.instance_hour * f)
    }
}

/// AWS's normalization factor of an instance size (small = 1).
pub fn normalization_factor(instance_type: &str) -> Option<Decimal> {
    let size = instance_type.rsplit_once('.').map(|(_, s)| s)?;
    Some(match size {
        "nano" => Decimal::new(25, 2),
        "micro" => Decimal::new(5, 1),
        "small" => Decimal::ONE,
        "medium" => Decimal::TWO,
        "large" => Decimal::new(4, 0),
        "xlarge" => Decimal::new(8, 0),
        other => {
            let n: u32 = other.strip_suffix("xlarge")?.parse().ok()?;
            Decimal::from(n) * Decimal::new(8, 0)
        }
    })
}

fn unreachable_rates() -> &'static Rates {
    static R: std::sync::OnceLock<Rates> = std::sync::OnceLock::new();
    R.get_or_init(Rates::aws_2006)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceVersion {
    pub effective: Date,
    pub rates: Rates,
}

/// Versions by effective date, at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceBook {
    versions: Vec<PriceVersion>,
}

impl Default for PriceBook {
    /// The 2006 rates, effective since S3 opened (2006-03-14).
    fn default() -> Self {
        Self {
            versions: vec![PriceVersion {
                effective: time::macros::date!(2006 - 03 - 14),
                rates: Rates::aws_2006(),
            }],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBook {
    version: Vec<FileVersion>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileVersion {
    effective: String,
    storage_gb_month: Option<String>,
    transfer_out_gb: Option<String>,
    requests_tier1_per_1000: Option<String>,
    requests_tier2_per_10000: Option<String>,
    kms_requests_per_10000: Option<String>,
    instance_hour: Option<String>,
    #[serde(default)]
    instance_hour_by_type: BTreeMap<String, String>,
}

fn amount(field: &str, text: &str) -> Result<Decimal, BillingError> {
    let d = Decimal::from_str(text.trim())
        .map_err(|e| BillingError::PriceBook(format!("{field} = {text:?}: {e}")))?;
    if d.is_sign_negative() {
        return Err(BillingError::PriceBook(format!(
            "{field} = {text:?} is negative"
        )));
    }
    Ok(d)
}

impl PriceBook {
    pub fn new(mut versions: Vec<PriceVersion>) -> Result<Self, BillingError> {
        versions.sort_by_key(|v| v.effective);
        if versions.is_empty() {
            return Err(BillingError::PriceBook("no version".into()));
        }
        if versions
            .windows(2)
            .any(|w| matches!(w, [a, b] if a.effective == b.effective))
        {
            return Err(BillingError::PriceBook(
                "two versions share an effective date".into(),
            ));
        }
        Ok(Self { versions })
    }

    /// Parses the TOML format described in the module docs.
    pub fn from_toml(text: &str) -> Result<Self, BillingError> {
        let file: FileBook =
            toml::from_str(text).map_err(|e| BillingError::PriceBook(e.to_string()))?;
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let mut parsed: Vec<(Date, FileVersion)> = Vec::new();
        for v in file.version {
            let effective = Date::parse(v.effective.trim(), format).map_err(|e| {
                BillingError::PriceBook(format!("effective = {:?}: {e}", v.effective))
            })?;
            parsed.push((effective, v));
        }
        parsed.sort_by_key(|(d, _)| *d);
        let mut rates = Rates::aws_2006();
        let mut versions = Vec::new();
        for (effective, v) in parsed {
            let set = |slot: &mut Decimal, name: &str, value: &Option<String>| {
                if let Some(text) = value {
                    *slot = amount(name, text)?;
                }
                Ok::<(), BillingError>(())
            };
            set(
                &mut rates.storage_gb_month,
                "storage_gb_month",
                &v.storage_gb_month,
            )?;
            set(
                &mut rates.transfer_out_gb,
                "transfer_out_gb",
                &v.transfer_out_gb,
            )?;
            set(
                &mut rates.requests_tier1_per_1000,
                "requests_tier1_per_1000",
                &v.requests_tier1_per_1000,
            )?;
            set(
                &mut rates.requests_tier2_per_10000,
                "requests_tier2_per_10000",
                &v.requests_tier2_per_10000,
            )?;
            set(
                &mut rates.kms_requests_per_10000,
                "kms_requests_per_10000",
                &v.kms_requests_per_10000,
            )?;
            set(&mut rates.instance_hour, "instance_hour", &v.instance_hour)?;
            for (t, text) in &v.instance_hour_by_type {
                rates.instance_hour_by_type.insert(
                    t.clone(),
                    amount(&format!("instance_hour_by_type.{t}"), text)?,
                );
            }
            versions.push(PriceVersion {
                effective,
                rates: rates.clone(),
            });
        }
        Self::new(versions)
    }

    pub fn versions(&self) -> &[PriceVersion] {
        &self.versions
    }

    /// Index of the version in effect on `day` (the first version before it begins).
    pub fn version_on(&self, day: i64) -> usize {
        let idx = match date_of(day) {
            Ok(d) => self
                .versions
                .partition_point(|v| v.effective <= d)
                .saturating_sub(1),
            Err(_) if day < 0 => 0,
            Err(_) => self.versions.len(),
        };
        idx.min(self.versions.len().saturating_sub(1))
    }

    /// The rates in effect on `day`.
    pub fn rates_on(&self, day: i64) -> &Rates {
        self.rates_of(self.version_on(day))
    }

    pub fn rates_of(&self, version: usize) -> &Rates {
        match self.versions.get(version).or(self.versions.last()) {
            Some(v) => &v.rates,
            // `new` refuses an empty book.
            None => unreachable_rates(),
        }
    }

    /// First day a version takes effect (for tests and reports).
    pub fn effective_days(&self) -> Vec<i64> {
        self.versions
            .iter()
            .map(|v| day_of_date(v.effective))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_price_relative_to_small() {
        let r = Rates::aws_2006();
        let hour = |t: &str| r.instance_type_hour(t).unwrap().to_string();
        assert_eq!(hour("m1.small"), "0.10");
        assert_eq!(hour("t3.nano"), "0.0250");
        assert_eq!(hour("t2.micro"), "0.050");
        assert_eq!(hour("m5.large"), "0.40");
        assert_eq!(hour("m5.xlarge"), "0.80");
        assert_eq!(hour("m5.2xlarge"), "1.60");
        assert_eq!(r.instance_type_hour("weird"), None);
    }

    #[test]
    fn versions_inherit_and_take_effect_on_their_day() {
        let book = PriceBook::from_toml(
            r#"
            [[version]]
            effective = "2027-01-01"
            storage_gb_month = "0.125"
            [version.instance_hour_by_type]
            "m5.large" = "0.38"

            [[version]]
            effective = "2006-03-14"
            "#,
        )
        .unwrap();
        let jan1 = day_of_date(time::macros::date!(2027 - 01 - 01));
        assert_eq!(book.rates_on(jan1 - 1).storage_gb_month.to_string(), "0.15");
        assert_eq!(book.rates_on(jan1).storage_gb_month.to_string(), "0.125");
        assert_eq!(book.rates_on(jan1).transfer_out_gb.to_string(), "0.20");
        assert_eq!(
            book.rates_on(jan1)
                .instance_type_hour("m5.large")
                .unwrap()
                .to_string(),
            "0.38"
        );
        assert!(
            PriceBook::from_toml(
                "[[version]]\neffective = \"2027-01-01\"\nstorage_gb_month = \"-1\""
            )
            .is_err()
        );
        assert!(PriceBook::from_toml("[[version]]\neffective = \"soon\"").is_err());
        assert!(PriceBook::from_toml("version = []").is_err());
    }
}
