//! Cases for topics and the delivery outbox.

use std::sync::Arc;

use super::{account, commit_ok};
use crate::events::{DeliveryOutcome, NewDelivery, Topic};
use crate::{MetaError, MetaStore, Mutation};

pub(super) fn topic(account_id: &str, name: &str, endpoint: &str) -> Topic {
    Topic {
        account_id: account_id.into(),
        name: name.into(),
        push_endpoint: endpoint.into(),
        secret_sealed: vec![1, 2, 3],
        attributes: vec![("verify-ssl".into(), "false".into())],
        created_at: 5,
    }
}

pub(super) fn delivery(account_id: &str, topic: &str, payload: &[u8], at: i64) -> Mutation {
    Mutation::EnqueueDelivery(NewDelivery {
        account_id: account_id.into(),
        topic: topic.into(),
        payload: payload.to_vec(),
        at,
    })
}

pub async fn topics_and_deliveries(s: Arc<dyn MetaStore>) {
    let a = account(1, "alice", 1);
    commit_ok(&s, vec![Mutation::CreateAccount(a.clone())]).await;
    let id = a.id.as_str();
    // A topic needs its account; re-putting a topic replaces its endpoint.
    let missing = s
        .commit(vec![Mutation::PutTopic(topic(
            "999999999999",
            "t",
            "http://x",
        ))])
        .await;
    assert!(matches!(missing, Err(MetaError::NotFound(_))));
    commit_ok(&s, vec![Mutation::PutTopic(topic(id, "b", "http://old"))]).await;
    commit_ok(
        &s,
        vec![
            Mutation::PutTopic(topic(id, "b", "http://new")),
            Mutation::PutTopic(topic(id, "a", "http://a")),
        ],
    )
    .await;
    let all = s.topics_of(id).await.unwrap();
    assert_eq!(
        all.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let b = s.topic(id, "b").await.unwrap().unwrap();
    assert_eq!(b, topic(id, "b", "http://new"));
    assert_eq!(s.topic(id, "zzz").await.unwrap(), None);

    // A topic without an endpoint takes nothing.
    commit_ok(&s, vec![Mutation::PutTopic(topic(id, "quiet", ""))]).await;
    commit_ok(&s, vec![delivery(id, "quiet", b"x", 1)]).await;
    assert!(s.due_deliveries(i64::MAX, 10).await.unwrap().is_empty());
    commit_ok(
        &s,
        vec![Mutation::DeleteTopic {
            account_id: id.into(),
            name: "quiet".into(),
        }],
    )
    .await;

    // Deliveries to a missing topic are dropped; others are due at once.
    commit_ok(
        &s,
        vec![
            delivery(id, "b", b"one", 10),
            delivery(id, "gone", b"x", 10),
            delivery(id, "a", b"two", 20),
        ],
    )
    .await;
    assert!(s.due_deliveries(9, 10).await.unwrap().is_empty());
    let due = s.due_deliveries(20, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|d| d.payload.as_slice()).collect::<Vec<_>>(),
        [b"one".as_slice(), b"two"]
    );
    assert_eq!((due[0].attempts, due[0].next_attempt_at), (0, 10));

    // A retry moves it later; delivered or given-up ones are never due again.
    commit_ok(
        &s,
        vec![
            Mutation::RecordDeliveryAttempt {
                id: due[0].id,
                outcome: DeliveryOutcome::Retry {
                    next_at: 100,
                    error: "503".into(),
                },
            },
            Mutation::RecordDeliveryAttempt {
                id: due[1].id,
                outcome: DeliveryOutcome::Delivered { at: 21 },
            },
        ],
    )
    .await;
    assert!(s.due_deliveries(99, 10).await.unwrap().is_empty());
    let again = s.due_deliveries(100, 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1));
    commit_ok(
        &s,
        vec![Mutation::RecordDeliveryAttempt {
            id: again[0].id,
            outcome: DeliveryOutcome::GaveUp {
                error: "503".into(),
            },
        }],
    )
    .await;
    assert!(s.due_deliveries(i64::MAX, 10).await.unwrap().is_empty());

    // Pruning forgets finished deliveries only.
    commit_ok(&s, vec![delivery(id, "a", b"pending", 25)]).await;
    commit_ok(&s, vec![Mutation::PruneDeliveries { before: i64::MAX }]).await;
    let left = s.due_deliveries(i64::MAX, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].payload, b"pending");
    commit_ok(
        &s,
        vec![Mutation::RecordDeliveryAttempt {
            id: left[0].id,
            outcome: DeliveryOutcome::Delivered { at: 26 },
        }],
    )
    .await;

    // Deleting a topic drops its pending deliveries.
    commit_ok(&s, vec![delivery(id, "a", b"three", 30)]).await;
    commit_ok(
        &s,
        vec![Mutation::DeleteTopic {
            account_id: id.into(),
            name: "a".into(),
        }],
    )
    .await;
    assert!(s.due_deliveries(i64::MAX, 10).await.unwrap().is_empty());
    assert_eq!(s.topic(id, "a").await.unwrap(), None);
}
