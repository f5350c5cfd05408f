//! One function per [`Mutation`] variant. Each runs inside the writer's
//! transaction and savepoint, so it may check-then-write without races.

use rusqlite::{Connection, OptionalExtension, params};

use super::errors::db_err;
use super::objstore;
use crate::{AccessKey, Account, CommitReceipt, LwaClient, MetaError, Mutation, UsageEvent};

pub(super) fn apply(
    conn: &Connection,
    m: &Mutation,
    receipt: &mut CommitReceipt,
) -> Result<(), MetaError> {
    match m {
        Mutation::CreateAccount(a) => create_account(conn, a),
        Mutation::CreateAccessKey(k) => create_access_key(conn, k),
        Mutation::RevokeAccessKey { key_id, at } => revoke_access_key(conn, key_id, *at),
        Mutation::CreateLwaClient(c) => create_lwa_client(conn, c),
        Mutation::RevokeLwaClient { client_id, at } => revoke_lwa_client(conn, client_id, *at),
        Mutation::RecordUsage(u) => {
            if !record_usage(conn, u)? {
                receipt.duplicate_usage += 1;
            }
            Ok(())
        }
        Mutation::PutSetting { key, value } => put_setting(conn, key, value),
        Mutation::PutTopic(_)
        | Mutation::DeleteTopic { .. }
        | Mutation::EnqueueDelivery(_)
        | Mutation::RecordDeliveryAttempt { .. }
        | Mutation::PruneDeliveries { .. } => super::events::apply(conn, m),
        Mutation::Compute(c) => super::compute::apply(conn, c),
        Mutation::Fulfillment(f) => super::fulfillment::apply(conn, f, receipt),
        Mutation::Budgets(b) => super::budgets::apply(conn, b),
        Mutation::Kms(k) => super::kms::apply(conn, k),
        Mutation::Billing(b) => super::billing::apply(conn, b),
        other => objstore::apply(conn, other, receipt),
    }
}

fn exists(conn: &Connection, sql: &str, key: &str) -> Result<bool, MetaError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.query_row([key], |_| Ok(())).optional())
        .map(|r| r.is_some())
        .map_err(db_err)
}

fn create_account(conn: &Connection, a: &Account) -> Result<(), MetaError> {
    // Explicit checks give callers a precise message instead of a raw
    // UNIQUE-constraint string.
    if exists(conn, "SELECT 1 FROM accounts WHERE id = ?1", &a.id)? {
        return Err(MetaError::Conflict(format!(
            "account id {} already exists",
            a.id
        )));
    }
    if exists(conn, "SELECT 1 FROM accounts WHERE name = ?1", &a.name)? {
        return Err(MetaError::Conflict(format!(
            "account name {:?} already exists",
            a.name
        )));
    }
    conn.prepare_cached(
        "INSERT INTO accounts (id, name, is_admin, created_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute(params![a.id, a.name, a.is_admin, a.created_at]))
    .map_err(db_err)?;
    Ok(())
}

fn create_access_key(conn: &Connection, k: &AccessKey) -> Result<(), MetaError> {
    if exists(conn, "SELECT 1 FROM access_keys WHERE id = ?1", &k.id)? {
        return Err(MetaError::Conflict(format!(
            "access key {} already exists",
            k.id
        )));
    }
    if !exists(conn, "SELECT 1 FROM accounts WHERE id = ?1", &k.account_id)? {
        return Err(MetaError::NotFound(format!("account {}", k.account_id)));
    }
    conn.prepare_cached(
        "INSERT INTO access_keys (id, account_id, secret_sealed, created_at, revoked_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            k.id,
            k.account_id,
            k.secret_sealed,
            k.created_at,
            k.revoked_at
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

fn revoke_access_key(conn: &Connection, key_id: &str, at: i64) -> Result<(), MetaError> {
    // COALESCE keeps the first revocation time, making revoke idempotent.
    let n = conn
        .prepare_cached(
            "UPDATE access_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![key_id, at]))
        .map_err(db_err)?;
    if n == 0 {
        return Err(MetaError::NotFound(format!("access key {key_id}")));
    }
    Ok(())
}

fn create_lwa_client(conn: &Connection, c: &LwaClient) -> Result<(), MetaError> {
    if exists(
        conn,
        "SELECT 1 FROM lwa_clients WHERE client_id = ?1",
        &c.client_id,
    )? {
        return Err(MetaError::Conflict(format!(
            "LWA client {} already exists",
            c.client_id
        )));
    }
    if !exists(conn, "SELECT 1 FROM accounts WHERE id = ?1", &c.account_id)? {
        return Err(MetaError::NotFound(format!("account {}", c.account_id)));
    }
    conn.prepare_cached(
        "INSERT INTO lwa_clients (client_id, account_id, secret_sealed, refresh_token_sealed, \
         created_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            c.client_id,
            c.account_id,
            c.secret_sealed,
            c.refresh_token_sealed,
            c.created_at,
            c.revoked_at
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

fn revoke_lwa_client(conn: &Connection, client_id: &str, at: i64) -> Result<(), MetaError> {
    // As for access keys: the first revocation time stays.
    let n = conn
        .prepare_cached(
            "UPDATE lwa_clients SET revoked_at = COALESCE(revoked_at, ?2) WHERE client_id = ?1",
        )
        .and_then(|mut s| s.execute(params![client_id, at]))
        .map_err(db_err)?;
    if n == 0 {
        return Err(MetaError::NotFound(format!("LWA client {client_id}")));
    }
    Ok(())
}

/// Returns `false` if the idempotency key was already recorded.
pub(super) fn record_usage(conn: &Connection, u: &UsageEvent) -> Result<bool, MetaError> {
    let n = conn
        .prepare_cached(
            "INSERT INTO usage_events \
             (account_id, service, meter, quantity, unit, at, idempotency_key) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                u.account_id,
                u.service,
                u.meter,
                u.quantity,
                u.unit,
                u.at,
                u.idempotency_key
            ])
        })
        .map_err(db_err)?;
    Ok(n == 1)
}

fn put_setting(conn: &Connection, key: &str, value: &[u8]) -> Result<(), MetaError> {
    conn.prepare_cached(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .and_then(|mut s| s.execute(params![key, value]))
    .map_err(db_err)?;
    Ok(())
}
