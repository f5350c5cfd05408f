//! Replies: every field the models mark required is present (lists as `[]`), optional
//! ones are left out when unknown, dates are ISO 8601 UTC, money is an exact decimal;
//! errors have SP-API's shape with a non-empty `details` and the request id header.

use std::task::{Context, Poll, Waker};
use std::time::Instant;

use http::StatusCode;
use http_body::Body as _;
use nomuck_http::{AuthError, ErrorCode, Rejection, RequestContext, Response};
use nomuck_spapi::wire::inventory::{
    GetInventorySummariesResponse, GetInventorySummariesResult, Granularity, InventoryDetails,
    InventorySummary, Pagination,
};
use nomuck_spapi::wire::notification::{
    FulfillmentEventType, FulfillmentOrderStatusNotification, FulfillmentOrderStatusPayload,
    Notification, NotificationMetadata,
};
use nomuck_spapi::wire::outbound::{Address, FulfillmentOrderStatus, Money, ShippingSpeedCategory};
use nomuck_spapi::wire::outbound_reply::{
    FulfillmentOrder, GetFulfillmentOrderResult, ListAllFulfillmentOrdersResult,
    PackageTrackingDetails,
};
use nomuck_spapi::wire::{Empty, Payload};
use nomuck_spapi::{ApiError, Decimal, Timestamp, error_response, render_rejection, reply};
use serde_json::{Value, json};

fn body_json(response: Response) -> Value {
    let mut body = response.into_body();
    let mut cx = Context::from_waker(Waker::noop());
    match std::pin::Pin::new(&mut body).poll_frame(&mut cx) {
        Poll::Ready(Some(Ok(frame))) => {
            serde_json::from_slice(&frame.into_data().unwrap()).unwrap()
        }
        _ => panic!("a full body is ready at once"),
    }
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn address() -> Address {
    Address {
        name: "Jane".into(),
        address_line1: "1 Main St".into(),
        address_line2: None,
        address_line3: None,
        city: Some("Seattle".into()),
        district_or_county: None,
        state_or_region: Some("WA".into()),
        postal_code: "98101".into(),
        country_code: "US".into(),
        phone: None,
    }
}

fn order() -> FulfillmentOrder {
    FulfillmentOrder {
        seller_fulfillment_order_id: "O-1".into(),
        marketplace_id: "ATVPDKIKX0DER".into(),
        displayable_order_id: "O-1".into(),
        displayable_order_date: at("2026-12-03T12:00:00-08:00"),
        displayable_order_comment: "thanks".into(),
        shipping_speed_category: ShippingSpeedCategory::Standard,
        delivery_window: None,
        destination_address: address(),
        fulfillment_action: None,
        fulfillment_policy: None,
        received_date: at("2026-12-03T20:00:01Z"),
        fulfillment_order_status: FulfillmentOrderStatus::CompletePartialled,
        status_updated_date: at("2026-12-03T20:00:01.250Z"),
        notification_emails: None,
        feature_constraints: None,
    }
}

#[test]
fn required_fields_always_present() {
    let reply = Payload::new(GetFulfillmentOrderResult {
        fulfillment_order: order(),
        fulfillment_order_items: vec![],
        fulfillment_shipments: None,
        return_items: vec![],
        return_authorizations: vec![],
    });
    let v = serde_json::to_value(&reply).unwrap();
    let p = &v["payload"];
    for list in [
        "fulfillmentOrderItems",
        "returnItems",
        "returnAuthorizations",
    ] {
        assert_eq!(p[list], json!([]), "{list}");
    }
    assert!(p.get("fulfillmentShipments").is_none());
    let o = &p["fulfillmentOrder"];
    assert_eq!(o["displayableOrderDate"], "2026-12-03T20:00:00Z");
    assert_eq!(o["statusUpdatedDate"], "2026-12-03T20:00:01.250Z");
    assert_eq!(o["fulfillmentOrderStatus"], "CompletePartialled");
    assert!(o.get("deliveryWindow").is_none() && o.get("fulfillmentPolicy").is_none());
    assert_eq!(
        o["destinationAddress"],
        json!({"name":"Jane","addressLine1":"1 Main St","city":"Seattle","stateOrRegion":"WA","postalCode":"98101","countryCode":"US"})
    );

    let list = serde_json::to_value(Payload::new(ListAllFulfillmentOrdersResult {
        next_token: None,
        fulfillment_orders: vec![],
    }))
    .unwrap();
    assert_eq!(list, json!({"payload": {"fulfillmentOrders": []}}));

    let tracking = serde_json::to_value(PackageTrackingDetails {
        package_number: 1,
        tracking_number: None,
        customer_tracking_link: None,
        carrier_code: None,
        carrier_phone_number: None,
        carrier_url: Some("https://carrier.invalid".into()),
        ship_date: None,
        estimated_arrival_date: None,
        ship_to_address: None,
        current_status: None,
        current_status_description: None,
        delivery_window: None,
        signed_for_by: None,
        tracking_events: vec![],
    })
    .unwrap();
    assert_eq!(
        tracking,
        json!({"packageNumber": 1, "carrierURL": "https://carrier.invalid", "trackingEvents": []})
    );
    assert_eq!(serde_json::to_string(&Empty {}).unwrap(), "{}");
}

#[test]
fn inventory_summaries_shape() {
    let reply = GetInventorySummariesResponse {
        payload: GetInventorySummariesResult {
            granularity: Granularity {
                granularity_type: "Marketplace".into(),
                granularity_id: "ATVPDKIKX0DER".into(),
            },
            inventory_summaries: vec![InventorySummary {
                asin: None,
                fn_sku: "X0001".into(),
                seller_sku: "SKU".into(),
                condition: "NewItem".into(),
                inventory_details: Some(InventoryDetails {
                    fulfillable_quantity: 98,
                    ..Default::default()
                }),
                last_updated_time: at("2026-12-03T20:13:02Z"),
                product_name: None,
                total_quantity: 100,
                stores: None,
            }],
        },
        pagination: Some(Pagination {
            next_token: Some("t".into()),
        }),
    };
    let v = serde_json::to_value(&reply).unwrap();
    let s = &v["payload"]["inventorySummaries"][0];
    assert_eq!(s["fnSku"], "X0001");
    assert_eq!(s["inventoryDetails"]["fulfillableQuantity"], 98);
    assert_eq!(
        s["inventoryDetails"]["unfulfillableQuantity"]["totalUnfulfillableQuantity"],
        0
    );
    assert_eq!(
        s["inventoryDetails"]["reservedQuantity"]["fcProcessingQuantity"],
        0
    );
    assert_eq!(
        s["inventoryDetails"]["researchingQuantity"]["researchingQuantityBreakdown"],
        json!([])
    );
    assert_eq!(v["pagination"]["nextToken"], "t");
}

#[test]
fn money_is_an_exact_decimal_string() {
    let fee = Money {
        currency_code: "USD".into(),
        value: Decimal::cents(150),
    };
    assert_eq!(
        serde_json::to_value(&fee).unwrap(),
        json!({"currencyCode": "USD", "value": "1.50"})
    );
    let back: Money = serde_json::from_value(json!({"currencyCode": "USD", "value": 1.5})).unwrap();
    assert_eq!(back, fee);
}

#[test]
fn notification_envelope_shape() {
    let n = Notification {
        notification_version: "1.0".into(),
        notification_type: nomuck_spapi::wire::notification::FULFILLMENT_ORDER_STATUS.into(),
        payload_version: "1.0".into(),
        event_time: at("2026-12-03T20:13:02Z"),
        payload: FulfillmentOrderStatusPayload {
            fulfillment_order_status_notification: FulfillmentOrderStatusNotification {
                seller_id: "123456789012".into(),
                event_type: FulfillmentEventType::Order,
                status_updated_date_time: at("2026-12-03T20:13:02Z"),
                seller_fulfillment_order_id: "O-1".into(),
                fulfillment_order_status: "Complete".into(),
                fulfillment_shipment: None,
                fulfillment_return_item: None,
            },
        },
        notification_metadata: NotificationMetadata {
            application_id: "nomuck".into(),
            subscription_id: "sub-1".into(),
            publish_time: at("2026-12-03T20:13:03Z"),
            notification_id: "evt-1".into(),
        },
    };
    let v = serde_json::to_value(&n).unwrap();
    assert_eq!(v["NotificationType"], "FULFILLMENT_ORDER_STATUS");
    assert_eq!(
        v["Payload"]["FulfillmentOrderStatusNotification"]["EventType"],
        "Order"
    );
    assert_eq!(v["NotificationMetadata"]["NotificationId"], "evt-1");
    assert_eq!(v["EventTime"], "2026-12-03T20:13:02Z");
}

#[test]
fn error_body_and_headers() {
    let response = error_response("REQ-1", ApiError::quota_exceeded(10.0));
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let h = response.headers();
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["x-amzn-RequestId"], "REQ-1");
    assert_eq!(h["x-amzn-RateLimit-Limit"], "10");
    assert_eq!(
        response.extensions().get::<ErrorCode>(),
        Some(&ErrorCode("QuotaExceeded"))
    );
    let v = body_json(response);
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["code"], "QuotaExceeded");
    assert!(!errors[0]["message"].as_str().unwrap().is_empty());
    assert!(!errors[0]["details"].as_str().unwrap().is_empty());
    // An empty details is never sent.
    let err = ApiError::new(StatusCode::BAD_REQUEST, "InvalidInput", "bad", "");
    assert_eq!(
        body_json(error_response("R", err))["errors"][0]["details"],
        "bad"
    );
}

