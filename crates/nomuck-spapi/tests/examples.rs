//! The request examples Amazon publishes in its models (the static sandbox cases of
//! Fulfillment Outbound 2020-07-01 and Fulfillment Inbound v0) parse into the wire types.

use nomuck_spapi::parse_body;
use nomuck_spapi::wire::inbound::{InboundShipmentRequest, ShipmentStatus};
use nomuck_spapi::wire::outbound::{
    CreateFulfillmentOrderRequest, CreateFulfillmentReturnRequest, FulfillmentAction,
    GetFulfillmentPreviewRequest, ShippingSpeedCategory, UpdateFulfillmentOrderRequest,
};

fn example(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn outbound_request_examples_parse() {
    let create: CreateFulfillmentOrderRequest =
        parse_body(&example("createFulfillmentOrder.request.json")).unwrap();
    assert_eq!(create.seller_fulfillment_order_id, "FBATestOrder-11");
    assert_eq!(
        create.shipping_speed_category,
        ShippingSpeedCategory::Standard
    );
    assert_eq!(create.fulfillment_action, Some(FulfillmentAction::Ship));
    // Fractional seconds in, whole instant kept.
    assert_eq!(
        create.displayable_order_date.to_string(),
        "2020-01-09T19:46:45.809Z"
    );
    assert!(!create.items.is_empty());

    let preview: GetFulfillmentPreviewRequest =
        parse_body(&example("getFulfillmentPreview.request.json")).unwrap();
    assert!(!preview.items.is_empty());

    let update: UpdateFulfillmentOrderRequest =
        parse_body(&example("updateFulfillmentOrder.request.json")).unwrap();
    assert_eq!(update.items.unwrap()[0].quantity.get(), 2);

    let ret: CreateFulfillmentReturnRequest =
        parse_body(&example("createFulfillmentReturn.request.json")).unwrap();
    assert_eq!(ret.items[0].amazon_shipment_id, "D4yZjWZVN");
}

#[test]
fn inbound_request_examples_parse() {
    let update: InboundShipmentRequest =
        parse_body(&example("updateInboundShipment.request.json")).unwrap();
    assert_eq!(
        update.inbound_shipment_header.shipment_status,
        ShipmentStatus::Working
    );
    // Amazon's sandbox sample ships zero units of its SKU; nomuck refuses that, naming
    // the field, and takes the same body with a real quantity.
    let raw = example("createInboundShipment.request.json");
    let err = parse_body::<InboundShipmentRequest>(&raw).unwrap_err();
    assert!(
        err.details
            .contains("InboundShipmentItems[0].QuantityShipped"),
        "{}",
        err.details
    );
    let mut value: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    value["InboundShipmentItems"][0]["QuantityShipped"] = 10.into();
    let create: InboundShipmentRequest = parse_body(value.to_string().as_bytes()).unwrap();
    assert_eq!(create.inbound_shipment_items[0].seller_sku, "34534545");
    assert_eq!(
        create.inbound_shipment_items[0]
            .release_date
            .unwrap()
            .to_string(),
        "2020-04-23"
    );
}

#[test]
fn bad_input_is_invalid_input_naming_the_field() {
    let good: serde_json::Value =
        serde_json::from_slice(&example("createFulfillmentOrder.request.json")).unwrap();
    let cases: [(&str, serde_json::Value, &str); 7] = [
        (
            "sellerFulfillmentOrderId",
            "x".repeat(41).into(),
            "sellerFulfillmentOrderId",
        ),
        (
            "sellerFulfillmentOrderId",
            "".into(),
            "sellerFulfillmentOrderId",
        ),
        (
            "shippingSpeedCategory",
            "Overnight".into(),
            "shippingSpeedCategory",
        ),
        (
            "displayableOrderDate",
            "2020-01-09T19:46:45".into(),
            "displayableOrderDate",
        ),
        ("items", serde_json::json!([]), "items"),
        (
            "items",
            serde_json::json!([{"sellerSku": "A", "sellerFulfillmentOrderItemId": "1", "quantity": 0}]),
            "items[0].quantity",
        ),
        (
            "destinationAddress",
            serde_json::json!({"name": "n"}),
            "destinationAddress",
        ),
    ];
    for (field, value, named) in cases {
        let mut body = good.clone();
        body[field] = value;
        let err =
            parse_body::<CreateFulfillmentOrderRequest>(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.code, "InvalidInput");
        assert!(err.details.contains(named), "{field}: {}", err.details);
    }
    let mut missing = good.clone();
    missing
        .as_object_mut()
        .unwrap()
        .remove("displayableOrderComment");
    let err =
        parse_body::<CreateFulfillmentOrderRequest>(missing.to_string().as_bytes()).unwrap_err();
    assert!(
        err.details.contains("displayableOrderComment"),
        "{}",
        err.details
    );
    // Unknown fields anywhere are ignored.
    let mut extra = good;
    extra["someMarketplaceKey"] = "x".into();
    extra["destinationAddress"]["extraLine"] = 7.into();
    parse_body::<CreateFulfillmentOrderRequest>(extra.to_string().as_bytes()).unwrap();
}
