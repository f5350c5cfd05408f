//! EC2 instance state-change events, as EventBridge delivers them ("EC2 Instance
//! State-change Notification"), pushed to the account's topics that ask for EC2's
//! events through the existing delivery outbox, in the commit of the change.

use nomuck_meta::compute::InstanceRecord;
use nomuck_meta::events::NewDelivery;
use nomuck_meta::{Millis, Mutation};

use crate::Compute;

/// The topic attribute naming the event sources a topic receives (comma
/// separated); EC2's is `aws.ec2`, as EventBridge names it.
pub const EVENT_SOURCES_ATTRIBUTE: &str = "nomuck:EventSources";
pub const SOURCE: &str = "aws.ec2";

impl Compute {
    /// The deliveries announcing `r`'s current state.
    pub(crate) async fn state_events(&self, r: &InstanceRecord, at: Millis) -> Vec<Mutation> {
        let topics = match self.store.topics_of(&r.account_id).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(%e, "cannot read topics; the state-change event is not sent");
                return Vec::new();
            }
        };
        let wanted: Vec<_> = topics
            .into_iter()
            .filter(|t| {
                t.attributes.iter().any(|(k, v)| {
                    k == EVENT_SOURCES_ATTRIBUTE && v.split(',').any(|s| s.trim() == SOURCE)
                })
            })
            .collect();
        if wanted.is_empty() {
            return Vec::new();
        }
        let payload = state_change_json(r, &self.opts.region, at);
        wanted
            .into_iter()
            .map(|t| {
                Mutation::EnqueueDelivery(NewDelivery {
                    account_id: r.account_id.clone(),
                    topic: t.name,
                    payload: payload.clone(),
                    at,
                })
            })
            .collect()
    }
}

/// EventBridge's envelope around `{"instance-id", "state"}`.
pub fn state_change_json(r: &InstanceRecord, region: &str, at: Millis) -> Vec<u8> {
    let time = crate::millis_to_time(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let event = serde_json::json!({
        "version": "0",
        "id": crate::ids::new_id("event"),
        "detail-type": "EC2 Instance State-change Notification",
        "source": SOURCE,
        "account": r.account_id,
        "time": time,
        "region": region,
        "resources": [format!("arn:aws:ec2:{region}:{}:instance/{}", r.account_id, r.id)],
        "detail": {"instance-id": r.id, "state": r.state.as_str()},
    });
    serde_json::to_vec(&event).unwrap_or_default()
}
