//! Compute's records (see [`crate::compute`]): JSON documents beside the
//! columns the database indexes and enforces.

use rusqlite::{Connection, OptionalExtension, ToSql, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::errors::db_err;
use crate::MetaError;
use crate::compute::{
    ComputeMutation, ImageRecord, InstanceRecord, InstanceState, KeyPairRecord, SecurityGroupRecord,
};

pub(super) fn apply(conn: &Connection, m: &ComputeMutation) -> Result<(), MetaError> {
    match m {
        ComputeMutation::PutInstance {
            record,
            expect_generation,
        } => put_instance(conn, record, *expect_generation),
        ComputeMutation::DeleteInstance { id } => delete(conn, "compute_instances", id),
        ComputeMutation::PutImage {
            record,
            expect_generation,
        } => put_versioned(
            conn,
            "compute_images",
            &record.id,
            record.generation,
            *expect_generation,
            &[("account_id", &record.account_id)],
            &to_doc(record.as_ref())?,
        ),
        ComputeMutation::DeleteImage { id } => delete(conn, "compute_images", id),
        ComputeMutation::CreateKeyPair(k) => create_key_pair(conn, k),
        ComputeMutation::SetKeyPairTags { id, tags } => {
            let mut k: KeyPairRecord = one(conn, "compute_key_pairs", id)?
                .ok_or_else(|| MetaError::NotFound(format!("key pair {id}")))?;
            k.tags = tags.clone();
            let doc = to_doc(&k)?;
            conn.prepare_cached("UPDATE compute_key_pairs SET doc = ?2 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![id, doc]))
                .map(|_| ())
                .map_err(db_err)
        }
        ComputeMutation::DeleteKeyPair { id } => delete(conn, "compute_key_pairs", id),
        ComputeMutation::PutSecurityGroup {
            record,
            expect_generation,
        } => {
            let taken: Option<String> = conn
                .prepare_cached(
                    "SELECT id FROM compute_security_groups WHERE account_id = ?1 AND name = ?2",
                )
                .and_then(|mut s| {
                    s.query_row([&record.account_id, &record.name], |r| r.get(0))
                        .optional()
                })
                .map_err(db_err)?;
            if taken.is_some_and(|id| id != record.id) {
                return Err(MetaError::Conflict(format!(
                    "security group name {:?} already exists",
                    record.name
                )));
            }
            put_versioned(
                conn,
                "compute_security_groups",
                &record.id,
                record.generation,
                *expect_generation,
                &[("account_id", &record.account_id), ("name", &record.name)],
                &to_doc(record.as_ref())?,
            )
        }
        ComputeMutation::DeleteSecurityGroup { id } => delete(conn, "compute_security_groups", id),
    }
}

fn to_doc<T: Serialize>(record: &T) -> Result<String, MetaError> {
    serde_json::to_string(record).map_err(|e| MetaError::Internal(e.to_string()))
}

fn from_doc<T: DeserializeOwned>(doc: &str) -> Result<T, MetaError> {
    serde_json::from_str(doc).map_err(|e| MetaError::Corrupt(format!("compute record: {e}")))
}

fn stored_generation(conn: &Connection, table: &str, id: &str) -> Result<Option<i64>, MetaError> {
    conn.prepare_cached(&format!("SELECT generation FROM {table} WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .map_err(db_err)
}

/// Checks the generation a writer read against the stored one.
fn check_generation(
    conn: &Connection,
    table: &str,
    id: &str,
    new: i64,
    expected: Option<i64>,
) -> Result<(), MetaError> {
    let stored = stored_generation(conn, table, id)?;
    super::generation::check(id, stored, expected, new)
}

/// Insert or replace a record under generation control. `columns` are the
/// indexed columns besides `id`, `generation` and `doc`.
fn put_versioned(
    conn: &Connection,
    table: &str,
    id: &str,
    generation: i64,
    expected: Option<i64>,
    columns: &[(&str, &dyn ToSql)],
    doc: &str,
) -> Result<(), MetaError> {
    check_generation(conn, table, id, generation, expected)?;
    let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    let holes: Vec<String> = (0..columns.len()).map(|i| format!("?{}", i + 4)).collect();
    let sql = format!(
        "INSERT OR REPLACE INTO {table} (id, generation, doc, {}) VALUES (?1, ?2, ?3, {})",
        names.join(", "),
        holes.join(", ")
    );
    let mut values: Vec<&dyn ToSql> = vec![&id, &generation, &doc];
    values.extend(columns.iter().map(|(_, v)| *v));
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.execute(values.as_slice()))
        .map(|_| ())
        .map_err(db_err)
}

fn put_instance(
    conn: &Connection,
    r: &InstanceRecord,
    expected: Option<i64>,
) -> Result<(), MetaError> {
    let ip_holder: Option<String> = conn
        .prepare_cached(
            "SELECT id FROM compute_instances \
             WHERE account_id = ?1 AND private_ip = ?2 AND state <> 'terminated'",
        )
        .and_then(|mut s| {
            s.query_row([&r.account_id, &r.private_ip], |r| r.get(0))
                .optional()
        })
        .map_err(db_err)?;
    if r.state != InstanceState::Terminated && ip_holder.is_some_and(|id| id != r.id) {
        return Err(MetaError::Conflict(format!(
            "private address {} is in use",
            r.private_ip
        )));
    }
    // The documented Conflict for a taken client token was not enforced (the
    // conformance case compute_client_tokens caught it). All instances of one
    // RunInstances share its token, so "taken" means: held by an instance of
    // another reservation.
    if let Some(token) = &r.client_token {
        let holders = instances_by_client_token(conn, &r.account_id, token)?;
        if holders
            .iter()
            .any(|h| h.id != r.id && h.reservation_id != r.reservation_id)
        {
            return Err(MetaError::Conflict(format!(
                "client token {token:?} belongs to another reservation"
            )));
        }
    }
    let active = i64::from(is_active(r));
    put_versioned(
        conn,
        "compute_instances",
        &r.id,
        r.generation,
        expected,
        &[
            ("account_id", &r.account_id),
            ("state", &r.state.as_str()),
            ("active", &active),
            ("client_token", &r.client_token),
            ("private_ip", &r.private_ip),
        ],
        &to_doc(r)?,
    )
}

fn is_active(r: &InstanceRecord) -> bool {
    r.pending_action.is_some()
        || !matches!(r.state, InstanceState::Stopped | InstanceState::Terminated)
}

fn create_key_pair(conn: &Connection, k: &KeyPairRecord) -> Result<(), MetaError> {
    let taken: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM compute_key_pairs WHERE account_id = ?1 AND name = ?2) \
             OR EXISTS (SELECT 1 FROM compute_key_pairs WHERE id = ?3)",
        )
        .and_then(|mut s| s.query_row(params![k.account_id, k.name, k.id], |r| r.get(0)))
        .map_err(db_err)?;
    if taken {
        return Err(MetaError::Conflict(format!(
            "key pair {:?} already exists",
            k.name
        )));
    }
    let doc = to_doc(k)?;
    conn.prepare_cached(
        "INSERT INTO compute_key_pairs (id, account_id, name, doc) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute(params![k.id, k.account_id, k.name, doc]))
    .map(|_| ())
    .map_err(db_err)
}

fn delete(conn: &Connection, table: &str, id: &str) -> Result<(), MetaError> {
    let n = conn
        .prepare_cached(&format!("DELETE FROM {table} WHERE id = ?1"))
        .and_then(|mut s| s.execute([id]))
        .map_err(db_err)?;
    if n == 0 {
        return Err(MetaError::NotFound(id.to_owned()));
    }
    Ok(())
}

// ---- reads

fn docs<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    args: &[&dyn ToSql],
) -> Result<Vec<T>, MetaError> {
    let mut stmt = conn.prepare_cached(sql).map_err(db_err)?;
    let rows = stmt
        .query_map(args, |r| r.get::<_, String>(0))
        .map_err(db_err)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(from_doc(&row.map_err(db_err)?)?);
    }
    Ok(out)
}

