//! Method + path + query → [`Operation`]. Path parameters are percent-decoded exactly
//! (a `+` stays a `+`; `%2F` is a `/` inside the id, not a separator) and checked
//! against the models' lengths. One trailing slash is tolerated. An unknown path is 404
//! `NotFound`; a known path with another method is 405 naming the allowed ones.

use http::Method;
use percent_encoding::percent_decode_str;

use crate::date::Timestamp;
use crate::error::ApiError;
use crate::json::required;
use crate::query::{Query, enum_value};
use crate::wire::inbound::{SHIPMENT_ID_MAX, ShipmentStatus};
use crate::wire::outbound::{ORDER_ID_MAX, SKU_MAX};
use crate::wire::warehouse::{TASK_ID_MAX, WAREHOUSE_ID_MAX};

/// `getShipments`' `QueryType` (and `getShipmentItems`', which lacks `Shipment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InboundQueryType {
    Shipment,
    DateRange,
    NextToken,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventorySummariesQuery {
    pub details: bool,
    /// Always `Marketplace` (the only granularity of the model).
    pub granularity_type: String,
    pub granularity_id: String,
    pub start_date_time: Option<Timestamp>,
    /// `sellerSkus` (≤ 50) plus `sellerSku`, when given.
    pub seller_skus: Vec<String>,
    pub next_token: Option<String>,
    pub marketplace_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentsQuery {
    pub shipment_status_list: Vec<ShipmentStatus>,
    pub shipment_id_list: Vec<String>,
    pub last_updated_after: Option<Timestamp>,
    pub last_updated_before: Option<Timestamp>,
    pub query_type: InboundQueryType,
    pub next_token: Option<String>,
    pub marketplace_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentItemsQuery {
    pub last_updated_after: Option<Timestamp>,
    pub last_updated_before: Option<Timestamp>,
    /// `DateRange` or `NextToken`.
    pub query_type: InboundQueryType,
    pub next_token: Option<String>,
    pub marketplace_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelsQuery {
    pub page_type: String,
    /// `BARCODE_2D`, `UNIQUE` or `PALLET`.
    pub label_type: String,
    pub number_of_packages: Option<u32>,
    pub package_labels_to_print: Vec<String>,
    pub number_of_pallets: Option<u32>,
    pub page_size: Option<u32>,
    pub page_start_index: Option<u32>,
}

/// A native cursor read: entries after `after` (0: from the start), at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub after: u64,
    pub limit: Option<u32>,
}

/// A center's warehouse operation (`/fws/v1/centers/{centerId}/…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarehouseOp {
    /// `POST receipts`
    Receive,
    /// `POST putaway`
    Putaway,
    /// `POST waves`
    CreateWave,
    /// `PUT picks/{taskId}`
    ConfirmPick { task_id: String },
    /// `POST packages`
    Pack,
    /// `POST packages/{packageNumber}/label`
    BuyLabel { package_number: i32 },
    /// `POST packages/{packageNumber}/ship`
    Ship { package_number: i32 },
    /// `POST packages/{packageNumber}/events`
    PackageEvent { package_number: i32 },
    /// `POST returns/{returnId}/grade`
    GradeReturn { return_id: String },
    /// `POST counts`
    CycleCount,
    /// `POST adjustments`
    Adjust,
    /// `GET work`
    ListWork,
}

/// Every operation the fulfillment API serves, with its path and query parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    // Fulfillment Outbound 2020-07-01
    GetFulfillmentPreview,
    CreateFulfillmentOrder,
    ListAllFulfillmentOrders {
        query_start_date: Option<Timestamp>,
        next_token: Option<String>,
    },
    GetFulfillmentOrder {
        seller_fulfillment_order_id: String,
    },
    UpdateFulfillmentOrder {
        seller_fulfillment_order_id: String,
    },
    CancelFulfillmentOrder {
        seller_fulfillment_order_id: String,
    },
    SubmitFulfillmentOrderStatusUpdate {
        seller_fulfillment_order_id: String,
    },
    CreateFulfillmentReturn {
        seller_fulfillment_order_id: String,
    },
    GetPackageTrackingDetails {
        package_number: i32,
    },
    ListReturnReasonCodes {
        seller_sku: String,
        marketplace_id: Option<String>,
        seller_fulfillment_order_id: Option<String>,
        language: Option<String>,
    },
    // FBA Inventory v1
    GetInventorySummaries(InventorySummariesQuery),
    // Fulfillment Inbound v0
    CreateInboundShipment {
        shipment_id: String,
    },
    UpdateInboundShipment {
        shipment_id: String,
    },
    GetShipments(ShipmentsQuery),
    GetShipmentItems(ShipmentItemsQuery),
    GetShipmentItemsByShipmentId {
        shipment_id: String,
        marketplace_id: Option<String>,
    },
    GetLabels {
        shipment_id: String,
        query: LabelsQuery,
    },
    // nomuck's own (/fws/v1)
    ListCenters,
    ListItems {
        next_token: Option<String>,
        limit: Option<u32>,
    },
    PutItem {
        seller_sku: String,
    },
    GetItem {
        seller_sku: String,
    },
    /// `asOf` absent: now.
    GetInventory {
        as_of: Option<Timestamp>,
    },
    ListLedger(Cursor),
    ListEvents(Cursor),
    /// The seller marks an inbound shipment shipped (or cancels it).
    UpdateInboundStatus {
        shipment_id: String,
    },
    Warehouse {
        center_id: String,
        op: WarehouseOp,
    },
}

