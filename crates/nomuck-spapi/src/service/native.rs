//! Handlers: nomuck's own `/fws/v1` reads and the item registry (centers,
//! items, inventory as of a moment, the ledger and the event stream by
//! cursor), and the conversions between domain and wire values the other
//! handler modules share (times, names, measures, ledger entries).

use std::collections::BTreeMap;

use nomuck_fulfillment::config;
use nomuck_fulfillment::events::event_id;
use nomuck_fulfillment::inventory::LedgerEntry as DomainEntry;
use nomuck_fulfillment::items::{Item as DomainItem, ItemSpec};
use nomuck_ledger::{Bucket, Quantities};
use nomuck_meta::Millis;
use nomuck_meta::fulfillment::ItemDimensions;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Call, Handled, domain_error};
use crate::date::Timestamp;
use crate::decimal::Decimal;
use crate::error::ApiError;
use crate::route::{Cursor, Operation};
use crate::wire::native::{
    Center, CenterList, Dimensions, Event, EventPage, InventoryPosition, InventorySnapshot, Item,
    ItemList, ItemWeight, LedgerEntry, LedgerPage, LengthUnit, MassUnit, ProcessingTimes,
    PutItemRequest,
};
use crate::wire::outbound::Address;

/// Page size of a native list without `limit=`.
const DEFAULT_PAGE: u32 = 100;

pub(crate) async fn handle(call: &Call<'_>, op: Operation) -> Handled {
    match op {
        Operation::ListCenters => call.ok(&CenterList {
            centers: call.f.centers().iter().map(center).collect(),
        }),
        Operation::PutItem { seller_sku } => put_item(call, &seller_sku).await,
        Operation::GetItem { seller_sku } => {
            let item = call
                .f
                .item(call.account, &seller_sku)
                .await
                .map_err(domain_error)?;
            call.ok(&item_reply(&item))
        }
        Operation::ListItems { next_token, limit } => list_items(call, next_token, limit).await,
        Operation::GetInventory { as_of } => inventory(call, as_of).await,
        Operation::ListLedger(cursor) => ledger(call, cursor).await,
        Operation::ListEvents(cursor) => events(call, cursor).await,
        other => Err(ApiError::not_found(format!(
            "{} is not a native operation",
            other.name()
        ))),
    }
}

// ---- shared conversions