pub(super) fn one<T: DeserializeOwned>(
    conn: &Connection,
    table: &str,
    id: &str,
) -> Result<Option<T>, MetaError> {
    let doc: Option<String> = conn
        .prepare_cached(&format!("SELECT doc FROM {table} WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .map_err(db_err)?;
    doc.as_deref().map(from_doc).transpose()
}

pub(super) fn instances(
    conn: &Connection,
    account_id: Option<&str>,
) -> Result<Vec<InstanceRecord>, MetaError> {
    match account_id {
        Some(a) => docs(
            conn,
            "SELECT doc FROM compute_instances WHERE account_id = ?1 ORDER BY id",
            &[&a],
        ),
        None => docs(conn, "SELECT doc FROM compute_instances ORDER BY id", &[]),
    }
}

pub(super) fn active_instances(conn: &Connection) -> Result<Vec<InstanceRecord>, MetaError> {
    docs(
        conn,
        "SELECT doc FROM compute_instances WHERE active = 1 ORDER BY id",
        &[],
    )
}

pub(super) fn instances_by_client_token(
    conn: &Connection,
    account_id: &str,
    token: &str,
) -> Result<Vec<InstanceRecord>, MetaError> {
    docs(
        conn,
        "SELECT doc FROM compute_instances WHERE account_id = ?1 AND client_token = ?2 ORDER BY id",
        &[&account_id, &token],
    )
}

pub(super) fn images(conn: &Connection) -> Result<Vec<ImageRecord>, MetaError> {
    docs(conn, "SELECT doc FROM compute_images ORDER BY id", &[])
}

pub(super) fn key_pair(
    conn: &Connection,
    account_id: &str,
    name: &str,
) -> Result<Option<KeyPairRecord>, MetaError> {
    Ok(docs(
        conn,
        "SELECT doc FROM compute_key_pairs WHERE account_id = ?1 AND name = ?2",
        &[&account_id, &name],
    )?
    .pop())
}

pub(super) fn key_pairs(
    conn: &Connection,
    account_id: &str,
) -> Result<Vec<KeyPairRecord>, MetaError> {
    docs(
        conn,
        "SELECT doc FROM compute_key_pairs WHERE account_id = ?1 ORDER BY name",
        &[&account_id],
    )
}

pub(super) fn security_groups(
    conn: &Connection,
    account_id: &str,
) -> Result<Vec<SecurityGroupRecord>, MetaError> {
    docs(
        conn,
        "SELECT doc FROM compute_security_groups WHERE account_id = ?1 ORDER BY id",
        &[&account_id],
    )
}
