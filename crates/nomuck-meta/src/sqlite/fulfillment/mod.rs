//! Fulfillment's records (see [`crate::fulfillment`]): the per-account ledger
//! in plain columns, items as JSON documents beside their unique keys.

use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};

use super::errors::db_err;
use crate::fulfillment::{
    DocRecord, EventRecord, FulfillmentMutation, ItemRecord, LedgerEntryRecord, LedgerMovement,
};
use crate::{CommitReceipt, MetaError, Millis};

pub(super) fn apply(
    conn: &Connection,
    m: &FulfillmentMutation,
    receipt: &mut CommitReceipt,
) -> Result<(), MetaError> {
    match m {
        FulfillmentMutation::AppendLedger {
            account_id,
            at,
            movements,
            expect_head,
        } => append(conn, account_id, *at, movements, *expect_head, receipt),
        FulfillmentMutation::PutItem {
            record,
            expect_generation,
        } => put_item(conn, record, *expect_generation),
        FulfillmentMutation::PutDoc {
            record,
            expect_generation,
        } => put_doc(conn, record, *expect_generation),
        FulfillmentMutation::AppendEvents { account_id, events } => {
            append_events(conn, account_id, events)
        }
    }
}

fn put_doc(conn: &Connection, r: &DocRecord, expected: Option<i64>) -> Result<(), MetaError> {
    let stored: Option<i64> = conn
        .prepare_cached(
            "SELECT generation FROM fulfillment_docs WHERE account_id = ?1 AND kind = ?2 AND id = ?3",
        )
        .and_then(|mut s| {
            s.query_row(params![r.account_id, r.kind, r.id], |row| row.get(0))
                .optional()
        })
        .map_err(db_err)?;
    super::generation::check(
        &format!("{} {:?}", r.kind, r.id),
        stored,
        expected,
        r.generation,
    )?;
    conn.prepare_cached(
        // An upsert rewrites a record in place (a REPLACE would delete it and
        // append it anew, dirtying two places).
        "INSERT INTO fulfillment_docs \
         (account_id, kind, id, open, updated_at, generation, body) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (account_id, kind, id) DO UPDATE SET \
         open = excluded.open, updated_at = excluded.updated_at, \
         generation = excluded.generation, body = excluded.body",
    )
    .and_then(|mut s| {
        s.execute(params![
            r.account_id,
            r.kind,
            r.id,
            r.open,
            r.updated_at,
            r.generation,
            r.body
        ])
    })
    .map(|_| ())
    .map_err(db_err)
}

fn append_events(
    conn: &Connection,
    account_id: &str,
    events: &[EventRecord],
) -> Result<(), MetaError> {
    let mut head = event_head(conn, account_id)?;
    for e in events {
        if e.seq != head + 1 {
            return Err(MetaError::Conflict(format!(
                "event stream of {account_id} is at {head}; event {} does not continue it",
                e.seq
            )));
        }
        head = e.seq;
        conn.prepare_cached(
            "INSERT INTO fulfillment_events (account_id, seq, at, event_type, subject, payload) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut s| {
            s.execute(params![
                account_id,
                e.seq,
                e.at,
                e.event_type,
                e.subject,
                e.payload
            ])
        })
        .map_err(db_err)?;
    }
    Ok(())
}

/// Runs on the single writer inside the call's savepoint, so reading the head
/// and inserting after it cannot race another append, and a failed call
/// leaves no seq behind (the ledger stays gap-free).
fn append(
    conn: &Connection,
    account_id: &str,
    at: Millis,
    movements: &[LedgerMovement],
    expect_head: Option<i64>,
    receipt: &mut CommitReceipt,
) -> Result<(), MetaError> {
    let (mut head, mut head_at) = head_of(conn, account_id)?.unwrap_or((0, at));
    if let Some(expected) = expect_head
        && expected != head
    {
        return Err(MetaError::Conflict(format!(
            "ledger of {account_id} moved meanwhile (head {head}, expected {expected})"
        )));
    }
    for m in movements {
        if let Some(earlier) = entry_by_key(conn, account_id, &m.idempotency_key)? {
            if earlier.movement != *m {
                return Err(MetaError::Conflict(format!(
                    "idempotency key {:?} already names a different movement (seq {})",
                    m.idempotency_key, earlier.seq
                )));
            }
            receipt.duplicate_ledger += 1;
            receipt.ledger_seqs.push(earlier.seq);
            continue;
        }
        head += 1;
        // Callers' clocks race one another; keeping `at` monotonic along seq
        // is what makes "the ledger as of t" a prefix of it.
        head_at = head_at.max(at);
        conn.prepare_cached(
            "INSERT INTO fulfillment_ledger (account_id, seq, at, fn_sku, center_id, \
             from_bucket, to_bucket, quantity, reason, reference, idempotency_key) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .and_then(|mut s| {
            s.execute(params![
                account_id,
                head,
                head_at,
                m.fn_sku,
                m.center_id,
                m.from_bucket,
                m.to_bucket,
                m.quantity,
                m.reason,
                m.reference,
                m.idempotency_key
            ])
        })
        .map_err(db_err)?;
        receipt.ledger_seqs.push(head);
    }
    Ok(())
}

