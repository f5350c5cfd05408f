//! Handlers: a center's warehouse operations (`/fws/v1/centers/{centerId}/…`).
//!
//! Only the center's operators may call them (the operator's admin, or an
//! account listed in the center's `operators`): a seller's key can never
//! drive a center. The seller whose shipment, order or stock is acted on is
//! named by the `sellerId` query parameter, required everywhere but the
//! work queue, which spans every seller.

use nomuck_fulfillment::inbound::{BoxLine, Condition as DomainCondition, InboundShipment};
use nomuck_fulfillment::order_ops::fingerprint;
use nomuck_fulfillment::orders::{
    Order, Package as DomainPackage, PackageItem, RequestKey, ReturnCondition, TrackingStatus,
};
use nomuck_fulfillment::stock::{AdjustmentSpec, Location as DomainLocation};
use nomuck_fulfillment::warehouse::PackRequest as DomainPack;
use nomuck_fulfillment::work::Work;
use nomuck_fulfillment::{Center, inventory};
use nomuck_ledger::Bucket;

use super::native::{
    dimensions_um, exact, from_name, ledger_entry, millis, ts, weight_mg, wire_name,
};
use super::{Call, Handled, domain_error};
use crate::error::ApiError;
use crate::json::Quantity;
use crate::route::WarehouseOp;
use crate::wire::outbound::Money;
use crate::wire::outbound_reply::{FulfillmentReturnItemStatus, ReturnItem};
use crate::wire::warehouse::{
    AdjustmentRequest, CycleCountRequest, CycleCountResult, Label, LabelRequest, Location,
    PackLine, PackRequest, Package, PackageEventRequest, PickConfirmation, PickResult, PickTask,
    PutawayRequest, PutawayResult, Receipt, ReceiptItem, ReceiptRequest, ReturnGradeRequest,
    ShipRequest, Wave, WaveRequest, WorkItem, WorkQueue,
};

/// Account ids are short; this bounds what an error message echoes.
const SELLER_ID_MAX: usize = 64;
/// A wave without `maxOrders` releases at most this many orders.
const WAVE_DEFAULT: usize = 100;

pub(crate) async fn handle(call: &Call<'_>, center_id: &str, op: WarehouseOp) -> Handled {
    let center = operated(call, center_id)?;
    if op == WarehouseOp::ListWork {
        return list_work(call, center).await;
    }
    let seller = call
        .query_param("sellerId", SELLER_ID_MAX)?
        .ok_or_else(|| {
            ApiError::invalid_input(
                "sellerId is required: the account whose shipment, order or stock this is",
            )
        })?;
    let c = center.id.as_str();
    let s = seller.as_str();
    match op {
        WarehouseOp::Receive => receive(call, c, s).await,
        WarehouseOp::Putaway => putaway(call, c, s).await,
        WarehouseOp::CreateWave => wave(call, c, s).await,
        WarehouseOp::ConfirmPick { task_id } => pick(call, c, s, &task_id).await,
        WarehouseOp::Pack => pack(call, c, s).await,
        WarehouseOp::BuyLabel { package_number } => label(call, c, s, package_number).await,
        WarehouseOp::Ship { package_number } => ship(call, c, s, package_number).await,
        WarehouseOp::PackageEvent { package_number } => {
            package_event(call, c, s, package_number).await
        }
        WarehouseOp::GradeReturn { return_id } => grade_return(call, c, s, &return_id).await,
        WarehouseOp::CycleCount => count(call, c, s).await,
        WarehouseOp::Adjust => adjust(call, c, s).await,
        WarehouseOp::ListWork => list_work(call, center).await,
    }
}

/// The center, if it exists (404) and the caller operates it (403).
fn operated<'c>(call: &'c Call<'_>, center_id: &str) -> Result<&'c Center, ApiError> {
    let center = call
        .f
        .config()
        .center(center_id)
        .ok_or_else(|| ApiError::not_found(format!("fulfillment center '{center_id}'")))?;
    if call.principal.is_admin || center.operators.iter().any(|o| o == call.account) {
        Ok(center)
    } else {
        Err(ApiError::unauthorized(format!(
            "account {} is not an operator of fulfillment center {center_id}; \
             warehouse operations are for the center's staff, not sellers",
            call.account
        )))
    }
}

// ---- inbound: the dock

