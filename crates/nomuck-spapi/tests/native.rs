//! nomuck's own `/fws/v1` bodies: items and the warehouse operations parse, and refuse
//! bad values naming the field.

use nomuck_spapi::parse_body;
use nomuck_spapi::wire::native::{InboundStatusUpdate, LengthUnit, PutItemRequest};
use nomuck_spapi::wire::warehouse::{
    AdjustmentRequest, Condition, CycleCountRequest, PackRequest, PickConfirmation, ReceiptRequest,
};

fn refuse<T: serde::de::DeserializeOwned + nomuck_spapi::Validate + std::fmt::Debug>(
    body: &str,
    named: &str,
) {
    let err = parse_body::<T>(body.as_bytes()).unwrap_err();
    assert_eq!(err.code, "InvalidInput");
    assert!(err.details.contains(named), "{body}: {}", err.details);
}

#[test]
fn items() {
    let item: PutItemRequest = parse_body(
        br#"{"dimensions":{"length":10,"width":"4.5","height":2.25,"unitOfMeasurement":"inches"},
            "weight":{"value":1.2,"unit":"pounds"},"tracksLots":true}"#,
    )
    .unwrap();
    let dims = item.dimensions.unwrap();
    assert_eq!(dims.unit_of_measurement, LengthUnit::Inches);
    assert_eq!(dims.height.to_string(), "2.25");
    assert!(item.tracks_lots && !item.tracks_expiry);
    // An SKU may be registered with nothing but its name.
    assert_eq!(
        parse_body::<PutItemRequest>(b"").unwrap(),
        PutItemRequest::default()
    );
    refuse::<PutItemRequest>(r#"{"weight":{"value":0,"unit":"pounds"}}"#, "weight.value");
    refuse::<PutItemRequest>(r#"{"weight":{"value":1,"unit":"stone"}}"#, "weight.unit");
    refuse::<PutItemRequest>(
        r#"{"dimensions":{"length":1,"width":1,"height":-1,"unitOfMeasurement":"inches"}}"#,
        "dimensions.height",
    );
    parse_body::<InboundStatusUpdate>(br#"{"status":"SHIPPED"}"#).unwrap();
    refuse::<InboundStatusUpdate>(r#"{"status":"CLOSED"}"#, "status");
}

#[test]
fn warehouse_operations() {
    let receipt: ReceiptRequest = parse_body(
        br#"{"shipmentId":"FBA1","boxes":[{"boxId":"B1","items":[
            {"sellerSku":"A","quantity":98,"condition":"Sellable"},
            {"sellerSku":"A","quantity":2,"condition":"WarehouseDamaged","expiry":"2027-01-31"}]}]}"#,
    )
    .unwrap();
    assert_eq!(
        receipt.boxes[0].items[1].condition,
        Condition::WarehouseDamaged
    );
    assert!(!receipt.close);
    refuse::<ReceiptRequest>(
        r#"{"shipmentId":"FBA1","boxes":[{"boxId":"B1","items":[{"sellerSku":"A","quantity":1,"condition":"Wet"}]}]}"#,
        "boxes[0].items[0].condition",
    );
    refuse::<ReceiptRequest>(
        r#"{"shipmentId":"FBA1","boxes":[{"boxId":"B1","items":[]}]}"#,
        "boxes[0].items",
    );
    // A short pick may pick nothing; a negative count is refused.
    assert_eq!(
        parse_body::<PickConfirmation>(br#"{"pickedQuantity":0}"#)
            .unwrap()
            .picked_quantity
            .get(),
        0
    );
    refuse::<PickConfirmation>(r#"{"pickedQuantity":-1}"#, "pickedQuantity");
    refuse::<CycleCountRequest>(
        r#"{"sellerSku":"A","countedQuantity":3,"location":{"zone":"A","aisle":"1","bay":"2","level":"","bin":"4"}}"#,
        "location.level",
    );
    refuse::<AdjustmentRequest>(
        r#"{"sellerSku":"A","quantity":1,"reason":"found","idempotencyKey":"k"}"#,
        "fromBucket",
    );
    parse_body::<AdjustmentRequest>(
        br#"{"sellerSku":"A","toBucket":"FULFILLABLE","quantity":1,"reason":"found","idempotencyKey":"k"}"#,
    )
    .unwrap();
    refuse::<PackRequest>(
        r#"{"sellerFulfillmentOrderId":"O","items":[{"sellerSku":"A","quantity":1}],
            "weight":{"value":1,"unit":"pounds"},"dimensions":{"length":1,"width":1,"height":1,"unitOfMeasurement":"feet"}}"#,
        "dimensions.unitOfMeasurement",
    );
}
