//! The outbound API end to end below HTTP: a real `Fulfillment` over SQLite
//! in a temp dir, requests through `ServiceApi::handle` as an authenticated
//! account, replies checked as a client sees them (status, SP-API body).

mod common;

use std::sync::Arc;

use http::{Method, StatusCode};
use nomuck_fulfillment::items::ItemSpec;
use nomuck_fulfillment::orders::ReturnCondition;
use nomuck_fulfillment::{Fulfillment, FulfillmentConfig};
use nomuck_ledger::{Bucket, Movement, Reason};
use nomuck_spapi::SpApi;
use serde_json::{Value, json};

const A: &str = "000000000001";
const B: &str = "000000000002";
const CENTER: &str = "SIM1";
const BASE: &str = "/fba/outbound/2020-07-01";

struct Env {
    api: SpApi,
    f: Fulfillment,
    _dir: tempfile::TempDir,
}

fn env() -> Env {
    let (api, f, _dir) = common::service(FulfillmentConfig::default());
    Env { api, f, _dir }
}

struct Reply {
    status: StatusCode,
    body: Value,
}

impl Env {
    async fn call(&self, account: &str, method: Method, uri: &str, body: &str) -> Reply {
        let (status, body) = common::call(&self.api, account, method, uri, body).await;
        Reply { status, body }
    }

    async fn create(&self, account: &str, body: &Value) -> Reply {
        let uri = format!("{BASE}/fulfillmentOrders");
        self.call(account, Method::POST, &uri, &body.to_string())
            .await
    }

    async fn get(&self, account: &str, id: &str) -> Reply {
        let uri = format!("{BASE}/fulfillmentOrders/{id}");
        self.call(account, Method::GET, &uri, "").await
    }