fn receipt(s: &InboundShipment) -> Result<Receipt, ApiError> {
    Ok(Receipt {
        shipment_id: s.shipment_id.clone(),
        shipment_status: from_name(s.shipment_status.name())?,
        box_ids: s.boxes.iter().map(|b| b.box_id.clone()).collect(),
        items: s
            .items
            .iter()
            .map(|i| ReceiptItem {
                seller_sku: i.seller_sku.clone(),
                fn_sku: i.fulfillment_network_sku.clone(),
                quantity_shipped: i.quantity_shipped,
                quantity_received: i.quantity_received,
                received_by_condition: i.received_by_condition.clone(),
                quantity_over: i.quantity_over,
                quantity_short: i.quantity_short,
            })
            .collect(),
    })
}

/// Arrival, check-in (when not yet done), each box, and the close when
/// asked. Each step is durable and idempotent (a box id received again
/// with the same lines changes nothing), so after a failure part way the
/// same request again finishes the job.
async fn receive(call: &Call<'_>, center: &str, seller: &str) -> Handled {
    let body: ReceiptRequest = call.body()?;
    // Every box is converted before anything changes.
    let mut boxes = Vec::with_capacity(body.boxes.len());
    for (b, one) in body.boxes.iter().enumerate() {
        let mut lines = Vec::with_capacity(one.items.len());
        for (i, line) in one.items.iter().enumerate() {
            let name = wire_name(&line.condition);
            let condition = DomainCondition::from_name(&name).ok_or_else(|| {
                ApiError::invalid_input(format!(
                    "boxes[{b}].items[{i}].condition {name} is not a receiving grade \
                     (Sellable, WarehouseDamaged, CarrierDamaged, DistributorDamaged, Defective, Expired)"
                ))
            })?;
            lines.push(BoxLine {
                seller_sku: line.seller_sku.clone(),
                quantity: u64::from(line.quantity.get()),
                condition,
            });
        }
        boxes.push((one.box_id.clone(), lines));
    }
    let f = call.f;
    let id = body.shipment_id.as_str();
    let mut s = f.inbound_shipment(seller, id).await.map_err(domain_error)?;
    if s.destination_fulfillment_center_id != center {
        return Err(ApiError::unauthorized(format!(
            "shipment '{id}' is bound for {}, not {center}",
            s.destination_fulfillment_center_id
        )));
    }
    use nomuck_fulfillment::inbound::ShipmentStatus as S;
    if matches!(
        s.shipment_status,
        S::Working | S::Cancelled | S::Deleted | S::Error
    ) {
        return Err(ApiError::conflict(format!(
            "shipment '{id}' is {}: there is nothing to receive",
            s.shipment_status.name()
        )));
    }
    if matches!(s.shipment_status, S::Shipped | S::InTransit) {
        s = f
            .dock_arrive(center, seller, id)
            .await
            .map_err(domain_error)?;
    }
    if s.shipment_status == S::Delivered {
        s = f.check_in(center, seller, id).await.map_err(domain_error)?;
    }
    for (box_id, lines) in boxes {
        s = f
            .receive_box(center, seller, id, &box_id, lines)
            .await
            .map_err(domain_error)?;
    }
    if body.close {
        s = f
            .close_shipment(center, seller, id)
            .await
            .map_err(domain_error)?;
    }
    call.ok(&receipt(&s)?)
}

fn domain_location(l: &Location) -> DomainLocation {
    DomainLocation {
        zone: l.zone.clone(),
        aisle: l.aisle.clone(),
        bay: l.bay.clone(),
        level: l.level.clone(),
        bin: l.bin.clone(),
    }
}

async fn putaway(call: &Call<'_>, center: &str, seller: &str) -> Handled {
    let body: PutawayRequest = call.body()?;
    let locations = call
        .f
        .put_away(
            center,
            seller,
            &body.seller_sku,
            u64::from(body.quantity.get()),
            domain_location(&body.location),
            body.idempotency_key.clone(),
        )
        .await
        .map_err(domain_error)?;
    call.ok(&PutawayResult {
        seller_sku: body.seller_sku,
        locations,
    })
}

// ---- outbound: waves, picks, packs, labels, shipping, the carrier

/// `{orderIdLength}:{orderId}:{itemId}`: the task names its order line, and
/// the length makes the split unambiguous whatever the ids contain.
fn task_id(order_id: &str, item_id: &str) -> String {
    format!("{}:{order_id}:{item_id}", order_id.len())
}

