//! Topics: create, read and delete an account's push destinations.

use std::sync::Arc;

use nomuck_iam::Iam;
use nomuck_meta::events::Topic;
use nomuck_meta::{MetaStore, Mutation};
use rand::RngCore;

use crate::WebhookError;

/// The attribute naming the endpoint (RGW's name for it, which its users'
/// tools already send).
pub const PUSH_ENDPOINT: &str = "push-endpoint";

/// A topic as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub arn: String,
    pub account_id: String,
    pub name: String,
    pub push_endpoint: String,
    /// The key deliveries are signed with.
    pub signing_secret: String,
    pub attributes: Vec<(String, String)>,
}

/// `arn:aws:sns:<region>:<account>:<name>`, the shape SNS clients expect.
pub fn arn(region: &str, account_id: &str, name: &str) -> String {
    format!("arn:aws:sns:{region}:{account_id}:{name}")
}

/// `(account, name)` of a topic ARN (any region: there is one per server).
pub fn parse_arn(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("arn"), Some(_), Some("sns"), Some(_), Some(account), Some(name))
            if !account.is_empty() && valid_name(name) =>
        {
            Some((account, name))
        }
        _ => None,
    }
}

/// SNS topic names: 1 to 256 letters, digits, hyphens and underscores.
fn valid_name(name: &str) -> bool {
    (1..=256).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An `http://host[:port]/…` URL whose host the operator allows (any host
/// when `allowed_hosts` is `None`). TLS endpoints need a TLS client, which
/// is not built yet; they are refused rather than silently never delivered.
pub fn check_endpoint(url: &str, allowed_hosts: Option<&[String]>) -> Result<(), WebhookError> {
    let bad = |why: &str| {
        Err(WebhookError::InvalidParameter(format!(
            "push-endpoint {url:?}: {why}"
        )))
    };
    let Ok(uri) = url.parse::<http::Uri>() else {
        return bad("not a URL");
    };
    let host = match uri.scheme_str() {
        Some("http") => match uri.host() {
            Some(h) if !h.is_empty() => h.trim_start_matches('[').trim_end_matches(']'),
            _ => return bad("must be an http:// URL with a host"),
        },
        Some("https") => return bad("https endpoints are not supported yet; use http"),
        _ => return bad("must be an http:// URL with a host"),
    };
    match allowed_hosts {
        Some(list) if !list.iter().any(|a| a.eq_ignore_ascii_case(host)) => {
            bad("this server does not deliver to that host (see webhooks.allowed_hosts)")
        }
        _ => Ok(()),
    }
}

fn secret_label(account_id: &str, name: &str) -> String {
    format!("topic:{account_id}:{name}")
}

pub struct Topics {
    meta: Arc<dyn MetaStore>,
    iam: Arc<Iam>,
    region: String,
    /// Hosts push endpoints may name; `None`: any.
    allowed_hosts: Option<Vec<String>>,
}

impl Topics {
    pub fn new(meta: Arc<dyn MetaStore>, iam: Arc<Iam>, region: impl Into<String>) -> Self {
        Self {
            meta,
            iam,
            region: region.into(),
            allowed_hosts: None,
        }
    }

    /// Restricts push endpoints to these hosts (names or IP addresses), for
    /// servers whose accounts must not make it call arbitrary addresses.
    pub fn with_allowed_hosts(mut self, hosts: Vec<String>) -> Self {
        self.allowed_hosts = Some(hosts);
        self
    }

    /// Whether the operator still allows delivering to `url`.
    pub fn allows(&self, url: &str) -> Result<(), WebhookError> {
        check_endpoint(url, self.allowed_hosts.as_deref())
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// CreateTopic: idempotent for the same name; new attributes replace the
    /// old ones, and the signing secret is kept.
    pub async fn create(
        &self,
        account_id: &str,
        name: &str,
        attributes: Vec<(String, String)>,
    ) -> Result<TopicInfo, WebhookError> {
        if !valid_name(name) {
            return Err(WebhookError::InvalidParameter(
                "Topic names must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.".into(),
            ));
        }
        // Without an endpoint the topic exists but takes no deliveries.
        let endpoint = attributes
            .iter()
            .find(|(k, _)| k == PUSH_ENDPOINT)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        if !endpoint.is_empty() {
            self.allows(&endpoint)?;
        }
        let label = secret_label(account_id, name);
        let (secret_sealed, created_at) = match self.meta.topic(account_id, name).await? {
            Some(existing) => (existing.secret_sealed, existing.created_at),
            None => {
                let mut raw = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut raw);
                (
                    self.iam.seal_secret(&label, &hex::encode(raw)),
                    nomuck_iam::now_millis(),
                )
            }
        };
        let topic = Topic {
            account_id: account_id.to_owned(),
            name: name.to_owned(),
            push_endpoint: endpoint,
            secret_sealed,
            attributes: attributes
                .into_iter()
                .filter(|(k, _)| k != PUSH_ENDPOINT)
                .collect(),
            created_at,
        };
        self.meta
            .commit(vec![Mutation::PutTopic(topic.clone())])
            .await?;
        self.info(topic)
    }

    fn info(&self, t: Topic) -> Result<TopicInfo, WebhookError> {
        let signing_secret = self
            .iam
            .open_secret(&secret_label(&t.account_id, &t.name), &t.secret_sealed)?;
        Ok(TopicInfo {
            arn: arn(&self.region, &t.account_id, &t.name),
            account_id: t.account_id,
            name: t.name,
            push_endpoint: t.push_endpoint,
            signing_secret,
            attributes: t.attributes,
        })
    }

    /// The topic `arn` names, if it belongs to `account_id`.
    pub async fn get(&self, account_id: &str, arn: &str) -> Result<TopicInfo, WebhookError> {
        let missing = || WebhookError::NotFound(arn.to_owned());
        let (owner, name) = parse_arn(arn).ok_or_else(missing)?;
        if owner != account_id {
            return Err(WebhookError::Forbidden(arn.to_owned()));
        }
        let topic = self.meta.topic(owner, name).await?.ok_or_else(missing)?;
        self.info(topic)
    }

    pub async fn list(&self, account_id: &str) -> Result<Vec<TopicInfo>, WebhookError> {
        self.meta
            .topics_of(account_id)
            .await?
            .into_iter()
            .map(|t| self.info(t))
            .collect()
    }

    /// DeleteTopic: its pending deliveries go with it. Deleting a missing
    /// topic succeeds, as in SNS.
    pub async fn delete(&self, account_id: &str, arn: &str) -> Result<(), WebhookError> {
        let Some((owner, name)) = parse_arn(arn) else {
            return Err(WebhookError::InvalidParameter(format!(
                "invalid topic ARN {arn:?}"
            )));
        };
        if owner != account_id {
            return Err(WebhookError::Forbidden(arn.to_owned()));
        }
        self.meta
            .commit(vec![Mutation::DeleteTopic {
                account_id: owner.to_owned(),
                name: name.to_owned(),
            }])
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_round_trip_and_names_are_checked() {
        let a = arn("us-east-1", "111111111111", "uploads");
        assert_eq!(a, "arn:aws:sns:us-east-1:111111111111:uploads");
        assert_eq!(parse_arn(&a), Some(("111111111111", "uploads")));
        assert_eq!(parse_arn("arn:aws:sqs:us-east-1:1:q"), None);
        assert_eq!(parse_arn("arn:aws:sns:us-east-1:1:bad name"), None);
        assert_eq!(parse_arn("nonsense"), None);
    }

    #[test]
    fn only_plain_http_endpoints_with_an_allowed_host() {
        assert!(check_endpoint("http://127.0.0.1:9000/hook", None).is_ok());
        assert!(check_endpoint("https://example.com/hook", None).is_err());
        assert!(check_endpoint("ftp://x", None).is_err());
        assert!(check_endpoint("not a url", None).is_err());
        let only = ["hooks.example.com".to_string(), "::1".to_string()];
        assert!(check_endpoint("http://HOOKS.example.com/x", Some(&only)).is_ok());
        assert!(check_endpoint("http://[::1]:8080/x", Some(&only)).is_ok());
        assert!(check_endpoint("http://127.0.0.1:9000/x", Some(&only)).is_err());
        assert!(check_endpoint("http://10.0.0.1/x", Some(&[])).is_err());
    }
}
