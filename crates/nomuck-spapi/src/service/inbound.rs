//! Handlers: FBA Inventory v1 summaries, Fulfillment Inbound v0 (create and
//! update by id, the shipment and item reads, labels) and the seller's
//! native status change of an inbound shipment.

use base64::Engine as _;
use nomuck_fulfillment::config;
use nomuck_fulfillment::inbound::{
    InboundFilter, InboundItem, InboundItemSpec, InboundShipment, InboundShipmentSpec,
    ShipmentStatus as DomainStatus,
};
use nomuck_fulfillment::inventory::{InventoryQuery, InventorySummary as DomainSummary};
use nomuck_meta::Millis;
use serde::{Deserialize, Serialize};

use super::native::{from_name, i64_of, millis, ts, wire_name};
use super::{Call, Handled, domain_error};
use crate::error::ApiError;
use crate::json::Count;
use crate::route::{
    InboundQueryType, InventorySummariesQuery, LabelsQuery, Operation, ShipmentItemsQuery,
    ShipmentsQuery,
};
use crate::wire::Payload;
use crate::wire::inbound::{
    Address, GetShipmentItemsResult, GetShipmentsResult, InboundShipmentInfo, InboundShipmentItem,
    InboundShipmentRequest, InboundShipmentResult, LabelDownloadUrl, LabelPrepPreference,
    LabelPrepType, ShipmentStatus,
};
use crate::wire::inventory::{
    GetInventorySummariesResponse, GetInventorySummariesResult, Granularity, InventoryDetails,
    InventorySummary, Pagination, ResearchingQuantity, ReservedQuantity, UnfulfillableQuantity,
};
use crate::wire::native::InboundStatusUpdate;

/// getInventorySummaries' page size (the model's).
const SUMMARIES_PAGE: usize = 50;
/// getShipments' and getShipmentItems' page size.
const INBOUND_PAGE: usize = 100;

pub(crate) async fn handle(call: &Call<'_>, op: Operation) -> Handled {
    match op {
        Operation::GetInventorySummaries(q) => summaries(call, q).await,
        Operation::CreateInboundShipment { shipment_id } => put(call, &shipment_id, true).await,
        Operation::UpdateInboundShipment { shipment_id } => put(call, &shipment_id, false).await,
        Operation::GetShipments(q) => shipments(call, q).await,
        Operation::GetShipmentItems(q) => items_updated(call, q).await,
        Operation::GetShipmentItemsByShipmentId { shipment_id, .. } => {
            let items = call
                .f
                .inbound_items(call.account, &shipment_id)
                .await
                .map_err(domain_error)?;
            call.ok(&Payload::new(GetShipmentItemsResult {
                item_data: items.iter().map(item_reply).collect(),
                next_token: None,
            }))
        }
        Operation::GetLabels { shipment_id, query } => labels(call, &shipment_id, &query).await,
        Operation::UpdateInboundStatus { shipment_id } => {
            let body: InboundStatusUpdate = call.body()?;
            let status = DomainStatus::from_name(&wire_name(&body.status))
                .ok_or_else(|| ApiError::invalid_input("status must be SHIPPED or CANCELLED"))?;
            let s = call
                .f
                .set_inbound_status(call.account, &shipment_id, status)
                .await
                .map_err(domain_error)?;
            call.ok(&Payload::new(shipment_info(&s)?))
        }
        other => Err(ApiError::not_found(format!(
            "{} is not an inbound operation",
            other.name()
        ))),
    }
}

// ---- FBA Inventory v1

