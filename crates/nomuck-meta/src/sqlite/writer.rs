//! The single writer thread and group commit.
//!
//! Every `commit()` call is queued to one thread that owns the only writable
//! connection. It drains whatever is queued (up to `max_batch` calls), runs
//! them in ONE transaction with a SAVEPOINT per call, and COMMITs once: one
//! WAL fsync for the whole batch. A call failing with its own error
//! (Conflict/NotFound/Invalid) rolls back only its savepoint; a storage
//! failure aborts the batch and every call in it gets the error.
//!
//! Between batches, after replying, it keeps the WAL bounded
//! ([`WalBound`]): the one place no commit can race a WAL restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::apply::apply;
use super::byte_usage;
use super::checkpoint::{Checkpointer, WalBound};
use super::errors::db_err;
use crate::{CommitReceipt, MetaError, Mutation};

type Reply = Result<CommitReceipt, MetaError>;

struct Request {
    mutations: Vec<Mutation>,
    reply: oneshot::Sender<Reply>,
}

#[derive(Default)]
pub(super) struct Counters {
    pub batches: AtomicU64,
    pub commit_calls: AtomicU64,
    pub wal_restarts: AtomicU64,
}

pub(super) struct Writer {
    tx: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

/// Things the writer thread owns besides its connection.
struct Shared {
    counters: Arc<Counters>,
    checkpointer: Checkpointer,
    wal: WalBound,
}

impl Writer {
    pub(super) fn spawn(
        conn: Connection,
        max_batch: usize,
        queue_depth: usize,
        checkpointer: Checkpointer,
        wal: WalBound,
    ) -> Result<Self, MetaError> {
        let (tx, rx) = mpsc::channel(queue_depth);
        let counters = Arc::new(Counters::default());
        let shared = Shared {
            counters: Arc::clone(&counters),
            checkpointer,
            wal,
        };
        let thread = std::thread::Builder::new()
            .name("nomuck-meta-writer".into())
            .spawn(move || run(conn, rx, max_batch, shared))
            .map_err(|e| MetaError::Unavailable(format!("cannot start writer thread: {e}")))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            counters,
        })
    }

    pub(super) fn counters(&self) -> &Counters {
        &self.counters
    }

    pub(super) async fn submit(&self, mutations: Vec<Mutation>) -> Reply {
        let closed = || MetaError::Unavailable("metadata writer is stopped".into());
        let tx = self.tx.as_ref().ok_or_else(closed)?;
        let (reply, rx) = oneshot::channel();
        tx.send(Request { mutations, reply })
            .await
            .map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }

    /// Closes the queue, lets the thread apply what is queued, and joins it.
    pub(super) fn shutdown(&mut self) -> Result<(), MetaError> {
        drop(self.tx.take());
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| MetaError::Internal("metadata writer thread panicked".into())),
            None => Ok(()),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Nobody to report to; the thread only exits after its last batch committed.
        let _ = self.shutdown();
    }
}

fn run(conn: Connection, mut rx: mpsc::Receiver<Request>, max_batch: usize, mut shared: Shared) {
    let counters = &shared.counters;
    let mut batch: Vec<Request> = Vec::with_capacity(max_batch.min(1024));
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let (results, committed) = commit_batch(&conn, batch.iter().map(|r| &r.mutations[..]));
        if committed {
            shared.checkpointer.notify();
            counters.batches.fetch_add(1, Ordering::Relaxed);
            counters
                .commit_calls
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
        for (req, res) in batch.drain(..).zip(results) {
            // The caller may have been cancelled; its commit stands regardless.
            let _ = req.reply.send(res);
        }
        // After replying: a restart holds the next batch, not this one.
        if shared.wal.enforce(&conn) {
            counters.wal_restarts.fetch_add(1, Ordering::Relaxed);
        }
    }
    // Clean shutdown: fold the WAL back into the main file so a stopped
    // server leaves a self-contained .db. Best effort; reopening recovers anyway.
    shared.checkpointer.stop();
    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
}

/// Errors that belong to one call and leave the transaction usable.
fn is_caller_error(e: &MetaError) -> bool {
    matches!(
        e,
        MetaError::Conflict(_)
            | MetaError::NotFound(_)
            | MetaError::Invalid(_)
            | MetaError::Refused(_)
    )
}

