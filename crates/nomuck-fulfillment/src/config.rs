//! What the operator configures: the centers, the fee schedule and the
//! simulated center. Deserializable so the binary embeds it in its TOML file
//! (`[fulfillment]`); the defaults are the embedded ones.

use serde::{Deserialize, Serialize};

/// A postal address (SP-API `Address` fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Address {
    pub name: String,
    pub address_line1: String,
    pub address_line2: Option<String>,
    pub address_line3: Option<String>,
    pub city: Option<String>,
    pub district_or_county: Option<String>,
    pub state_or_region: String,
    pub postal_code: String,
    pub country_code: String,
    pub phone: Option<String>,
}

/// How long a center takes for each step, in hours of its clock (the
/// simulator divides them by its speed factor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "snake_case")]
pub struct ProcessingTimes {
    /// Dock to fulfillable: check-in, receiving, put-away.
    pub receive_hours: f64,
    /// Order accepted to package handed to the carrier.
    pub pick_pack_hours: f64,
    /// Seller's "shipped" to arrival at the dock.
    pub inbound_transit_hours: f64,
}

impl Default for ProcessingTimes {
    fn default() -> Self {
        Self {
            receive_hours: 24.0,
            pick_pack_hours: 4.0,
            inbound_transit_hours: 48.0,
        }
    }
}

/// One fulfillment center.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "snake_case")]
pub struct Center {
    pub id: String,
    pub name: String,
    pub address: Address,
    /// IANA name (`America/Los_Angeles`), shown to clients.
    pub time_zone: String,
    /// UTC offset in minutes, for ship-date arithmetic.
    pub utc_offset_minutes: i32,
    /// Units the center can ship per day.
    pub capacity_units_per_day: u64,
    pub processing: ProcessingTimes,
    /// Whether the built-in simulated operator runs this center.
    pub simulated: bool,
    /// Accounts allowed on this center's operations API (its staff).
    pub operators: Vec<String>,
}

impl Default for Center {
    fn default() -> Self {
        Self {
            id: "SIM1".into(),
            name: "nomuck simulated fulfillment center".into(),
            address: Address {
                name: "SIM1".into(),
                address_line1: "1 Simulation Way".into(),
                city: Some("Seattle".into()),
                state_or_region: "WA".into(),
                postal_code: "98101".into(),
                country_code: "US".into(),
                ..Address::default()
            },
            time_zone: "America/Los_Angeles".into(),
            utc_offset_minutes: -480,
            capacity_units_per_day: 1_000_000,
            processing: ProcessingTimes::default(),
            simulated: true,
            operators: Vec::new(),
        }
    }
}

/// Fees in micro-dollars (exact integers: no floating point where money is
/// held). The defaults are FBA's early schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "snake_case")]
pub struct FeeSchedule {
    pub order_handling_per_order: i64,
    pub pick_pack_per_unit: i64,
    /// Per pound of outbound shipping weight, each package rounded up to a
    /// whole pound.
    pub weight_handling_per_pound: i64,
    /// Per cubic foot per month, charged by the day (the month's rate over
    /// its number of days).
    pub storage_per_cubic_foot_month: i64,
}

impl Default for FeeSchedule {
    fn default() -> Self {
        Self {
            order_handling_per_order: 1_000_000,
            pick_pack_per_unit: 500_000,
            weight_handling_per_pound: 400_000,
            storage_per_cubic_foot_month: 450_000,
        }
    }
}

/// Faults the simulator injects, each a probability in [0, 1], chosen by a
/// deterministic hash of the unit or package it concerns (so a run is
/// reproducible and a retry decides the same).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "snake_case")]
pub struct Scenarios {
    pub damaged_on_receipt: f64,
    pub short_pick: f64,
    pub carrier_delay: f64,
    pub lost_package: f64,
    pub customer_return: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "snake_case")]
pub struct SimulatorConfig {
    pub enabled: bool,
    /// How much faster than real time the simulated centers work: an hour of
    /// processing takes `3600 / speed` seconds.
    pub speed: f64,
    /// How often the simulator looks for due work, in milliseconds.
    pub tick_ms: u64,
    /// Days a package takes from ship to delivery, by speed category.
    pub transit_days_standard: u32,
    pub transit_days_expedited: u32,
    pub transit_days_priority: u32,
    pub scenarios: Scenarios,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            speed: 1.0,
            tick_ms: 200,
            transit_days_standard: 5,
            transit_days_expedited: 2,
            transit_days_priority: 1,
            scenarios: Scenarios::default(),
        }
    }
}

/// The whole fulfillment configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "snake_case")]
pub struct FulfillmentConfig {
    pub centers: Vec<Center>,
    pub fees: FeeSchedule,
    pub simulator: SimulatorConfig,
    /// Requests per second each account may make to the fulfillment API (a
    /// burst of twice as many is let through); beyond, 429 `QuotaExceeded`.
    /// Generous on purpose: SP-API's own limits are what its users complain of.
    pub rate_limit_per_second: f64,
}

impl Default for FulfillmentConfig {
    fn default() -> Self {
        Self {
            centers: vec![Center::default()],
            fees: FeeSchedule::default(),
            simulator: SimulatorConfig::default(),
            rate_limit_per_second: 1000.0,
        }
    }
}

impl FulfillmentConfig {
    pub fn center(&self, id: &str) -> Option<&Center> {
        self.centers.iter().find(|c| c.id == id)
    }
}
