//! The routing table: every path of the fulfillment API, exact path parameters, the
//! errors for unknown paths, wrong methods and bad parameters.

use http::{Method, StatusCode};
use nomuck_spapi::route::{Cursor, InboundQueryType, Operation as O, WarehouseOp as W};
use nomuck_spapi::wire::inbound::ShipmentStatus;
use nomuck_spapi::{ApiError, Operation, route};

fn get(path_and_query: &str) -> Result<Operation, ApiError> {
    call(Method::GET, path_and_query)
}

fn call(method: Method, path_and_query: &str) -> Result<Operation, ApiError> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    route(&method, path, query)
}

const OUT: &str = "/fba/outbound/2020-07-01";

fn order(id: &str) -> String {
    id.to_owned()
}

#[test]
fn outbound_paths() {
    let id = || order("ORDER-1");
    let table = [
        (
            Method::POST,
            format!("{OUT}/fulfillmentOrders/preview"),
            O::GetFulfillmentPreview,
        ),
        (
            Method::POST,
            format!("{OUT}/fulfillmentOrders"),
            O::CreateFulfillmentOrder,
        ),
        (
            Method::GET,
            format!(
                "{OUT}/fulfillmentOrders?queryStartDate=2026-12-01T00:00:00-08:00&nextToken=abc"
            ),
            O::ListAllFulfillmentOrders {
                query_start_date: nomuck_spapi::Timestamp::parse("2026-12-01T08:00:00Z"),
                next_token: Some("abc".into()),
            },
        ),
        (
            Method::GET,
            format!("{OUT}/fulfillmentOrders/ORDER-1"),
            O::GetFulfillmentOrder {
                seller_fulfillment_order_id: id(),
            },
        ),
        (
            Method::PUT,
            format!("{OUT}/fulfillmentOrders/ORDER-1"),
            O::UpdateFulfillmentOrder {
                seller_fulfillment_order_id: id(),
            },
        ),
        (
            Method::PUT,
            format!("{OUT}/fulfillmentOrders/ORDER-1/cancel"),
            O::CancelFulfillmentOrder {
                seller_fulfillment_order_id: id(),
            },
        ),
        (
            Method::PUT,
            format!("{OUT}/fulfillmentOrders/ORDER-1/status"),
            O::SubmitFulfillmentOrderStatusUpdate {
                seller_fulfillment_order_id: id(),
            },
        ),
        (
            Method::PUT,
            format!("{OUT}/fulfillmentOrders/ORDER-1/return"),
            O::CreateFulfillmentReturn {
                seller_fulfillment_order_id: id(),
            },
        ),
        (
            Method::GET,
            format!("{OUT}/tracking?packageNumber=17&marketplaceId=X"),
            O::GetPackageTrackingDetails { package_number: 17 },
        ),
        (
            Method::GET,
            format!("{OUT}/returnReasonCodes?sellerSku=SKU%2B1&language=en_US"),
            O::ListReturnReasonCodes {
                seller_sku: "SKU+1".into(),
                marketplace_id: None,
                seller_fulfillment_order_id: None,
                language: Some("en_US".into()),
            },
        ),
    ];
    for (method, path, want) in table {
        assert_eq!(
            call(method.clone(), &path).unwrap(),
            want,
            "{method} {path}"
        );
    }
}

#[test]
fn ids_are_decoded_exactly() {
    let got = get(&format!("{OUT}/fulfillmentOrders/A+B%2BC%20D%2FE")).unwrap();
    assert_eq!(
        got,
        O::GetFulfillmentOrder {
            seller_fulfillment_order_id: "A+B+C D/E".into()
        }
    );
    let got = get("/fws/v1/items/SKU+RED%2B").unwrap();
    assert_eq!(
        got,
        O::GetItem {
            seller_sku: "SKU+RED+".into()
        }
    );
    // Invalid UTF-8 once decoded is the client's error, not a panic.
    let err = get("/fws/v1/items/%FF").unwrap_err();
    assert_eq!(err.status, StatusCode::BAD_REQUEST);
    assert!(err.details.contains("sellerSku"));
}

#[test]
fn id_lengths_follow_the_models() {
    let ok = "x".repeat(40);
    assert!(get(&format!("{OUT}/fulfillmentOrders/{ok}")).is_ok());
    let err = get(&format!("{OUT}/fulfillmentOrders/{ok}y")).unwrap_err();
    assert_eq!(
        (err.status, err.code),
        (StatusCode::BAD_REQUEST, "InvalidInput")
    );
    assert!(
        err.details.contains("sellerFulfillmentOrderId"),
        "{}",
        err.details
    );
    // Length counts characters, not bytes: 40 two-byte characters fit.
    assert!(get(&format!("{OUT}/fulfillmentOrders/{}", "%C3%A9".repeat(40))).is_ok());
    assert!(call(Method::PUT, &format!("/fws/v1/items/{}", "s".repeat(50))).is_ok());
    let err = call(Method::PUT, &format!("/fws/v1/items/{}", "s".repeat(51))).unwrap_err();
    assert!(err.details.contains("sellerSku"));
    let err = call(Method::PUT, &format!("{OUT}/fulfillmentOrders//cancel")).unwrap_err();
    assert!(err.details.contains("sellerFulfillmentOrderId"));
}