impl Operation {
    /// The operation's name for metrics and logs (PascalCase, SP-API's operation ids
    /// where there is one).
    pub fn name(&self) -> &'static str {
        use Operation as O;
        match self {
            O::GetFulfillmentPreview => "GetFulfillmentPreview",
            O::CreateFulfillmentOrder => "CreateFulfillmentOrder",
            O::ListAllFulfillmentOrders { .. } => "ListAllFulfillmentOrders",
            O::GetFulfillmentOrder { .. } => "GetFulfillmentOrder",
            O::UpdateFulfillmentOrder { .. } => "UpdateFulfillmentOrder",
            O::CancelFulfillmentOrder { .. } => "CancelFulfillmentOrder",
            O::SubmitFulfillmentOrderStatusUpdate { .. } => "SubmitFulfillmentOrderStatusUpdate",
            O::CreateFulfillmentReturn { .. } => "CreateFulfillmentReturn",
            O::GetPackageTrackingDetails { .. } => "GetPackageTrackingDetails",
            O::ListReturnReasonCodes { .. } => "ListReturnReasonCodes",
            O::GetInventorySummaries(_) => "GetInventorySummaries",
            O::CreateInboundShipment { .. } => "CreateInboundShipment",
            O::UpdateInboundShipment { .. } => "UpdateInboundShipment",
            O::GetShipments(_) => "GetShipments",
            O::GetShipmentItems(_) => "GetShipmentItems",
            O::GetShipmentItemsByShipmentId { .. } => "GetShipmentItemsByShipmentId",
            O::GetLabels { .. } => "GetLabels",
            O::ListCenters => "ListCenters",
            O::ListItems { .. } => "ListItems",
            O::PutItem { .. } => "PutItem",
            O::GetItem { .. } => "GetItem",
            O::GetInventory { .. } => "GetInventory",
            O::ListLedger(_) => "ListLedger",
            O::ListEvents(_) => "ListEvents",
            O::UpdateInboundStatus { .. } => "UpdateInboundStatus",
            O::Warehouse { op, .. } => match op {
                WarehouseOp::Receive => "WarehouseReceive",
                WarehouseOp::Putaway => "WarehousePutaway",
                WarehouseOp::CreateWave => "WarehouseCreateWave",
                WarehouseOp::ConfirmPick { .. } => "WarehouseConfirmPick",
                WarehouseOp::Pack => "WarehousePack",
                WarehouseOp::BuyLabel { .. } => "WarehouseBuyLabel",
                WarehouseOp::Ship { .. } => "WarehouseShip",
                WarehouseOp::PackageEvent { .. } => "WarehousePackageEvent",
                WarehouseOp::GradeReturn { .. } => "WarehouseGradeReturn",
                WarehouseOp::CycleCount => "WarehouseCycleCount",
                WarehouseOp::Adjust => "WarehouseAdjust",
                WarehouseOp::ListWork => "WarehouseListWork",
            },
        }
    }
}

/// Whether `path` is one of the fulfillment API's (so the edge can route it here
/// whatever the Host header or signature says).
pub fn is_fulfillment_path(path: &str) -> bool {
    ["/fba/", "/fws/"].iter().any(|p| path.starts_with(p))
}

