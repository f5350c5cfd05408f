//! Read-only connection pool and all queries.
//!
//! Each query is a single statement in autocommit mode, so it starts a fresh
//! WAL read snapshot and sees every commit acknowledged before it began.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params_from_iter};
use tokio::sync::Semaphore;

use super::errors::db_err;
use crate::{AccessKey, Account, LwaClient, MetaError, StoredUsageEvent, UsageEvent, UsageQuery};

pub(super) struct ReadPool {
    path: PathBuf,
    size: usize,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl ReadPool {
    pub(super) fn new(path: PathBuf, size: usize, busy_timeout: Duration) -> Self {
        Self {
            path,
            size,
            busy_timeout,
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Semaphore::new(size),
        }
    }

    /// Refuses new reads and closes idle connections (reads in flight finish
    /// and then drop theirs). Done before the writer stops so that the
    /// writer's connection is the last to close: only a read-write connection
    /// can checkpoint and remove the WAL on close.
    pub(super) fn close(&self) {
        self.permits.close();
        self.idle().clear();
    }

    /// Opens one connection eagerly so `open()` fails fast if readers cannot work.
    pub(super) fn warm_up(&self) -> Result<(), MetaError> {
        let c = self.connect()?;
        self.idle().push(c);
        Ok(())
    }

    fn connect(&self) -> Result<Connection, MetaError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let c = Connection::open_with_flags(&self.path, flags).map_err(db_err)?;
        c.busy_timeout(self.busy_timeout).map_err(db_err)?;
        tune_caches(&c, READER_CACHE_KIB)?;
        Ok(c)
    }

    // The Vec is consistent even if a holder panicked (push/pop only), so a
    // poisoned lock is safe to reuse rather than failing every later read.
    fn idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on a pooled connection on tokio's blocking pool.
    pub(super) async fn run<T, F>(self: &std::sync::Arc<Self>, f: F) -> Result<T, MetaError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, MetaError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| MetaError::Unavailable("read pool closed".into()))?;
        let pool = std::sync::Arc::clone(self);
        tokio::task::spawn_blocking(move || pool.with_connection(f))
            .await
            .map_err(|e| MetaError::Internal(format!("read task failed: {e}")))?
    }

    /// Runs a point lookup (a few B-tree probes: microseconds once its pages
    /// are cached) on the calling thread. Handing such a query to the
    /// blocking pool costs two thread wake-ups, more than the query itself.
    /// Falls back to the pool when every connection is busy.
    pub(super) async fn run_point<T, F>(self: &std::sync::Arc<Self>, f: F) -> Result<T, MetaError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, MetaError> + Send + 'static,
    {
        match self.permits.try_acquire() {
            Ok(_permit) => self.with_connection(f),
            Err(tokio::sync::TryAcquireError::Closed) => {
                Err(MetaError::Unavailable("read pool closed".into()))
            }
            Err(tokio::sync::TryAcquireError::NoPermits) => self.run(f).await,
        }
    }

    fn with_connection<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, MetaError>,
    ) -> Result<T, MetaError> {
        let popped = self.idle().pop();
        let conn = match popped {
            Some(c) => c,
            None => self.connect()?,
        };
        let out = f(&conn);
        // A connection that just hit I/O or corruption trouble is dropped;
        // the next read opens a fresh one.
        let healthy = !matches!(
            out,
            Err(MetaError::Unavailable(_) | MetaError::Corrupt(_) | MetaError::Internal(_))
        );
        let mut idle = self.idle();
        if healthy && idle.len() < self.size && !self.permits.is_closed() {
            idle.push(conn);
        }
        out
    }
}

/// Page cache per reader connection (SQLite's default is 2 MiB).
const READER_CACHE_KIB: i64 = 16 << 10;

/// Sizes a connection's page cache and prepared-statement cache. The object
/// store alone runs a few dozen distinct statements; rusqlite keeps 16.
pub(super) fn tune_caches(c: &Connection, cache_kib: i64) -> Result<(), MetaError> {
    c.set_prepared_statement_cache_capacity(128);
    c.pragma_update(None, "cache_size", -cache_kib)
        .map_err(db_err)
}

#[derive(Clone, Copy)]
pub(super) enum AccountKey {
    Id,
    Name,
}

const ACCOUNT_COLS: &str = "SELECT id, name, is_admin, created_at FROM accounts";
const KEY_COLS: &str =
    "SELECT id, account_id, secret_sealed, created_at, revoked_at FROM access_keys";
const LWA_COLS: &str = "SELECT client_id, account_id, secret_sealed, refresh_token_sealed, \
                        created_at, revoked_at FROM lwa_clients";
const USAGE_COLS: &str = "SELECT seq, account_id, service, meter, quantity, unit, at, \
                          idempotency_key FROM usage_events";

fn account_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: r.get(0)?,
        name: r.get(1)?,
        is_admin: r.get(2)?,
        created_at: r.get(3)?,
    })
}