fn put_item(conn: &Connection, r: &ItemRecord, expected: Option<i64>) -> Result<(), MetaError> {
    let stored = item(conn, &r.account_id, &r.seller_sku)?;
    match (&stored, expected) {
        (None, None) => {}
        (Some(_), None) => {
            return Err(MetaError::Conflict(format!(
                "item {:?} already exists",
                r.seller_sku
            )));
        }
        (None, Some(_)) => return Err(MetaError::NotFound(format!("item {:?}", r.seller_sku))),
        (Some(s), Some(e)) if s.generation != e => {
            return Err(MetaError::Conflict(format!(
                "item {:?} changed meanwhile (generation {}, expected {e})",
                r.seller_sku, s.generation
            )));
        }
        (Some(s), Some(_)) if r.generation <= s.generation => {
            return Err(MetaError::Invalid(format!(
                "item {:?}: new generation {} is not above {}",
                r.seller_sku, r.generation, s.generation
            )));
        }
        (Some(s), Some(_)) if s.fn_sku != r.fn_sku => {
            return Err(MetaError::Conflict(format!(
                "item {:?} has fnSku {}; it never changes",
                r.seller_sku, s.fn_sku
            )));
        }
        (Some(_), Some(_)) => {}
    }
    if stored.is_none() && item_by_fn_sku(conn, &r.fn_sku)?.is_some() {
        return Err(MetaError::Conflict(format!(
            "fnSku {} belongs to another item",
            r.fn_sku
        )));
    }
    let doc = serde_json::to_string(r).map_err(|e| MetaError::Internal(e.to_string()))?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO fulfillment_items \
         (account_id, seller_sku, fn_sku, generation, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            r.account_id,
            r.seller_sku,
            r.fn_sku,
            r.generation,
            doc
        ])
    })
    .map(|_| ())
    .map_err(db_err)
}

// ---- reads

const ENTRY_COLUMNS: &str = "account_id, seq, at, fn_sku, center_id, from_bucket, to_bucket, \
                             quantity, reason, reference, idempotency_key";

fn entry(r: &Row<'_>) -> rusqlite::Result<LedgerEntryRecord> {
    Ok(LedgerEntryRecord {
        account_id: r.get(0)?,
        seq: r.get(1)?,
        at: r.get(2)?,
        movement: LedgerMovement {
            fn_sku: r.get(3)?,
            center_id: r.get(4)?,
            from_bucket: r.get(5)?,
            to_bucket: r.get(6)?,
            quantity: r.get(7)?,
            reason: r.get(8)?,
            reference: r.get(9)?,
            idempotency_key: r.get(10)?,
        },
    })
}

/// SQLite's LIMIT is an i64; anything larger means "all".
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The last `(seq, at)` of the account's ledger.
fn head_of(conn: &Connection, account_id: &str) -> Result<Option<(i64, Millis)>, MetaError> {
    conn.prepare_cached(
        "SELECT seq, at FROM fulfillment_ledger WHERE account_id = ?1 ORDER BY seq DESC LIMIT 1",
    )
    .and_then(|mut s| {
        s.query_row([account_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    })
    .map_err(db_err)
}

pub(super) fn ledger_head(conn: &Connection, account_id: &str) -> Result<i64, MetaError> {
    Ok(head_of(conn, account_id)?.map_or(0, |(seq, _)| seq))
}

pub(super) fn ledger_after(
    conn: &Connection,
    account_id: &str,
    after_seq: i64,
    limit: usize,
) -> Result<Vec<LedgerEntryRecord>, MetaError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM fulfillment_ledger \
             WHERE account_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![account_id, after_seq, sql_limit(limit)], entry)
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

pub(super) fn entry_by_key(
    conn: &Connection,
    account_id: &str,
    key: &str,
) -> Result<Option<LedgerEntryRecord>, MetaError> {
    conn.prepare_cached(&format!(
        "SELECT {ENTRY_COLUMNS} FROM fulfillment_ledger \
         WHERE account_id = ?1 AND idempotency_key = ?2"
    ))
    .and_then(|mut s| s.query_row([account_id, key], entry).optional())
    .map_err(db_err)
}

fn items_where(
    conn: &Connection,
    condition: &str,
    args: &[&dyn ToSql],
) -> Result<Vec<ItemRecord>, MetaError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT doc FROM fulfillment_items WHERE {condition}"
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(args, |r| r.get::<_, String>(0))
        .map_err(db_err)?;
    let mut out = Vec::new();
    for doc in rows {
        let doc = doc.map_err(db_err)?;
        out.push(
            serde_json::from_str(&doc)
                .map_err(|e| MetaError::Corrupt(format!("fulfillment item: {e}")))?,
        );
    }
    Ok(out)
}