fn parse_task(task: &str) -> Result<(String, String), ApiError> {
    let bad = || ApiError::invalid_input(format!("taskId '{task}' is not a task of a wave"));
    let (n, rest) = task.split_once(':').ok_or_else(bad)?;
    let n: usize = n.parse().map_err(|_| bad())?;
    let order = rest.get(..n).ok_or_else(bad)?;
    let item = rest
        .get(n..)
        .and_then(|r| r.strip_prefix(':'))
        .ok_or_else(bad)?;
    if order.is_empty() || item.is_empty() {
        return Err(bad());
    }
    Ok((order.to_owned(), item.to_owned()))
}

/// `zone-aisle-bay-level-bin` back into its parts (parts are alphanumeric,
/// so the split is exact).
fn location_of(code: &str) -> Option<Location> {
    let mut parts = code.split('-').map(str::to_owned);
    let location = Location {
        zone: parts.next()?,
        aisle: parts.next()?,
        bay: parts.next()?,
        level: parts.next()?,
        bin: parts.next()?,
    };
    parts.next().is_none().then_some(location)
}

async fn wave(call: &Call<'_>, center: &str, seller: &str) -> Handled {
    let body: WaveRequest = call.body()?;
    let f = call.f;
    let ids = match body.order_ids {
        Some(ids) if !ids.is_empty() => ids,
        _ => {
            let max = body.max_orders.map_or(WAVE_DEFAULT, |m| m.get() as usize);
            let mut waiting: Vec<Work> = f
                .work(center, seller)
                .await
                .map_err(domain_error)?
                .into_iter()
                .filter(|w| w.kind == nomuck_fulfillment::work::WorkKind::Wave)
                .collect();
            waiting.sort_by_key(|w| w.since);
            waiting.into_iter().take(max).map(|w| w.reference).collect()
        }
    };
    f.plan_wave(center, seller, ids.clone())
        .await
        .map_err(domain_error)?;
    // Tasks of every order named (also those waved before): a retry of the
    // same wave answers the same tasks.
    let bins = f.bins(center, seller).await.map_err(domain_error)?;
    let mut tasks = Vec::new();
    for id in &ids {
        let order = f.order(seller, id).await.map_err(domain_error)?;
        for s in order
            .shipments
            .iter()
            .filter(|s| s.fulfillment_center_id == center && s.waved)
        {
            for it in s.items.iter().filter(|it| it.picked.is_none()) {
                let location = bins
                    .locations
                    .get(&it.fulfillment_network_sku)
                    .and_then(|at| at.iter().find(|(_, n)| **n > 0))
                    .and_then(|(code, _)| location_of(code));
                tasks.push(PickTask {
                    task_id: task_id(id, &it.seller_fulfillment_order_item_id),
                    seller_fulfillment_order_id: id.clone(),
                    seller_sku: it.seller_sku.clone(),
                    fn_sku: it.fulfillment_network_sku.clone(),
                    quantity: u32::try_from(it.quantity).unwrap_or(u32::MAX),
                    location,
                });
            }
        }
    }
    call.ok(&Wave {
        wave_id: call.request_id.to_owned(),
        tasks,
    })
}

async fn pick(call: &Call<'_>, center: &str, seller: &str, task: &str) -> Handled {
    let body: PickConfirmation = call.body()?;
    let (order_id, item_id) = parse_task(task)?;
    let picked = u64::from(body.picked_quantity.get());
    let f = call.f;
    let line = |order: &Order| {
        order
            .shipments
            .iter()
            .filter(|s| s.fulfillment_center_id == center)
            .flat_map(|s| &s.items)
            .find(|it| it.seller_fulfillment_order_item_id == item_id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("pick task '{task}' at {center}")))
    };
    let before = line(&f.order(seller, &order_id).await.map_err(domain_error)?)?;
    // The same confirmation again (a scanner's retry) is answered, not refused.
    if before.picked != Some(picked) {
        f.pick(center, seller, &order_id, &item_id, picked)
            .await
            .map_err(domain_error)?;
    }
    call.ok(&PickResult {
        task_id: task.to_owned(),
        seller_fulfillment_order_id: order_id,
        seller_sku: before.seller_sku,
        quantity: u32::try_from(before.quantity).unwrap_or(u32::MAX),
        picked_quantity: u32::try_from(picked).unwrap_or(u32::MAX),
    })
}

