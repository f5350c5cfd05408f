//! WAL checkpoints: passive ones on their own thread, and the bound on the
//! WAL's size that the writer enforces between group commits.
//!
//! SQLite's automatic checkpoint runs inside the committing connection, i.e.
//! on the single writer thread, stalling every queued commit while it copies
//! pages and fsyncs the database file. Here the writer only signals "there
//! were commits" and a thread runs PASSIVE checkpoints (which never block
//! the writer or readers), at most once per interval. They copy pages into
//! the database file off the commit path.
//!
//! A passive checkpoint never makes the WAL *restart*, though: SQLite writes
//! from the file's start again only when a new write transaction finds every
//! frame copied and no reader using the WAL, and under steady load some
//! reader or the next commit is always in the way, so the file grows without
//! bound (956 MB in 20 s of small PUTs). [`WalBound`] closes that: once the
//! file is over its limit, the writer itself (so no commit can race it) runs
//! a RESTART checkpoint, which copies what the passive ones left and waits,
//! briefly, for the readers still on old snapshots; readers starting
//! meanwhile read the database file and are never blocked. The next commit
//! then writes from the start of the file and `journal_size_limit` cuts the
//! file back to the limit.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::errors::db_err;
use crate::MetaError;

pub(super) struct Checkpointer {
    signal: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    turn: Turn,
}

/// Whose turn it is to checkpoint. SQLite lets one checkpoint run at a time
/// and refuses a second at once (no busy wait), so the passive thread and
/// the writer's restart take turns here instead of failing each other.
#[derive(Clone, Default)]
struct Turn(Arc<Mutex<()>>);

impl Turn {
    fn take(&self) -> MutexGuard<'_, ()> {
        // Guards no data, so a panic while holding it leaves nothing broken.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Checkpointer {
    pub(super) fn spawn(
        path: &Path,
        busy_timeout: Duration,
        interval: Duration,
        wal_limit: u64,
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
        let turn = Turn::default();
        let thread_turn = turn.clone();
        let db_path = path.to_owned();
        let thread = std::thread::Builder::new()
            .name("nomuck-meta-checkpoint".into())
            .spawn(move || {
                let pace = Pace {
                    interval,
                    wal_path: wal_path_of(&db_path),
                    hurry_above: wal_limit / 4 * 3,
                };
                run(&conn, &rx, &pace, &thread_turn)
            })
            .map_err(|e| MetaError::Unavailable(format!("cannot start checkpoint thread: {e}")))?;
        Ok(Self {
            signal: Some(tx),
            thread: Some(thread),
            turn,
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

/// Longest the writer waits, holding commits, for readers on old snapshots
/// when it restarts the WAL. A reader holds a snapshot for one statement,
/// normally micro- to milliseconds.
const RESTART_WAIT: Duration = Duration::from_secs(1);

/// Keeps the WAL file near `limit` bytes; run by the writer between commits.
pub(super) struct WalBound {
    wal_path: PathBuf,
    limit: u64,
    busy_timeout: Duration,
    turn: Turn,
    /// After a restart that readers blocked, the next try waits until then,
    /// so a long read cannot hold the writer most of the time.
    retry_at: Option<Instant>,
}

impl WalBound {
    /// Sets `journal_size_limit` on `conn` (the writer's connection: the one
    /// whose commits restart and cut the file).
    pub(super) fn new(
        conn: &Connection,
        checkpointer: &Checkpointer,
        db_path: &Path,
        limit: u64,
        busy_timeout: Duration,
    ) -> Result<Self, MetaError> {
        let limit_i64 = i64::try_from(limit).unwrap_or(i64::MAX);
        conn.pragma_update(None, "journal_size_limit", limit_i64)
            .map_err(db_err)?;
        Ok(Self {
            wal_path: wal_path_of(db_path),
            limit,
            busy_timeout,
            turn: checkpointer.turn.clone(),
            retry_at: None,
        })
    }

    /// Called after each committed batch, with no transaction open. Returns
    /// whether it restarted the WAL. One `stat` when under the limit.
    pub(super) fn enforce(&mut self, conn: &Connection) -> bool {
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return false;
        }
        // Between restarts the file only grows (frames are appended), and a
        // restart cuts it back to `limit`: its size is the WAL's extent.
        match std::fs::metadata(&self.wal_path) {
            Ok(m) if m.len() > self.limit => {}
            _ => return false,
        }
        // Waits for a passive checkpoint in progress to finish its copy.
        let restarted = {
            let _turn = self.turn.take();
            restart(conn, RESTART_WAIT, self.busy_timeout)
        };
        self.retry_at = (!restarted).then(|| Instant::now() + RESTART_WAIT);
        restarted
    }
}

/// A RESTART checkpoint waiting at most `wait`; true if it completed, i.e.
/// the next commit writes from the start of the WAL.
fn restart(conn: &Connection, wait: Duration, busy_timeout: Duration) -> bool {
    // The writer's busy handler is set for other processes' locks; while
    // commits are held, wait less.
    if conn.busy_timeout(wait).is_err() {
        return false;
    }
    // Columns: blocked (1 if readers or another checkpoint got in the way),
    // frames in the WAL, frames copied.
    let blocked = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
    let _ = conn.busy_timeout(busy_timeout);
    matches!(blocked, Ok(0))
}

fn wal_path_of(db_path: &Path) -> PathBuf {
    let mut wal_path = db_path.as_os_str().to_owned();
    wal_path.push("-wal");
    wal_path.into()
}

/// How often the passive checkpoints run.
struct Pace {
    /// At most once per `interval` normally: each one fsyncs the database.
    interval: Duration,
    wal_path: PathBuf,
    /// WAL size above which they run as often as there are commits, so that
    /// when the file reaches its bound the writer's RESTART finds next to
    /// nothing left to copy and holds commits for a moment, not for the
    /// copy of everything since the last passive one (tens of milliseconds).
    hurry_above: u64,
}

impl Pace {
    fn wait(&self) -> Duration {
        match std::fs::metadata(&self.wal_path) {
            Ok(m) if m.len() > self.hurry_above => Duration::ZERO,
            _ => self.interval,
        }
    }
}

fn run(conn: &Connection, rx: &mpsc::Receiver<()>, pace: &Pace, turn: &Turn) {
    let mut pending = false;
    loop {
        if !pending && rx.recv().is_err() {
            return;
        }
        pending = false;
        // Best effort: a busy or failed checkpoint is retried on the next signal.
        {
            let _turn = turn.take();
            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
        // Rate limit, but notice shutdown at once.
        let until = Instant::now() + pace.wait();
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