fn key_row(r: &Row<'_>) -> rusqlite::Result<AccessKey> {
    Ok(AccessKey {
        id: r.get(0)?,
        account_id: r.get(1)?,
        secret_sealed: r.get(2)?,
        created_at: r.get(3)?,
        revoked_at: r.get(4)?,
    })
}

fn lwa_row(r: &Row<'_>) -> rusqlite::Result<LwaClient> {
    Ok(LwaClient {
        client_id: r.get(0)?,
        account_id: r.get(1)?,
        secret_sealed: r.get(2)?,
        refresh_token_sealed: r.get(3)?,
        created_at: r.get(4)?,
        revoked_at: r.get(5)?,
    })
}

fn usage_row(r: &Row<'_>) -> rusqlite::Result<StoredUsageEvent> {
    Ok(StoredUsageEvent {
        seq: r.get(0)?,
        event: UsageEvent {
            account_id: r.get(1)?,
            service: r.get(2)?,
            meter: r.get(3)?,
            quantity: r.get(4)?,
            unit: r.get(5)?,
            at: r.get(6)?,
            idempotency_key: r.get(7)?,
        },
    })
}

pub(super) fn account_by(
    c: &Connection,
    key: AccountKey,
    value: &str,
) -> Result<Option<Account>, MetaError> {
    let sql = match key {
        AccountKey::Id => format!("{ACCOUNT_COLS} WHERE id = ?1"),
        AccountKey::Name => format!("{ACCOUNT_COLS} WHERE name = ?1"),
    };
    c.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([value], account_row).optional())
        .map_err(db_err)
}

pub(super) fn accounts(c: &Connection) -> Result<Vec<Account>, MetaError> {
    c.prepare_cached(&format!("{ACCOUNT_COLS} ORDER BY created_at, id"))
        .and_then(|mut s| s.query_map([], account_row)?.collect())
        .map_err(db_err)
}

pub(super) fn access_key(c: &Connection, id: &str) -> Result<Option<AccessKey>, MetaError> {
    c.prepare_cached(&format!("{KEY_COLS} WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], key_row).optional())
        .map_err(db_err)
}

pub(super) fn access_keys(c: &Connection, account_id: &str) -> Result<Vec<AccessKey>, MetaError> {
    c.prepare_cached(&format!(
        "{KEY_COLS} WHERE account_id = ?1 ORDER BY created_at, id"
    ))
    .and_then(|mut s| s.query_map([account_id], key_row)?.collect())
    .map_err(db_err)
}

pub(super) fn lwa_client(c: &Connection, id: &str) -> Result<Option<LwaClient>, MetaError> {
    c.prepare_cached(&format!("{LWA_COLS} WHERE client_id = ?1"))
        .and_then(|mut s| s.query_row([id], lwa_row).optional())
        .map_err(db_err)
}

pub(super) fn lwa_clients(c: &Connection, account_id: &str) -> Result<Vec<LwaClient>, MetaError> {
    c.prepare_cached(&format!(
        "{LWA_COLS} WHERE account_id = ?1 ORDER BY created_at, client_id"
    ))
    .and_then(|mut s| s.query_map([account_id], lwa_row)?.collect())
    .map_err(db_err)
}

pub(super) fn usage(c: &Connection, q: &UsageQuery) -> Result<Vec<StoredUsageEvent>, MetaError> {
    use rusqlite::types::Value;

    // Only the filters present go into the SQL: `(?1 IS NULL OR col = ?1)`
    // would stop SQLite from using the indexes. Fragments are constants, so
    // there is at most one cached statement per filter combination.
    let mut sql = String::from(USAGE_COLS);
    let mut args: Vec<Value> = Vec::with_capacity(5);
    let mut clause = |cond: &str, v: Value| {
        sql.push_str(if args.is_empty() { " WHERE " } else { " AND " });
        sql.push_str(cond);
        args.push(v);
        sql.push_str(&args.len().to_string());
    };
    if let Some(a) = &q.account_id {
        clause("account_id = ?", Value::Text(a.clone()));
    }
    if let Some(from) = q.from {
        clause("at >= ?", Value::Integer(from));
    }
    if let Some(to) = q.to {
        clause("at < ?", Value::Integer(to));
    }
    if let Some(after) = q.after_seq {
        clause("seq > ?", Value::Integer(after));
    }
    args.push(Value::Integer(i64::try_from(q.limit).unwrap_or(i64::MAX)));
    sql.push_str(&format!(" ORDER BY seq LIMIT ?{}", args.len()));

    c.prepare_cached(&sql)
        .and_then(|mut s| s.query_map(params_from_iter(args), usage_row)?.collect())
        .map_err(db_err)
}

pub(super) fn setting(c: &Connection, key: &str) -> Result<Option<Vec<u8>>, MetaError> {
    c.prepare_cached("SELECT value FROM settings WHERE key = ?1")
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .map_err(db_err)
}
