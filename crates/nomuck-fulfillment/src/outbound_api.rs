//! The public calls of outbound fulfillment on [`Fulfillment`]: each wraps
//! one op fn (order_ops, warehouse, returns) in the account's writer, or
//! reads the book.

use nomuck_meta::Millis;

use crate::Fulfillment;
use crate::book::{Book, Tx};
use crate::carrier::SimCarrier;
use crate::config::FulfillmentConfig;
use crate::error::{FulfillmentError, Result};
use crate::order_ops::{self, order_of};
use crate::orders::{
    Order, OrderRequest, OrderStatus, OrderUpdate, Package, RequestKey, ReturnCondition,
    ReturnItem, ShipmentStatus, TrackingStatus,
};
use crate::preview::{self, PreviewBySpeed, PreviewRequest};
use crate::returns::{self, CreateReturnItem, CreateReturnResult, RETURN_REASON_CODES};
use crate::warehouse::{self, PackRequest};

impl Fulfillment {
    fn center_checked(&self, center: &str) -> Result<()> {
        self.config()
            .center(center)
            .map(|_| ())
            .ok_or_else(|| FulfillmentError::NotFound(format!("center {center:?}")))
    }

    /// getFulfillmentPreview.
    pub async fn preview(&self, account: &str, req: PreviewRequest) -> Result<Vec<PreviewBySpeed>> {
        let config = self.config().clone();
        let now = self.now();
        self.read(account, move |b| preview::preview(b, &config, &req, now))
            .await?
    }

    /// createFulfillmentOrder (idempotent by sellerFulfillmentOrderId).
    pub async fn create_order(&self, account: &str, req: OrderRequest) -> Result<Order> {
        let config = self.config().clone();
        self.write(account, move |b, tx| order_ops::create(b, tx, &config, req))
            .await
    }

    /// getFulfillmentOrder.
    pub async fn order(&self, account: &str, id: &str) -> Result<Order> {
        self.read(account, |b| order_of(b, id)).await?
    }

    /// listAllFulfillmentOrders: a page and the token of the next one.
    pub async fn orders(
        &self,
        account: &str,
        query_start_date: Option<Millis>,
        next_token: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Order>, Option<String>)> {
        self.read(account, |b| {
            order_ops::list(b, query_start_date, next_token, limit)
        })
        .await?
    }

    /// updateFulfillmentOrder.
    pub async fn update_order(
        &self,
        account: &str,
        id: &str,
        update: OrderUpdate,
    ) -> Result<Order> {
        let config = self.config().clone();
        let id = id.to_owned();
        self.write(account, move |b, tx| {
            order_ops::update(b, tx, &config, &id, update)
        })
        .await
    }

    /// cancelFulfillmentOrder.
    pub async fn cancel_order(&self, account: &str, id: &str) -> Result<Order> {
        let id = id.to_owned();
        self.write(account, move |b, tx| order_ops::cancel(b, tx, &id))
            .await
    }

    /// submitFulfillmentOrderStatusUpdate (sandbox): moves the order along
    /// its machine to `status`, through the same ops as the center.
    pub async fn force_status(
        &self,
        account: &str,
        id: &str,
        status: OrderStatus,
    ) -> Result<Order> {
        let config = self.config().clone();
        let id = id.to_owned();
        self.write(account, move |b, tx| force(b, tx, &config, &id, status))
            .await
    }

    /// getPackageTrackingDetails: the package and its order.
    pub async fn tracking(&self, account: &str, package_number: i64) -> Result<(Package, Order)> {
        self.read(account, |b| {
            let id = b
                .packages
                .get(&package_number)
                .ok_or_else(|| FulfillmentError::NotFound(format!("package {package_number}")))?;
            let order = order_of(b, id)?;
            let (_, p) = order
                .package(package_number)
                .ok_or_else(|| FulfillmentError::NotFound(format!("package {package_number}")))?;
            Ok((p.clone(), order))
        })
        .await?
    }

