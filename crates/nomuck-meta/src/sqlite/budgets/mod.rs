//! Budgets' records (see [`crate::budgets`]): JSON documents beside their key
//! and generation, and one row per alert sent.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::errors::db_err;
use crate::MetaError;
use crate::budgets::{BudgetAlertRecord, BudgetMutation, BudgetRecord};

pub(super) fn apply(conn: &Connection, m: &BudgetMutation) -> Result<(), MetaError> {
    match m {
        BudgetMutation::Put {
            record,
            expect_generation,
        } => put(conn, record, *expect_generation),
        BudgetMutation::Delete { account_id, name } => delete(conn, account_id, name),
        BudgetMutation::RecordAlert(a) => record_alert(conn, a),
    }
}

fn generation(conn: &Connection, account_id: &str, name: &str) -> Result<Option<i64>, MetaError> {
    conn.prepare_cached("SELECT generation FROM budgets WHERE account_id = ?1 AND name = ?2")
        .and_then(|mut s| s.query_row([account_id, name], |r| r.get(0)).optional())
        .map_err(db_err)
}

fn put(conn: &Connection, r: &BudgetRecord, expected: Option<i64>) -> Result<(), MetaError> {
    super::generation::check(
        &format!("budget {:?}", r.name),
        generation(conn, &r.account_id, &r.name)?,
        expected,
        r.generation,
    )?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO budgets (account_id, name, created_at, updated_at, generation, body) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            r.account_id,
            r.name,
            r.created_at,
            r.updated_at,
            r.generation,
            r.body
        ])
    })
    .map(|_| ())
    .map_err(db_err)
}

fn delete(conn: &Connection, account_id: &str, name: &str) -> Result<(), MetaError> {
    let n = conn
        .prepare_cached("DELETE FROM budgets WHERE account_id = ?1 AND name = ?2")
        .and_then(|mut s| s.execute([account_id, name]))
        .map_err(db_err)?;
    if n == 0 {
        return Err(MetaError::NotFound(format!("budget {name:?}")));
    }
    conn.prepare_cached("DELETE FROM budget_alerts WHERE account_id = ?1 AND budget_name = ?2")
        .and_then(|mut s| s.execute([account_id, name]))
        .map(|_| ())
        .map_err(db_err)
}

fn record_alert(conn: &Connection, a: &BudgetAlertRecord) -> Result<(), MetaError> {
    if generation(conn, &a.account_id, &a.budget_name)?.is_none() {
        return Err(MetaError::NotFound(format!("budget {:?}", a.budget_name)));
    }
    let n = conn
        .prepare_cached(
            "INSERT INTO budget_alerts (account_id, budget_name, notification, period, at) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                a.account_id,
                a.budget_name,
                a.notification,
                a.period,
                a.at
            ])
        })
        .map_err(db_err)?;
    if n == 0 {
        return Err(MetaError::Conflict(format!(
            "alert {:?} of budget {:?} for {} was already sent",
            a.notification, a.budget_name, a.period
        )));
    }
    Ok(())
}

const COLUMNS: &str = "account_id, name, created_at, updated_at, generation, body";

fn row(r: &Row<'_>) -> rusqlite::Result<BudgetRecord> {
    Ok(BudgetRecord {
        account_id: r.get(0)?,
        name: r.get(1)?,
        created_at: r.get(2)?,
        updated_at: r.get(3)?,
        generation: r.get(4)?,
        body: r.get(5)?,
    })
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

pub(super) fn budget(
    conn: &Connection,
    account_id: &str,
    name: &str,
) -> Result<Option<BudgetRecord>, MetaError> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM budgets WHERE account_id = ?1 AND name = ?2"
    ))
    .and_then(|mut s| s.query_row([account_id, name], row).optional())
    .map_err(db_err)
}

pub(super) fn budgets(
    conn: &Connection,
    account_id: &str,
    after_name: Option<&str>,
    limit: usize,
) -> Result<Vec<BudgetRecord>, MetaError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM budgets WHERE account_id = ?1 AND name > ?2 \
             ORDER BY name LIMIT ?3"
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(
            params![account_id, after_name.unwrap_or(""), sql_limit(limit)],
            row,
        )
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

pub(super) fn all_budgets(
    conn: &Connection,
    after: Option<(&str, &str)>,
    limit: usize,
) -> Result<Vec<BudgetRecord>, MetaError> {
    let (account, name) = after.unwrap_or(("", ""));
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM budgets WHERE (account_id, name) > (?1, ?2) \
             ORDER BY account_id, name LIMIT ?3"
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![account, name, sql_limit(limit)], row)
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

pub(super) fn alerts(
    conn: &Connection,
    account_id: &str,
    budget_name: &str,
) -> Result<Vec<BudgetAlertRecord>, MetaError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT account_id, budget_name, notification, period, at FROM budget_alerts \
             WHERE account_id = ?1 AND budget_name = ?2 ORDER BY notification, period",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map([account_id, budget_name], |r| {
            Ok(BudgetAlertRecord {
                account_id: r.get(0)?,
                budget_name: r.get(1)?,
                notification: r.get(2)?,
                period: r.get(3)?,
                at: r.get(4)?,
            })
        })
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}