/// A domain time on the wire. Every stored time is a real one, well inside
/// the representable range; the epoch stands in for one that is not.
pub(crate) fn ts(at: Millis) -> Timestamp {
    Timestamp::from_unix_millis(at).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A wire time as domain milliseconds (clamped to the domain's range).
pub(crate) fn millis(t: Timestamp) -> Millis {
    let ms = t.unix_millis();
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

/// The wire name of a serde enum value (`ShipmentStatus::CheckedIn` → `CHECKED_IN`).
pub(crate) fn wire_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A wire enum from the domain's name for the same thing. The two crates
/// share the models' names, so a miss is a domain value the wire lacks.
pub(crate) fn from_name<T: DeserializeOwned>(name: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|_| ApiError::internal(format!("'{name}' has no wire form")))
}

/// A count the wire carries as a signed 64-bit number.
pub(crate) fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `value × num / den` rounded half up, exactly, as a positive `i64`; what a
/// measure in a wire unit is in the domain's integer unit.
fn scaled(field: &str, value: &Decimal, num: i128, den: i128) -> Result<i64, ApiError> {
    let too_big = || ApiError::invalid_input(format!("{field} is too large"));
    let pow = 10i128.checked_pow(value.scale()).ok_or_else(too_big)?;
    let n = value.mantissa().checked_mul(num).ok_or_else(too_big)?;
    let d = pow.checked_mul(den).ok_or_else(too_big)?;
    let rounded = (n.checked_mul(2).ok_or_else(too_big)? + d) / (d * 2);
    let out = i64::try_from(rounded).map_err(|_| too_big())?;
    if out <= 0 {
        return Err(ApiError::invalid_input(format!(
            "{field} is too small to measure"
        )));
    }
    Ok(out)
}

/// Wire dimensions in micrometres, the domain's unit.
pub(crate) fn dimensions_um(field: &str, d: &Dimensions) -> Result<ItemDimensions, ApiError> {
    let um_per_unit = match d.unit_of_measurement {
        LengthUnit::Inches => 25_400,
        LengthUnit::Centimeters => 10_000,
    };
    let one = |name: &str, v: &Decimal| scaled(&format!("{field}.{name}"), v, um_per_unit, 1);
    Ok(ItemDimensions {
        length_um: one("length", &d.length)?,
        width_um: one("width", &d.width)?,
        height_um: one("height", &d.height)?,
    })
}

/// A wire weight in milligrams, the domain's unit.
pub(crate) fn weight_mg(field: &str, w: &ItemWeight) -> Result<i64, ApiError> {
    match w.unit {
        // 1 lb = 453,592.37 mg exactly.
        MassUnit::Pounds => scaled(&format!("{field}.value"), &w.value, 45_359_237, 100),
        MassUnit::Kilograms => scaled(&format!("{field}.value"), &w.value, 1_000_000, 1),
    }
}

/// `mantissa × 10^-scale` without trailing zeros (`25.4`, not `25.4000`).
pub(crate) fn exact(mut mantissa: i64, mut scale: u32) -> Decimal {
    while scale > 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        scale -= 1;
    }
    Decimal::new(mantissa, scale).unwrap_or_else(|| Decimal::cents(0))
}

/// Stored measures go back out in centimetres and kilograms: both are exact
/// decimals of the domain's micrometres and milligrams (inches are not).
pub(crate) fn dimensions_reply(d: ItemDimensions) -> Dimensions {
    Dimensions {
        length: exact(d.length_um, 4),
        width: exact(d.width_um, 4),
        height: exact(d.height_um, 4),
        unit_of_measurement: LengthUnit::Centimeters,
    }
}

pub(crate) fn weight_reply(mg: i64) -> ItemWeight {
    ItemWeight {
        value: exact(mg, 6),
        unit: MassUnit::Kilograms,
    }
}

pub(crate) fn address(a: &config::Address) -> Address {
    Address {
        name: a.name.clone(),
        address_line1: a.address_line1.clone(),
        address_line2: a.address_line2.clone(),
        address_line3: a.address_line3.clone(),
        city: a.city.clone(),
        district_or_county: a.district_or_county.clone(),
        state_or_region: Some(a.state_or_region.clone()).filter(|s| !s.is_empty()),
        postal_code: a.postal_code.clone(),
        country_code: a.country_code.clone(),
        phone: a.phone.clone(),
    }
}

pub(crate) fn ledger_entry(e: &DomainEntry) -> LedgerEntry {
    let m = &e.movement;
    LedgerEntry {
        seq: e.seq,
        time: ts(e.at),
        fn_sku: m.sku.clone(),
        seller_sku: e.seller_sku.clone(),
        center_id: m.center.clone(),
        from_bucket: m.from.map(|b| b.name().to_owned()),
        to_bucket: m.to.map(|b| b.name().to_owned()),
        quantity: m.quantity,
        reason: m.reason.name().to_owned(),
        reference: m.reference.clone(),
        idempotency_key: m.idempotency_key.clone(),
    }
}

/// Units per bucket (ledger names), buckets holding nothing left out.
fn buckets(q: &Quantities) -> BTreeMap<String, u64> {
    Bucket::ALL
        .into_iter()
        .map(|b| (b.name().to_owned(), q.get(b)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

// ---- operations

fn center(c: &config::Center) -> Center {
    // Hours on the wire are whole; a center configured in fractions of an
    // hour (a fast test center) shows the next whole hour.
    let hours = |h: f64| {
        if h.is_finite() && h > 0.0 {
            h.ceil().min(f64::from(u32::MAX)) as u32
        } else {
            0
        }
    };
    Center {
        center_id: c.id.clone(),
        name: c.name.clone(),
        address: address(&c.address),
        time_zone: c.time_zone.clone(),
        capacity_units_per_day: c.capacity_units_per_day,
        processing_times: ProcessingTimes {
            receive_hours: hours(c.processing.receive_hours),
            pick_pack_hours: hours(c.processing.pick_pack_hours),
        },
    }
}

pub(crate) fn item_reply(item: &DomainItem) -> Item {
    Item {
        seller_sku: item.seller_sku.clone(),
        fn_sku: item.fn_sku.clone(),
        dimensions: item.dimensions.map(dimensions_reply),
        weight: item.weight_mg.map(weight_reply),
        tracks_lots: item.tracks_lots,
        tracks_expiry: item.tracks_expiry,
        created_time: ts(item.created_at),
    }
}

async fn put_item(call: &Call<'_>, seller_sku: &str) -> Handled {
    let body: PutItemRequest = call.body()?;
    let spec = ItemSpec {
        dimensions: body
            .dimensions
            .as_ref()
            .map(|d| dimensions_um("dimensions", d))
            .transpose()?,
        weight_mg: body
            .weight
            .as_ref()
            .map(|w| weight_mg("weight", w))
            .transpose()?,
        tracks_lots: body.tracks_lots,
        tracks_expiry: body.tracks_expiry,
    };
    let item = call
        .f
        .register_item(call.account, seller_sku, spec)
        .await
        .map_err(domain_error)?;
    call.ok(&item_reply(&item))
}

/// Items in seller SKU order; the token is the last SKU of the page, hex
/// (so it needs no escaping), and never expires.
async fn list_items(call: &Call<'_>, next_token: Option<String>, limit: Option<u32>) -> Handled {
    let after = next_token
        .map(|t| {
            hex::decode(&t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ApiError::invalid_input("nextToken is not a token this service issued")
                })
        })
        .transpose()?;
    let limit = limit.unwrap_or(DEFAULT_PAGE) as usize;
    let mut items = call
        .f
        .items(call.account, after.as_deref(), limit + 1)
        .await
        .map_err(domain_error)?;
    let more = items.len() > limit;
    items.truncate(limit);
    let next_token = more
        .then(|| items.last().map(|i| hex::encode(i.seller_sku.as_bytes())))
        .flatten();
    call.ok(&ItemList {
        items: items.iter().map(item_reply).collect(),
        next_token,
    })
}

async fn inventory(call: &Call<'_>, as_of: Option<Timestamp>) -> Handled {
    let at = as_of.map_or_else(|| call.f.now(), millis);
    let snapshot = call
        .f
        .inventory_as_of(call.account, at)
        .await
        .map_err(domain_error)?;
    let inventory = snapshot
        .positions
        .iter()
        .map(|p| InventoryPosition {
            seller_sku: p.seller_sku.clone(),
            fn_sku: p.fn_sku.clone(),
            center_id: p.center_id.clone(),
            buckets: buckets(&p.quantities),
        })
        .filter(|p| !p.buckets.is_empty())
        .collect();
    call.ok(&InventorySnapshot {
        as_of: ts(snapshot.at),
        seq: snapshot.seq,
        inventory,
    })
}

async fn ledger(call: &Call<'_>, cursor: Cursor) -> Handled {
    let limit = cursor.limit.unwrap_or(DEFAULT_PAGE) as usize;
    let entries = call
        .f
        .ledger_entries(call.account, cursor.after, limit)
        .await
        .map_err(domain_error)?;
    call.ok(&LedgerPage {
        next_token: entries.last().map(|e| e.seq.to_string()),
        entries: entries.iter().map(ledger_entry).collect(),
    })
}

/// The account's stream after `after`; the cursor is the seq, so it never
/// expires.
async fn events(call: &Call<'_>, cursor: Cursor) -> Handled {
    let limit = cursor.limit.unwrap_or(DEFAULT_PAGE) as usize;
    let after = i64::try_from(cursor.after).unwrap_or(i64::MAX);
    let records = call
        .f
        .store()
        .fulfillment()
        .events_after(call.account, after, limit)
        .await
        .map_err(|e| domain_error(e.into()))?;
    let events: Vec<Event> = records
        .iter()
        .map(|e| Event {
            seq: u64::try_from(e.seq).unwrap_or(0),
            event_id: event_id(&e.account_id, e.seq),
            time: ts(e.at),
            event_type: e.event_type.clone(),
            subject: e.subject.clone(),
            payload: serde_json::from_slice(&e.payload).unwrap_or(serde_json::Value::Null),
        })
        .collect();
    call.ok(&EventPage {
        next_token: events.last().map(|e| e.seq.to_string()),
        events,
    })
}
