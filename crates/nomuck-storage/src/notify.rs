//! Event notifications: a bucket's rules say which object events go to
//! which of its owner's topics. A matching write or delete enqueues one
//! delivery per rule in its own commit (the outbox of `nomuck-webhook`), so
//! an acknowledged change never loses its event.
//!
//! The message is rendered by an [`EventRenderer`] the API layer provides
//! (S3's event message format is a wire shape); without one nothing is sent.

use std::net::IpAddr;

use nomuck_meta::events::NewDelivery;
use nomuck_meta::{Bucket, Millis, Mutation};
use serde::{Deserialize, Serialize};

use crate::auth::BucketAccess;
use crate::{Caller, Storage, StorageError};

/// A bucket's notification configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Notifications {
    pub rules: Vec<NotificationRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRule {
    pub id: String,
    /// The destination as the client named it (kept for reading back).
    pub destination: Destination,
    /// The topic the events go to: `(account, name)`.
    pub topic_account: String,
    pub topic_name: String,
    /// Event names such as `s3:ObjectCreated:*` or `s3:ObjectRemoved:Delete`.
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

/// Which kind of S3 destination element named the topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Destination {
    Topic(String),
    Queue(String),
    CloudFunction(String),
}

/// The event types nomuck emits.
pub const EVENTS: &[&str] = &[
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
];

/// Whether `pattern` (an exact name or `family:*`) selects anything nomuck emits.
pub fn is_supported_event(pattern: &str) -> bool {
    EVENTS.iter().any(|e| event_matches(pattern, e))
}

fn event_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(family) => name.starts_with(family),
        None => pattern == name,
    }
}

impl NotificationRule {
    pub fn selects(&self, event: &str, key: &str) -> bool {
        self.events.iter().any(|p| event_matches(p, event))
            && self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && self.suffix.as_deref().is_none_or(|s| key.ends_with(s))
    }
}

/// One object event, as the renderer sees it.
#[derive(Debug, Clone)]
pub struct ObjectEvent<'a> {
    /// Without the `s3:` prefix: `ObjectCreated:Put`.
    pub name: &'static str,
    pub bucket: &'a Bucket,
    pub key: &'a str,
    pub size: Option<u64>,
    /// Without quotes.
    pub etag: Option<&'a str>,
    pub version_id: Option<&'a str>,
    pub time: Millis,
    /// Account that made the request; `None` for anonymous callers and
    /// for the lifecycle pass.
    pub principal: Option<&'a str>,
    pub source_ip: Option<IpAddr>,
    pub request_id: &'a str,
    /// The rule (`Id`) that selected the event.
    pub configuration_id: &'a str,
    /// Orders events of one key: later events have greater sequencers.
    pub sequencer: String,
}

/// Renders an event as the message a topic receives.
pub trait EventRenderer: Send + Sync + 'static {
    fn render(&self, event: &ObjectEvent<'_>) -> Vec<u8>;
}

/// The facts of an event the storage engine knows at commit time.
pub(crate) struct EventFacts<'a> {
    pub name: &'static str,
    pub key: &'a str,
    pub size: Option<u64>,
    pub etag: Option<&'a str>,
    pub version_id: Option<&'a str>,
    pub time: Millis,
}

impl Storage {
    /// Sets how event messages are written (without a renderer, no event is
    /// sent) and what to notify once a commit has queued deliveries.
    pub fn set_event_renderer(
        &self,
        renderer: std::sync::Arc<dyn EventRenderer>,
        queued: std::sync::Arc<tokio::sync::Notify>,
    ) {
        let _ = self.events.set(renderer);
        let _ = self.events_queued.set(queued);
    }

    /// The deliveries of an event about version `v` (written or removed).
    pub(crate) fn version_events(
        &self,
        b: &Bucket,
        access: &BucketAccess,
        caller: Option<&Caller>,
        name: &'static str,
        v: &nomuck_meta::ObjectVersion,
    ) -> Vec<Mutation> {
        if access.notifications.is_none() {
            return Vec::new();
        }
        let version = crate::objects::shown_version(b, &v.version_id);
        let removal = name.contains("Delete");
        self.event_deliveries(
            b,
            access,
            caller,
            &EventFacts {
                name,
                key: &v.key,
                size: (!removal).then_some(v.size),
                etag: (!removal).then_some(v.etag.as_str()),
                version_id: version.as_deref(),
                time: v.last_modified,
            },
        )
    }