fn summary_reply(s: &DomainSummary) -> InventorySummary {
    let details = s.details.map(|d| {
        let r = d.reserved_quantity;
        let u = d.unfulfillable_quantity;
        InventoryDetails {
            fulfillable_quantity: i64_of(d.fulfillable_quantity),
            inbound_working_quantity: i64_of(d.inbound_working_quantity),
            inbound_shipped_quantity: i64_of(d.inbound_shipped_quantity),
            inbound_receiving_quantity: i64_of(d.inbound_receiving_quantity),
            reserved_quantity: ReservedQuantity {
                total_reserved_quantity: i64_of(r.total_reserved_quantity),
                pending_customer_order_quantity: i64_of(r.pending_customer_order_quantity),
                pending_transshipment_quantity: i64_of(r.pending_transshipment_quantity),
                fc_processing_quantity: i64_of(r.fc_processing_quantity),
            },
            researching_quantity: ResearchingQuantity {
                total_researching_quantity: i64_of(d.researching_quantity),
                researching_quantity_breakdown: Vec::new(),
            },
            unfulfillable_quantity: UnfulfillableQuantity {
                total_unfulfillable_quantity: i64_of(u.total_unfulfillable_quantity),
                customer_damaged_quantity: i64_of(u.customer_damaged_quantity),
                warehouse_damaged_quantity: i64_of(u.warehouse_damaged_quantity),
                distributor_damaged_quantity: i64_of(u.distributor_damaged_quantity),
                carrier_damaged_quantity: i64_of(u.carrier_damaged_quantity),
                defective_quantity: i64_of(u.defective_quantity),
                expired_quantity: i64_of(u.expired_quantity),
            },
        }
    });
    InventorySummary {
        asin: None,
        fn_sku: s.fn_sku.clone(),
        seller_sku: s.seller_sku.clone(),
        condition: s.condition.to_owned(),
        inventory_details: details,
        last_updated_time: ts(s.last_updated_time),
        product_name: None,
        total_quantity: i64_of(s.total_quantity),
        stores: None,
    }
}

async fn summaries(call: &Call<'_>, q: InventorySummariesQuery) -> Handled {
    let page = call
        .f
        .inventory_summaries(
            call.account,
            InventoryQuery {
                seller_skus: q.seller_skus,
                start_date_time: q.start_date_time.map(millis),
                details: q.details,
                after_token: q.next_token,
                limit: SUMMARIES_PAGE,
            },
        )
        .await
        .map_err(domain_error)?;
    call.ok(&GetInventorySummariesResponse {
        payload: GetInventorySummariesResult {
            granularity: Granularity {
                granularity_type: q.granularity_type,
                granularity_id: q.granularity_id,
            },
            inventory_summaries: page.summaries.iter().map(summary_reply).collect(),
        },
        // Always sent (clients read `pagination.nextToken` without a check).
        pagination: Some(Pagination {
            next_token: page.next_token,
        }),
    })
}

// ---- Fulfillment Inbound v0

fn domain_address(a: &Address) -> config::Address {
    config::Address {
        name: a.name.clone(),
        address_line1: a.address_line1.clone(),
        address_line2: a.address_line2.clone(),
        address_line3: None,
        city: Some(a.city.clone()),
        district_or_county: a.district_or_county.clone(),
        state_or_region: a.state_or_province_code.clone(),
        postal_code: a.postal_code.clone(),
        country_code: a.country_code.clone(),
        phone: None,
    }
}

fn wire_address(a: &config::Address) -> Address {
    Address {
        name: a.name.clone(),
        address_line1: a.address_line1.clone(),
        address_line2: a.address_line2.clone(),
        district_or_county: a.district_or_county.clone(),
        city: a.city.clone().unwrap_or_default(),
        state_or_province_code: a.state_or_region.clone(),
        country_code: a.country_code.clone(),
        postal_code: a.postal_code.clone(),
    }
}

/// `InboundShipmentRequest` → the domain's spec. `create`: v0 lets a new
/// shipment be `WORKING` or `SHIPPED` only.
fn spec(body: InboundShipmentRequest, create: bool) -> Result<InboundShipmentSpec, ApiError> {
    let header = body.inbound_shipment_header;
    let status = header.shipment_status;
    let allowed = matches!(status, ShipmentStatus::Working | ShipmentStatus::Shipped)
        || (!create && status == ShipmentStatus::Cancelled);
    if !allowed {
        return Err(ApiError::invalid_input(format!(
            "InboundShipmentHeader.ShipmentStatus {} is not one a seller sets here (WORKING, SHIPPED{})",
            wire_name(&status),
            if create { "" } else { " or CANCELLED" }
        )));
    }
    let shipment_status = DomainStatus::from_name(&wire_name(&status));
    let label_prep_type = match header.label_prep_preference {
        LabelPrepPreference::SellerLabel => "SELLER_LABEL",
        LabelPrepPreference::AmazonLabelOnly | LabelPrepPreference::AmazonLabelPreferred => {
            "AMAZON_LABEL"
        }
    };
    Ok(InboundShipmentSpec {
        shipment_name: header.shipment_name,
        ship_from_address: domain_address(&header.ship_from_address),
        destination_fulfillment_center_id: header.destination_fulfillment_center_id,
        label_prep_type: label_prep_type.to_owned(),
        are_cases_required: header.are_cases_required.unwrap_or(false),
        shipment_status,
        items: body
            .inbound_shipment_items
            .into_iter()
            .map(|i| InboundItemSpec {
                seller_sku: i.seller_sku,
                quantity_shipped: u64::from(i.quantity_shipped.get()),
                quantity_in_case: i.quantity_in_case.map(|c| u64::from(c.get())),
            })
            .collect(),
    })
}

