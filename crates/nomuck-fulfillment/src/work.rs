//! What waits for a center's staff: the read behind the operations API's
//! work queue (`GET /fws/v1/centers/{id}/work`). Derived from the books, so
//! it is never out of step with them; nothing here changes anything.

use nomuck_meta::Millis;

use crate::Fulfillment;
use crate::book::Book;
use crate::error::Result;
use crate::inbound::ShipmentStatus as InboundStatus;
use crate::orders::{FulfillmentAction, ReturnStatus, ShipmentStatus};

/// The kind of a step waiting at a center.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkKind {
    /// An inbound shipment to check in, receive and close.
    Receive,
    /// An order to release to picking.
    Wave,
    /// A line of a waved order to pick.
    Pick,
    /// Picked units to pack.
    Pack,
    /// A package without a label.
    Label,
    /// A labelled package to hand to the carrier.
    Ship,
    /// A return item to receive and grade.
    GradeReturn,
}

impl WorkKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Receive => "receive",
            Self::Wave => "wave",
            Self::Pick => "pick",
            Self::Pack => "pack",
            Self::Label => "label",
            Self::Ship => "ship",
            Self::GradeReturn => "gradeReturn",
        }
    }
}

/// One step waiting at a center, of one seller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Work {
    pub kind: WorkKind,
    pub account_id: String,
    /// The inbound shipment, order or return item id; for `Label` and
    /// `Ship`, the package number.
    pub reference: String,
    /// The order it belongs to (outbound kinds).
    pub order_id: Option<String>,
    /// For `Pick`: the order line (`sellerFulfillmentOrderItemId`).
    pub order_item_id: Option<String>,
    pub seller_sku: Option<String>,
    pub quantity: Option<u64>,
    /// Since when it waits (the record's last change).
    pub since: Millis,
}

/// The account's work at `center`, inbound first, then orders by id.
pub fn work_of(book: &Book, center: &str) -> Vec<Work> {
    let account = &book.account_id;
    let mut out = Vec::new();
    let base = |kind, reference: String, since| Work {
        kind,
        account_id: account.clone(),
        reference,
        order_id: None,
        order_item_id: None,
        seller_sku: None,
        quantity: None,
        since,
    };
    for s in book.inbound.values().filter(|s| {
        s.destination_fulfillment_center_id == center
            && matches!(
                s.shipment_status,
                InboundStatus::Shipped
                    | InboundStatus::InTransit
                    | InboundStatus::Delivered
                    | InboundStatus::CheckedIn
                    | InboundStatus::Receiving
            )
    }) {
        out.push(Work {
            quantity: Some(s.items.iter().map(|i| i.outstanding()).sum()),
            ..base(WorkKind::Receive, s.shipment_id.clone(), s.updated_at)
        });
    }
    for order in book.orders.values() {
        let id = &order.seller_fulfillment_order_id;
        let in_order = |w: Work| Work {
            order_id: Some(id.clone()),
            ..w
        };
        for s in order.shipments.iter().filter(|s| {
            s.fulfillment_center_id == center
                && s.fulfillment_shipment_status == ShipmentStatus::Pending
        }) {
            if !s.waved {
                let waiting = order.fulfillment_action == FulfillmentAction::Ship
                    && order.fulfillment_order_status.before_processing();
                if waiting {
                    out.push(in_order(base(WorkKind::Wave, id.clone(), order.updated_at)));
                }
                continue;
            }
            for it in &s.items {
                let line = |kind, quantity| {
                    in_order(Work {
                        order_item_id: Some(it.seller_fulfillment_order_item_id.clone()),
                        seller_sku: Some(it.seller_sku.clone()),
                        quantity: Some(quantity),
                        ..base(kind, id.clone(), order.updated_at)
                    })
                };
                match it.picked {
                    None => out.push(line(WorkKind::Pick, it.quantity)),
                    Some(p) if p > it.packed => out.push(line(WorkKind::Pack, p - it.packed)),
                    Some(_) => {}
                }
            }
            for p in s.packages.iter().filter(|p| p.ship_date.is_none()) {
                let kind = if p.tracking_number.is_none() {
                    WorkKind::Label
                } else {
                    WorkKind::Ship
                };
                out.push(in_order(base(
                    kind,
                    p.package_number.to_string(),
                    order.updated_at,
                )));
            }
        }
        for r in order
            .return_items
            .iter()
            .filter(|r| r.status == ReturnStatus::New)
        {
            let here = order.shipments.iter().any(|s| {
                s.amazon_shipment_id == r.amazon_shipment_id && s.fulfillment_center_id == center
            });
            if here {
                out.push(in_order(Work {
                    seller_sku: order
                        .item(&r.seller_fulfillment_order_item_id)
                        .map(|i| i.seller_sku.clone()),
                    quantity: Some(1),
                    ..base(
                        WorkKind::GradeReturn,
                        r.seller_return_item_id.clone(),
                        r.status_changed_date,
                    )
                }));
            }
        }
    }
    out
}

impl Fulfillment {
    /// Everything waiting at `center` across every account with
    /// fulfillment state (loading books not yet in memory).
    pub async fn pending_work(&self, center: &str) -> Result<Vec<Work>> {
        self.check_center_exists(center)?;
        let mut out = Vec::new();
        for account in self.load_all().await? {
            out.extend(self.work(center, &account).await?);
        }
        Ok(out)
    }

    /// One account's work at `center`.
    pub async fn work(&self, center: &str, account_id: &str) -> Result<Vec<Work>> {
        self.check_center_exists(center)?;
        self.read(account_id, |b| work_of(b, center)).await
    }

    /// The orders holding a return item `return_item_id` (sellerReturnItemId
    /// is unique within an order, not across them).
    pub async fn orders_with_return(
        &self,
        account_id: &str,
        return_item_id: &str,
    ) -> Result<Vec<String>> {
        self.read(account_id, |b| {
            b.orders
                .values()
                .filter(|o| {
                    o.return_items
                        .iter()
                        .any(|r| r.seller_return_item_id == return_item_id)
                })
                .map(|o| o.seller_fulfillment_order_id.clone())
                .collect()
        })
        .await
    }
}
