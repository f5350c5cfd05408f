//! WAL checkpoints on their own thread and connection.
//!
//! SQLite's automatic checkpoint runs inside the committing connection, i.e.
//! on the single writer thread, stalling every queued commit while it copies
//! pages and fsyncs the database file. Here the writer only signals "there
//! were commits" and this thread runs PASSIVE checkpoints (which never block
//! the writer or readers), at most once per interval.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::errors::db_err;
use crate::MetaError;

pub(super) struct Checkpointer {
    signal: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(super) fn spawn(
        path: &Path,
        busy_timeout: Duration,
        interval: Duration,
    ) -> Result<Self, MetaError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(db_err)?;
        conn.busy_timeout(busy_timeout).map_err(db_err)?;
        // A checkpoint must fsync the database file before the WAL it copied
        // from can be reused; explicit rather than relying on build defaults.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_err)?;
        // Capacity 1: signals coalesce; the writer never blocks on them.
        let (tx, rx) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("nomuck-meta-checkpoint".into())
            .spawn(move || run(&conn, &rx, interval))
            .map_err(|e| MetaError::Unavailable(format!("cannot start checkpoint thread: {e}")))?;
        Ok(Self {
            signal: Some(tx),
            thread: Some(thread),
        })
    }

    /// Called by the writer after each committed transaction. Never blocks.
    pub(super) fn notify(&self) {
        if let Some(tx) = &self.signal {
            let _ = tx.try_send(());
        }
    }

    pub(super) fn stop(&mut self) {
        drop(self.signal.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(conn: &Connection, rx: &mpsc::Receiver<()>, interval: Duration) {
    let mut pending = false;
    loop {
        if !pending && rx.recv().is_err() {
            return;
        }
        pending = false;
        // Best effort: a busy or failed checkpoint is retried on the next signal.
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        // Rate limit, but notice shutdown at once.
        let until = Instant::now() + interval;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(()) => pending = true,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        if !pending {
            match rx.try_recv() {
                Ok(()) => pending = true,
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => return,
            }
        }
    }
}