#[test]
fn edge_rejections_in_sp_api_shape() {
    let ctx = RequestContext {
        request_id: "REQ-2".into(),
        principal: None,
        signed_region: None,
        server_region: "us-east-1".into(),
        remote_addr: "127.0.0.1:1".parse().unwrap(),
        received_at: Instant::now(),
        path: "/fba/outbound/2020-07-01/fulfillmentOrders".into(),
        tls: None,
    };
    let cases = [
        (
            Rejection::Auth(AuthError::UnknownAccessKey),
            StatusCode::FORBIDDEN,
            "Unauthorized",
        ),
        (
            Rejection::Auth(AuthError::SignatureMismatch {
                string_to_sign: String::new(),
                canonical_request: String::new(),
            }),
            StatusCode::FORBIDDEN,
            "InvalidSignature",
        ),
        (
            Rejection::Auth(AuthError::MalformedAuthorization("x".into())),
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
        ),
        (
            Rejection::BodyTooLarge { limit: 1024 },
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
        ),
        (
            Rejection::BadRequest("broken".into()),
            StatusCode::BAD_REQUEST,
            "InvalidInput",
        ),
        (
            Rejection::Internal("store down".into()),
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
        ),
    ];
    for (rejection, status, code) in cases {
        let response = render_rejection(&ctx, rejection);
        assert_eq!(response.status(), status, "{code}");
        assert_eq!(response.headers()["x-amzn-RequestId"], "REQ-2");
        let v = body_json(response);
        assert_eq!(v["errors"][0]["code"], code);
        assert!(!v["errors"][0]["details"].as_str().unwrap().is_empty());
    }
}

#[test]
fn success_replies_carry_the_request_id() {
    let response = reply("REQ-3", StatusCode::OK, &Payload::new(Empty {}));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-amzn-RequestId"], "REQ-3");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(body_json(response), json!({"payload": {}}));
}
