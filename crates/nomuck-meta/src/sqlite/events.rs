//! Topics and the delivery outbox (see [`crate::events`]).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::errors::db_err;
use crate::events::{Delivery, DeliveryOutcome, NewDelivery, Topic};
use crate::{MetaError, Millis, Mutation};

pub(super) fn apply(conn: &Connection, m: &Mutation) -> Result<(), MetaError> {
    match m {
        Mutation::PutTopic(t) => put_topic(conn, t),
        Mutation::DeleteTopic { account_id, name } => conn
            .prepare_cached("DELETE FROM topics WHERE account_id = ?1 AND name = ?2")
            .and_then(|mut s| s.execute([account_id, name]))
            .map(|_| ())
            .map_err(db_err),
        Mutation::EnqueueDelivery(d) => enqueue(conn, d),
        Mutation::RecordDeliveryAttempt { id, outcome } => record_attempt(conn, *id, outcome),
        Mutation::PruneDeliveries { before } => conn
            .prepare_cached(
                "DELETE FROM deliveries WHERE next_attempt_at IS NULL AND created_at < ?1",
            )
            .and_then(|mut s| s.execute([before]))
            .map(|_| ())
            .map_err(db_err),
        _ => Err(MetaError::Internal(
            "mutation routed to event delivery".into(),
        )),
    }
}

fn put_topic(conn: &Connection, t: &Topic) -> Result<(), MetaError> {
    let account_exists: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?1)")
        .and_then(|mut s| s.query_row([&t.account_id], |r| r.get(0)))
        .map_err(db_err)?;
    if !account_exists {
        return Err(MetaError::NotFound(format!("account {}", t.account_id)));
    }
    let attributes =
        serde_json::to_string(&t.attributes).map_err(|e| MetaError::Internal(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO topics (account_id, name, push_endpoint, secret_sealed, attributes, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (account_id, name) DO UPDATE SET push_endpoint = excluded.push_endpoint, \
         secret_sealed = excluded.secret_sealed, attributes = excluded.attributes",
    )
    .and_then(|mut s| {
        s.execute(params![
            t.account_id,
            t.name,
            t.push_endpoint,
            t.secret_sealed,
            attributes,
            t.created_at
        ])
    })
    .map(|_| ())
    .map_err(db_err)
}

fn enqueue(conn: &Connection, d: &NewDelivery) -> Result<(), MetaError> {
    conn.prepare_cached(
        "INSERT INTO deliveries (account_id, topic, payload, created_at, next_attempt_at) \
         SELECT ?1, ?2, ?3, ?4, ?4 WHERE EXISTS \
         (SELECT 1 FROM topics WHERE account_id = ?1 AND name = ?2 AND push_endpoint <> '')",
    )
    .and_then(|mut s| s.execute(params![d.account_id, d.topic, d.payload, d.at]))
    .map(|_| ())
    .map_err(db_err)
}

fn record_attempt(conn: &Connection, id: i64, outcome: &DeliveryOutcome) -> Result<(), MetaError> {
    let (next, delivered, error): (Option<Millis>, Option<Millis>, Option<&str>) = match outcome {
        DeliveryOutcome::Delivered { at } => (None, Some(*at), None),
        DeliveryOutcome::Retry { next_at, error } => (Some(*next_at), None, Some(error)),
        DeliveryOutcome::GaveUp { error } => (None, None, Some(error)),
    };
    conn.prepare_cached(
        "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?2, \
         delivered_at = ?3, last_error = ?4 WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![id, next, delivered, error]))
    .map(|_| ())
    .map_err(db_err)
}

const TOPIC_COLS: &str =
    "SELECT account_id, name, push_endpoint, secret_sealed, attributes, created_at FROM topics";

fn topic_row(r: &Row<'_>) -> rusqlite::Result<(Topic, String)> {
    Ok((
        Topic {
            account_id: r.get(0)?,
            name: r.get(1)?,
            push_endpoint: r.get(2)?,
            secret_sealed: r.get(3)?,
            attributes: Vec::new(),
            created_at: r.get(5)?,
        },
        r.get(4)?,
    ))
}

fn finish_topic((mut t, attributes): (Topic, String)) -> Result<Topic, MetaError> {
    t.attributes = serde_json::from_str(&attributes)
        .map_err(|e| MetaError::Corrupt(format!("topic attributes: {e}")))?;
    Ok(t)
}

pub(super) fn topic(
    c: &Connection,
    account_id: &str,
    name: &str,
) -> Result<Option<Topic>, MetaError> {
    c.prepare_cached(&format!("{TOPIC_COLS} WHERE account_id = ?1 AND name = ?2"))
        .and_then(|mut s| s.query_row([account_id, name], topic_row).optional())
        .map_err(db_err)?
        .map(finish_topic)
        .transpose()
}

pub(super) fn topics_of(c: &Connection, account_id: &str) -> Result<Vec<Topic>, MetaError> {
    let rows: Vec<(Topic, String)> = c
        .prepare_cached(&format!("{TOPIC_COLS} WHERE account_id = ?1 ORDER BY name"))
        .and_then(|mut s| s.query_map([account_id], topic_row)?.collect())
        .map_err(db_err)?;
    rows.into_iter().map(finish_topic).collect()
}

pub(super) fn due_deliveries(
    c: &Connection,
    now: Millis,
    limit: usize,
) -> Result<Vec<Delivery>, MetaError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    c.prepare_cached(
        "SELECT id, account_id, topic, payload, created_at, attempts, next_attempt_at \
         FROM deliveries WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?1 \
         ORDER BY next_attempt_at, id LIMIT ?2",
    )
    .and_then(|mut s| {
        s.query_map(params![now, limit], |r| {
            Ok(Delivery {
                id: r.get(0)?,
                account_id: r.get(1)?,
                topic: r.get(2)?,
                payload: r.get(3)?,
                created_at: r.get(4)?,
                attempts: r.get(5)?,
                next_attempt_at: r.get(6)?,
            })
        })?
        .collect()
    })
    .map_err(db_err)
}
