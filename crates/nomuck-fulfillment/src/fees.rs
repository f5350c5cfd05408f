//! What an order costs under the operator's [`FeeSchedule`], in exact
//! micro-dollars, and the shipping weight those fees are computed from.

use crate::book::Book;
use crate::config::FeeSchedule;

/// The model's fee names.
pub const PER_ORDER: &str = "FBAPerOrderFulfillmentFee";
pub const PER_UNIT: &str = "FBAPerUnitFulfillmentFee";
/// Preview's name for the weight-based fee.
pub const TRANSPORTATION: &str = "FBATransportationFee";
/// The meter's name for the same fee when a package ships.
pub const WEIGHT_HANDLING: &str = "FBAWeightHandlingFee";

/// Milligrams per pound is 453,592.37: pounds below are `mg * 100 / 45_359_237`.
const CENTI_MG_PER_POUND: u128 = 45_359_237;

/// Whole pounds, rounded up (a package of 1 mg pays for one pound).
pub fn pounds_up(weight_mg: i64) -> u64 {
    let centi = u128::try_from(weight_mg.max(0)).unwrap_or(0) * 100;
    u64::try_from(centi.div_ceil(CENTI_MG_PER_POUND)).unwrap_or(u64::MAX)
}

/// One pound, the weight assumed for a unit whose weight was never given.
pub const DEFAULT_UNIT_WEIGHT_MG: i64 = 453_593;

/// Shipping weight of `quantity` units of `seller_sku`.
pub fn units_weight_mg(book: &Book, seller_sku: &str, quantity: u64) -> i64 {
    let unit = book
        .items
        .get(seller_sku)
        .and_then(|i| i.weight_mg)
        .filter(|w| *w > 0)
        .unwrap_or(DEFAULT_UNIT_WEIGHT_MG);
    unit.saturating_mul(i64::try_from(quantity).unwrap_or(i64::MAX))
}

/// A named fee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fee {
    pub name: &'static str,
    pub micro_usd: i64,
}

fn times(rate: i64, n: u64) -> i64 {
    rate.saturating_mul(i64::try_from(n).unwrap_or(i64::MAX))
}

pub fn per_unit(fees: &FeeSchedule, units: u64) -> i64 {
    times(fees.pick_pack_per_unit, units)
}

pub fn weight_handling(fees: &FeeSchedule, weight_mg: i64) -> i64 {
    times(fees.weight_handling_per_pound, pounds_up(weight_mg))
}

/// The fees of an order of `units` sent as shipments weighing
/// `shipment_weights_mg` (each rounded up to a pound on its own).
pub fn order_fees(fees: &FeeSchedule, units: u64, shipment_weights_mg: &[i64]) -> Vec<Fee> {
    let weight = shipment_weights_mg
        .iter()
        .fold(0i64, |sum, w| sum.saturating_add(weight_handling(fees, *w)));
    vec![
        Fee {
            name: PER_UNIT,
            micro_usd: per_unit(fees, units),
        },
        Fee {
            name: PER_ORDER,
            micro_usd: fees.order_handling_per_order,
        },
        Fee {
            name: TRANSPORTATION,
            micro_usd: weight,
        },
    ]
}

/// The meter key of a fee: unique for what incurred it, so metering twice
/// has one effect.
pub fn fee_key(account: &str, order: &str, kind: &str, package: i64) -> String {
    format!("fba-fee:{account}:{order}:{kind}:{package}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pounds_round_up() {
        assert_eq!(pounds_up(0), 0);
        assert_eq!(pounds_up(1), 1);
        assert_eq!(pounds_up(453_592), 1);
        assert_eq!(pounds_up(453_593), 2);
        assert_eq!(pounds_up(907_184), 2);
    }
}