    /// The deliveries of a delete of `key`: a delete marker created, or
    /// version `removed` deleted (if it exists: deleting nothing is no event).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn delete_events(
        &self,
        b: &Bucket,
        access: &BucketAccess,
        caller: Option<&Caller>,
        key: &str,
        removed: Option<&str>,
        marker: Option<&nomuck_meta::DeleteMarker>,
        now: Millis,
    ) -> Result<Vec<Mutation>, StorageError> {
        if access.notifications.is_none() {
            return Ok(Vec::new());
        }
        let by_lifecycle = caller.is_none();
        let (name, version) = match (marker, removed) {
            (Some(m), _) => (
                if by_lifecycle {
                    "LifecycleExpiration:DeleteMarkerCreated"
                } else {
                    "ObjectRemoved:DeleteMarkerCreated"
                },
                m.version_id.clone(),
            ),
            (None, Some(v)) => {
                if self.meta.object(&b.name, key, Some(v)).await?.is_none() {
                    return Ok(Vec::new());
                }
                (
                    if by_lifecycle {
                        "LifecycleExpiration:Delete"
                    } else {
                        "ObjectRemoved:Delete"
                    },
                    v.to_owned(),
                )
            }
            (None, None) => return Ok(Vec::new()),
        };
        let shown = crate::objects::shown_version(b, &version);
        Ok(self.event_deliveries(
            b,
            access,
            caller,
            &EventFacts {
                name,
                key,
                size: None,
                etag: None,
                version_id: shown.as_deref(),
                time: now,
            },
        ))
    }

    /// The deliveries an event causes: one per selecting rule.
    pub(crate) fn event_deliveries(
        &self,
        b: &Bucket,
        access: &BucketAccess,
        caller: Option<&Caller>,
        facts: &EventFacts<'_>,
    ) -> Vec<Mutation> {
        let (Some(rules), Some(renderer)) = (access.notifications.as_ref(), self.events.get())
        else {
            return Vec::new();
        };
        let full_name = format!("s3:{}", facts.name);
        rules
            .rules
            .iter()
            .filter(|r| r.selects(&full_name, facts.key))
            .map(|r| {
                let event = ObjectEvent {
                    name: facts.name,
                    bucket: b,
                    key: facts.key,
                    size: facts.size,
                    etag: facts.etag,
                    version_id: facts.version_id,
                    time: facts.time,
                    principal: caller.and_then(|c| c.account_id.as_deref()),
                    source_ip: caller.and_then(|c| c.facts.source_ip),
                    request_id: caller.map_or("", |c| c.request_id.as_str()),
                    configuration_id: &r.id,
                    sequencer: format!("{:016X}", facts.time),
                };
                Mutation::EnqueueDelivery(NewDelivery {
                    account_id: r.topic_account.clone(),
                    topic: r.topic_name.clone(),
                    payload: renderer.render(&event),
                    at: facts.time,
                })
            })
            .collect()
    }

    /// PutBucketNotificationConfiguration: every destination must be a topic
    /// of the bucket owner; every event type one nomuck emits.
    pub async fn put_bucket_notifications(
        &self,
        caller: &Caller,
        bucket: &str,
        config: &Notifications,
    ) -> Result<(), StorageError> {
        let b = self
            .bucket_for(caller, bucket, nomuck_policy::Action::PutBucketNotification)
            .await?;
        for (i, r) in config.rules.iter().enumerate() {
            if config.rules.iter().take(i).any(|o| o.id == r.id) {
                return Err(StorageError::InvalidArgument(format!(
                    "the configuration id {:?} is used twice",
                    r.id
                )));
            }
            if r.events.is_empty() {
                return Err(StorageError::InvalidArgument(
                    "a notification configuration needs at least one event".into(),
                ));
            }
            if let Some(e) = r.events.iter().find(|e| !is_supported_event(e)) {
                return Err(StorageError::InvalidArgument(format!(
                    "The event {e} is not supported for notification"
                )));
            }
            let exists = r.topic_account == b.owner
                && self
                    .meta
                    .topic(&r.topic_account, &r.topic_name)
                    .await?
                    .is_some();
            if !exists {
                return Err(StorageError::InvalidArgument(
                    "Unable to validate the following destination configurations: the topic does not exist or belongs to another account".into(),
                ));
            }
        }
        let doc = serde_json::to_vec(config).map_err(|e| StorageError::Internal(e.to_string()))?;
        let kind = crate::access::kinds::NOTIFICATION;
        let action = nomuck_policy::Action::PutBucketNotification;
        if config.rules.is_empty() {
            // An empty configuration turns notifications off.
            self.delete_bucket_config(caller, bucket, kind, action)
                .await
        } else {
            self.put_bucket_config(caller, bucket, kind, doc, action)
                .await
        }
    }

    /// GetBucketNotificationConfiguration: empty when none is set.
    pub async fn get_bucket_notifications(
        &self,
        caller: &Caller,
        bucket: &str,
    ) -> Result<Notifications, StorageError> {
        let (_, access) = self
            .authorized_bucket(
                caller,
                bucket,
                nomuck_policy::Action::GetBucketNotification,
                None,
            )
            .await?;
        Ok(access.notifications.as_deref().cloned().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_match_exactly_or_by_family() {
        let r = NotificationRule {
            id: "r".into(),
            destination: Destination::Topic("arn".into()),
            topic_account: "1".into(),
            topic_name: "t".into(),
            events: vec![
                "s3:ObjectCreated:*".into(),
                "s3:ObjectRemoved:Delete".into(),
            ],
            prefix: Some("img/".into()),
            suffix: Some(".jpg".into()),
        };
        assert!(r.selects("s3:ObjectCreated:Put", "img/a.jpg"));
        assert!(r.selects("s3:ObjectRemoved:Delete", "img/a.jpg"));
        assert!(!r.selects("s3:ObjectRemoved:DeleteMarkerCreated", "img/a.jpg"));
        assert!(!r.selects("s3:ObjectCreated:Put", "img/a.png"));
        assert!(!r.selects("s3:ObjectCreated:Put", "doc/a.jpg"));
        assert!(is_supported_event("s3:ObjectRemoved:*"));
        assert!(is_supported_event("s3:LifecycleExpiration:Delete"));
        assert!(!is_supported_event("s3:ObjectRestore:*"));
        assert!(!is_supported_event("s3:ObjectCreated:Bogus"));
    }
}
