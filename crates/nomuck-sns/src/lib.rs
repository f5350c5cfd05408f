//! SNS over the AWS query protocol, for the topics event notifications are
//! delivered to: CreateTopic, GetTopicAttributes, SetTopicAttributes,
//! ListTopics, DeleteTopic. A topic's `push-endpoint` attribute (the name
//! Ceph RGW gives it) is the `http://` URL events are POSTed to, signed with
//! the topic's secret, which GetTopicAttributes returns to the owner as
//! `nomuck:SigningSecret`. Publish and subscriptions are not offered.

use std::sync::Arc;

use http::StatusCode;
use nomuck_http::query::{self, param};
use nomuck_http::xml::escape;
use nomuck_http::{Operation, Rejection, Request, RequestContext, Response, ServiceApi};
use nomuck_webhook::{TopicInfo, Topics, WebhookError};

pub const API_VERSION: &str = "2010-03-31";
const NAMESPACE: &str = "http://sns.amazonaws.com/doc/2010-03-31/";
const MAX_BODY: u64 = 256 * 1024;
/// The attribute that returns the delivery signing secret.
pub const SIGNING_SECRET_ATTRIBUTE: &str = "nomuck:SigningSecret";

pub struct SnsApi {
    topics: Arc<Topics>,
}

impl SnsApi {
    pub fn new(topics: Arc<Topics>) -> Self {
        Self { topics }
    }
}

type Outcome = Result<(&'static str, String), (StatusCode, &'static str, String)>;

fn failure(e: WebhookError) -> (StatusCode, &'static str, String) {
    match e {
        WebhookError::InvalidParameter(m) => (StatusCode::BAD_REQUEST, "InvalidParameter", m),
        WebhookError::NotFound(_) => (
            StatusCode::NOT_FOUND,
            "NotFound",
            "Topic does not exist".into(),
        ),
        WebhookError::Forbidden(arn) => (
            StatusCode::FORBIDDEN,
            "AuthorizationError",
            format!("The caller is not authorized to use topic {arn}"),
        ),
        other => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            other.to_string(),
        ),
    }
}

fn required<'a>(
    params: &'a [(String, String)],
    name: &str,
) -> Result<&'a str, (StatusCode, &'static str, String)> {
    param(params, name).ok_or_else(|| {
        (
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            format!("Invalid parameter: {name} is required"),
        )
    })
}

/// `Attributes.entry.N.key` / `.value` pairs, in N order.
fn attributes(params: &[(String, String)]) -> Vec<(String, String)> {
    let mut entries: Vec<(u32, String, String)> = Vec::new();
    for (k, v) in params {
        let Some(rest) = k.strip_prefix("Attributes.entry.") else {
            continue;
        };
        let Some((n, field)) = rest.split_once('.') else {
            continue;
        };
        let Ok(n) = n.parse::<u32>() else { continue };
        let slot = match entries.iter_mut().position(|e| e.0 == n) {
            Some(i) => i,
            None => {
                entries.push((n, String::new(), String::new()));
                entries.len() - 1
            }
        };
        if let Some(e) = entries.get_mut(slot) {
            match field {
                "key" => e.1 = v.clone(),
                "value" => e.2 = v.clone(),
                _ => {}
            }
        }
    }
    entries.sort_by_key(|e| e.0);
    entries
        .into_iter()
        .filter(|e| !e.1.is_empty())
        .map(|(_, k, v)| (k, v))
        .collect()
}

fn topic_attributes(t: &TopicInfo) -> Vec<(String, String)> {
    let mut out = vec![
        ("TopicArn".to_owned(), t.arn.clone()),
        ("Owner".to_owned(), t.account_id.clone()),
        ("Name".to_owned(), t.name.clone()),
        ("push-endpoint".to_owned(), t.push_endpoint.clone()),
        (
            SIGNING_SECRET_ATTRIBUTE.to_owned(),
            t.signing_secret.clone(),
        ),
    ];
    out.extend(t.attributes.iter().cloned());
    out
}

