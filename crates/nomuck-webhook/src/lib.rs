//! Signed webhooks: how every nomuck service pushes events to its users.
//!
//! A *topic* belongs to an account and names an HTTP endpoint plus a secret.
//! Services enqueue a delivery (`Mutation::EnqueueDelivery`) in the same
//! commit as the change that caused the event, so an acknowledged change
//! never loses its event. The [`Dispatcher`] POSTs due deliveries, each
//! signed with the topic's secret ([`sign`]), and retries failures with
//! exponential backoff until it gives up. Delivery is at least once: a
//! receiver deduplicates by the `x-nomuck-delivery` id.

mod dispatch;
mod topics;

pub use dispatch::{DeliveryReport, DispatchOptions, Dispatcher};
pub use topics::{TopicInfo, Topics, arn, parse_arn};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256>` of a delivery.
pub const SIGNATURE_HEADER: &str = "x-nomuck-signature";
/// Header carrying the delivery id (stable across retries).
pub const DELIVERY_HEADER: &str = "x-nomuck-delivery";
/// Header carrying the topic ARN.
pub const TOPIC_HEADER: &str = "x-nomuck-topic-arn";

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("topic {0} does not exist")]
    NotFound(String),
    /// The topic belongs to another account.
    #[error("not authorized to use topic {0}")]
    Forbidden(String),
    #[error(transparent)]
    Iam(#[from] nomuck_iam::IamError),
    #[error(transparent)]
    Store(#[from] nomuck_meta::MetaError),
}

/// The signature header value of `body` sent at `timestamp` (Unix seconds):
/// HMAC-SHA256 under `secret` of `"{timestamp}.{body}"`, so a captured
/// delivery cannot be replayed with another time.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body))
    )
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().into()
}

/// Checks a signature header against `body` (for receivers written in Rust,
/// and tests). Constant-time in the signature.
pub fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signature = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(sig)) = (timestamp, signature) else {
        return false;
    };
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_bind_body_and_time() {
        let header = sign("s3cret", 1_700_000_000, b"{\"a\":1}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify("s3cret", &header, b"{\"a\":1}"));
        assert!(!verify("s3cret", &header, b"{\"a\":2}"));
        assert!(!verify("other", &header, b"{\"a\":1}"));
        let moved = header.replace("t=1700000000", "t=1700000001");
        assert!(!verify("s3cret", &moved, b"{\"a\":1}"));
        assert!(!verify("s3cret", "garbage", b""));
    }
}