/// A package as the warehouse sees it: its lines by seller SKU, and how far
/// it got (`PACKED`, `LABELED`, `SHIPPED`, then the carrier's status).
fn package_reply(order: &Order, p: &DomainPackage) -> Result<Package, ApiError> {
    let shipment = order.shipments.iter().find(|s| {
        s.packages
            .iter()
            .any(|q| q.package_number == p.package_number)
    });
    let status = match (p.current_status, p.ship_date, &p.tracking_number) {
        (Some(s), _, _) => s.name().to_owned(),
        (None, Some(_), _) => "SHIPPED".to_owned(),
        (None, None, Some(_)) => "LABELED".to_owned(),
        (None, None, None) => "PACKED".to_owned(),
    };
    Ok(Package {
        package_number: i32::try_from(p.package_number)
            .map_err(|_| ApiError::internal("a package number beyond the model's integer"))?,
        seller_fulfillment_order_id: order.seller_fulfillment_order_id.clone(),
        amazon_shipment_id: shipment
            .map(|s| s.amazon_shipment_id.clone())
            .unwrap_or_default(),
        items: p
            .items
            .iter()
            .filter_map(|i| {
                let quantity = Quantity::new(u32::try_from(i.quantity).ok()?)?;
                Some(PackLine {
                    seller_sku: order
                        .item(&i.seller_fulfillment_order_item_id)
                        .map(|it| it.seller_sku.clone())
                        .unwrap_or_default(),
                    quantity,
                })
            })
            .collect(),
        carrier_code: p.carrier_code.clone(),
        tracking_number: p.tracking_number.clone(),
        status,
    })
}

/// Lines by seller SKU become the order's lines (`sellerFulfillmentOrderItemId`):
/// each SKU's units fill the shipment's lines of that SKU that have picked,
/// unpacked units, in order. Under an `idempotencyKey`, the request as
/// received is the key's fingerprint: a repeat is answered with the package
/// the first made before its lines are matched again (they are packed now).
async fn pack(call: &Call<'_>, center: &str, seller: &str) -> Handled {
    let body: PackRequest = call.body()?;
    let id = body.seller_fulfillment_order_id.as_str();
    let f = call.f;
    let key = match &body.idempotency_key {
        Some(k) => Some(RequestKey {
            key: k.clone(),
            fingerprint: fingerprint(&body).map_err(domain_error)?,
        }),
        None => None,
    };
    if let Some(k) = &key
        && let Some(number) = f
            .packed_under(center, seller, id, k)
            .await
            .map_err(domain_error)?
    {
        return package_of(call, seller, number).await;
    }
    let order = f.order(seller, id).await.map_err(domain_error)?;
    let shipment = order
        .shipments
        .iter()
        .find(|s| s.fulfillment_center_id == center)
        .ok_or_else(|| {
            ApiError::not_found(format!("a shipment of order '{id}' at center {center}"))
        })?;
    let mut room: Vec<(String, String, u64)> = shipment
        .items
        .iter()
        .map(|it| {
            (
                it.seller_sku.clone(),
                it.seller_fulfillment_order_item_id.clone(),
                it.picked.unwrap_or(0).saturating_sub(it.packed),
            )
        })
        .collect();
    let mut items: Vec<PackageItem> = Vec::new();
    for (i, line) in body.items.iter().enumerate() {
        let mut left = u64::from(line.quantity.get());
        for (_, item_id, free) in room
            .iter_mut()
            .filter(|(sku, _, _)| *sku == line.seller_sku)
        {
            let take = left.min(*free);
            if take == 0 {
                continue;
            }
            *free -= take;
            left -= take;
            match items
                .iter_mut()
                .find(|p| p.seller_fulfillment_order_item_id == *item_id)
            {
                Some(p) => p.quantity += take,
                None => items.push(PackageItem {
                    seller_fulfillment_order_item_id: item_id.clone(),
                    quantity: take,
                }),
            }
        }
        if left > 0 {
            return Err(ApiError::invalid_input(format!(
                "items[{i}]: {left} more units of {} than are picked and not yet packed for order '{id}' at {center}",
                line.seller_sku
            )));
        }
    }
    let numbers = f
        .pack(
            center,
            seller,
            id,
            vec![DomainPack {
                items,
                weight_mg: weight_mg("weight", &body.weight)?,
                dimensions: Some(dimensions_um("dimensions", &body.dimensions)?),
                key,
            }],
        )
        .await
        .map_err(domain_error)?;
    let number = numbers
        .first()
        .copied()
        .ok_or_else(|| ApiError::internal("packing made no package"))?;
    package_of(call, seller, number).await
}