impl SnsApi {
    async fn dispatch(&self, account: &str, action: &str, params: &[(String, String)]) -> Outcome {
        let topics = &self.topics;
        match action {
            "CreateTopic" => {
                let name = required(params, "Name")?;
                let t = topics
                    .create(account, name, attributes(params))
                    .await
                    .map_err(failure)?;
                Ok((
                    "CreateTopic",
                    format!("<TopicArn>{}</TopicArn>", escape(&t.arn)),
                ))
            }
            "GetTopicAttributes" => {
                let t = topics
                    .get(account, required(params, "TopicArn")?)
                    .await
                    .map_err(failure)?;
                let mut body = String::from("<Attributes>");
                for (k, v) in topic_attributes(&t) {
                    body.push_str(&format!(
                        "<entry><key>{}</key><value>{}</value></entry>",
                        escape(&k),
                        escape(&v)
                    ));
                }
                body.push_str("</Attributes>");
                Ok(("GetTopicAttributes", body))
            }
            "SetTopicAttributes" => {
                let arn = required(params, "TopicArn")?;
                let name = required(params, "AttributeName")?;
                let value = param(params, "AttributeValue").unwrap_or("");
                let t = topics.get(account, arn).await.map_err(failure)?;
                // The topic's attributes as CreateTopic takes them, with this one set.
                let mut attrs = t.attributes;
                attrs.push(("push-endpoint".into(), t.push_endpoint));
                attrs.retain(|(k, _)| k != name);
                attrs.push((name.to_owned(), value.to_owned()));
                topics
                    .create(account, &t.name, attrs)
                    .await
                    .map_err(failure)?;
                Ok(("SetTopicAttributes", String::new()))
            }
            "ListTopics" => {
                let mut body = String::from("<Topics>");
                for t in topics.list(account).await.map_err(failure)? {
                    body.push_str(&format!(
                        "<member><TopicArn>{}</TopicArn></member>",
                        escape(&t.arn)
                    ));
                }
                body.push_str("</Topics>");
                Ok(("ListTopics", body))
            }
            "DeleteTopic" => {
                topics
                    .delete(account, required(params, "TopicArn")?)
                    .await
                    .map_err(failure)?;
                Ok(("DeleteTopic", String::new()))
            }
            other => Err((
                StatusCode::BAD_REQUEST,
                "InvalidAction",
                format!("Could not find operation {other} for version {API_VERSION}"),
            )),
        }
    }
}

#[async_trait::async_trait]
impl ServiceApi for SnsApi {
    fn scope_names(&self) -> &'static [&'static str] {
        &["sns"]
    }

    fn body_limit(&self, _head: &http::request::Parts) -> u64 {
        MAX_BODY
    }

    async fn handle(&self, ctx: RequestContext, request: Request) -> Response {
        let (head, body) = request.into_parts();
        let params = match query::read_params(&head, body, MAX_BODY).await {
            Ok(params) => params,
            Err(rejection) => return self.reject(&ctx, rejection),
        };
        let error =
            |status, code, message: &str| query::error(&ctx, NAMESPACE, status, code, message);
        let Some(principal) = &ctx.principal else {
            return error(
                StatusCode::FORBIDDEN,
                "AuthorizationError",
                "Request is missing Authentication Token",
            );
        };
        let Some(action) = param(&params, "Action") else {
            return error(StatusCode::BAD_REQUEST, "MissingAction", "Missing Action");
        };
        match self.dispatch(&principal.account_id, action, &params).await {
            Ok((operation, result)) => {
                let result = if result.is_empty() {
                    String::new()
                } else {
                    format!("<{operation}Result>{result}</{operation}Result>")
                };
                let body = format!(
                    "<{operation}Response xmlns=\"{NAMESPACE}\">{result}\
<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{operation}Response>",
                    escape(&ctx.request_id)
                );
                let mut response = query::xml_response(&ctx, StatusCode::OK, body);
                response.extensions_mut().insert(Operation(operation));
                response
            }
            Err((status, code, message)) => error(status, code, &message),
        }
    }

    fn reject(&self, ctx: &RequestContext, rejection: Rejection) -> Response {
        query::rejection(ctx, NAMESPACE, rejection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_entries_pair_up_in_order() {
        let p = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let params = vec![
            p("Attributes.entry.2.value", "b"),
            p("Attributes.entry.1.key", "push-endpoint"),
            p("Attributes.entry.2.key", "OpaqueData"),
            p("Attributes.entry.1.value", "http://h/"),
            p("Attributes.entry.x.key", "ignored"),
        ];
        assert_eq!(
            attributes(&params),
            [p("push-endpoint", "http://h/"), p("OpaqueData", "b")]
        );
    }
}