async fn put(call: &Call<'_>, shipment_id: &str, create: bool) -> Handled {
    let body: InboundShipmentRequest = call.body()?;
    let spec = spec(body, create)?;
    let s = if create {
        call.f
            .create_inbound_shipment(call.account, shipment_id, spec)
            .await
    } else {
        call.f
            .update_inbound_shipment(call.account, shipment_id, spec)
            .await
    }
    .map_err(domain_error)?;
    call.ok(&Payload::new(InboundShipmentResult {
        shipment_id: s.shipment_id,
    }))
}

pub(crate) fn shipment_info(s: &InboundShipment) -> Result<InboundShipmentInfo, ApiError> {
    Ok(InboundShipmentInfo {
        shipment_id: Some(s.shipment_id.clone()),
        shipment_name: Some(s.shipment_name.clone()),
        ship_from_address: wire_address(&s.ship_from_address),
        destination_fulfillment_center_id: Some(s.destination_fulfillment_center_id.clone()),
        shipment_status: Some(from_name(s.shipment_status.name())?),
        label_prep_type: match s.label_prep_type.as_str() {
            "SELLER_LABEL" => Some(LabelPrepType::SellerLabel),
            "AMAZON_LABEL" => Some(LabelPrepType::AmazonLabel),
            "NO_LABEL" => Some(LabelPrepType::NoLabel),
            _ => None,
        },
        are_cases_required: s.are_cases_required,
        confirmed_need_by_date: None,
        box_contents_source: None,
    })
}

pub(crate) fn item_reply(i: &InboundItem) -> InboundShipmentItem {
    InboundShipmentItem {
        shipment_id: Some(i.shipment_id.clone()),
        seller_sku: i.seller_sku.clone(),
        fulfillment_network_sku: Some(i.fulfillment_network_sku.clone()),
        quantity_shipped: Count::saturating(i.quantity_shipped),
        quantity_received: Some(Count::saturating(i.quantity_received)),
        quantity_in_case: Some(Count::saturating(i.quantity_in_case)),
        release_date: None,
        prep_details_list: None,
    }
}

/// What a `NextToken` of the inbound reads carries: the query it continues
/// and where the last page ended. Hex of JSON, so it needs no escaping and
/// never expires.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Continuation {
    statuses: Vec<String>,
    after: Option<Millis>,
    before: Option<Millis>,
    /// The last shipment id returned.
    shipment: String,
    /// The last SKU returned (item reads).
    sku: String,
}

impl Continuation {
    fn encode(&self) -> String {
        hex::encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(token: &str) -> Result<Continuation, ApiError> {
        hex::decode(token)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| ApiError::invalid_input("NextToken is not a token this service issued"))
    }
}

fn next_token_of(
    q: InboundQueryType,
    token: Option<&str>,
) -> Result<Option<Continuation>, ApiError> {
    if q != InboundQueryType::NextToken {
        return Ok(None);
    }
    let token = token.ok_or_else(|| {
        ApiError::invalid_input("NextToken is required when QueryType is NEXT_TOKEN")
    })?;
    Continuation::decode(token).map(Some)
}