#[test]
fn unknown_paths_wrong_methods_and_trailing_slashes() {
    for path in [
        "/",
        "/fba",
        "/fba/outbound/2019-01-01/fulfillmentOrders",
        "/fws/v2/items",
        "/fws/v1/nothing",
        "/fws/v1/items/a/b",
        "/fba/inventory/v1/summaries/x",
        "/fws/v1/centers/SIM1/nothing",
    ] {
        let err = get(path).unwrap_err();
        assert_eq!(
            (err.status, err.code),
            (StatusCode::NOT_FOUND, "NotFound"),
            "{path}"
        );
        assert!(!err.details.is_empty());
    }
    let err = call(Method::DELETE, &format!("{OUT}/fulfillmentOrders/X")).unwrap_err();
    assert_eq!(err.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(err.details.contains("GET or PUT"), "{}", err.details);
    let err = get(&format!("{OUT}/fulfillmentOrders/preview")).unwrap_err();
    assert_eq!(err.status, StatusCode::METHOD_NOT_ALLOWED);
    // One trailing slash is the same resource.
    assert_eq!(
        get("/fws/v1/items/").unwrap(),
        O::ListItems {
            next_token: None,
            limit: None
        }
    );
    assert_eq!(
        call(Method::POST, &format!("{OUT}/fulfillmentOrders/")).unwrap(),
        O::CreateFulfillmentOrder
    );
}

#[test]
fn inventory_summaries_query() {
    let base = "/fba/inventory/v1/summaries?granularityType=Marketplace&granularityId=ATVPDKIKX0DER&marketplaceIds=ATVPDKIKX0DER";
    let O::GetInventorySummaries(q) = get(&format!(
        "{base}&details=True&sellerSkus=A,B%2BC&startDateTime=2026-12-01T00:00:00%2B01:00&unknown=1"
    ))
    .unwrap() else {
        panic!("not summaries");
    };
    assert!(q.details);
    assert_eq!(q.seller_skus, ["A", "B+C"]);
    assert_eq!(
        q.start_date_time.unwrap().to_string(),
        "2026-11-30T23:00:00Z"
    );
    let O::GetInventorySummaries(q) = get(base).unwrap() else {
        panic!()
    };
    assert!(!q.details && q.seller_skus.is_empty() && q.next_token.is_none());
    for (bad, named) in [
        (format!("{base}&details=yes"), "details"),
        (format!("{base}&startDateTime=yesterday"), "startDateTime"),
        (
            base.replace("granularityType=Marketplace", "granularityType=Region"),
            "granularityType",
        ),
        (
            base.replace("&marketplaceIds=ATVPDKIKX0DER", ""),
            "marketplaceIds",
        ),
        (
            format!("{base}&sellerSkus={}", vec!["s"; 51].join(",")),
            "sellerSkus",
        ),
    ] {
        let err = get(&bad).unwrap_err();
        assert_eq!(err.code, "InvalidInput");
        assert!(err.details.contains(named), "{bad}: {}", err.details);
    }
}

#[test]
fn inbound_paths() {
    let id = || "FBA15DJ9SVVD".to_string();
    assert_eq!(
        call(Method::POST, "/fba/inbound/v0/shipments/FBA15DJ9SVVD").unwrap(),
        O::CreateInboundShipment { shipment_id: id() }
    );
    assert_eq!(
        call(Method::PUT, "/fba/inbound/v0/shipments/FBA15DJ9SVVD").unwrap(),
        O::UpdateInboundShipment { shipment_id: id() }
    );
    let O::GetShipments(q) = get("/fba/inbound/v0/shipments?MarketplaceId=M&QueryType=SHIPMENT&ShipmentStatusList=WORKING,CLOSED&ShipmentIdList=FBA1").unwrap() else { panic!() };
    assert_eq!(q.query_type, InboundQueryType::Shipment);
    assert_eq!(
        q.shipment_status_list,
        [ShipmentStatus::Working, ShipmentStatus::Closed]
    );
    assert_eq!(q.shipment_id_list, ["FBA1"]);
    let err =
        get("/fba/inbound/v0/shipments?MarketplaceId=M&QueryType=SHIPMENT&ShipmentStatusList=LOST")
            .unwrap_err();
    assert!(err.details.contains("ShipmentStatusList"));
    let err = get("/fba/inbound/v0/shipmentItems?MarketplaceId=M&QueryType=SHIPMENT").unwrap_err();
    assert!(err.details.contains("QueryType"));
    let O::GetShipmentItems(q) =
        get("/fba/inbound/v0/shipmentItems?MarketplaceId=M&QueryType=NEXT_TOKEN&NextToken=t")
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(q.next_token.as_deref(), Some("t"));
    assert_eq!(
        get("/fba/inbound/v0/shipments/FBA15DJ9SVVD/items").unwrap(),
        O::GetShipmentItemsByShipmentId {
            shipment_id: id(),
            marketplace_id: None
        }
    );
    let O::GetLabels { shipment_id, query } = get("/fba/inbound/v0/shipments/FBA15DJ9SVVD/labels?PageType=PackageLabel_Plain_Paper&LabelType=UNIQUE&NumberOfPackages=3").unwrap() else { panic!() };
    assert_eq!(
        (shipment_id.as_str(), query.number_of_packages),
        ("FBA15DJ9SVVD", Some(3))
    );
    assert!(get("/fba/inbound/v0/shipments/X/labels?PageType=Napkin&LabelType=UNIQUE").is_err());
}

#[test]
fn native_and_warehouse_paths() {
    assert_eq!(get("/fws/v1/centers").unwrap(), O::ListCenters);
    assert_eq!(
        get("/fws/v1/items?limit=10&nextToken=n").unwrap(),
        O::ListItems {
            next_token: Some("n".into()),
            limit: Some(10)
        }
    );
    assert_eq!(
        call(Method::PUT, "/fws/v1/items/SKU-1").unwrap(),
        O::PutItem {
            seller_sku: "SKU-1".into()
        }
    );
    assert_eq!(
        get("/fws/v1/inventory").unwrap(),
        O::GetInventory { as_of: None }
    );
    assert!(matches!(
        get("/fws/v1/inventory?asOf=2026-12-03T20:13:02Z").unwrap(),
        O::GetInventory { as_of: Some(_) }
    ));
    assert_eq!(
        get("/fws/v1/ledger?after=42&limit=5").unwrap(),
        O::ListLedger(Cursor {
            after: 42,
            limit: Some(5)
        })
    );
    assert_eq!(
        get("/fws/v1/events").unwrap(),
        O::ListEvents(Cursor {
            after: 0,
            limit: None
        })
    );
    for bad in [
        "/fws/v1/events?after=-1",
        "/fws/v1/events?limit=0",
        "/fws/v1/events?limit=1001",
        "/fws/v1/ledger?after=x",
    ] {
        assert_eq!(get(bad).unwrap_err().code, "InvalidInput", "{bad}");
    }
    assert_eq!(
        call(Method::PUT, "/fws/v1/inbound/FBA1/status").unwrap(),
        O::UpdateInboundStatus {
            shipment_id: "FBA1".into()
        }
    );
    let c = "/fws/v1/centers/SIM1";
    let wh = |op| O::Warehouse {
        center_id: "SIM1".into(),
        op,
    };
    let table = [
        (Method::POST, "receipts", W::Receive),
        (Method::POST, "putaway", W::Putaway),
        (Method::POST, "waves", W::CreateWave),
        (
            Method::PUT,
            "picks/T-1",
            W::ConfirmPick {
                task_id: "T-1".into(),
            },
        ),
        (Method::POST, "packages", W::Pack),
        (
            Method::POST,
            "packages/7/label",
            W::BuyLabel { package_number: 7 },
        ),
        (
            Method::POST,
            "packages/7/ship",
            W::Ship { package_number: 7 },
        ),
        (
            Method::POST,
            "packages/7/events",
            W::PackageEvent { package_number: 7 },
        ),
        (
            Method::POST,
            "returns/R+1/grade",
            W::GradeReturn {
                return_id: "R+1".into(),
            },
        ),
        (Method::POST, "counts", W::CycleCount),
        (Method::POST, "adjustments", W::Adjust),
        (Method::GET, "work", W::ListWork),
    ];
    for (method, tail, op) in table {
        let want = wh(op);
        let got = call(method.clone(), &format!("{c}/{tail}")).unwrap();
        assert!(!got.name().is_empty());
        assert_eq!(got, want, "{method} {tail}");
        let other = if method == Method::GET {
            Method::POST
        } else {
            Method::GET
        };
        assert_eq!(
            call(other, &format!("{c}/{tail}")).unwrap_err().status,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
    for bad in [
        "packages/0/ship",
        "packages/-1/ship",
        "packages/2147483648/ship",
        "packages/x/label",
    ] {
        let err = call(Method::POST, &format!("{c}/{bad}")).unwrap_err();
        assert!(err.details.contains("packageNumber"), "{bad}");
    }
}
