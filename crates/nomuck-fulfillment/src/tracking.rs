//! A shipped package's tracking: the carrier's scans, each a tracking event
//! on the package and a `PACKAGE_TRACKING` event in the stream.

use nomuck_meta::Millis;
use serde_json::json;

use crate::book::{Book, Tx};
use crate::config::FulfillmentConfig;
use crate::error::{FulfillmentError, Result};
use crate::events::PACKAGE_TRACKING;
use crate::order_ops::put_order;
use crate::orders::{Order, TrackingEvent, TrackingStatus};
use crate::time::iso8601;
use crate::warehouse::package_of;

/// Adds a scan to a package's tracking and says so.
#[allow(clippy::too_many_arguments)]
pub(crate) fn scan(
    tx: &mut Tx,
    account: &str,
    order: &mut Order,
    si: usize,
    pi: usize,
    status: TrackingStatus,
    at: Millis,
    place: &(String, String, String),
) {
    let Some(p) = order
        .shipments
        .get_mut(si)
        .and_then(|s| s.packages.get_mut(pi))
    else {
        return;
    };
    p.current_status = Some(status);
    p.tracking_events.push(TrackingEvent {
        event_date: at,
        event_code: status.event_code().to_owned(),
        status,
        city: place.0.clone(),
        state: place.1.clone(),
        country: place.2.clone(),
    });
    tx.event(
        PACKAGE_TRACKING,
        &p.package_number.to_string(),
        json!({
            "sellerId": account,
            "sellerFulfillmentOrderId": order.seller_fulfillment_order_id,
            "packageNumber": p.package_number,
            "trackingNumber": p.tracking_number,
            "carrierCode": p.carrier_code,
            "currentStatus": status.name(),
            "eventCode": status.event_code(),
            "eventDate": iso8601(at),
        }),
    );
}

/// A carrier's scan of a shipped package (`at`: when it happened). Scans
/// after a final one are refused.
pub fn carrier_event(
    book: &mut Book,
    tx: &mut Tx,
    config: &FulfillmentConfig,
    center: &str,
    number: i64,
    status: TrackingStatus,
    at: Millis,
) -> Result<()> {
    let (mut order, si, pi) = package_of(book, center, number)?;
    let p = order
        .shipments
        .get(si)
        .and_then(|s| s.packages.get(pi))
        .ok_or_else(|| FulfillmentError::Internal("package".into()))?;
    if p.ship_date.is_none() {
        return Err(FulfillmentError::Conflict(format!(
            "package {number} has not shipped"
        )));
    }
    if p.is_final() {
        return Err(FulfillmentError::Conflict(format!(
            "package {number} is already {}",
            p.current_status.map_or("", |s| s.name())
        )));
    }
    let a = &order.destination_address;
    let place = if status == TrackingStatus::InTransit {
        center_place(config, center)
    } else {
        (
            a.city.clone().unwrap_or_default(),
            a.state_or_region.clone(),
            a.country_code.clone(),
        )
    };
    let account = book.account_id.clone();
    scan(tx, &account, &mut order, si, pi, status, at, &place);
    if status.is_final()
        && let Some(p) = order
            .shipments
            .get_mut(si)
            .and_then(|s| s.packages.get_mut(pi))
    {
        p.due = None;
    }
    put_order(book, tx, order)
}

/// A center's city, state and country, for scans made there.
pub(crate) fn center_place(config: &FulfillmentConfig, center: &str) -> (String, String, String) {
    config.center(center).map_or_else(Default::default, |c| {
        let a = &c.address;
        (
            a.city.clone().unwrap_or_default(),
            a.state_or_region.clone(),
            a.country_code.clone(),
        )
    })
}