/// Applies each call in its own savepoint inside one transaction. Returns one
/// result per call (in order) and whether the transaction committed.
pub(super) fn commit_batch<'a>(
    conn: &Connection,
    calls: impl ExactSizeIterator<Item = &'a [Mutation]>,
) -> (Vec<Reply>, bool) {
    let n = calls.len();
    let mut results: Vec<Reply> = Vec::with_capacity(n);
    byte_usage::discard();
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        return (vec![Err(db_err(e)); n], false);
    }
    for muts in calls {
        match apply_call(conn, muts) {
            Err(e) if !is_caller_error(&e) || conn.is_autocommit() => {
                return (abort(conn, results, n, e), false);
            }
            r => results.push(r),
        }
    }
    if let Err(e) = byte_usage::flush(conn) {
        return (abort(conn, results, n, e), false);
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        return (abort(conn, results, n, db_err(e)), false);
    }
    (results, true)
}

/// Runs a parameterless statement through the statement cache (the
/// savepoint statements run for every call; parsing them each time shows).
fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn apply_call(conn: &Connection, muts: &[Mutation]) -> Reply {
    let usage_mark = byte_usage::mark();
    exec_cached(conn, "SAVEPOINT call").map_err(db_err)?;
    let mut receipt = CommitReceipt::default();
    match muts.iter().try_for_each(|m| apply(conn, m, &mut receipt)) {
        Ok(()) => {
            exec_cached(conn, "RELEASE call").map_err(db_err)?;
            Ok(receipt)
        }
        Err(e) if is_caller_error(&e) => {
            // ROLLBACK TO undoes this call only; RELEASE then drops the savepoint.
            byte_usage::rollback_to(usage_mark);
            exec_cached(conn, "ROLLBACK TO call")
                .and_then(|()| exec_cached(conn, "RELEASE call"))
                .map_err(|re| MetaError::Unavailable(format!("savepoint rollback failed: {re}")))?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Rolls back the whole batch: calls that had succeeded and calls not yet run
/// get `fatal`; calls that failed on their own keep their own error.
fn abort(conn: &Connection, mut results: Vec<Reply>, n: usize, fatal: MetaError) -> Vec<Reply> {
    byte_usage::discard();
    if !conn.is_autocommit() {
        // If even ROLLBACK fails the connection is unusable; later batches will
        // fail at BEGIN and report it.
        let _ = conn.execute_batch("ROLLBACK");
    }
    for r in &mut results {
        if r.is_ok() {
            *r = Err(fatal.clone());
        }
    }
    results.resize(n, Err(fatal));
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Account, UsageEvent};

    fn conn() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Connection::open(dir.path().join("m.db")).unwrap();
        super::super::migrations::prepare(&mut c).unwrap();
        (dir, c)
    }

    fn acct(id: &str, name: &str) -> Mutation {
        Mutation::CreateAccount(Account {
            id: id.into(),
            name: name.into(),
            is_admin: false,
            created_at: 1,
        })
    }

    fn usage(key: &str) -> Mutation {
        Mutation::RecordUsage(UsageEvent {
            account_id: "000000000001".into(),
            service: "s3".into(),
            meter: "put".into(),
            quantity: 1,
            unit: "req".into(),
            at: 1,
            idempotency_key: key.into(),
        })
    }

    fn count(c: &Connection, table: &str) -> i64 {
        c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn failing_call_rolls_back_only_itself() {
        let (_d, c) = conn();
        let calls = [
            vec![acct("000000000001", "a"), usage("k1")],
            // Fails on its second mutation: its first must not survive.
            vec![usage("k2"), acct("000000000002", "a")],
            vec![acct("000000000003", "c"), usage("k1"), usage("k3")],
        ];
        let (res, committed) = commit_batch(&c, calls.iter().map(|v| &v[..]));
        assert!(committed);
        assert_eq!(res[0], Ok(CommitReceipt::default()));
        assert!(matches!(res[1], Err(MetaError::Conflict(_))), "{res:?}");
        assert_eq!(
            res[2],
            Ok(CommitReceipt {
                duplicate_usage: 1,
                ..CommitReceipt::default()
            })
        );
        assert_eq!(count(&c, "accounts"), 2);
        let keys: Vec<String> = c
            .prepare("SELECT idempotency_key FROM usage_events ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(keys, ["k1", "k3"]);
    }

    #[test]
    fn storage_failure_fails_the_whole_batch() {
        let (_d, c) = conn();
        // Simulate a storage-level failure: BEGIN fails because a transaction
        // is already open on this connection.
        c.execute_batch("BEGIN").unwrap();
        let calls = [vec![usage("a")], vec![usage("b")]];
        let (res, committed) = commit_batch(&c, calls.iter().map(|v| &v[..]));
        assert!(!committed);
        assert!(res.iter().all(|r| r.is_err()), "{res:?}");
        c.execute_batch("ROLLBACK").unwrap();
        assert_eq!(count(&c, "usage_events"), 0);
    }
}
