//! Cases for fulfillment's state-machine records (`PutDoc`), its event
//! stream (`AppendEvents`) and `fulfillment_accounts`.

use std::sync::Arc;

use super::{A, B, append_ledger, item_record, put_item, receipt_movement};
use crate::conformance::compute::commit_err;
use crate::conformance::{all_usage, commit_ok, usage_event};
use crate::fulfillment::{DocRecord, EventRecord, FulfillmentMutation};
use crate::{MetaError, MetaStore, Mutation};

/// A record of `kind`/`id` in account `A` at `generation`.
pub fn doc_record(kind: &str, id: &str, generation: i64, open: bool) -> DocRecord {
    DocRecord {
        account_id: A.into(),
        kind: kind.into(),
        id: id.into(),
        open,
        updated_at: 1_000 + generation,
        generation,
        body: format!("{{\"id\":\"{id}\",\"g\":{generation}}}").into_bytes(),
    }
}

pub fn put_doc(r: &DocRecord, expect_generation: Option<i64>) -> Mutation {
    Mutation::Fulfillment(FulfillmentMutation::PutDoc {
        record: Box::new(r.clone()),
        expect_generation,
    })
}

/// Event `seq` of `account_id`'s stream.
pub fn event_record(account_id: &str, seq: i64) -> EventRecord {
    EventRecord {
        account_id: account_id.into(),
        seq,
        at: 100 * seq,
        event_type: "INBOUND_SHIPMENT_STATUS".into(),
        subject: format!("FBA{seq}"),
        payload: format!("{{\"n\":{seq}}}").into_bytes(),
    }
}

pub fn append_events(account_id: &str, events: Vec<EventRecord>) -> Mutation {
    Mutation::Fulfillment(FulfillmentMutation::AppendEvents {
        account_id: account_id.into(),
        events,
    })
}