/// The package as it now is, by its account-wide number.
async fn package_of(call: &Call<'_>, seller: &str, number: i64) -> Handled {
    let (package, order) = call
        .f
        .tracking(seller, number)
        .await
        .map_err(domain_error)?;
    call.ok(&package_reply(&order, &package)?)
}

async fn label(call: &Call<'_>, center: &str, seller: &str, number: i32) -> Handled {
    let body: LabelRequest = call.body()?;
    let sim = nomuck_fulfillment::carrier::SIM_CARRIER_CODE;
    if let Some(code) = body.carrier_code.as_deref().filter(|c| *c != sim) {
        return Err(ApiError::invalid_input(format!(
            "carrierCode '{code}' is not a carrier of this center (the only one is {sim})"
        )));
    }
    let p = call
        .f
        .buy_label(center, seller, i64::from(number))
        .await
        .map_err(domain_error)?;
    call.ok(&Label {
        package_number: number,
        carrier_code: p.carrier_code.unwrap_or_default(),
        tracking_number: p.tracking_number.unwrap_or_default(),
        cost: Money {
            currency_code: "USD".to_owned(),
            value: exact(p.label_price_micro_usd, 6),
        },
    })
}

async fn package_now(call: &Call<'_>, seller: &str, number: i32) -> Handled {
    package_of(call, seller, i64::from(number)).await
}

/// `shipTime` is not taken: the books record when the center said so.
async fn ship(call: &Call<'_>, center: &str, seller: &str, number: i32) -> Handled {
    let _: ShipRequest = call.body()?;
    call.f
        .ship(center, seller, i64::from(number))
        .await
        .map_err(domain_error)?;
    package_now(call, seller, number).await
}