pub(super) fn item(
    conn: &Connection,
    account_id: &str,
    seller_sku: &str,
) -> Result<Option<ItemRecord>, MetaError> {
    Ok(items_where(
        conn,
        "account_id = ?1 AND seller_sku = ?2",
        &[&account_id, &seller_sku],
    )?
    .pop())
}

pub(super) fn item_by_fn_sku(
    conn: &Connection,
    fn_sku: &str,
) -> Result<Option<ItemRecord>, MetaError> {
    Ok(items_where(conn, "fn_sku = ?1", &[&fn_sku])?.pop())
}

pub(super) fn items(
    conn: &Connection,
    account_id: &str,
    after_seller_sku: Option<&str>,
    limit: usize,
) -> Result<Vec<ItemRecord>, MetaError> {
    // "" sorts before every non-empty SKU (validation refuses empty ones).
    let after = after_seller_sku.unwrap_or("");
    items_where(
        conn,
        "account_id = ?1 AND seller_sku > ?2 ORDER BY seller_sku LIMIT ?3",
        &[&account_id, &after, &sql_limit(limit)],
    )
}

fn doc_row(r: &Row<'_>) -> rusqlite::Result<DocRecord> {
    Ok(DocRecord {
        account_id: r.get(0)?,
        kind: r.get(1)?,
        id: r.get(2)?,
        open: r.get(3)?,
        updated_at: r.get(4)?,
        generation: r.get(5)?,
        body: r.get(6)?,
    })
}

const DOC_COLUMNS: &str = "account_id, kind, id, open, updated_at, generation, body";

pub(super) fn doc(
    conn: &Connection,
    account_id: &str,
    kind: &str,
    id: &str,
) -> Result<Option<DocRecord>, MetaError> {
    conn.prepare_cached(&format!(
        "SELECT {DOC_COLUMNS} FROM fulfillment_docs WHERE account_id = ?1 AND kind = ?2 AND id = ?3"
    ))
    .and_then(|mut s| s.query_row([account_id, kind, id], doc_row).optional())
    .map_err(db_err)
}

pub(super) fn docs(
    conn: &Connection,
    account_id: &str,
    kind: &str,
    after_id: Option<&str>,
    open_only: bool,
    limit: usize,
) -> Result<Vec<DocRecord>, MetaError> {
    let open = if open_only { "AND open = 1" } else { "" };
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {DOC_COLUMNS} FROM fulfillment_docs \
             WHERE account_id = ?1 AND kind = ?2 AND id > ?3 {open} ORDER BY id LIMIT ?4"
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(
            params![account_id, kind, after_id.unwrap_or(""), sql_limit(limit)],
            doc_row,
        )
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

pub(super) fn accounts(conn: &Connection) -> Result<Vec<String>, MetaError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT account_id FROM fulfillment_docs UNION SELECT account_id FROM fulfillment_items \
             UNION SELECT account_id FROM fulfillment_ledger \
             UNION SELECT account_id FROM fulfillment_events ORDER BY 1",
        )
        .map_err(db_err)?;
    let rows = stmt.query_map([], |r| r.get(0)).map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

pub(super) fn event_head(conn: &Connection, account_id: &str) -> Result<i64, MetaError> {
    conn.prepare_cached(
        "SELECT seq FROM fulfillment_events WHERE account_id = ?1 ORDER BY seq DESC LIMIT 1",
    )
    .and_then(|mut s| s.query_row([account_id], |r| r.get(0)).optional())
    .map(|h| h.unwrap_or(0))
    .map_err(db_err)
}

pub(super) fn events_after(
    conn: &Connection,
    account_id: &str,
    after_seq: i64,
    limit: usize,
) -> Result<Vec<EventRecord>, MetaError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT account_id, seq, at, event_type, subject, payload FROM fulfillment_events \
             WHERE account_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![account_id, after_seq, sql_limit(limit)], |r| {
            Ok(EventRecord {
                account_id: r.get(0)?,
                seq: r.get(1)?,
                at: r.get(2)?,
                event_type: r.get(3)?,
                subject: r.get(4)?,
                payload: r.get(5)?,
            })
        })
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}
