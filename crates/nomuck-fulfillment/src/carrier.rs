//! Carriers a center buys labels from. [`SimCarrier`] is the built-in one:
//! deterministic tracking numbers and a price by weight.

use sha2::{Digest, Sha256};

use crate::config::Address;
use crate::fees::pounds_up;

/// A bought label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub carrier_code: String,
    pub tracking_number: String,
    pub price_micro_usd: i64,
}

/// A carrier adapter: sells a label for a package.
pub trait Carrier: Send + Sync {
    fn buy_label(
        &self,
        account_id: &str,
        package_number: i64,
        weight_mg: i64,
        to: &Address,
    ) -> Label;
}

/// The simulated carrier (`NOMUCK`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SimCarrier;

pub const SIM_CARRIER_CODE: &str = "NOMUCK";

/// `NM` and 12 digits, the same for the same package: buying a label again
/// after a lost answer gives the same number.
pub fn sim_tracking_number(account_id: &str, package_number: i64) -> String {
    let digest = Sha256::digest(format!("{account_id}:{package_number}").as_bytes());
    let mut n = [0u8; 8];
    n.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
    format!("NM{:012}", u64::from_be_bytes(n) % 1_000_000_000_000)
}

impl Carrier for SimCarrier {
    fn buy_label(
        &self,
        account_id: &str,
        package_number: i64,
        weight_mg: i64,
        _to: &Address,
    ) -> Label {
        // $4.00 plus $0.50 a pound: a plausible ground rate.
        let pounds = i64::try_from(pounds_up(weight_mg)).unwrap_or(i64::MAX);
        Label {
            carrier_code: SIM_CARRIER_CODE.to_owned(),
            tracking_number: sim_tracking_number(account_id, package_number),
            price_micro_usd: 4_000_000i64.saturating_add(pounds.saturating_mul(500_000)),
        }
    }
}
