//! The fulfillment API end to end below the edge: a real `Fulfillment` over
//! SQLite, `SpApi::handle` called with hand-built requests and principals.
//! Inbound v0, inventory summaries, the native reads by cursor, the
//! warehouse operations (operators only), isolation between accounts, and
//! bad input refused with nothing changed.

mod common;

use base64::Engine as _;
use http::{Method, StatusCode};
use nomuck_fulfillment::orders::{OrderItemRequest, OrderRequest, OrderStatus, Speed};
use nomuck_fulfillment::returns::CreateReturnItem;
use nomuck_fulfillment::{Address, Center, Fulfillment, FulfillmentConfig};
use nomuck_spapi::SpApi;
use serde_json::{Value, json};

const A: &str = "000000000001";
const B: &str = "000000000002";
const OP: &str = "op-account";
const MARKET: &str = "ATVPDKIKX0DER";

struct Env {
    api: SpApi,
    f: Fulfillment,
    _dir: tempfile::TempDir,
}

fn config() -> FulfillmentConfig {
    FulfillmentConfig {
        centers: vec![
            Center {
                operators: vec![OP.into()],
                simulated: false,
                ..Default::default()
            },
            Center {
                id: "SIM2".into(),
                operators: vec![OP.into()],
                simulated: false,
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

fn env() -> Env {
    let (api, f, _dir) = common::service(config());
    Env { api, f, _dir }
}

struct Reply {
    status: StatusCode,
    json: Value,
}

impl Env {
    /// Drops the service and loads it again from the store.
    fn restart(&mut self) {
        let (api, f) = common::reopen(config(), self._dir.path());
        self.api = api;
        self.f = f;
    }

    async fn call(&self, account: &str, method: Method, uri: &str, body: &str) -> Reply {
        let (status, json) = common::call(&self.api, account, method, uri, body).await;
        Reply { status, json }
    }

    async fn ok(&self, account: &str, method: Method, uri: &str, body: &str) -> Value {
        let r = self.call(account, method, uri, body).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.json);
        r.json
    }

    /// A refusal in SP-API's shape with a non-empty `details`; returns it.
    async fn refused(
        &self,
        account: &str,
        method: Method,
        uri: &str,
        body: &str,
        status: StatusCode,
        code: &str,
    ) -> String {
        let r = self.call(account, method, uri, body).await;
        assert_eq!(r.status, status, "{uri}: {}", r.json);
        let e = &r.json["errors"][0];
        assert_eq!(e["code"], code, "{uri}: {}", r.json);
        let details = e["details"].as_str().unwrap_or_default().to_owned();
        assert!(!details.is_empty(), "{uri}: empty details");
        details
    }

    async fn summaries(&self, account: &str) -> Vec<Value> {
        let uri = format!(
            "/fba/inventory/v1/summaries?details=True&granularityType=Marketplace&granularityId={MARKET}&marketplaceIds={MARKET}"
        );
        let r = self.ok(account, Method::GET, &uri, "").await;
        assert!(r["pagination"].is_object(), "{r}");
        r["payload"]["inventorySummaries"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// The center's work queue, as its operator sees it.
    async fn work(&self) -> Vec<Value> {
        let queue = self
            .ok(OP, Method::GET, "/fws/v1/centers/SIM1/work", "")
            .await;
        assert_eq!(queue["centerId"], "SIM1");
        queue["work"].as_array().unwrap().clone()
    }

    /// Every page of a native cursor read, following `nextToken`.
    async fn drain(&self, account: &str, path: &str, list: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after = 0u64;
        loop {
            let page = self
                .ok(
                    account,
                    Method::GET,
                    &format!("{path}?after={after}&limit=3"),
                    "",
                )
                .await;
            let items = page[list].as_array().unwrap();
            if items.is_empty() {
                assert!(page.get("nextToken").is_none(), "{page}");
                return out;
            }
            assert!(items.len() <= 3);
            out.extend(items.iter().cloned());
            after = page["nextToken"].as_str().unwrap().parse().unwrap();
        }
    }
}

fn shipment_body(items: &[(&str, i64)], status: &str) -> String {
    json!({
        "InboundShipmentHeader": {
            "ShipmentName": "first",
            "ShipFromAddress": {
                "Name": "Seller", "AddressLine1": "1 Main St", "City": "Seattle",
                "StateOrProvinceCode": "WA", "CountryCode": "US", "PostalCode": "98101"
            },
            "DestinationFulfillmentCenterId": "SIM1",
            "ShipmentStatus": status,
            "LabelPrepPreference": "SELLER_LABEL",
            "IntendedBoxContentsSource": "NONE"
        },
        "InboundShipmentItems": items.iter().map(|(sku, q)| json!({
            "SellerSKU": sku, "QuantityShipped": q
        })).collect::<Vec<_>>(),
        "MarketplaceId": MARKET,
        "SomeMarketplaceKey": "ignored"
    })
    .to_string()
}

/// The work queue as (kind, reference) pairs.
async fn kinds(e: &Env) -> Vec<(String, String)> {
    e.work()
        .await
        .iter()
        .map(|w| {
            (
                w["kind"].as_str().unwrap().to_owned(),
                w["reference"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn summary<'a>(all: &'a [Value], sku: &str) -> &'a Value {
    all.iter()
        .find(|s| s["sellerSku"] == sku)
        .unwrap_or_else(|| panic!("no summary of {sku} in {all:?}"))
}

/// Stock the seller's SKU-1 (10 sent, 8 sellable, 2 damaged) and SKU-2 (5
/// sent, 4 received, 1 short) through the API.
async fn stock(e: &Env) {
    let item = e
        .ok(
            A,
            Method::PUT,
            "/fws/v1/items/SKU-1",
            r#"{"dimensions":{"length":10,"width":4,"height":"2.5","unitOfMeasurement":"inches"},
                "weight":{"value":1,"unit":"pounds"}}"#,
        )
        .await;
    assert!(item["fnSku"].as_str().unwrap().starts_with("X00"));
    assert_eq!(item["dimensions"]["length"], "25.4");
    assert_eq!(item["dimensions"]["unitOfMeasurement"], "centimeters");
    assert_eq!(item["weight"]["value"], "0.453592");
    let created = e
        .ok(
            A,
            Method::POST,
            "/fba/inbound/v0/shipments/FBA1",
            &shipment_body(&[("SKU-1", 10), ("SKU-2", 5)], "WORKING"),
        )
        .await;
    assert_eq!(created, json!({"payload": {"ShipmentId": "FBA1"}}));
    let s = e.summaries(A).await;
    assert_eq!(s.len(), 2, "SKU-2 was registered by the shipment");
    assert_eq!(
        summary(&s, "SKU-1")["inventoryDetails"]["inboundWorkingQuantity"],
        10
    );

    // A seller's key never drives a center, even for its own shipment.
    e.refused(
        A,
        Method::POST,
        &format!("/fws/v1/centers/SIM1/receipts?sellerId={A}"),
        r#"{"shipmentId":"FBA1","boxes":[]}"#,
        StatusCode::FORBIDDEN,
        "Unauthorized",
    )
    .await;
    e.refused(
        OP,
        Method::GET,
        "/fws/v1/centers/NOPE/work",
        "",
        StatusCode::NOT_FOUND,
        "NotFound",
    )
    .await;
    // Not shipped yet: the dock cannot take it.
    e.refused(
        OP,
        Method::POST,
        &format!("/fws/v1/centers/SIM1/receipts?sellerId={A}"),
        r#"{"shipmentId":"FBA1","boxes":[]}"#,
        StatusCode::CONFLICT,
        "Conflict",
    )
    .await;

    let shipped = e
        .ok(
            A,
            Method::PUT,
            "/fws/v1/inbound/FBA1/status",
            r#"{"status":"SHIPPED"}"#,
        )
        .await;
    assert_eq!(shipped["payload"]["ShipmentStatus"], "SHIPPED");
    let work = e.work().await;
    assert_eq!(
        Value::from(work.clone()),
        json!([{
            "kind": "receive", "reference": "FBA1", "quantity": 15,
            "since": work[0]["since"], "sellerId": A
        }]),
    );
    e.refused(
        OP,
        Method::POST,
        "/fws/v1/centers/SIM1/receipts",
        r#"{"shipmentId":"FBA1","boxes":[]}"#,
        StatusCode::BAD_REQUEST,
        "InvalidInput",
    )
    .await;
    // Another center's staff cannot receive it.
    e.refused(
        OP,
        Method::POST,
        &format!("/fws/v1/centers/SIM2/receipts?sellerId={A}"),
        r#"{"shipmentId":"FBA1","boxes":[]}"#,
        StatusCode::FORBIDDEN,
        "Unauthorized",
    )
    .await;
    let receipt = e
        .ok(
            OP,
            Method::POST,
            &format!("/fws/v1/centers/SIM1/receipts?sellerId={A}"),
            r#"{"shipmentId":"FBA1","close":true,"boxes":[
                {"boxId":"B1","items":[
                    {"sellerSku":"SKU-1","quantity":8,"condition":"Sellable"},
                    {"sellerSku":"SKU-1","quantity":2,"condition":"WarehouseDamaged"}]},
                {"boxId":"B2","items":[{"sellerSku":"SKU-2","quantity":4,"condition":"Sellable"}]}]}"#,
        )
        .await;
    assert_eq!(receipt["shipmentStatus"], "CLOSED", "{receipt}");
    assert_eq!(receipt["boxIds"], json!(["B1", "B2"]));
    let sku2 = receipt["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["sellerSku"] == "SKU-2")
        .unwrap();
    assert_eq!(
        (
            sku2["quantityReceived"].as_u64(),
            sku2["quantityShort"].as_u64()
        ),
        (Some(4), Some(1))
    );
}

#[tokio::test]
async fn inbound_then_summaries_ledger_and_events_by_cursor() {
    let e = env();
    stock(&e).await;

    let s = e.summaries(A).await;
    let one = summary(&s, "SKU-1");
    assert_eq!(one["totalQuantity"], 10);
    let d = &one["inventoryDetails"];
    assert_eq!(d["fulfillableQuantity"], 8);
    assert_eq!(d["unfulfillableQuantity"]["warehouseDamagedQuantity"], 2);
    assert_eq!(d["unfulfillableQuantity"]["totalUnfulfillableQuantity"], 2);
    for k in [
        "inboundWorkingQuantity",
        "inboundShippedQuantity",
        "inboundReceivingQuantity",
    ] {
        assert_eq!(d[k], 0, "{k}");
    }
    assert_eq!(
        d["researchingQuantity"]["researchingQuantityBreakdown"],
        json!([])
    );
    let two = summary(&s, "SKU-2");
    assert_eq!(two["totalQuantity"], 4);
    assert_eq!(two["inventoryDetails"]["fulfillableQuantity"], 4);
    assert!(
        two["lastUpdatedTime"].as_str().unwrap().ends_with('Z'),
        "{two}"
    );

    // sellerSkus and startDateTime narrow the summaries.
    let base = format!(
        "/fba/inventory/v1/summaries?granularityType=Marketplace&granularityId={MARKET}&marketplaceIds={MARKET}"
    );
    let only = e
        .ok(A, Method::GET, &format!("{base}&sellerSkus=SKU-2,NOPE"), "")
        .await;
    let only = only["payload"]["inventorySummaries"].as_array().unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["sellerSku"], "SKU-2");
    for (since, n) in [
        ("2000-01-01T00:00:00-05:00", 2),
        ("2999-01-01T00:00:00Z", 0),
    ] {
        let got = e
            .ok(A, Method::GET, &format!("{base}&startDateTime={since}"), "")
            .await;
        assert_eq!(
            got["payload"]["inventorySummaries"]
                .as_array()
                .unwrap()
                .len(),
            n,
            "{since}"
        );
    }

    // Inbound v0 reads.
    let got = e
        .ok(
            A,
            Method::GET,
            &format!("/fba/inbound/v0/shipments?QueryType=SHIPMENT&ShipmentStatusList=CLOSED,WORKING&MarketplaceId={MARKET}"),
            "",
        )
        .await;
    let data = got["payload"]["ShipmentData"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["ShipmentStatus"], "CLOSED");
    assert_eq!(data[0]["LabelPrepType"], "SELLER_LABEL");
    assert_eq!(data[0]["ShipFromAddress"]["StateOrProvinceCode"], "WA");
    let items = e
        .ok(A, Method::GET, "/fba/inbound/v0/shipments/FBA1/items", "")
        .await;
    let items = items["payload"]["ItemData"].as_array().unwrap().clone();
    let received: Vec<(String, u64)> = items
        .iter()
        .map(|i| {
            (
                i["SellerSKU"].as_str().unwrap().to_owned(),
                i["QuantityReceived"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        received,
        [("SKU-1".to_owned(), 10), ("SKU-2".to_owned(), 4)]
    );
    let by_date = e
        .ok(
            A,
            Method::GET,
            &format!("/fba/inbound/v0/shipmentItems?QueryType=DATE_RANGE&LastUpdatedAfter=2000-01-01T00:00:00Z&LastUpdatedBefore=2999-01-01T00:00:00%2B01:00&MarketplaceId={MARKET}"),
            "",
        )
        .await;
    assert_eq!(by_date["payload"]["ItemData"].as_array().unwrap().len(), 2);
    let labels = e
        .ok(
            A,
            Method::GET,
            "/fba/inbound/v0/shipments/FBA1/labels?PageType=PackageLabel_Letter_2&LabelType=UNIQUE&NumberOfPackages=2",
            "",
        )
        .await;
    let url = labels["payload"]["DownloadURL"].as_str().unwrap();
    let b64 = url.strip_prefix("data:application/pdf;base64,").unwrap();
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert!(pdf.starts_with(b"%PDF"));

    // The ledger by cursor: contiguous, and its fold is the summaries.
    let ledger = e.drain(A, "/fws/v1/ledger", "entries").await;
    assert!(ledger.len() >= 6, "{ledger:?}");
    let mut fulfillable_1 = 0i64;
    for (i, entry) in ledger.iter().enumerate() {
        assert_eq!(entry["seq"], i as u64 + 1);
        assert!(!entry["idempotencyKey"].as_str().unwrap().is_empty());
        if entry["sellerSku"] == "SKU-1" {
            let q = entry["quantity"].as_i64().unwrap();
            if entry["toBucket"] == "FULFILLABLE" {
                fulfillable_1 += q;
            }
            if entry["fromBucket"] == "FULFILLABLE" {
                fulfillable_1 -= q;
            }
        }
    }
    assert_eq!(fulfillable_1, 8);

    // The event stream by cursor: every step, in order, ids unique.
    let events = e.drain(A, "/fws/v1/events", "events").await;
    let mut ids = std::collections::HashSet::new();
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(ev["seq"], i as u64 + 1);
        assert!(ids.insert(ev["eventId"].as_str().unwrap().to_owned()));
    }
    let statuses: Vec<&str> = events
        .iter()
        .filter(|ev| ev["eventType"] == "INBOUND_SHIPMENT_STATUS")
        .map(|ev| ev["payload"]["shipmentStatus"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "WORKING",
            "SHIPPED",
            "IN_TRANSIT",
            "DELIVERED",
            "CHECKED_IN",
            "RECEIVING",
            "CLOSED"
        ]
    );
    assert!(
        events.iter().any(|ev| ev["eventType"] == "ITEM_REGISTERED"),
        "{events:?}"
    );
    let movements: usize = events
        .iter()
        .filter(|ev| ev["eventType"] == "INVENTORY_MOVEMENT")
        .map(|ev| ev["payload"]["movements"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        movements,
        ledger.len(),
        "every ledger movement is in an event"
    );
    // The cursor never expires: reading from the middle gives the rest.
    let tail = e
        .ok(A, Method::GET, "/fws/v1/events?after=2&limit=1000", "")
        .await;
    assert_eq!(tail["events"].as_array().unwrap().len(), events.len() - 2);

    // Inventory as of now and as of long ago.
    let now = e.ok(A, Method::GET, "/fws/v1/inventory", "").await;
    let pos = now["inventory"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["sellerSku"] == "SKU-1")
        .unwrap()
        .clone();
    assert_eq!(
        pos["buckets"],
        json!({"FULFILLABLE": 8, "UNFULFILLABLE_WAREHOUSE_DAMAGED": 2})
    );
    assert_eq!(now["seq"], ledger.len());
    let then = e
        .ok(
            A,
            Method::GET,
            "/fws/v1/inventory?asOf=2001-01-01T00:00:00Z",
            "",
        )
        .await;
    assert_eq!(
        (then["seq"].as_u64(), then["inventory"].clone()),
        (Some(0), json!([]))
    );

    let centers = e.ok(B, Method::GET, "/fws/v1/centers", "").await;
    assert_eq!(centers["centers"][0]["centerId"], "SIM1");
    let items = e.ok(A, Method::GET, "/fws/v1/items?limit=1", "").await;
    assert_eq!(items["items"].as_array().unwrap().len(), 1);
    let token = items["nextToken"].as_str().unwrap();
    let rest = e
        .ok(
            A,
            Method::GET,
            &format!("/fws/v1/items?limit=1&nextToken={token}"),
            "",
        )
        .await;
    assert_eq!(rest["items"][0]["sellerSku"], "SKU-2");
    assert!(rest.get("nextToken").is_none());
}

#[tokio::test]
async fn other_accounts_see_nothing_and_bad_input_changes_nothing() {
    let e = env();
    stock(&e).await;

    // Another account: none of it exists.
    for uri in [
        "/fws/v1/items/SKU-1",
        "/fba/inbound/v0/shipments/FBA1/items",
    ] {
        e.refused(B, Method::GET, uri, "", StatusCode::NOT_FOUND, "NotFound")
            .await;
    }
    e.refused(
        B,
        Method::PUT,
        "/fws/v1/inbound/FBA1/status",
        r#"{"status":"CANCELLED"}"#,
        StatusCode::NOT_FOUND,
        "NotFound",
    )
    .await;
    assert!(e.summaries(B).await.is_empty());
    for (path, list) in [("/fws/v1/ledger", "entries"), ("/fws/v1/events", "events")] {
        assert!(e.drain(B, path, list).await.is_empty(), "{path}");
    }
    let got = e
        .ok(
            B,
            Method::GET,
            &format!("/fba/inbound/v0/shipments?QueryType=SHIPMENT&ShipmentIdList=FBA1&MarketplaceId={MARKET}"),
            "",
        )
        .await;
    assert_eq!(got["payload"]["ShipmentData"], json!([]));
    let items = e.ok(B, Method::GET, "/fws/v1/items", "").await;
    assert_eq!(items, json!({"items": []}));

    // Bad input: each a 400 naming what is wrong; nothing changes.
    let ledger_before = e.drain(A, "/fws/v1/ledger", "entries").await;
    let events_before = e.drain(A, "/fws/v1/events", "events").await;
    let items_before = e.ok(A, Method::GET, "/fws/v1/items", "").await;
    let bad = StatusCode::BAD_REQUEST;
    e.refused(
        A,
        Method::POST,
        "/fba/inbound/v0/shipments/FBA2",
        "{\"InboundShipmentHeader\": {",
        bad,
        "InvalidInput",
    )
    .await;
    let d = e
        .refused(
            A,
            Method::POST,
            "/fba/inbound/v0/shipments/FBA2",
            &shipment_body(&[("SKU-1", 3), ("SKU-3", 0)], "WORKING"),
            bad,
            "InvalidInput",
        )
        .await;
    assert!(d.contains("InboundShipmentItems[1].QuantityShipped"), "{d}");
    let d = e
        .refused(
            A,
            Method::POST,
            "/fba/inbound/v0/shipments/FBA2",
            &shipment_body(&[("SKU-1", 2_147_483_648)], "WORKING"),
            bad,
            "InvalidInput",
        )
        .await;
    assert!(d.contains("QuantityShipped"), "{d}");
    let long = "x".repeat(41);
    let d = e
        .refused(
            A,
            Method::PUT,
            &format!("/fws/v1/items/{long}"),
            "{}",
            bad,
            "InvalidInput",
        )
        .await;
    assert!(d.contains("sellerSku"), "{d}");
    let d = e
        .refused(
            A,
            Method::POST,
            "/fba/inbound/v0/shipments/FBA2",
            &shipment_body(&[(long.as_str(), 1)], "WORKING"),
            bad,
            "InvalidInput",
        )
        .await;
    assert!(d.contains("SellerSKU") || d.contains("sellerSku"), "{d}");
    e.refused(
        A,
        Method::PUT,
        "/fws/v1/items/SKU-9",
        r#"{"weight":{"value":"heavy","unit":"pounds"}}"#,
        bad,
        "InvalidInput",
    )
    .await;
    e.refused(
        A,
        Method::POST,
        "/fba/inbound/v0/shipments/FBA2",
        &shipment_body(&[("SKU-1", 1)], "CLOSED"),
        bad,
        "InvalidInput",
    )
    .await;
    e.refused(
        OP,
        Method::POST,
        &format!("/fws/v1/centers/SIM1/receipts?sellerId={A}"),
        r#"{"shipmentId":"FBA1","boxes":[{"boxId":"B3","items":[{"sellerSku":"SKU-1","quantity":0,"condition":"Sellable"}]}]}"#,
        bad,
        "InvalidInput",
    )
    .await;
    e.refused(
        OP,
        Method::POST,
        &format!("/fws/v1/centers/SIM1/adjustments?sellerId={A}"),
        r#"{"sellerSku":"SKU-1","fromBucket":"FULFILLABLE","toBucket":"NOWHERE","quantity":1,"reason":"x","idempotencyKey":"k"}"#,
        bad,
        "InvalidInput",
    )
    .await;
    e.refused(
        A,
        Method::GET,
        "/fba/inbound/v0/shipments?QueryType=NEXT_TOKEN&NextToken=zz&MarketplaceId=X",
        "",
        bad,
        "InvalidInput",
    )
    .await;
    assert_eq!(e.drain(A, "/fws/v1/ledger", "entries").await, ledger_before);
    assert_eq!(e.drain(A, "/fws/v1/events", "events").await, events_before);
    assert_eq!(
        e.ok(A, Method::GET, "/fws/v1/items", "").await,
        items_before
    );
    e.refused(
        A,
        Method::GET,
        "/fba/inbound/v0/shipments/FBA2/items",
        "",
        StatusCode::NOT_FOUND,
        "NotFound",
    )
    .await;
}

#[tokio::test]
async fn an_operator_waves_picks_packs_ships_and_grades_a_return() {
    let mut e = env();
    stock(&e).await;
    let order = OrderRequest {
        marketplace_id: Some(MARKET.into()),
        seller_fulfillment_order_id: "ORDER-1".into(),
        displayable_order_id: "ORDER-1".into(),
        displayable_order_date: e.f.now(),
        displayable_order_comment: "thanks".into(),
        shipping_speed_category: Speed::Standard,
        delivery_window: None,
        destination_address: Address {
            name: "Customer".into(),
            address_line1: "2 Side St".into(),
            city: Some("Portland".into()),
            state_or_region: "OR".into(),
            postal_code: "97201".into(),
            country_code: "US".into(),
            ..Address::default()
        },
        fulfillment_action: None,
        fulfillment_policy: None,
        notification_emails: Vec::new(),
        ship_from_country_code: None,
        feature_constraints: Vec::new(),
        items: vec![OrderItemRequest {
            seller_sku: "SKU-1".into(),
            seller_fulfillment_order_item_id: "line-1".into(),
            quantity: 3,
            gift_message: None,
            displayable_comment: None,
            per_unit_declared_value: None,
            per_unit_price: None,
            per_unit_tax: None,
            fulfillment_network_sku: None,
        }],
    };
    e.f.create_order(A, order).await.unwrap();
    let at = |path: &str| format!("/fws/v1/centers/SIM1/{path}?sellerId={A}");

    let work = e.work().await;
    assert!(
        work.iter()
            .any(|w| w["kind"] == "wave" && w["sellerFulfillmentOrderId"] == "ORDER-1"),
        "{work:?}"
    );
    // Put-away under an idempotency key: the same scan again is answered as
    // the first was and shelves nothing more; another request under the
    // key is 409.
    let scan = r#"{"sellerSku":"SKU-1","quantity":5,"idempotencyKey":"scan-1","location":{"zone":"A","aisle":"1","bay":"2","level":"3","bin":"4"}}"#;
    let put_away = e.ok(OP, Method::POST, &at("putaway"), scan).await;
    assert_eq!(put_away["locations"], json!({"A-1-2-3-4": 5}));
    let events = e.drain(A, "/fws/v1/events", "events").await;
    assert_eq!(e.ok(OP, Method::POST, &at("putaway"), scan).await, put_away);
    let d = e
        .refused(
            OP,
            Method::POST,
            &at("putaway"),
            &scan.replace(r#""quantity":5"#, r#""quantity":4"#),
            StatusCode::CONFLICT,
            "Conflict",
        )
        .await;
    assert!(d.contains("scan-1"), "{d}");
    assert_eq!(e.drain(A, "/fws/v1/events", "events").await, events);
    // Keys are per center: at SIM2 the key is unused (so the put-away is
    // tried, and SIM2 has no stock).
    let d = e
        .refused(
            OP,
            Method::POST,
            &format!("/fws/v1/centers/SIM2/putaway?sellerId={A}"),
            scan,
            StatusCode::CONFLICT,
            "Conflict",
        )
        .await;
    assert!(d.contains("0 fulfillable units at SIM2"), "{d}");
    let one_more = e
        .ok(
            OP,
            Method::POST,
            &at("putaway"),
            &scan
                .replace(r#""quantity":5"#, r#""quantity":1"#)
                .replace("scan-1", "scan-2"),
        )
        .await;
    assert_eq!(one_more["locations"], json!({"A-1-2-3-4": 6}));
    e.refused(
        A,
        Method::POST,
        &at("waves"),
        "{}",
        StatusCode::FORBIDDEN,
        "Unauthorized",
    )
    .await;
    let wave = e.ok(OP, Method::POST, &at("waves"), "{}").await;
    let tasks = wave["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1, "{wave}");
    assert_eq!(tasks[0]["quantity"], 3);
    assert_eq!(tasks[0]["location"]["bin"], "4");
    let task = tasks[0]["taskId"].as_str().unwrap().to_owned();
    assert_eq!(kinds(&e).await, [("pick".to_owned(), task.clone())]);
    let picked = e
        .ok(
            OP,
            Method::PUT,
            &format!("/fws/v1/centers/SIM1/picks/{task}?sellerId={A}"),
            r#"{"pickedQuantity":3}"#,
        )
        .await;
    assert_eq!(picked["pickedQuantity"], 3);
    assert_eq!(kinds(&e).await, [("pack".to_owned(), "ORDER-1".to_owned())]);
    // A scanner's retry is answered the same.
    e.ok(
        OP,
        Method::PUT,
        &format!("/fws/v1/centers/SIM1/picks/{task}?sellerId={A}"),
        r#"{"pickedQuantity":3}"#,
    )
    .await;
    let d = e
        .refused(
            OP,
            Method::POST,
            &at("packages"),
            r#"{"sellerFulfillmentOrderId":"ORDER-1","items":[{"sellerSku":"SKU-1","quantity":4}],
                "weight":{"value":3,"unit":"pounds"},
                "dimensions":{"length":10,"width":10,"height":10,"unitOfMeasurement":"inches"}}"#,
            StatusCode::BAD_REQUEST,
            "InvalidInput",
        )
        .await;
    assert!(d.contains("items[0]"), "{d}");
    // Packing under an idempotency key: the same request again is the same
    // package (its units are packed once), another under the key is 409.
    let pack = r#"{"sellerFulfillmentOrderId":"ORDER-1","items":[{"sellerSku":"SKU-1","quantity":3}],
                "weight":{"value":3,"unit":"pounds"}, "idempotencyKey":"carton-1",
                "dimensions":{"length":10,"width":10,"height":10,"unitOfMeasurement":"inches"}}"#;
    let package = e.ok(OP, Method::POST, &at("packages"), pack).await;
    assert_eq!(package["status"], "PACKED");
    assert_eq!(
        package["items"],
        json!([{"sellerSku": "SKU-1", "quantity": 3}])
    );
    let n = package["packageNumber"].as_i64().unwrap();
    assert_eq!(e.ok(OP, Method::POST, &at("packages"), pack).await, package);
    let d = e
        .refused(
            OP,
            Method::POST,
            &at("packages"),
            &pack.replace(r#""value":3"#, r#""value":4"#),
            StatusCode::CONFLICT,
            "Conflict",
        )
        .await;
    assert!(d.contains("carton-1"), "{d}");
    // Both keys hold across a restart.
    e.restart();
    assert_eq!(e.ok(OP, Method::POST, &at("putaway"), scan).await, put_away);
    assert_eq!(e.ok(OP, Method::POST, &at("packages"), pack).await, package);
    e.refused(
        OP,
        Method::POST,
        &at("putaway"),
        &scan.replace("\"A\"", "\"B\""),
        StatusCode::CONFLICT,
        "Conflict",
    )
    .await;
    let o = e.f.order(A, "ORDER-1").await.unwrap();
    assert_eq!(o.shipments[0].packages.len(), 1, "{o:?}");
    assert_eq!(o.shipments[0].items[0].packed, 3);
    assert_eq!(kinds(&e).await, [("label".to_owned(), n.to_string())]);
    let label = e
        .ok(OP, Method::POST, &at(&format!("packages/{n}/label")), "")
        .await;
    assert_eq!(label["carrierCode"], "NOMUCK");
    assert!(label["trackingNumber"].as_str().unwrap().starts_with("NM"));
    assert_eq!(kinds(&e).await, [("ship".to_owned(), n.to_string())]);
    assert_eq!(label["cost"]["currencyCode"], "USD");
    let shipped = e
        .ok(OP, Method::POST, &at(&format!("packages/{n}/ship")), "{}")
        .await;
    assert_eq!(shipped["status"], "IN_TRANSIT", "{shipped}");
    let delivered = e
        .ok(
            OP,
            Method::POST,
            &at(&format!("packages/{n}/events")),
            r#"{"status":"DELIVERED","time":"2030-01-01T10:00:00+02:00"}"#,
        )
        .await;
    assert_eq!(delivered["status"], "DELIVERED");
    let o = e.f.order(A, "ORDER-1").await.unwrap();
    assert_eq!(o.fulfillment_order_status, OrderStatus::Complete);

    let s = e.summaries(A).await;
    assert_eq!(
        summary(&s, "SKU-1")["inventoryDetails"]["fulfillableQuantity"],
        5
    );
    let shipment = o.shipments[0].amazon_shipment_id.clone();
    e.f.create_return(
        A,
        "ORDER-1",
        vec![CreateReturnItem {
            seller_return_item_id: "R1".into(),
            seller_fulfillment_order_item_id: "line-1".into(),
            amazon_shipment_id: shipment,
            return_reason_code: "CR-UNWANTED_ITEM".into(),
            return_comment: None,
        }],
    )
    .await
    .unwrap();
    let work = e.work().await;
    assert!(
        work.iter()
            .any(|w| w["kind"] == "gradeReturn" && w["reference"] == "R1"),
        "{work:?}"
    );
    let graded = e
        .ok(
            OP,
            Method::POST,
            &at("returns/R1/grade"),
            r#"{"condition":"Sellable"}"#,
        )
        .await;
    assert_eq!(graded["status"], "Processed");
    assert_eq!(graded["returnReceivedCondition"], "Sellable");
    let s = e.summaries(A).await;
    assert_eq!(
        summary(&s, "SKU-1")["inventoryDetails"]["fulfillableQuantity"],
        6
    );

    // A count that finds one missing sends it to research; an adjustment
    // moves a damaged one back.
    let count = e
        .ok(
            OP,
            Method::POST,
            &at("counts"),
            r#"{"sellerSku":"SKU-1","countedQuantity":5}"#,
        )
        .await;
    assert_eq!(count["expectedQuantity"], 6);
    assert_eq!(count["adjustment"]["toBucket"], "RESEARCHING");
    let adjusted = e
        .ok(
            OP,
            Method::POST,
            &at("adjustments"),
            r#"{"sellerSku":"SKU-1","fromBucket":"UNFULFILLABLE_WAREHOUSE_DAMAGED","toBucket":"FULFILLABLE",
                "quantity":1,"reason":"repaired","idempotencyKey":"fix-1"}"#,
        )
        .await;
    assert_eq!(adjusted["reason"], "Adjustment");
    let s = e.summaries(A).await;
    let d = &summary(&s, "SKU-1")["inventoryDetails"];
    assert_eq!(d["fulfillableQuantity"], 6);
    assert_eq!(d["researchingQuantity"]["totalResearchingQuantity"], 1);
    assert_eq!(d["unfulfillableQuantity"]["warehouseDamagedQuantity"], 1);
    assert_eq!(e.work().await, Vec::<Value>::new(), "nothing left to do");
}

#[tokio::test]
async fn next_tokens_page_through_everything_and_an_admin_operates_any_center() {
    let e = env();
    for i in 0..51 {
        e.ok(A, Method::PUT, &format!("/fws/v1/items/S-{i:02}"), "{}")
            .await;
    }
    // Summaries: 50 a page, then the rest; without details=true no breakdown.
    let base = format!(
        "/fba/inventory/v1/summaries?granularityType=Marketplace&granularityId={MARKET}&marketplaceIds={MARKET}"
    );
    let first = e.ok(A, Method::GET, &base, "").await;
    let page = first["payload"]["inventorySummaries"].as_array().unwrap();
    assert_eq!(page.len(), 50);
    assert!(page[0].get("inventoryDetails").is_none(), "{}", page[0]);
    assert_eq!(page[0]["totalQuantity"], 0);
    let token = first["pagination"]["nextToken"].as_str().unwrap();
    let second = e
        .ok(A, Method::GET, &format!("{base}&nextToken={token}"), "")
        .await;
    assert_eq!(
        second["payload"]["inventorySummaries"],
        json!([second["payload"]["inventorySummaries"][0]])
    );
    assert_eq!(
        second["payload"]["inventorySummaries"][0]["sellerSku"],
        "S-50"
    );
    assert_eq!(second["pagination"], json!({}));

    // getShipments: 100 a page; the token carries the query.
    for i in 0..102 {
        e.ok(
            A,
            Method::POST,
            &format!("/fba/inbound/v0/shipments/FBA{i:03}"),
            &shipment_body(&[("S-00", 1)], "WORKING"),
        )
        .await;
    }
    e.ok(
        A,
        Method::PUT,
        "/fws/v1/inbound/FBA000/status",
        r#"{"status":"CANCELLED"}"#,
    )
    .await;
    let list = format!(
        "/fba/inbound/v0/shipments?QueryType=SHIPMENT&ShipmentStatusList=WORKING&MarketplaceId={MARKET}"
    );
    let first = e.ok(A, Method::GET, &list, "").await;
    assert_eq!(
        first["payload"]["ShipmentData"].as_array().unwrap().len(),
        100
    );
    assert_eq!(first["payload"]["ShipmentData"][0]["ShipmentId"], "FBA001");
    let token = first["payload"]["NextToken"].as_str().unwrap();
    let next = e
        .ok(
            A,
            Method::GET,
            &format!("/fba/inbound/v0/shipments?QueryType=NEXT_TOKEN&NextToken={token}&MarketplaceId={MARKET}"),
            "",
        )
        .await;
    let rest = next["payload"]["ShipmentData"].as_array().unwrap();
    assert_eq!(rest.len(), 1, "FBA000 is DELETED, not WORKING: {next}");
    assert_eq!(rest[0]["ShipmentId"], "FBA101");
    assert!(next["payload"].get("NextToken").is_none());
    let deleted = e
        .ok(
            A,
            Method::GET,
            &format!("/fba/inbound/v0/shipments?QueryType=SHIPMENT&ShipmentStatusList=DELETED&MarketplaceId={MARKET}"),
            "",
        )
        .await;
    assert_eq!(
        deleted["payload"]["ShipmentData"][0]["ShipmentId"],
        "FBA000"
    );

    // The operator's admin drives any center; another seller does not.
    let (admin, _) = common::call_as(
        &e.api,
        "000000000099",
        true,
        Method::GET,
        "/fws/v1/centers/SIM1/work",
        "",
    )
    .await;
    assert_eq!(admin, StatusCode::OK);
    e.refused(
        B,
        Method::GET,
        "/fws/v1/centers/SIM1/work",
        "",
        StatusCode::FORBIDDEN,
        "Unauthorized",
    )
    .await;
}