/// Insert, replace at the expected generation, the generation checks, and
/// listing by id after a cursor, by kind and account, open only or all.
pub async fn fulfillment_docs(s: Arc<dyn MetaStore>) {
    let f = s.fulfillment();
    let order = doc_record("order", "o-2", 1, true);
    let inbound = doc_record("inbound", "o-2", 1, true);
    commit_ok(&s, vec![put_doc(&order, None), put_doc(&inbound, None)]).await;
    assert_eq!(f.doc(A, "order", "o-2").await.unwrap(), Some(order.clone()));
    assert_eq!(
        f.doc(A, "inbound", "o-2").await.unwrap(),
        Some(inbound.clone()),
        "ids are per kind"
    );
    assert_eq!(f.doc(B, "order", "o-2").await.unwrap(), None);
    assert_eq!(f.doc(A, "order", "o-1").await.unwrap(), None);

    // Inserting an existing id: Conflict. Replacing a missing one: NotFound.
    let e = commit_err(
        &s,
        vec![put_doc(&doc_record("order", "o-2", 1, true), None)],
    )
    .await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let e = commit_err(
        &s,
        vec![put_doc(&doc_record("order", "o-9", 2, true), Some(1))],
    )
    .await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");

    // Replace at the stored generation; a stale one is Conflict; a new
    // generation not above the stored one is Invalid; nothing else of a
    // failed commit lands.
    let closed = doc_record("order", "o-2", 2, false);
    commit_ok(&s, vec![put_doc(&closed, Some(1))]).await;
    assert_eq!(
        f.doc(A, "order", "o-2").await.unwrap(),
        Some(closed.clone())
    );
    let e = commit_err(
        &s,
        vec![
            Mutation::RecordUsage(usage_event(A, 1, "fee")),
            put_doc(&doc_record("order", "o-2", 3, true), Some(1)),
        ],
    )
    .await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let e = commit_err(
        &s,
        vec![put_doc(&doc_record("order", "o-2", 2, true), Some(2))],
    )
    .await;
    assert!(matches!(e, MetaError::Invalid(_)), "{e:?}");
    assert_eq!(
        f.doc(A, "order", "o-2").await.unwrap(),
        Some(closed.clone())
    );
    assert_eq!(all_usage(&s).await, vec![]);

    // Two saves of one record in one commit chain their generations.
    let g1 = doc_record("order", "o-3", 1, true);
    let g2 = doc_record("order", "o-3", 2, true);
    commit_ok(&s, vec![put_doc(&g1, None), put_doc(&g2, Some(1))]).await;
    assert_eq!(f.doc(A, "order", "o-3").await.unwrap(), Some(g2.clone()));

    // Listing: byte order of id, after a cursor, limited, open only.
    let mut more = Vec::new();
    for id in ["o-1", "O-upper", "o-ä"] {
        more.push(put_doc(&doc_record("order", id, 1, id != "o-1"), None));
    }
    commit_ok(&s, more).await;
    let ids = |v: Vec<DocRecord>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(
        ids(f.docs(A, "order", None, false, usize::MAX).await.unwrap()),
        ["O-upper", "o-1", "o-2", "o-3", "o-ä"]
    );
    assert_eq!(
        ids(f.docs(A, "order", Some("o-1"), false, 2).await.unwrap()),
        ["o-2", "o-3"]
    );
    assert_eq!(
        ids(f.docs(A, "order", None, true, usize::MAX).await.unwrap()),
        ["O-upper", "o-3", "o-ä"],
        "o-1 and o-2 are closed"
    );
    assert_eq!(
        ids(f.docs(A, "order", Some("o-ä"), false, 10).await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(f.docs(A, "inbound", None, false, 10).await.unwrap()),
        ["o-2"]
    );
    assert_eq!(f.docs(B, "order", None, false, 10).await.unwrap(), vec![]);
    assert_eq!(f.docs(A, "order", None, false, 0).await.unwrap(), vec![]);
}

/// The stream continues its head exactly: gaps and repeats are Conflict and
/// nothing of that commit lands; each account has its own stream from 1.
pub async fn fulfillment_events(s: Arc<dyn MetaStore>) {
    let f = s.fulfillment();
    assert_eq!(f.event_head(A).await.unwrap(), 0);
    let first: Vec<EventRecord> = (1..=3).map(|n| event_record(A, n)).collect();
    commit_ok(&s, vec![append_events(A, first.clone())]).await;
    assert_eq!(f.events_after(A, 0, 10).await.unwrap(), first);
    assert_eq!(f.event_head(A).await.unwrap(), 3);
    // Two appends in one commit continue each other.
    commit_ok(
        &s,
        vec![
            append_events(A, vec![event_record(A, 4)]),
            append_events(A, vec![event_record(A, 5), event_record(A, 6)]),
        ],
    )
    .await;
    assert_eq!(
        f.events_after(A, 3, 2).await.unwrap(),
        vec![event_record(A, 4), event_record(A, 5)]
    );
    assert_eq!(f.events_after(A, 6, 10).await.unwrap(), vec![]);
    assert_eq!(f.events_after(A, 0, 0).await.unwrap(), vec![]);

    let refused = [
        vec![event_record(A, 8)],                     // a gap
        vec![event_record(A, 6)],                     // a repeat
        vec![event_record(A, 7), event_record(A, 7)], // a repeat inside
        vec![event_record(A, 7), event_record(A, 9)], // a gap inside
        vec![event_record(A, 1)],                     // rewinding
    ];
    for events in refused {
        let e = commit_err(
            &s,
            vec![
                Mutation::RecordUsage(usage_event(A, 1, "fee")),
                append_ledger(A, 1, vec![receipt_movement("r", 1)]),
                append_events(A, events.clone()),
            ],
        )
        .await;
        assert!(matches!(e, MetaError::Conflict(_)), "{events:?}: {e:?}");
    }
    assert_eq!(f.event_head(A).await.unwrap(), 6);
    assert_eq!(all_usage(&s).await, vec![]);
    assert_eq!(f.ledger_head(A).await.unwrap(), 0);

    // B's stream starts at 1 whatever A's head; A's cursor never shows B's.
    let e = commit_err(&s, vec![append_events(B, vec![event_record(B, 7)])]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    commit_ok(&s, vec![append_events(B, vec![event_record(B, 1)])]).await;
    assert_eq!(f.event_head(B).await.unwrap(), 1);
    assert_eq!(
        f.events_after(B, 0, 10).await.unwrap(),
        vec![event_record(B, 1)]
    );
    assert!(
        f.events_after(A, 0, 100)
            .await
            .unwrap()
            .iter()
            .all(|e| e.account_id == A)
    );
    assert_eq!(f.event_head(A).await.unwrap(), 6);

    // Malformed appends are Invalid.
    for bad in [
        append_events(A, vec![]),
        append_events(A, vec![event_record(B, 7)]),
        append_events(
            A,
            vec![EventRecord {
                event_type: String::new(),
                ..event_record(A, 7)
            }],
        ),
        put_doc(
            &DocRecord {
                kind: String::new(),
                ..doc_record("order", "x", 1, true)
            },
            None,
        ),
        put_doc(
            &DocRecord {
                id: String::new(),
                ..doc_record("order", "x", 1, true)
            },
            None,
        ),
    ] {
        let e = commit_err(&s, vec![bad.clone()]).await;
        assert!(matches!(e, MetaError::Invalid(_)), "{bad:?}: {e:?}");
    }
}

/// Every account with a record, item, ledger entry or event, once each.
pub async fn fulfillment_accounts(s: Arc<dyn MetaStore>) {
    let f = s.fulfillment();
    assert_eq!(
        f.fulfillment_accounts().await.unwrap(),
        Vec::<String>::new()
    );
    const C: &str = "000000000003";
    const D: &str = "000000000004";
    commit_ok(
        &s,
        vec![
            put_doc(&doc_record("inbound", "FBA1", 1, false), None),
            put_item(&item_record(B, "sku", "X0B"), None),
            append_ledger(C, 1, vec![receipt_movement("r", 1)]),
            append_events(D, vec![event_record(D, 1)]),
            append_events(A, vec![event_record(A, 1)]),
            Mutation::RecordUsage(usage_event("000000000005", 1, "fee")),
        ],
    )
    .await;
    let mut accounts = f.fulfillment_accounts().await.unwrap();
    accounts.sort();
    assert_eq!(
        accounts,
        [A, B, C, D],
        "usage alone is not fulfillment state"
    );
}