    /// Registers `sku` (200 g a unit) and receives `units` fulfillable at SIM1.
    async fn seed(&self, account: &str, sku: &str, units: u64) -> String {
        let spec = ItemSpec {
            weight_mg: Some(200_000),
            ..ItemSpec::default()
        };
        let item = self.f.register_item(account, sku, spec).await.unwrap();
        let fn_sku = item.fn_sku.clone();
        self.f
            .write(account, move |b, tx| {
                let key = format!("seed:{}:{}", item.fn_sku, b.ledger.last_seq());
                b.move_units(
                    tx,
                    vec![Movement {
                        sku: item.fn_sku,
                        center: CENTER.into(),
                        from: None,
                        to: Some(Bucket::Fulfillable),
                        quantity: units,
                        reason: Reason::Receipt,
                        reference: "seed".into(),
                        idempotency_key: key,
                    }],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        fn_sku
    }

    async fn units(&self, account: &str, fn_sku: &str, bucket: Bucket) -> u64 {
        let fn_sku = fn_sku.to_owned();
        self.f
            .read(account, move |b| b.units(&fn_sku, CENTER, bucket))
            .await
            .unwrap()
    }

    async fn order_count(&self, account: &str) -> usize {
        self.f.read(account, |b| b.orders.len()).await.unwrap()
    }
}

fn address() -> Value {
    json!({
        "name": "Ada Lovelace",
        "addressLine1": "1 Main St",
        "city": "Portland",
        "stateOrRegion": "OR",
        "postalCode": "97201",
        "countryCode": "US"
    })
}

fn order_body(id: &str, sku: &str, quantity: i64) -> Value {
    json!({
        "marketplaceId": "ATVPDKIKX0DER",
        "sellerFulfillmentOrderId": id,
        "displayableOrderId": id,
        "displayableOrderDate": "2026-12-03T12:00:00-08:00",
        "displayableOrderComment": "Thank you",
        "shippingSpeedCategory": "Standard",
        "destinationAddress": address(),
        "fulfillmentPolicy": "FillOrKill",
        "items": [{
            "sellerSku": sku,
            "sellerFulfillmentOrderItemId": "line-1",
            "quantity": quantity,
            "perUnitDeclaredValue": {"currencyCode": "USD", "value": "19.90"}
        }]
    })
}

/// An SP-API error reply: the status, one error with `code` and a non-empty
/// `details`.
fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let e = &r.body["errors"][0];
    assert_eq!(e["code"], code, "{}", r.body);
    assert!(
        !e["details"].as_str().unwrap_or_default().is_empty(),
        "{}",
        r.body
    );
    assert!(!e["message"].as_str().unwrap_or_default().is_empty());
}

fn is_iso_utc(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() >= 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T')
}

#[tokio::test]
async fn create_is_idempotent_by_order_id_and_conflicts_on_another_body() {
    let e = env();
    let fn_sku = e.seed(A, "SKU-1", 10).await;
    let r = e.create(A, &order_body("O-1", "SKU-1", 3)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({}));
    assert_eq!(e.units(A, &fn_sku, Bucket::ReservedCustomerOrder).await, 3);

    // The same body again (keys in another order): the original, nothing more reserved.
    let mut again = order_body("O-1", "SKU-1", 3);
    again["extraMarketplaceKey"] = json!("ignored");
    let r = e.create(A, &again).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({}));
    assert_eq!(e.units(A, &fn_sku, Bucket::ReservedCustomerOrder).await, 3);

    let r = e.create(A, &order_body("O-1", "SKU-1", 4)).await;
    assert_error(&r, StatusCode::CONFLICT, "Conflict");
    assert!(
        r.body["errors"][0]["details"]
            .as_str()
            .unwrap()
            .contains("O-1")
    );
    assert_eq!(e.units(A, &fn_sku, Bucket::ReservedCustomerOrder).await, 3);
    assert_eq!(e.units(A, &fn_sku, Bucket::Fulfillable).await, 7);
}

/// Prices, taxes, a feature the order does not require and the country to
/// ship from are kept, shown and part of the request's identity; what the
/// network cannot honour (a required feature, a country without a center)
/// is refused, never dropped.
#[tokio::test]
async fn optional_create_fields_are_kept_or_refused() {
    let e = env();
    let fn_sku = e.seed(A, "SKU-1", 10).await;
    let mut body = order_body("O-1", "SKU-1", 2);
    body["shipFromCountryCode"] = json!("US");
    body["featureConstraints"] =
        json!([{"featureName": "BLANK_BOX", "featureFulfillmentPolicy": "NotRequired"}]);
    body["items"][0]["perUnitPrice"] = json!({"currencyCode": "USD", "value": "25.00"});
    body["items"][0]["perUnitTax"] = json!({"currencyCode": "USD", "value": "2.10"});
    let r = e.create(A, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = e.get(A, "O-1").await.body["payload"].clone();
    assert_eq!(
        p["fulfillmentOrder"]["featureConstraints"],
        json!([{"featureName": "BLANK_BOX", "featureFulfillmentPolicy": "NotRequired"}])
    );
    let item = &p["fulfillmentOrderItems"][0];
    assert_eq!(
        item["perUnitPrice"],
        json!({"currencyCode": "USD", "value": "25.00"})
    );
    assert_eq!(
        item["perUnitTax"],
        json!({"currencyCode": "USD", "value": "2.10"})
    );
    // The same again is the same order; another price is another request.
    assert_eq!(e.create(A, &body).await.status, StatusCode::OK);
    let mut other = body.clone();
    other["items"][0]["perUnitPrice"] = json!({"currencyCode": "USD", "value": "26.00"});
    assert_error(&e.create(A, &other).await, StatusCode::CONFLICT, "Conflict");

    let mut required = order_body("O-2", "SKU-1", 1);
    required["featureConstraints"] =
        json!([{"featureName": "BLANK_BOX", "featureFulfillmentPolicy": "Required"}]);
    assert_error(
        &e.create(A, &required).await,
        StatusCode::BAD_REQUEST,
        "InvalidInput",
    );
    let mut elsewhere = order_body("O-3", "SKU-1", 1);
    elsewhere["shipFromCountryCode"] = json!("DE");
    assert_error(
        &e.create(A, &elsewhere).await,
        StatusCode::BAD_REQUEST,
        "InvalidInput",
    );
    assert_eq!(e.units(A, &fn_sku, Bucket::ReservedCustomerOrder).await, 2);
}

/// An item's `fulfillmentNetworkSku` is checked against the item registry:
/// the SKU's own is kept and shown, another SKU's (or an unknown one) is
/// 400 and reserves nothing.
#[tokio::test]
async fn an_items_fulfillment_network_sku_must_be_its_skus() {
    let e = env();
    let fn_sku = e.seed(A, "SKU-1", 10).await;
    let other = e.seed(A, "SKU-2", 10).await;
    for (id, wrong) in [("O-2", other.as_str()), ("O-3", "X00NOTKNOWN")] {
        let mut body = order_body(id, "SKU-1", 1);
        body["items"][0]["fulfillmentNetworkSku"] = json!(wrong);
        let r = e.create(A, &body).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "InvalidInput");
        let details = r.body["errors"][0]["details"].as_str().unwrap_or_default();
        assert!(
            details.contains("items[0].fulfillmentNetworkSku") && details.contains(&fn_sku),
            "{details}"
        );
    }
    assert_eq!(e.order_count(A).await, 0);
    let mut body = order_body("O-1", "SKU-1", 2);
    body["items"][0]["fulfillmentNetworkSku"] = json!(fn_sku);
    let r = e.create(A, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = e.get(A, "O-1").await.body["payload"].clone();
    assert_eq!(
        p["fulfillmentOrderItems"][0]["fulfillmentNetworkSku"],
        fn_sku
    );
    // Part of the request's identity: the same again is the order, the
    // same order without it is another request.
    assert_eq!(e.create(A, &body).await.status, StatusCode::OK);
    assert_error(
        &e.create(A, &order_body("O-1", "SKU-1", 2)).await,
        StatusCode::CONFLICT,
        "Conflict",
    );
    assert_eq!(e.units(A, &fn_sku, Bucket::ReservedCustomerOrder).await, 2);
    assert_eq!(e.units(A, &other, Bucket::ReservedCustomerOrder).await, 0);
}

#[tokio::test]
async fn get_has_every_field_the_model_requires() {
    let e = env();
    e.seed(A, "SKU-1", 10).await;
    assert_eq!(
        e.create(A, &order_body("O-1", "SKU-1", 3)).await.status,
        StatusCode::OK
    );
    let r = e.get(A, "O-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = &r.body["payload"];
    for key in [
        "fulfillmentOrder",
        "fulfillmentOrderItems",
        "fulfillmentShipments",
        "returnItems",
        "returnAuthorizations",
    ] {
        assert!(p.get(key).is_some(), "{key} missing: {p}");
    }
    assert_eq!(p["returnItems"], json!([]));
    assert_eq!(p["returnAuthorizations"], json!([]));

    let o = &p["fulfillmentOrder"];
    assert_eq!(o["sellerFulfillmentOrderId"], "O-1");
    assert_eq!(o["marketplaceId"], "ATVPDKIKX0DER");
    assert_eq!(o["displayableOrderId"], "O-1");
    assert_eq!(o["displayableOrderDate"], "2026-12-03T20:00:00Z");
    assert_eq!(o["displayableOrderComment"], "Thank you");
    assert_eq!(o["shippingSpeedCategory"], "Standard");
    assert_eq!(o["destinationAddress"], address());
    assert_eq!(o["fulfillmentOrderStatus"], "Received");
    assert_eq!(o["fulfillmentPolicy"], "FillOrKill");
    assert_eq!(o["fulfillmentAction"], "Ship");
    assert!(is_iso_utc(&o["receivedDate"]), "{o}");
    assert!(is_iso_utc(&o["statusUpdatedDate"]), "{o}");

    let items = p["fulfillmentOrderItems"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let it = &items[0];
    assert_eq!(it["sellerSku"], "SKU-1");
    assert_eq!(it["sellerFulfillmentOrderItemId"], "line-1");
    assert_eq!(it["quantity"], 3);
    assert_eq!(it["cancelledQuantity"], 0);
    assert_eq!(it["unfulfillableQuantity"], 0);
    assert_eq!(
        it["perUnitDeclaredValue"],
        json!({"currencyCode": "USD", "value": "19.90"})
    );
    assert!(is_iso_utc(&it["estimatedShipDate"]), "{it}");
    assert!(
        it["fulfillmentNetworkSku"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );

    let shipments = p["fulfillmentShipments"].as_array().unwrap();
    assert_eq!(shipments.len(), 1);
    let s = &shipments[0];
    assert_eq!(s["fulfillmentCenterId"], CENTER);
    assert_eq!(s["fulfillmentShipmentStatus"], "PENDING");
    assert!(
        s["amazonShipmentId"]
            .as_str()
            .is_some_and(|x| !x.is_empty())
    );
    assert_eq!(
        s["fulfillmentShipmentItem"],
        json!([{"sellerSku": "SKU-1", "sellerFulfillmentOrderItemId": "line-1", "quantity": 3}])
    );
}

#[tokio::test]
async fn preview_quotes_fees_as_exact_money() {
    let e = env();
    e.seed(A, "SKU-1", 10).await;
    let body = json!({
        "address": address(),
        "items": [{"sellerSku": "SKU-1", "sellerFulfillmentOrderItemId": "l1", "quantity": 3}],
        "shippingSpeedCategories": ["Standard", "Priority"]
    });
    let uri = format!("{BASE}/fulfillmentOrders/preview");
    let r = e.call(A, Method::POST, &uri, &body.to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let previews = r.body["payload"]["fulfillmentPreviews"].as_array().unwrap();
    assert_eq!(previews.len(), 2);
    assert_eq!(previews[0]["shippingSpeedCategory"], "Standard");
    assert_eq!(previews[1]["shippingSpeedCategory"], "Priority");
    let p = &previews[0];
    assert_eq!(p["isFulfillable"], true);
    assert_eq!(p["isCODCapable"], false);
    assert_eq!(p["marketplaceId"], "ATVPDKIKX0DER");
    // 3 × 200 g = 0.6 kg: 2 pounds of weight handling (rounded up).
    assert_eq!(
        p["estimatedShippingWeight"],
        json!({"unit": "KG", "value": "0.6"})
    );
    assert_eq!(
        p["estimatedFees"],
        json!([
            {"name": "FBAPerUnitFulfillmentFee", "amount": {"currencyCode": "USD", "value": "1.50"}},
            {"name": "FBAPerOrderFulfillmentFee", "amount": {"currencyCode": "USD", "value": "1.00"}},
            {"name": "FBATransportationFee", "amount": {"currencyCode": "USD", "value": "0.80"}}
        ])
    );
    let shipment = &p["fulfillmentPreviewShipments"][0];
    for date in [
        "earliestShipDate",
        "latestShipDate",
        "earliestArrivalDate",
        "latestArrivalDate",
    ] {
        assert!(is_iso_utc(&shipment[date]), "{date}: {shipment}");
    }
    assert_eq!(shipment["fulfillmentPreviewItems"][0]["quantity"], 3);
    assert_eq!(p["unfulfillablePreviewItems"], json!([]));
    // Priority arrives sooner than Standard.
    let arrival = |p: &Value| {
        p["fulfillmentPreviewShipments"][0]["latestArrivalDate"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(arrival(&previews[1]) < arrival(p));

    // More than there is, and a SKU never registered: not fulfillable, with reasons.
    let body = json!({
        "address": address(),
        "items": [
            {"sellerSku": "SKU-1", "sellerFulfillmentOrderItemId": "l1", "quantity": 11},
            {"sellerSku": "NOPE", "sellerFulfillmentOrderItemId": "l2", "quantity": 1}
        ]
    });
    let r = e.call(A, Method::POST, &uri, &body.to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let previews = r.body["payload"]["fulfillmentPreviews"].as_array().unwrap();
    assert_eq!(previews.len(), 3, "every speed when none is named");
    let p = &previews[0];
    assert_eq!(p["isFulfillable"], false);
    assert_eq!(
        p["unfulfillablePreviewItems"],
        json!([
            {"sellerSku": "SKU-1", "quantity": 11, "sellerFulfillmentOrderItemId": "l1",
             "itemUnfulfillableReasons": ["InventoryUnavailable"]},
            {"sellerSku": "NOPE", "quantity": 1, "sellerFulfillmentOrderItemId": "l2",
             "itemUnfulfillableReasons": ["InvalidSKU"]}
        ])
    );
}

#[tokio::test]
async fn list_pages_with_a_next_token() {
    let e = Arc::new(env());
    e.seed(A, "SKU-1", 1000).await;
    let total = 101;
    let mut tasks = Vec::new();
    for i in 0..total {
        let e = Arc::clone(&e);
        tasks.push(tokio::spawn(async move {
            e.create(A, &order_body(&format!("O-{i:03}"), "SKU-1", 1))
                .await
                .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let uri = format!("{BASE}/fulfillmentOrders");
    let r = e.call(A, Method::GET, &uri, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let page = &r.body["payload"];
    assert_eq!(page["fulfillmentOrders"].as_array().unwrap().len(), 100);
    assert_eq!(
        page["fulfillmentOrders"][0]["sellerFulfillmentOrderId"],
        "O-000"
    );
    let token = page["nextToken"].as_str().unwrap();

    let r = e
        .call(A, Method::GET, &format!("{uri}?nextToken={token}"), "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let page = &r.body["payload"];
    assert_eq!(
        page["fulfillmentOrders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["sellerFulfillmentOrderId"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["O-100"]
    );
    assert!(page.get("nextToken").is_none(), "{page}");

    // Nothing updated after a future date: an empty list, still present.
    let r = e
        .call(
            A,
            Method::GET,
            &format!("{uri}?queryStartDate=2999-01-01T00:00:00Z"),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["payload"], json!({"fulfillmentOrders": []}));

    let r = e
        .call(A, Method::GET, &format!("{uri}?nextToken=zz"), "")
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "InvalidInput");
}

#[tokio::test]
async fn cancel_gives_the_stock_back() {
    let e = env();
    let fn_sku = e.seed(A, "SKU-1", 5).await;
    assert_eq!(
        e.create(A, &order_body("O-1", "SKU-1", 2)).await.status,
        StatusCode::OK
    );
    let uri = format!("{BASE}/fulfillmentOrders/O-1/cancel");
    let r = e.call(A, Method::PUT, &uri, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({}));
    assert_eq!(e.units(A, &fn_sku, Bucket::Fulfillable).await, 5);
    let o = e.get(A, "O-1").await.body;
    assert_eq!(
        o["payload"]["fulfillmentOrder"]["fulfillmentOrderStatus"],
        "Cancelled"
    );
    assert_eq!(
        o["payload"]["fulfillmentOrderItems"][0]["cancelledQuantity"],
        2
    );
    assert_eq!(
        o["payload"]["fulfillmentShipments"][0]["fulfillmentShipmentStatus"],
        "CANCELLED_BY_SELLER"
    );
    // Again: still cancelled, still 200.
    let r = e.call(A, Method::PUT, &uri, "{}").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = e
        .call(
            A,
            Method::PUT,
            &format!("{BASE}/fulfillmentOrders/NOPE/cancel"),
            "",
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "NotFound");
}

/// (reserved for orders, fulfillable) units of `fn_sku`.
async fn held(e: &Env, fn_sku: &str) -> (u64, u64) {
    (
        e.units(A, fn_sku, Bucket::ReservedCustomerOrder).await,
        e.units(A, fn_sku, Bucket::Fulfillable).await,
    )
}

#[tokio::test]
async fn update_releases_a_hold_and_changes_line_quantities() {
    let e = env();
    let fn_sku = e.seed(A, "SKU-1", 5).await;
    let mut body = order_body("O-1", "SKU-1", 2);
    body["fulfillmentAction"] = json!("Hold");
    assert_eq!(e.create(A, &body).await.status, StatusCode::OK);
    let uri = format!("{BASE}/fulfillmentOrders/O-1");
    let put =
        |q: i64| json!({"items": [{"sellerFulfillmentOrderItemId": "line-1", "quantity": q}]});
    let line = |p: &Value| {
        let it = &p["fulfillmentOrderItems"][0];
        let s = &p["fulfillmentShipments"];
        (
            it["quantity"].as_i64().unwrap(),
            it["cancelledQuantity"].as_i64().unwrap(),
            s.as_array().map_or(0, |a| a.len()),
            s[0]["fulfillmentShipmentItem"][0]["quantity"].as_i64(),
        )
    };

    // More units: reserved from fulfillable, on the same shipment.
    let r = e.call(A, Method::PUT, &uri, &put(3).to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(held(&e, &fn_sku).await, (3, 2));
    let p = e.get(A, "O-1").await.body["payload"].clone();
    assert_eq!(line(&p), (3, 0, 1, Some(3)));
    // A FillOrKill order takes every unit or none: 6 (3 more, 2 there) is
    // refused and changes nothing.
    let r = e.call(A, Method::PUT, &uri, &put(6).to_string()).await;
    assert_error(&r, StatusCode::CONFLICT, "Conflict");
    assert_eq!(held(&e, &fn_sku).await, (3, 2));
    // Fewer: released; the same again changes nothing more.
    for _ in 0..2 {
        let r = e.call(A, Method::PUT, &uri, &put(1).to_string()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(held(&e, &fn_sku).await, (1, 4));
    }
    let p = e.get(A, "O-1").await.body["payload"].clone();
    assert_eq!(line(&p), (1, 0, 1, Some(1)));
    // The create is still the order's identity: repeated, it answers the
    // order as it now is; another create body under the id is 409.
    assert_eq!(e.create(A, &body).await.status, StatusCode::OK);
    assert_eq!(held(&e, &fn_sku).await, (1, 4));
    let mut other = body.clone();
    other["items"][0]["quantity"] = json!(1);
    assert_error(&e.create(A, &other).await, StatusCode::CONFLICT, "Conflict");

    // Lines are changed, not added, and keep their SKU.
    for bad in [
        json!({"items": [{"sellerFulfillmentOrderItemId": "line-9", "quantity": 1}]}),
        json!({"items": [{"sellerFulfillmentOrderItemId": "line-1", "quantity": 2, "sellerSku": "SKU-2"}]}),
        json!({"items": [{"sellerFulfillmentOrderItemId": "line-1", "quantity": 2, "fulfillmentNetworkSku": "X00OTHER"}]}),
        json!({"items": [{"sellerFulfillmentOrderItemId": "line-1", "quantity": 2, "orderItemDisposition": "Unsellable"}]}),
        json!({"items": [{"sellerFulfillmentOrderItemId": "line-1", "quantity": 0}]}),
    ] {
        let r = e.call(A, Method::PUT, &uri, &bad.to_string()).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "InvalidInput");
    }
    assert_eq!(held(&e, &fn_sku).await, (1, 4));

    let mut moved = address();
    moved["addressLine1"] = json!("2 Side St");
    let update = json!({
        "fulfillmentAction": "Ship",
        "destinationAddress": moved,
        "items": [{"sellerFulfillmentOrderItemId": "line-1", "quantity": 2,
                   "sellerSku": "SKU-1", "fulfillmentNetworkSku": fn_sku,
                   "orderItemDisposition": "Sellable", "giftMessage": "Enjoy"}]
    });
    let r = e.call(A, Method::PUT, &uri, &update.to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({}));
    let p = e.get(A, "O-1").await.body["payload"].clone();
    assert_eq!(p["fulfillmentOrder"]["fulfillmentAction"], "Ship");
    assert_eq!(
        p["fulfillmentOrder"]["destinationAddress"]["addressLine1"],
        "2 Side St"
    );
    assert_eq!(p["fulfillmentOrderItems"][0]["giftMessage"], "Enjoy");
    assert_eq!(line(&p), (2, 0, 1, Some(2)));
    assert_eq!(held(&e, &fn_sku).await, (2, 3));

    // FillAllAvailable: what is missing is cancelled, and a lower quantity
    // gives up cancelled units before reserved ones.
    let mut some = order_body("O-2", "SKU-1", 1);
    some["fulfillmentPolicy"] = json!("FillAllAvailable");
    assert_eq!(e.create(A, &some).await.status, StatusCode::OK);
    let uri2 = format!("{BASE}/fulfillmentOrders/O-2");
    let r = e.call(A, Method::PUT, &uri2, &put(6).to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(held(&e, &fn_sku).await, (5, 0));
    let p = e.get(A, "O-2").await.body["payload"].clone();
    assert_eq!(line(&p), (6, 3, 1, Some(3)));
    let r = e.call(A, Method::PUT, &uri2, &put(4).to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(held(&e, &fn_sku).await, (5, 0));
    let p = e.get(A, "O-2").await.body["payload"].clone();
    assert_eq!(line(&p), (4, 1, 1, Some(3)));
    let r = e.call(A, Method::PUT, &uri2, &put(1).to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(held(&e, &fn_sku).await, (3, 2));
    let p = e.get(A, "O-2").await.body["payload"].clone();
    assert_eq!(line(&p), (1, 0, 1, Some(1)));

    // Once picking starts, lines are fixed: 409, nothing changed.
    e.f.plan_wave(CENTER, A, vec!["O-1".into()]).await.unwrap();
    let r = e.call(A, Method::PUT, &uri, &put(1).to_string()).await;
    assert_error(&r, StatusCode::CONFLICT, "Conflict");
    let p = e.get(A, "O-1").await.body["payload"].clone();
    assert_eq!(line(&p), (2, 0, 1, Some(2)));
    assert_eq!(e.units(A, &fn_sku, Bucket::ReservedFcProcessing).await, 2);
}

#[tokio::test]
async fn status_update_ships_then_tracking_and_returns() {
    let e = env();
    let fn_sku = e.seed(A, "SKU-1", 5).await;
    assert_eq!(
        e.create(A, &order_body("O-1", "SKU-1", 2)).await.status,
        StatusCode::OK
    );
    let status = format!("{BASE}/fulfillmentOrders/O-1/status");
    let r = e
        .call(
            A,
            Method::PUT,
            &status,
            r#"{"fulfillmentOrderStatus":"Complete"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({}));
    let r = e.call(A, Method::PUT, &status, "{}").await;
    assert_error(&r, StatusCode::BAD_REQUEST, "InvalidInput");

    let p = e.get(A, "O-1").await.body["payload"].clone();
    assert_eq!(p["fulfillmentOrder"]["fulfillmentOrderStatus"], "Complete");
    let s = &p["fulfillmentShipments"][0];
    assert_eq!(s["fulfillmentShipmentStatus"], "SHIPPED");
    assert!(is_iso_utc(&s["shippingDate"]), "{s}");
    let package = &s["fulfillmentShipmentPackage"][0];
    let number = package["packageNumber"].as_i64().unwrap();
    assert!(number > 0);
    assert!(
        package["carrierCode"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    assert_eq!(s["fulfillmentShipmentItem"][0]["packageNumber"], number);
    assert_eq!(s["fulfillmentShipmentItem"][0]["quantity"], 2);
    assert_eq!(e.units(A, &fn_sku, Bucket::Fulfillable).await, 3);

    let cancel = format!("{BASE}/fulfillmentOrders/O-1/cancel");
    assert_error(
        &e.call(A, Method::PUT, &cancel, "").await,
        StatusCode::CONFLICT,
        "Conflict",
    );

    let tracking = format!("{BASE}/tracking?packageNumber={number}");
    let r = e.call(A, Method::GET, &tracking, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let t = &r.body["payload"];
    assert_eq!(t["packageNumber"], number);
    assert_eq!(t["currentStatus"], "IN_TRANSIT");
    assert_eq!(t["trackingNumber"], package["trackingNumber"]);
    assert_eq!(
        t["shipToAddress"],
        json!({"city": "Portland", "state": "OR", "country": "US"})
    );
    let ev = &t["trackingEvents"][0];
    assert_eq!(ev["eventCode"], "EVENT_202");
    assert_eq!(ev["eventAddress"]["city"], "Seattle");
    assert!(is_iso_utc(&ev["eventDate"]), "{ev}");
    assert!(!ev["eventDescription"].as_str().unwrap().is_empty());
    let r = e
        .call(
            A,
            Method::GET,
            &format!("{BASE}/tracking?packageNumber=999999"),
            "",
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "NotFound");

    let shipment_id = s["amazonShipmentId"].as_str().unwrap();
    let ret = json!({"items": [
        {"sellerReturnItemId": "R-1", "sellerFulfillmentOrderItemId": "line-1",
         "amazonShipmentId": shipment_id, "returnReasonCode": "CR-DEFECTIVE"},
        {"sellerReturnItemId": "R-2", "sellerFulfillmentOrderItemId": "line-1",
         "amazonShipmentId": shipment_id, "returnReasonCode": "NOT-A-CODE"}
    ]});
    let uri = format!("{BASE}/fulfillmentOrders/O-1/return");
    let r = e.call(A, Method::PUT, &uri, &ret.to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = &r.body["payload"];
    assert_eq!(p["returnItems"].as_array().unwrap().len(), 1);
    let item = &p["returnItems"][0];
    assert_eq!(item["sellerReturnItemId"], "R-1");
    assert_eq!(item["status"], "New");
    assert!(is_iso_utc(&item["statusChangedDate"]));
    assert_eq!(
        p["invalidReturnItems"][0]["invalidItemReason"]["invalidItemReasonCode"],
        "InvalidValues"
    );
    let auth = &p["returnAuthorizations"][0];
    assert_eq!(auth["returnAuthorizationId"], item["returnAuthorizationId"]);
    assert_eq!(auth["fulfillmentCenterId"], CENTER);
    assert_eq!(auth["returnToAddress"]["city"], "Seattle");
    for key in ["amazonRmaId", "rmaPageURL"] {
        assert!(auth.get(key).is_some(), "{key}: {auth}");
    }

    let p = e.get(A, "O-1").await.body["payload"].clone();
    assert_eq!(p["returnItems"][0]["sellerReturnItemId"], "R-1");
    assert_eq!(p["returnAuthorizations"], json!([auth]));

    // The center grades the returned unit sellable: it is stock again.
    e.f.receive_return(CENTER, A, "O-1", "R-1", ReturnCondition::Sellable)
        .await
        .unwrap();
    let p = e.get(A, "O-1").await.body["payload"].clone();
    let item = &p["returnItems"][0];
    assert_eq!(item["status"], "Processed");
    assert_eq!(item["returnReceivedCondition"], "Sellable");
    assert_eq!(item["fulfillmentCenterId"], CENTER);
    assert_eq!(e.units(A, &fn_sku, Bucket::Fulfillable).await, 4);
}

#[tokio::test]
async fn return_reason_codes_for_the_callers_skus() {
    let e = env();
    e.seed(A, "SKU-1", 1).await;
    let uri = format!("{BASE}/returnReasonCodes?sellerSku=SKU-1&language=en_US");
    let r = e.call(A, Method::GET, &uri, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let codes = r.body["payload"]["reasonCodeDetails"].as_array().unwrap();
    assert!(
        codes
            .iter()
            .any(|c| c["returnReasonCode"] == "CR-DEFECTIVE")
    );
    assert!(
        codes
            .iter()
            .all(|c| c["description"].as_str().is_some_and(|d| !d.is_empty()))
    );
    assert_error(
        &e.call(B, Method::GET, &uri, "").await,
        StatusCode::NOT_FOUND,
        "NotFound",
    );
    let uri = format!("{BASE}/returnReasonCodes?sellerSku=SKU-1&sellerFulfillmentOrderId=NOPE");
    assert_error(
        &e.call(A, Method::GET, &uri, "").await,
        StatusCode::NOT_FOUND,
        "NotFound",
    );
}

#[tokio::test]
async fn bad_input_is_400_and_changes_nothing() {
    let e = env();
    let fn_sku = e.seed(A, "SKU-1", 5).await;
    let mut missing = order_body("O-1", "SKU-1", 1);
    missing
        .as_object_mut()
        .unwrap()
        .remove("destinationAddress");
    let mut wrong_type = order_body("O-1", "SKU-1", 1);
    wrong_type["items"][0]["quantity"] = json!("1");
    let cases = [
        ("quantity 0", order_body("O-1", "SKU-1", 0).to_string()),
        ("quantity -1", order_body("O-1", "SKU-1", -1).to_string()),
        (
            "beyond i32",
            order_body("O-1", "SKU-1", 2_147_483_648).to_string(),
        ),
        (
            "malformed",
            r#"{"sellerFulfillmentOrderId": "O-1","#.to_owned(),
        ),
        ("missing field", missing.to_string()),
        ("wrong type", wrong_type.to_string()),
        (
            "41-char id",
            order_body(&"x".repeat(41), "SKU-1", 1).to_string(),
        ),
        ("unknown SKU", order_body("O-1", "NOPE", 1).to_string()),
        (
            "51-char SKU",
            order_body("O-1", &"s".repeat(51), 1).to_string(),
        ),
    ];
    let uri = format!("{BASE}/fulfillmentOrders");
    for (what, body) in cases {
        let r = e.call(A, Method::POST, &uri, &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.body);
        assert_error(&r, StatusCode::BAD_REQUEST, "InvalidInput");
    }
    let long_path = format!("{BASE}/fulfillmentOrders/{}", "x".repeat(41));
    assert_error(
        &e.call(A, Method::GET, &long_path, "").await,
        StatusCode::BAD_REQUEST,
        "InvalidInput",
    );
    let r = e
        .call(
            A,
            Method::PUT,
            &format!("{BASE}/fulfillmentOrders/O-1/status"),
            "{",
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "InvalidInput");

    assert_eq!(e.order_count(A).await, 0);
    assert_eq!(e.units(A, &fn_sku, Bucket::Fulfillable).await, 5);
    assert_eq!(e.units(A, &fn_sku, Bucket::ReservedCustomerOrder).await, 0);
    // After all that, the id is still free.
    assert_eq!(
        e.create(A, &order_body("O-1", "SKU-1", 1)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn another_accounts_orders_are_not_found() {
    let e = env();
    let fn_sku = e.seed(A, "SKU-1", 5).await;
    assert_eq!(
        e.create(A, &order_body("O-1", "SKU-1", 2)).await.status,
        StatusCode::OK
    );
    let o = format!("{BASE}/fulfillmentOrders/O-1");
    assert_error(&e.get(B, "O-1").await, StatusCode::NOT_FOUND, "NotFound");
    for (method, uri, body) in [
        (Method::PUT, format!("{o}/cancel"), "".to_owned()),
        (
            Method::PUT,
            o.clone(),
            json!({"fulfillmentAction": "Hold"}).to_string(),
        ),
        (
            Method::PUT,
            format!("{o}/status"),
            r#"{"fulfillmentOrderStatus":"Complete"}"#.into(),
        ),
        (
            Method::PUT,
            format!("{o}/return"),
            json!({"items": [{"sellerReturnItemId": "R", "sellerFulfillmentOrderItemId": "line-1",
                              "amazonShipmentId": "S", "returnReasonCode": "CR-DEFECTIVE"}]})
            .to_string(),
        ),
    ] {
        let r = e.call(B, method, &uri, &body).await;
        assert_error(&r, StatusCode::NOT_FOUND, "NotFound");
    }
    let r = e
        .call(B, Method::GET, &format!("{BASE}/fulfillmentOrders"), "")
        .await;
    assert_eq!(r.body["payload"]["fulfillmentOrders"], json!([]));
    // B's own order of the same id is B's: A's is untouched.
    let r = e.create(B, &order_body("O-1", "SKU-1", 2)).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "InvalidInput");
    assert_eq!(e.units(A, &fn_sku, Bucket::ReservedCustomerOrder).await, 2);
    let a = e.get(A, "O-1").await.body;
    assert_eq!(
        a["payload"]["fulfillmentOrder"]["fulfillmentOrderStatus"],
        "Received"
    );
}