/// The operation a request names. `path` is the raw (still percent-encoded) path,
/// `query` the raw query string.
pub fn route(method: &Method, path: &str, query: Option<&str>) -> Result<Operation, ApiError> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let Some(rest) = trimmed.strip_prefix('/') else {
        return Err(ApiError::not_found(format!(
            "no operation at '{}'",
            shown(path)
        )));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let q = Query::parse(query);
    let found = match segments.as_slice() {
        ["fba", "outbound", "2020-07-01", tail @ ..] => outbound(method, tail, &q),
        ["fba", "inventory", "v1", "summaries"] => {
            allow(method, &[Method::GET])?;
            inventory_summaries(&q).map(|query| Some(Operation::GetInventorySummaries(query)))
        }
        ["fba", "inbound", "v0", tail @ ..] => inbound(method, tail, &q),
        ["fws", "v1", tail @ ..] => native(method, tail, &q),
        _ => Ok(None),
    };
    found?.ok_or_else(|| ApiError::not_found(format!("no operation at '{}'", shown(path))))
}

/// A path for an error message: bounded, so a huge path cannot make a huge reply.
fn shown(path: &str) -> String {
    path.chars().take(200).collect()
}

/// `Ok(())` when `method` is one of `allowed`, else the 405.
fn allow(method: &Method, allowed: &[Method]) -> Result<(), ApiError> {
    if allowed.contains(method) {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(method, allowed))
    }
}

/// A decoded, checked path parameter.
fn param(name: &str, raw: &str, max: usize) -> Result<String, ApiError> {
    let value = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| ApiError::invalid_input(format!("{name} is not valid UTF-8 once decoded")))?
        .into_owned();
    required(name, &value, max)?;
    Ok(value)
}

fn package_number(raw: &str) -> Result<i32, ApiError> {
    let value = param("packageNumber", raw, 12)?;
    match value.parse::<i32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ApiError::invalid_input(format!(
            "packageNumber must be a positive 32-bit integer, not '{value}'"
        ))),
    }
}

type Found = Result<Option<Operation>, ApiError>;

fn outbound(method: &Method, tail: &[&str], q: &Query) -> Found {
    use Operation as O;
    let order = |raw| param("sellerFulfillmentOrderId", raw, ORDER_ID_MAX);
    Ok(Some(match tail {
        ["fulfillmentOrders", "preview"] => {
            allow(method, &[Method::POST])?;
            O::GetFulfillmentPreview
        }
        ["fulfillmentOrders"] => {
            allow(method, &[Method::GET, Method::POST])?;
            if method == Method::POST {
                O::CreateFulfillmentOrder
            } else {
                O::ListAllFulfillmentOrders {
                    query_start_date: q.timestamp("queryStartDate")?,
                    next_token: q.optional("nextToken", 4096)?,
                }
            }
        }
        ["fulfillmentOrders", id] => {
            allow(method, &[Method::GET, Method::PUT])?;
            let seller_fulfillment_order_id = order(id)?;
            if method == Method::GET {
                O::GetFulfillmentOrder {
                    seller_fulfillment_order_id,
                }
            } else {
                O::UpdateFulfillmentOrder {
                    seller_fulfillment_order_id,
                }
            }
        }
        [
            "fulfillmentOrders",
            id,
            action @ ("cancel" | "status" | "return"),
        ] => {
            allow(method, &[Method::PUT])?;
            let seller_fulfillment_order_id = order(id)?;
            match *action {
                "cancel" => O::CancelFulfillmentOrder {
                    seller_fulfillment_order_id,
                },
                "status" => O::SubmitFulfillmentOrderStatusUpdate {
                    seller_fulfillment_order_id,
                },
                _ => O::CreateFulfillmentReturn {
                    seller_fulfillment_order_id,
                },
            }
        }
        ["tracking"] => {
            allow(method, &[Method::GET])?;
            let raw = q.required("packageNumber", 12)?;
            O::GetPackageTrackingDetails {
                package_number: package_number(&raw)?,
            }
        }
        ["returnReasonCodes"] => {
            allow(method, &[Method::GET])?;
            O::ListReturnReasonCodes {
                seller_sku: q.required("sellerSku", SKU_MAX)?,
                marketplace_id: q.optional("marketplaceId", 40)?,
                seller_fulfillment_order_id: q
                    .optional("sellerFulfillmentOrderId", ORDER_ID_MAX)?,
                language: q.optional("language", 16)?,
            }
        }
        _ => return Ok(None),
    }))
}

