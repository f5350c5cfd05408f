//! The fulfillment service on HTTP: [`SpApi`] implements the edge's
//! `ServiceApi` for every path under `/fba/…` and `/fws/…`, routes a request
//! to its [`Operation`], parses and validates its body, calls the domain
//! (`nomuck-fulfillment`) as the caller's account and renders the reply or
//! the error in SP-API's shape. One module per family of operations maps
//! wire types to domain types and back.

mod inbound;
mod limit;
mod native;
mod outbound;
mod warehouse;

use bytes::Bytes;
use http::StatusCode;
use nomuck_fulfillment::{Fulfillment, FulfillmentError};
use nomuck_http::{Principal, Rejection, Request, RequestContext, Response, ServiceApi};
use serde::Serialize;

use crate::error::{ApiError, error_response, render_rejection, reply};
use crate::route::{Operation, route};

/// Request bodies are small JSON documents; 1 MiB leaves room for the
/// largest order (250 lines) many times over.
const MAX_BODY: u64 = 1 << 20;

/// The fulfillment API.
pub struct SpApi {
    fulfillment: Fulfillment,
    limiter: limit::RateLimiter,
}

impl SpApi {
    pub fn new(fulfillment: Fulfillment) -> Self {
        let limiter = limit::RateLimiter::new(fulfillment.config().rate_limit_per_second);
        Self {
            fulfillment,
            limiter,
        }
    }
}

/// What a handler needs: the service, who calls, and the request.
pub(crate) struct Call<'a> {
    pub f: &'a Fulfillment,
    pub principal: &'a Principal,
    /// The caller's account: every resource read or written belongs to it.
    pub account: &'a str,
    pub request_id: &'a str,
    pub query: Option<&'a str>,
    pub body: Bytes,
}

pub(crate) type Handled = Result<Response, ApiError>;

impl Call<'_> {
    /// A 200 reply with `body` as JSON.
    pub fn ok<T: Serialize>(&self, body: &T) -> Handled {
        Ok(reply(self.request_id, StatusCode::OK, body))
    }

    pub fn body<T: serde::de::DeserializeOwned + crate::json::Validate>(
        &self,
    ) -> Result<T, ApiError> {
        crate::json::parse_body(&self.body)
    }

    /// A query parameter, exactly as sent (percent-decoded, `+` kept), at
    /// most `max` bytes.
    pub fn query_param(&self, name: &str, max: usize) -> Result<Option<String>, ApiError> {
        crate::query::Query::parse(self.query).optional(name, max)
    }
}

/// A domain refusal in SP-API's terms. `details` always says what was wrong.
pub(crate) fn domain_error(e: FulfillmentError) -> ApiError {
    match e {
        FulfillmentError::Invalid { field, message } => {
            ApiError::invalid_input(format!("{field}: {message}"))
        }
        FulfillmentError::NotFound(what) => ApiError::not_found(what),
        FulfillmentError::Conflict(m) => ApiError::conflict(m),
        FulfillmentError::Forbidden(m) => ApiError::unauthorized(m),
        FulfillmentError::Unavailable(m) => ApiError::unavailable(m),
        FulfillmentError::Internal(m) => {
            tracing::error!(error = %m, "fulfillment internal error");
            ApiError::internal("the service failed; the request may be retried")
        }
    }
}

#[async_trait::async_trait]
impl ServiceApi for SpApi {
    fn scope_names(&self) -> &'static [&'static str] {
        &["execute-api"]
    }

    fn path_prefixes(&self) -> &'static [&'static str] {
        &["/fba/", "/fws/"]
    }

    fn body_limit(&self, _head: &http::request::Parts) -> u64 {
        MAX_BODY
    }

    async fn handle(&self, ctx: RequestContext, request: Request) -> Response {
        let (head, body) = request.into_parts();
        let Some(principal) = ctx.principal.as_ref() else {
            return error_response(
                &ctx.request_id,
                ApiError::unauthorized(
                    "the request carries neither a SigV4 signature nor an x-amz-access-token",
                ),
            );
        };
        if !self.limiter.allow(&principal.account_id) {
            return error_response(
                &ctx.request_id,
                ApiError::quota_exceeded(self.limiter.per_second()),
            );
        }
        let op = match route(&head.method, head.uri.path(), head.uri.query()) {
            Ok(op) => op,
            Err(e) => return error_response(&ctx.request_id, e),
        };
        let body = match nomuck_http::collect_limited(body, MAX_BODY).await {
            Ok(b) => b,
            Err(rejection) => return self.reject(&ctx, rejection),
        };
        let call = Call {
            f: &self.fulfillment,
            principal,
            account: &principal.account_id,
            request_id: &ctx.request_id,
            query: head.uri.query(),
            body,
        };
        tracing::debug!(operation = op.name(), account = %call.account, "fulfillment call");
        let outcome = match op {
            Operation::Warehouse { center_id, op } => {
                warehouse::handle(&call, &center_id, op).await
            }
            op @ (Operation::GetFulfillmentPreview
            | Operation::CreateFulfillmentOrder
            | Operation::ListAllFulfillmentOrders { .. }
            | Operation::GetFulfillmentOrder { .. }
            | Operation::UpdateFulfillmentOrder { .. }
            | Operation::CancelFulfillmentOrder { .. }
            | Operation::SubmitFulfillmentOrderStatusUpdate { .. }
            | Operation::CreateFulfillmentReturn { .. }
            | Operation::GetPackageTrackingDetails { .. }
            | Operation::ListReturnReasonCodes { .. }) => outbound::handle(&call, op).await,
            op @ (Operation::GetInventorySummaries(_)
            | Operation::CreateInboundShipment { .. }
            | Operation::UpdateInboundShipment { .. }
            | Operation::GetShipments(_)
            | Operation::GetShipmentItems(_)
            | Operation::GetShipmentItemsByShipmentId { .. }
            | Operation::GetLabels { .. }
            | Operation::UpdateInboundStatus { .. }) => inbound::handle(&call, op).await,
            op => native::handle(&call, op).await,
        };
        outcome.unwrap_or_else(|e| error_response(&ctx.request_id, e))
    }

    fn reject(&self, ctx: &RequestContext, rejection: Rejection) -> Response {
        render_rejection(ctx, rejection)
    }
}
