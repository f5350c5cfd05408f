//! KMS's records (see [`crate::kms`]): key documents beside their id, account
//! and generation, and aliases per account.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::errors::db_err;
use crate::MetaError;
use crate::kms::{KmsAliasRecord, KmsKeyRecord, KmsMutation};

pub(super) fn apply(conn: &Connection, m: &KmsMutation) -> Result<(), MetaError> {
    match m {
        KmsMutation::PutKey {
            record,
            expect_generation,
        } => put_key(conn, record, *expect_generation),
        KmsMutation::DeleteKey {
            key_id,
            expect_generation,
        } => delete_key(conn, key_id, *expect_generation),
        KmsMutation::PutAlias { record, replace } => put_alias(conn, record, *replace),
        KmsMutation::DeleteAlias { account_id, name } => delete_alias(conn, account_id, name),
    }
}

/// `(account, generation)` of a stored key.
fn stored(conn: &Connection, key_id: &str) -> Result<Option<(String, i64)>, MetaError> {
    conn.prepare_cached("SELECT account_id, generation FROM kms_keys WHERE key_id = ?1")
        .and_then(|mut s| {
            s.query_row([key_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(db_err)
}

fn put_key(conn: &Connection, r: &KmsKeyRecord, expected: Option<i64>) -> Result<(), MetaError> {
    let stored = stored(conn, &r.key_id)?;
    if stored
        .as_ref()
        .is_some_and(|(account, _)| *account != r.account_id)
    {
        return Err(MetaError::Invalid(format!(
            "key {:?} cannot change account",
            r.key_id
        )));
    }
    super::generation::check(
        &format!("key {:?}", r.key_id),
        stored.map(|(_, g)| g),
        expected,
        r.generation,
    )?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO kms_keys (key_id, account_id, created_at, updated_at, generation, body) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            r.key_id,
            r.account_id,
            r.created_at,
            r.updated_at,
            r.generation,
            r.body
        ])
    })
    .map(|_| ())
    .map_err(db_err)
}

fn delete_key(conn: &Connection, key_id: &str, expected: i64) -> Result<(), MetaError> {
    match stored(conn, key_id)? {
        None => return Err(MetaError::NotFound(format!("key {key_id:?}"))),
        Some((_, s)) if s != expected => {
            return Err(MetaError::Conflict(format!(
                "key {key_id:?} changed meanwhile (generation {s}, expected {expected})"
            )));
        }
        Some(_) => {}
    }
    conn.prepare_cached("DELETE FROM kms_keys WHERE key_id = ?1")
        .and_then(|mut s| s.execute([key_id]))
        .map_err(db_err)?;
    conn.prepare_cached("DELETE FROM kms_aliases WHERE key_id = ?1")
        .and_then(|mut s| s.execute([key_id]))
        .map(|_| ())
        .map_err(db_err)
}

fn put_alias(conn: &Connection, a: &KmsAliasRecord, replace: bool) -> Result<(), MetaError> {
    match stored(conn, &a.key_id)? {
        Some((account, _)) if account == a.account_id => {}
        _ => return Err(MetaError::NotFound(format!("key {:?}", a.key_id))),
    }
    let exists = alias(conn, &a.account_id, &a.name)?.is_some();
    match (exists, replace) {
        (true, false) => {
            return Err(MetaError::Conflict(format!(
                "alias {:?} already exists",
                a.name
            )));
        }
        (false, true) => return Err(MetaError::NotFound(format!("alias {:?}", a.name))),
        _ => {}
    }
    conn.prepare_cached(
        "INSERT OR REPLACE INTO kms_aliases (account_id, name, key_id, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            a.account_id,
            a.name,
            a.key_id,
            a.created_at,
            a.updated_at
        ])
    })
    .map(|_| ())
    .map_err(db_err)
}

fn delete_alias(conn: &Connection, account_id: &str, name: &str) -> Result<(), MetaError> {
    let n = conn
        .prepare_cached("DELETE FROM kms_aliases WHERE account_id = ?1 AND name = ?2")
        .and_then(|mut s| s.execute([account_id, name]))
        .map_err(db_err)?;
    if n == 0 {
        return Err(MetaError::NotFound(format!("alias {name:?}")));
    }
    Ok(())
}

const KEY_COLUMNS: &str = "key_id, account_id, created_at, updated_at, generation, body";

fn key_row(r: &Row<'_>) -> rusqlite::Result<KmsKeyRecord> {
    Ok(KmsKeyRecord {
        key_id: r.get(0)?,
        account_id: r.get(1)?,
        created_at: r.get(2)?,
        updated_at: r.get(3)?,
        generation: r.get(4)?,
        body: r.get(5)?,
    })
}

fn alias_row(r: &Row<'_>) -> rusqlite::Result<KmsAliasRecord> {
    Ok(KmsAliasRecord {
        account_id: r.get(0)?,
        name: r.get(1)?,
        key_id: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

pub(super) fn key(conn: &Connection, key_id: &str) -> Result<Option<KmsKeyRecord>, MetaError> {
    conn.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM kms_keys WHERE key_id = ?1"
    ))
    .and_then(|mut s| s.query_row([key_id], key_row).optional())
    .map_err(db_err)
}

/// One account's keys, or every account's (`account_id: None`), in id order.
pub(super) fn keys(
    conn: &Connection,
    account_id: Option<&str>,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<KmsKeyRecord>, MetaError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM kms_keys \
             WHERE (?1 IS NULL OR account_id = ?1) AND key_id > ?2 ORDER BY key_id LIMIT ?3"
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(
            params![account_id, after.unwrap_or(""), sql_limit(limit)],
            key_row,
        )
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

pub(super) fn alias(
    conn: &Connection,
    account_id: &str,
    name: &str,
) -> Result<Option<KmsAliasRecord>, MetaError> {
    conn.prepare_cached(
        "SELECT account_id, name, key_id, created_at, updated_at FROM kms_aliases \
         WHERE account_id = ?1 AND name = ?2",
    )
    .and_then(|mut s| s.query_row([account_id, name], alias_row).optional())
    .map_err(db_err)
}

pub(super) fn aliases(
    conn: &Connection,
    account_id: &str,
    key_id: Option<&str>,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<KmsAliasRecord>, MetaError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT account_id, name, key_id, created_at, updated_at FROM kms_aliases \
             WHERE account_id = ?1 AND (?2 IS NULL OR key_id = ?2) AND name > ?3 \
             ORDER BY name LIMIT ?4",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(
            params![account_id, key_id, after.unwrap_or(""), sql_limit(limit)],
            alias_row,
        )
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}
