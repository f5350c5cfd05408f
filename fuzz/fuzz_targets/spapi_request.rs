//! Fulfillment API requests from untrusted bytes: any method, path, query and body
//! routed, parsed into every request type and validated must give an operation, a typed
//! body or an SP-API error, never a panic; and every error renders as SP-API's error
//! JSON with a non-empty `details`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nomuck_spapi::wire::{inbound, native, outbound, warehouse};
use nomuck_spapi::{ApiError, Validate, error_body, parse_body, route};

fn check(err: ApiError) {
    let body: serde_json::Value = serde_json::from_str(&error_body(&err)).expect("error JSON");
    assert_eq!(body["errors"][0]["code"], err.code);
    assert!(
        !body["errors"][0]["details"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
}

fn parse<T: serde::de::DeserializeOwned + Validate>(body: &[u8]) {
    if let Err(err) = parse_body::<T>(body) {
        check(err);
    }
}

fuzz_target!(|data: &[u8]| {
    // First line: "METHOD path?query"; the rest: the body.
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (head, body) = data.split_at(split);
    let body = body.get(1..).unwrap_or_default();
    if let Ok(head) = std::str::from_utf8(head) {
        let (method, target) = head.split_once(' ').unwrap_or(("GET", head));
        if let Ok(method) = http::Method::from_bytes(method.as_bytes()) {
            let (path, query) = match target.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (target, None),
            };
            match route(&method, path, query) {
                Ok(op) => assert!(!op.name().is_empty()),
                Err(err) => check(err),
            }
        }
    }
    parse::<outbound::GetFulfillmentPreviewRequest>(body);
    parse::<outbound::CreateFulfillmentOrderRequest>(body);
    parse::<outbound::UpdateFulfillmentOrderRequest>(body);
    parse::<outbound::CreateFulfillmentReturnRequest>(body);
    parse::<outbound::SubmitFulfillmentOrderStatusUpdateRequest>(body);
    parse::<outbound::NoBody>(body);
    parse::<inbound::InboundShipmentRequest>(body);
    parse::<native::PutItemRequest>(body);
    parse::<native::InboundStatusUpdate>(body);
    parse::<warehouse::ReceiptRequest>(body);
    parse::<warehouse::PutawayRequest>(body);
    parse::<warehouse::WaveRequest>(body);
    parse::<warehouse::PickConfirmation>(body);
    parse::<warehouse::PackRequest>(body);
    parse::<warehouse::LabelRequest>(body);
    parse::<warehouse::ShipRequest>(body);
    parse::<warehouse::PackageEventRequest>(body);
    parse::<warehouse::ReturnGradeRequest>(body);
    parse::<warehouse::CycleCountRequest>(body);
    parse::<warehouse::AdjustmentRequest>(body);
});