async fn shipments(call: &Call<'_>, q: ShipmentsQuery) -> Handled {
    let resumed = next_token_of(q.query_type, q.next_token.as_deref())?;
    let (mut filter, after) = match resumed {
        Some(c) => (
            InboundFilter {
                statuses: c
                    .statuses
                    .iter()
                    .filter_map(|s| DomainStatus::from_name(s))
                    .collect(),
                ids: Vec::new(),
                updated_after: c.after,
                updated_before: c.before,
            },
            Some(c.shipment),
        ),
        None => (InboundFilter::default(), None),
    };
    match q.query_type {
        InboundQueryType::Shipment => {
            if q.shipment_status_list.is_empty() && q.shipment_id_list.is_empty() {
                return Err(ApiError::invalid_input(
                    "ShipmentStatusList or ShipmentIdList is required when QueryType is SHIPMENT",
                ));
            }
            filter.ids = q.shipment_id_list;
        }
        InboundQueryType::DateRange => {
            if q.last_updated_after.is_none() && q.last_updated_before.is_none() {
                return Err(ApiError::invalid_input(
                    "LastUpdatedAfter and LastUpdatedBefore are required when QueryType is DATE_RANGE",
                ));
            }
            filter.updated_after = q.last_updated_after.map(millis);
            filter.updated_before = q.last_updated_before.map(millis);
        }
        InboundQueryType::NextToken => {}
    }
    if q.query_type != InboundQueryType::NextToken {
        // A status that the domain does not know (READY_TO_SHIPPED) matches nothing.
        filter.statuses = q
            .shipment_status_list
            .iter()
            .filter_map(|s| DomainStatus::from_name(&wire_name(s)))
            .collect();
        if !q.shipment_status_list.is_empty() && filter.statuses.is_empty() {
            return call.ok(&Payload::new(GetShipmentsResult {
                shipment_data: Vec::new(),
                next_token: None,
            }));
        }
    }
    // A list of ids is answered whole (at most 999), so its token never
    // has to carry the list.
    let limit = if filter.ids.is_empty() {
        INBOUND_PAGE
    } else {
        filter.ids.len()
    };
    let mut found = call
        .f
        .inbound_shipments(call.account, filter.clone(), after.as_deref(), limit + 1)
        .await
        .map_err(domain_error)?;
    let more = found.len() > limit;
    found.truncate(limit);
    let next_token = more.then(|| found.last()).flatten().map(|last| {
        Continuation {
            statuses: filter
                .statuses
                .iter()
                .map(|s| s.name().to_owned())
                .collect(),
            after: filter.updated_after,
            before: filter.updated_before,
            shipment: last.shipment_id.clone(),
            sku: String::new(),
        }
        .encode()
    });
    call.ok(&Payload::new(GetShipmentsResult {
        shipment_data: found.iter().map(shipment_info).collect::<Result<_, _>>()?,
        next_token,
    }))
}

async fn items_updated(call: &Call<'_>, q: ShipmentItemsQuery) -> Handled {
    let resumed = next_token_of(q.query_type, q.next_token.as_deref())?;
    let (after, before, from) = match resumed {
        Some(c) => (c.after, c.before, Some((c.shipment, c.sku))),
        None => {
            if q.last_updated_after.is_none() && q.last_updated_before.is_none() {
                return Err(ApiError::invalid_input(
                    "LastUpdatedAfter and LastUpdatedBefore are required when QueryType is DATE_RANGE",
                ));
            }
            (
                q.last_updated_after.map(millis),
                q.last_updated_before.map(millis),
                None,
            )
        }
    };
    let mut items = call
        .f
        .inbound_items_updated(
            call.account,
            after.unwrap_or(Millis::MIN),
            before.unwrap_or(Millis::MAX),
        )
        .await
        .map_err(domain_error)?;
    // Pages by (shipment, SKU), which a later edit cannot reorder.
    items.sort_by(|a, b| (&a.shipment_id, &a.seller_sku).cmp(&(&b.shipment_id, &b.seller_sku)));
    if let Some(from) = &from {
        items.retain(|i| (&i.shipment_id, &i.seller_sku) > (&from.0, &from.1));
    }
    let more = items.len() > INBOUND_PAGE;
    items.truncate(INBOUND_PAGE);
    let next_token = more.then(|| items.last()).flatten().map(|last| {
        Continuation {
            statuses: Vec::new(),
            after,
            before,
            shipment: last.shipment_id.clone(),
            sku: last.seller_sku.clone(),
        }
        .encode()
    });
    call.ok(&Payload::new(GetShipmentItemsResult {
        item_data: items.iter().map(item_reply).collect(),
        next_token,
    }))
}

/// v0 answers a `DownloadURL`. Here it is a `data:application/pdf;base64,`
/// URL holding the PDF itself: it needs no second authenticated request
/// and no host name (which some clients send truncated), and it cannot
/// expire or leak to another account.
async fn labels(call: &Call<'_>, shipment_id: &str, query: &LabelsQuery) -> Handled {
    let pdf = call
        .f
        .labels(call.account, shipment_id, query.number_of_packages)
        .await
        .map_err(domain_error)?;
    call.ok(&Payload::new(LabelDownloadUrl {
        download_url: format!(
            "data:application/pdf;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(pdf)
        ),
    }))
}