fn inventory_summaries(q: &Query) -> Result<InventorySummariesQuery, ApiError> {
    let granularity_type = q.required("granularityType", 32)?;
    if granularity_type != "Marketplace" {
        return Err(ApiError::invalid_input(format!(
            "granularityType must be Marketplace, not '{granularity_type}'"
        )));
    }
    let mut seller_skus = q.list("sellerSkus", 50, SKU_MAX)?;
    if let Some(one) = q.optional("sellerSku", SKU_MAX)? {
        seller_skus.push(one);
    }
    let marketplace_ids = q.list("marketplaceIds", 1, 40)?;
    if marketplace_ids.is_empty() {
        return Err(ApiError::invalid_input("marketplaceIds is required"));
    }
    Ok(InventorySummariesQuery {
        details: q.bool("details")?.unwrap_or(false),
        granularity_type,
        granularity_id: q.required("granularityId", 40)?,
        start_date_time: q.timestamp("startDateTime")?,
        seller_skus,
        next_token: q.optional("nextToken", 4096)?,
        marketplace_ids,
    })
}

fn query_type(q: &Query, allowed: &[InboundQueryType]) -> Result<InboundQueryType, ApiError> {
    let raw = q.required("QueryType", 32)?;
    let value: InboundQueryType = enum_value("QueryType", &raw)?;
    if !allowed.contains(&value) {
        return Err(ApiError::invalid_input(format!(
            "QueryType '{raw}' is not allowed here"
        )));
    }
    Ok(value)
}

const PAGE_TYPES: [&str; 12] = [
    "PackageLabel_Letter_2",
    "PackageLabel_Letter_4",
    "PackageLabel_Letter_6",
    "PackageLabel_Letter_6_CarrierLeft",
    "PackageLabel_A4_2",
    "PackageLabel_A4_4",
    "PackageLabel_Plain_Paper",
    "PackageLabel_Plain_Paper_CarrierBottom",
    "PackageLabel_Thermal",
    "PackageLabel_Thermal_Unified",
    "PackageLabel_Thermal_NonPCP",
    "PackageLabel_Thermal_No_Carrier_Rotation",
];

fn labels_query(q: &Query) -> Result<LabelsQuery, ApiError> {
    let page_type = q.required("PageType", 64)?;
    if !PAGE_TYPES.contains(&page_type.as_str()) {
        return Err(ApiError::invalid_input(format!(
            "PageType '{page_type}' is not one of the allowed values"
        )));
    }
    let label_type = q.required("LabelType", 16)?;
    if !["BARCODE_2D", "UNIQUE", "PALLET"].contains(&label_type.as_str()) {
        return Err(ApiError::invalid_input(format!(
            "LabelType '{label_type}' is not one of BARCODE_2D, UNIQUE, PALLET"
        )));
    }
    let count = |name| -> Result<Option<u32>, ApiError> {
        Ok(q.int(name, 0, 999_999)?.and_then(|n| u32::try_from(n).ok()))
    };
    Ok(LabelsQuery {
        page_type,
        label_type,
        number_of_packages: count("NumberOfPackages")?,
        package_labels_to_print: q.list("PackageLabelsToPrint", 999, 64)?,
        number_of_pallets: count("NumberOfPallets")?,
        page_size: count("PageSize")?,
        page_start_index: count("PageStartIndex")?,
    })
}

fn inbound(method: &Method, tail: &[&str], q: &Query) -> Found {
    use InboundQueryType as T;
    use Operation as O;
    let shipment = |raw| param("shipmentId", raw, SHIPMENT_ID_MAX);
    Ok(Some(match tail {
        ["shipments"] => {
            allow(method, &[Method::GET])?;
            let statuses = q.list("ShipmentStatusList", 11, 32)?;
            O::GetShipments(ShipmentsQuery {
                shipment_status_list: statuses
                    .iter()
                    .map(|s| enum_value("ShipmentStatusList", s))
                    .collect::<Result<_, _>>()?,
                shipment_id_list: q.list("ShipmentIdList", 999, SHIPMENT_ID_MAX)?,
                last_updated_after: q.timestamp("LastUpdatedAfter")?,
                last_updated_before: q.timestamp("LastUpdatedBefore")?,
                query_type: query_type(q, &[T::Shipment, T::DateRange, T::NextToken])?,
                next_token: q.optional("NextToken", 4096)?,
                marketplace_id: q.required("MarketplaceId", 40)?,
            })
        }
        ["shipmentItems"] => {
            allow(method, &[Method::GET])?;
            O::GetShipmentItems(ShipmentItemsQuery {
                last_updated_after: q.timestamp("LastUpdatedAfter")?,
                last_updated_before: q.timestamp("LastUpdatedBefore")?,
                query_type: query_type(q, &[T::DateRange, T::NextToken])?,
                next_token: q.optional("NextToken", 4096)?,
                marketplace_id: q.required("MarketplaceId", 40)?,
            })
        }
        ["shipments", id] => {
            allow(method, &[Method::POST, Method::PUT])?;
            let shipment_id = shipment(id)?;
            if method == Method::POST {
                O::CreateInboundShipment { shipment_id }
            } else {
                O::UpdateInboundShipment { shipment_id }
            }
        }
        ["shipments", id, "items"] => {
            allow(method, &[Method::GET])?;
            O::GetShipmentItemsByShipmentId {
                shipment_id: shipment(id)?,
                marketplace_id: q.optional("MarketplaceId", 40)?,
            }
        }
        ["shipments", id, "labels"] => {
            allow(method, &[Method::GET])?;
            O::GetLabels {
                shipment_id: shipment(id)?,
                query: labels_query(q)?,
            }
        }
        _ => return Ok(None),
    }))
}