async fn package_event(call: &Call<'_>, center: &str, seller: &str, number: i32) -> Handled {
    let body: PackageEventRequest = call.body()?;
    let name = wire_name(&body.status);
    let status = TrackingStatus::from_name(&name).ok_or_else(|| {
        ApiError::invalid_input(format!(
            "status {name} is not one a carrier reports here ({})",
            TrackingStatus::ALL
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let at = body.time.map_or_else(|| call.f.now(), millis);
    call.f
        .carrier_event(center, seller, i64::from(number), status, at)
        .await
        .map_err(domain_error)?;
    package_now(call, seller, number).await
}

/// `returnId` is the return item's `sellerReturnItemId`; it is unique within
/// an order, so `sellerFulfillmentOrderId` picks the order when several
/// have one of that id.
async fn grade_return(call: &Call<'_>, center: &str, seller: &str, return_id: &str) -> Handled {
    let body: ReturnGradeRequest = call.body()?;
    let condition = ReturnCondition::from_name(&wire_name(&body.condition))
        .ok_or_else(|| ApiError::invalid_input("condition is not a return grade"))?;
    let order_id = match call.query_param(
        "sellerFulfillmentOrderId",
        crate::wire::outbound::ORDER_ID_MAX,
    )? {
        Some(id) => id,
        None => {
            let mut orders = call
                .f
                .orders_with_return(seller, return_id)
                .await
                .map_err(domain_error)?;
            match orders.len() {
                0 => return Err(ApiError::not_found(format!("return item '{return_id}'"))),
                1 => orders.remove(0),
                n => {
                    return Err(ApiError::invalid_input(format!(
                        "{n} orders have a return item '{return_id}': name one with sellerFulfillmentOrderId"
                    )));
                }
            }
        }
    };
    let r = call
        .f
        .receive_return(center, seller, &order_id, return_id, condition)
        .await
        .map_err(domain_error)?;
    call.ok(&ReturnItem {
        seller_return_item_id: r.seller_return_item_id,
        seller_fulfillment_order_item_id: r.seller_fulfillment_order_item_id,
        amazon_shipment_id: r.amazon_shipment_id,
        seller_return_reason_code: r.seller_return_reason_code,
        return_comment: r.return_comment,
        amazon_return_reason_code: None,
        status: from_name::<FulfillmentReturnItemStatus>(r.status.name())?,
        status_changed_date: ts(r.status_changed_date),
        return_authorization_id: None,
        return_received_condition: r
            .return_received_condition
            .map(|c| from_name(c.name()))
            .transpose()?,
        fulfillment_center_id: r.fulfillment_center_id,
    })
}

// ---- stock: counts and adjustments

/// `location` and `idempotencyKey` are not needed: a count is of the SKU in
/// the whole center, and the books key it by the ledger's head, so the same
/// count again finds the shelf matching and moves nothing.
async fn count(call: &Call<'_>, center: &str, seller: &str) -> Handled {
    let body: CycleCountRequest = call.body()?;
    let c = call
        .f
        .cycle_count(
            center,
            seller,
            &body.seller_sku,
            u64::from(body.counted_quantity.get()),
        )
        .await
        .map_err(domain_error)?;
    let adjustment = c.entry.map(|e| {
        ledger_entry(&inventory::LedgerEntry {
            seq: e.seq,
            at: e.at,
            seller_sku: c.seller_sku.clone(),
            movement: e.movement,
        })
    });
    call.ok(&CycleCountResult {
        seller_sku: c.seller_sku,
        fn_sku: c.fn_sku,
        center_id: c.center_id,
        expected_quantity: c.expected,
        counted_quantity: c.counted,
        adjustment,
    })
}

fn bucket(field: &str, name: Option<&str>) -> Result<Bucket, ApiError> {
    let name = name.ok_or_else(|| {
        ApiError::invalid_input(format!(
            "{field} is required: an adjustment moves units between buckets of the center \
             (units found or missing are settled by a cycle count)"
        ))
    })?;
    Bucket::from_name(name).ok_or_else(|| {
        ApiError::invalid_input(format!(
            "{field} '{name}' is not a bucket (FULFILLABLE, RESEARCHING, UNFULFILLABLE_…)"
        ))
    })
}

async fn adjust(call: &Call<'_>, center: &str, seller: &str) -> Handled {
    let body: AdjustmentRequest = call.body()?;
    let spec = AdjustmentSpec {
        seller_sku: body.seller_sku.clone(),
        from: bucket("fromBucket", body.from_bucket.as_deref())?,
        to: bucket("toBucket", body.to_bucket.as_deref())?,
        quantity: u64::from(body.quantity.get()),
        adjustment_id: body.idempotency_key,
        note: body.reason,
    };
    let e = call
        .f
        .adjust(center, seller, spec)
        .await
        .map_err(domain_error)?;
    call.ok(&ledger_entry(&inventory::LedgerEntry {
        seq: e.seq,
        at: e.at,
        seller_sku: body.seller_sku,
        movement: e.movement,
    }))
}

// ---- the work queue

async fn list_work(call: &Call<'_>, center: &Center) -> Handled {
    let work = call
        .f
        .pending_work(&center.id)
        .await
        .map_err(domain_error)?;
    call.ok(&WorkQueue {
        center_id: center.id.clone(),
        work: work
            .into_iter()
            .map(|w| WorkItem {
                kind: w.kind.name().to_owned(),
                reference: match (&w.order_id, &w.order_item_id) {
                    // A pick is done by its task id.
                    (Some(order), Some(item))
                        if w.kind == nomuck_fulfillment::work::WorkKind::Pick =>
                    {
                        task_id(order, item)
                    }
                    _ => w.reference,
                },
                seller_sku: w.seller_sku,
                quantity: w.quantity.map(|q| u32::try_from(q).unwrap_or(u32::MAX)),
                since: ts(w.since),
                seller_id: w.account_id,
                seller_fulfillment_order_id: w.order_id,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_round_trip_whatever_the_ids_hold() {
        for (order, item) in [("O-1", "1"), ("a:b", "c:d"), ("ü:", ":")] {
            assert_eq!(
                parse_task(&task_id(order, item)).unwrap(),
                (order.to_owned(), item.to_owned())
            );
        }
        for bad in ["", "x", "3:ab", "2:ab", "9:ab:c", "1::x", "2:ab:"] {
            assert!(parse_task(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn location_codes_parse_back() {
        let l = location_of("A-1-2-3-4").unwrap();
        assert_eq!((l.zone.as_str(), l.bin.as_str()), ("A", "4"));
        assert!(location_of("A-1-2-3").is_none());
        assert!(location_of("A-1-2-3-4-5").is_none());
    }
}