    /// listReturnReasonCodes: the same codes for every SKU (checked to be
    /// the account's).
    pub async fn return_reason_codes(
        &self,
        account: &str,
        seller_sku: &str,
    ) -> Result<&'static [(&'static str, &'static str)]> {
        let known = self
            .read(account, |b| b.items.contains_key(seller_sku))
            .await?;
        if !known {
            return Err(FulfillmentError::NotFound(format!("SKU {seller_sku:?}")));
        }
        Ok(RETURN_REASON_CODES)
    }

    /// createFulfillmentReturn.
    pub async fn create_return(
        &self,
        account: &str,
        id: &str,
        items: Vec<CreateReturnItem>,
    ) -> Result<CreateReturnResult> {
        let id = id.to_owned();
        self.write(account, move |b, tx| {
            returns::create_return(b, tx, &id, items)
        })
        .await
    }

    // ---- the center's operations (the API checks the caller operates it)

    pub async fn plan_wave(
        &self,
        center: &str,
        account: &str,
        ids: Vec<String>,
    ) -> Result<Vec<String>> {
        self.center_checked(center)?;
        let center = center.to_owned();
        self.write(account, move |b, tx| {
            warehouse::plan_wave(b, tx, &center, &ids)
        })
        .await
    }

    pub async fn pick(
        &self,
        center: &str,
        account: &str,
        id: &str,
        item_id: &str,
        picked: u64,
    ) -> Result<()> {
        self.center_checked(center)?;
        let (center, id, item_id) = (center.to_owned(), id.to_owned(), item_id.to_owned());
        self.write(account, move |b, tx| {
            warehouse::pick(b, tx, &center, &id, &item_id, picked)
        })
        .await
    }

    pub async fn pack(
        &self,
        center: &str,
        account: &str,
        id: &str,
        packages: Vec<PackRequest>,
    ) -> Result<Vec<i64>> {
        self.center_checked(center)?;
        let (center, id) = (center.to_owned(), id.to_owned());
        self.write(account, move |b, tx| {
            warehouse::pack(b, tx, &center, &id, packages)
        })
        .await
    }

    /// The package an earlier pack of order `id` at `center` made under
    /// `key` (see [`warehouse::packed_under`]).
    pub async fn packed_under(
        &self,
        center: &str,
        account: &str,
        id: &str,
        key: &RequestKey,
    ) -> Result<Option<i64>> {
        self.center_checked(center)?;
        let (center, id, key) = (center.to_owned(), id.to_owned(), key.clone());
        self.read(account, move |b| {
            warehouse::packed_under(b, &center, &id, &key)
        })
        .await?
    }

    pub async fn buy_label(
        &self,
        center: &str,
        account: &str,
        package_number: i64,
    ) -> Result<Package> {
        self.center_checked(center)?;
        let center = center.to_owned();
        self.write(account, move |b, tx| {
            warehouse::buy_label(b, tx, &SimCarrier, &center, package_number)
        })
        .await
    }

    pub async fn ship(&self, center: &str, account: &str, package_number: i64) -> Result<()> {
        self.center_checked(center)?;
        let config = self.config().clone();
        let center = center.to_owned();
        self.write(account, move |b, tx| {
            warehouse::ship(b, tx, &config, &center, package_number)
        })
        .await
    }

    pub async fn carrier_event(
        &self,
        center: &str,
        account: &str,
        package_number: i64,
        status: TrackingStatus,
        at: Millis,
    ) -> Result<()> {
        self.center_checked(center)?;
        let config = self.config().clone();
        let center = center.to_owned();
        self.write(account, move |b, tx| {
            crate::tracking::carrier_event(b, tx, &config, &center, package_number, status, at)
        })
        .await
    }

    pub async fn receive_return(
        &self,
        center: &str,
        account: &str,
        id: &str,
        return_item_id: &str,
        condition: ReturnCondition,
    ) -> Result<ReturnItem> {
        self.center_checked(center)?;
        let (center, id, rid) = (center.to_owned(), id.to_owned(), return_item_id.to_owned());
        self.write(account, move |b, tx| {
            returns::receive_return(b, tx, &center, &id, &rid, condition)
        })
        .await
    }

    /// One step of the simulated operator for `account` (the driver loop
    /// calls it every tick); says whether it did anything.
    pub async fn sim_outbound_step(&self, account: &str) -> Result<bool> {
        let config = self.config().clone();
        self.write(account, move |b, tx| {
            let now = tx.now;
            Ok(crate::sim::sim_outbound(b, tx, now, &config))
        })
        .await
    }
}

/// The sandbox's forced transition. Steps already done stay done if a
/// later one fails (each step is whole), so the call then answers with the
/// order as far as it got.
fn force(
    book: &mut Book,
    tx: &mut Tx,
    config: &FulfillmentConfig,
    id: &str,
    target: OrderStatus,
) -> Result<Order> {
    let order = order_of(book, id)?;
    let from = order.fulfillment_order_status;
    if from == target {
        return Ok(order);
    }
    let refuse = || {
        Err(FulfillmentError::Conflict(format!(
            "fulfillment order {id:?} cannot go from {} to {}",
            from.name(),
            target.name()
        )))
    };
    if from.is_final() {
        return refuse();
    }
    match target {
        OrderStatus::Cancelled => return order_ops::cancel(book, tx, id),
        // Given up before the center started: the reservation goes back.
        OrderStatus::Unfulfillable | OrderStatus::Invalid if from.before_processing() => {
            let mut order = order;
            order_ops::release(book, tx, &mut order, ShipmentStatus::CancelledByFulfiller)?;
            for it in &mut order.items {
                it.unfulfillable_quantity = it.quantity.saturating_sub(it.cancelled_quantity);
            }
            let account = book.account_id.clone();
            crate::order_events::set_status(tx, &account, &mut order, target);
            order_ops::put_order(book, tx, order)?;
            return order_of(book, id);
        }
        OrderStatus::Planning
        | OrderStatus::Processing
        | OrderStatus::Complete
        | OrderStatus::CompletePartialled => {}
        _ => return refuse(),
    }
    // The first step's error is the call's; after that the order has
    // moved, so a later failure answers with the order as far as it got.
    let mut first = true;
    for s in &order.shipments {
        if s.fulfillment_shipment_status != ShipmentStatus::Pending {
            continue;
        }
        let center = s.fulfillment_center_id.clone();
        let short = target == OrderStatus::CompletePartialled;
        let to_ship = matches!(
            target,
            OrderStatus::Complete | OrderStatus::CompletePartialled
        );
        let r = (|| -> Result<()> {
            if !s.waved {
                warehouse::plan_wave(book, tx, &center, &[id.to_owned()])?;
            }
            if !to_ship {
                return Ok(());
            }
            // CompletePartialled: one unit of the first line is not found.
            let first_line = s
                .items
                .first()
                .map(|i| i.seller_fulfillment_order_item_id.clone());
            let numbers = warehouse::pick_pack_label(book, tx, &center, id, |it| {
                let missing =
                    short && Some(&it.seller_fulfillment_order_item_id) == first_line.as_ref();
                it.quantity - u64::from(missing)
            })?;
            for n in numbers {
                warehouse::ship(book, tx, config, &center, n)?;
            }
            Ok(())
        })();
        match r {
            Err(e) if first => return Err(e),
            Err(e) => {
                tracing::warn!(order = %id, error = %e, "forced status stopped part way");
                break;
            }
            Ok(()) => first = false,
        }
    }
    order_of(book, id)
}