fn cursor(q: &Query) -> Result<Cursor, ApiError> {
    Ok(Cursor {
        after: q
            .int("after", 0, i64::MAX)?
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0),
        limit: q.limit()?,
    })
}

fn native(method: &Method, tail: &[&str], q: &Query) -> Found {
    use Operation as O;
    let sku = |raw| param("sellerSku", raw, SKU_MAX);
    Ok(Some(match tail {
        ["centers"] => {
            allow(method, &[Method::GET])?;
            O::ListCenters
        }
        ["items"] => {
            allow(method, &[Method::GET])?;
            O::ListItems {
                next_token: q.optional("nextToken", 4096)?,
                limit: q.limit()?,
            }
        }
        ["items", raw] => {
            allow(method, &[Method::GET, Method::PUT])?;
            let seller_sku = sku(raw)?;
            if method == Method::GET {
                O::GetItem { seller_sku }
            } else {
                O::PutItem { seller_sku }
            }
        }
        ["inventory"] => {
            allow(method, &[Method::GET])?;
            O::GetInventory {
                as_of: q.timestamp("asOf")?,
            }
        }
        ["ledger"] => {
            allow(method, &[Method::GET])?;
            O::ListLedger(cursor(q)?)
        }
        ["events"] => {
            allow(method, &[Method::GET])?;
            O::ListEvents(cursor(q)?)
        }
        ["inbound", id, "status"] => {
            allow(method, &[Method::PUT])?;
            O::UpdateInboundStatus {
                shipment_id: param("shipmentId", id, SHIPMENT_ID_MAX)?,
            }
        }
        ["centers", center, op @ ..] => match warehouse(method, op)? {
            Some(op) => O::Warehouse {
                center_id: param("centerId", center, WAREHOUSE_ID_MAX)?,
                op,
            },
            None => return Ok(None),
        },
        _ => return Ok(None),
    }))
}

fn warehouse(method: &Method, tail: &[&str]) -> Result<Option<WarehouseOp>, ApiError> {
    use WarehouseOp as W;
    let post = || allow(method, &[Method::POST]);
    Ok(Some(match tail {
        ["receipts"] => post().map(|()| W::Receive)?,
        ["putaway"] => post().map(|()| W::Putaway)?,
        ["waves"] => post().map(|()| W::CreateWave)?,
        ["packages"] => post().map(|()| W::Pack)?,
        ["counts"] => post().map(|()| W::CycleCount)?,
        ["adjustments"] => post().map(|()| W::Adjust)?,
        ["work"] => {
            allow(method, &[Method::GET])?;
            W::ListWork
        }
        ["picks", task] => {
            allow(method, &[Method::PUT])?;
            W::ConfirmPick {
                task_id: param("taskId", task, TASK_ID_MAX)?,
            }
        }
        ["packages", number, action @ ("label" | "ship" | "events")] => {
            post()?;
            let package_number = package_number(number)?;
            match *action {
                "label" => W::BuyLabel { package_number },
                "ship" => W::Ship { package_number },
                _ => W::PackageEvent { package_number },
            }
        }
        ["returns", id, "grade"] => {
            post()?;
            W::GradeReturn {
                return_id: param("returnId", id, WAREHOUSE_ID_MAX)?,
            }
        }
        _ => return Ok(None),
    }))
}
