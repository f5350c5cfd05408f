//! The access log journal: records are appended to segment files on disk by
//! one writer thread that group-commits (one `fdatasync` for every record
//! waiting), and each append's acknowledgement comes after that sync, so the
//! API layer can hold a reply's last byte until its record is durable.
//!
//! Every delivery interval the open segment is closed and each closed
//! segment is delivered: its records are grouped by target (bucket, prefix,
//! key format, source bucket), each group is put into its target bucket as
//! one object, then the segment file is deleted. A crash between the put and
//! the delete delivers the same records again under the same key (the
//! object's name derives from the segment id and the group), so a record is
//! never lost and at worst written twice over itself.
//!
//! Segment files are `<id>.log` with `id` the segment's creation time in
//! microseconds, kept increasing; lines are JSON [`LogEntry`]s. A line cut
//! short by a crash was never acknowledged and is skipped.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use bytes::Bytes;
use nomuck_meta::Millis;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::{KeyFormat, log_object_key};
use crate::{Caller, PutObjectRequest, RequestedAcl, Storage, StorageError, now_millis};

/// One journaled record and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub target_bucket: String,
    /// Log objects are written as this account (the target's owner).
    pub target_owner: String,
    pub target_prefix: String,
    pub key_format: KeyFormat,
    pub source_bucket: String,
    pub source_owner: String,
    pub source_region: String,
    /// When the request was received.
    pub at: Millis,
    /// The formatted record ([`super::AccessLogRecord::to_line`]).
    pub line: String,
    /// The configuration's `TargetGrants`, for the log object's ACL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_grants: Vec<super::TargetGrant>,
}

/// Completes once an appended record is durable; fails if it could not be
/// written.
pub type Ack = oneshot::Receiver<()>;

/// What one delivery pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub segments: usize,
    pub objects: usize,
    pub records: usize,
    /// Records whose target bucket is gone or no longer accepts them.
    pub dropped: usize,
}

enum Command {
    Append(Vec<u8>, Option<oneshot::Sender<()>>),
    /// Close the open segment (after syncing it) so it can be delivered.
    Rotate(oneshot::Sender<()>),
}

/// The journal and its delivery. Cheap to share in an `Arc`.
pub struct AccessLog {
    dir: PathBuf,
    tx: Mutex<mpsc::Sender<Command>>,
    /// Id of the segment the writer has open; 0 when none is.
    open: Arc<AtomicU64>,
    interval: Duration,
    /// One delivery pass at a time.
    delivering: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog")
            .field("dir", &self.dir)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> StorageError {
    StorageError::Internal(format!(
        "access log journal: {what} {}: {e}",
        path.display()
    ))
}

impl AccessLog {
    /// Opens (creating) the journal in `dir` and starts its writer thread.
    /// Segments left by an earlier run are closed and will be delivered.
    pub fn open(dir: &Path, interval: Duration) -> Result<Arc<Self>, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error("cannot create", dir, e))?;
        let last = segments(dir)?.last().copied().unwrap_or(0);
        let (tx, rx) = mpsc::channel();
        let open = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            dir: dir.to_owned(),
            file: None,
            last_id: last,
            open: Arc::clone(&open),
        };
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || writer.run(&rx))
            .map_err(|e| io_error("cannot start the writer for", dir, e))?;
        Ok(Arc::new(Self {
            dir: dir.to_owned(),
            tx: Mutex::new(tx),
            open,
            interval,
            delivering: tokio::sync::Mutex::new(()),
        }))
    }

    /// Appends a record. The receiver completes once it is on disk (or fails
    /// if the journal could not write it); `None` if the writer is gone.
    pub fn append(&self, entry: &LogEntry) -> Option<Ack> {
        let mut line = serde_json::to_vec(entry).ok()?;
        line.push(b'\n');
        let (ack, done) = oneshot::channel();
        self.send(Command::Append(line, Some(ack)))?;
        Some(done)
    }

    fn send(&self, command: Command) -> Option<()> {
        self.tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(command)
            .ok()
    }

    /// Delivers every record journaled before the call. Segments whose
    /// delivery failed for a passing reason stay for the next pass.
    pub async fn deliver_now(&self, storage: &Storage) -> Result<DeliveryReport, StorageError> {
        let _one = self.delivering.lock().await;
        let (ack, closed) = oneshot::channel();
        if self.send(Command::Rotate(ack)).is_some() {
            // An error means the writer is gone; what it wrote is still closed.
            let _ = closed.await;
        }
        let mut report = DeliveryReport::default();
        let listed = segments(&self.dir)?;
        let open = self.open.load(Ordering::SeqCst);
        for id in listed.into_iter().filter(|id| open == 0 || *id < open) {
            self.deliver_segment(storage, id, &mut report).await?;
            report.segments += 1;
        }
        Ok(report)
    }

    async fn deliver_segment(
        &self,
        storage: &Storage,
        id: u64,
        report: &mut DeliveryReport,
    ) -> Result<(), StorageError> {
        let path = segment_path(&self.dir, id);
        let data = tokio::fs::read(&path)
            .await
            .map_err(|e| io_error("cannot read", &path, e))?;
        let mut groups: BTreeMap<GroupKey, Vec<LogEntry>> = BTreeMap::new();
        for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            // A torn last line was never acknowledged.
            if let Ok(entry) = serde_json::from_slice::<LogEntry>(line) {
                groups.entry(GroupKey::of(&entry)).or_default().push(entry);
            }
        }
        for (group, entries) in groups {
            let first = entries.iter().map(|e| e.at).min().unwrap_or(0);
            let last = entries.iter().map(|e| e.at).max().unwrap_or(0);
            let unique = unique_string(id, &group);
            let key = log_object_key(
                &group.target_prefix,
                group.key_format,
                (
                    &group.source_owner,
                    &group.source_region,
                    &group.source_bucket,
                ),
                first,
                last,
                &unique,
            );
            let mut body = String::new();
            for e in &entries {
                body.push_str(&e.line);
                body.push('\n');
            }
            let caller = Caller::account(
                group.target_owner.clone(),
                format!("accesslog-{id}-{unique}"),
            );
            let len = body.len() as u64;
            let stream =
                futures_util::stream::once(
                    async move { Ok::<_, std::io::Error>(Bytes::from(body)) },
                );
            let put = PutObjectRequest {
                content_length: Some(len),
                acl: super::log_object_acl(&group.target_owner, &group.target_grants)
                    .map(RequestedAcl::Grants),
                service_delivery: true,
                ..PutObjectRequest::default()
            };
            match storage
                .put_object(&caller, &group.target_bucket, &key, put, stream)
                .await
            {
                Ok(_) => {
                    report.objects += 1;
                    report.records += entries.len();
                }
                Err(e) if gone_for_good(&e) => {
                    tracing::warn!(bucket = %group.target_bucket, error = %e,
                        records = entries.len(), "access log target refuses delivery; records dropped");
                    report.dropped += entries.len();
                }
                Err(e) => return Err(e),
            }
        }
        // Removing it is what marks the records delivered; if this is lost
        // to a crash the next run puts the same objects again.
        std::fs::remove_file(&path).map_err(|e| io_error("cannot remove", &path, e))
    }

    /// Delivers every interval (at once first, for what an earlier run left)
    /// while the journal and the engine live.
    pub fn start_delivery(self: &Arc<Self>, storage: &Arc<Storage>) -> tokio::task::JoinHandle<()> {
        let (log, storage): (Weak<Self>, Weak<Storage>) =
            (Arc::downgrade(self), Arc::downgrade(storage));
        let every = self.interval.max(Duration::from_millis(100));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let (Some(log), Some(storage)) = (log.upgrade(), storage.upgrade()) else {
                    return;
                };
                if let Err(e) = log.deliver_now(&storage).await {
                    tracing::warn!(error = %e, "delivering access logs failed; will retry");
                }
            }
        })
    }
}

/// A target bucket that is gone or refuses its owner will not take the
/// records later either; anything else may pass.
fn gone_for_good(e: &StorageError) -> bool {
    matches!(
        e,
        StorageError::NoSuchBucket(_)
            | StorageError::AccessDenied
            | StorageError::InvalidKey(_)
            | StorageError::InvalidArgument(_)
            | StorageError::InvalidRequest(_)
            | StorageError::EntityTooLarge { .. }
    )
}

/// Records that go into one log object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct GroupKey {
    target_bucket: String,
    target_owner: String,
    target_prefix: String,
    key_format: KeyFormat,
    source_bucket: String,
    source_owner: String,
    source_region: String,
    target_grants: Vec<super::TargetGrant>,
}

impl GroupKey {
    fn of(e: &LogEntry) -> Self {
        Self {
            target_bucket: e.target_bucket.clone(),
            target_owner: e.target_owner.clone(),
            target_prefix: e.target_prefix.clone(),
            key_format: e.key_format,
            source_bucket: e.source_bucket.clone(),
            source_owner: e.source_owner.clone(),
            source_region: e.source_region.clone(),
            target_grants: e.target_grants.clone(),
        }
    }
}

/// S3's `UniqueString` (16 hex digits), derived from the segment and the
/// group so that a second delivery of the same records has the same key.
fn unique_string(segment: u64, g: &GroupKey) -> String {
    let mut h = nomuck_checksum::Md5Hasher::new();
    h.update(
        format!(
            "{segment}\n{}\n{}\n{:?}\n{}",
            g.target_bucket, g.target_prefix, g.key_format, g.source_bucket
        )
        .as_bytes(),
    );
    // Records of one source whose grants changed within a segment go to
    // two objects; without grants the key is what it always was.
    for grant in &g.target_grants {
        h.update(
            format!(
                "\n{}={}:{}",
                grant.grantee_type, grant.grantee, grant.permission
            )
            .as_bytes(),
        );
    }
    h.finalize_hex()
        .get(..16)
        .unwrap_or_default()
        .to_ascii_uppercase()
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.log"))
}

/// Ids of the segment files in `dir`, oldest first.
fn segments(dir: &Path) -> Result<Vec<u64>, StorageError> {
    let mut ids: Vec<u64> = std::fs::read_dir(dir)
        .map_err(|e| io_error("cannot list", dir, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name();
            name.to_str()?.strip_suffix(".log")?.parse().ok()
        })
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

struct Writer {
    dir: PathBuf,
    file: Option<File>,
    last_id: u64,
    open: Arc<AtomicU64>,
}

impl Writer {
    fn run(mut self, rx: &mpsc::Receiver<Command>) {
        while let Ok(first) = rx.recv() {
            let mut acks = Vec::new();
            let mut dirty = false;
            for command in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
                match command {
                    Command::Append(line, ack) => match self.write(&line) {
                        Ok(()) => {
                            dirty = true;
                            acks.extend(ack);
                        }
                        // Dropping the ack tells the waiting reply.
                        Err(e) => tracing::warn!(error = %e, "access log journal write failed"),
                    },
                    Command::Rotate(ack) => {
                        self.sync(&mut acks, &mut dirty);
                        self.file = None;
                        self.open.store(0, Ordering::SeqCst);
                        let _ = ack.send(());
                    }
                }
            }
            self.sync(&mut acks, &mut dirty);
        }
    }

    fn write(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.file.is_none() {
            let micros = u64::try_from(now_millis()).unwrap_or(0) * 1000;
            let id = micros.max(self.last_id + 1);
            self.last_id = id;
            // Published before the file exists: a delivery that lists it
            // then sees it is open.
            self.open.store(id, Ordering::SeqCst);
            let path = segment_path(&self.dir, id);
            let file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&path)?;
            File::open(&self.dir)?.sync_all()?;
            self.file = Some(file);
        }
        let file = self.file.as_mut().ok_or(std::io::ErrorKind::NotFound)?;
        let written = file.write_all(line);
        if written.is_err() {
            // Start afresh; a partial line is skipped when read.
            self.file = None;
            self.open.store(0, Ordering::SeqCst);
        }
        written
    }

    /// One sync for every append since the last, then their acks.
    fn sync(&mut self, acks: &mut Vec<oneshot::Sender<()>>, dirty: &mut bool) {
        if *dirty
            && let Some(file) = &self.file
            && let Err(e) = file.sync_data()
        {
            tracing::warn!(error = %e, "access log journal sync failed");
            acks.clear();
            self.file = None;
            self.open.store(0, Ordering::SeqCst);
        }
        *dirty = false;
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: i64) -> LogEntry {
        LogEntry {
            target_bucket: "logs".into(),
            target_owner: "111111111111".into(),
            target_prefix: "p/".into(),
            key_format: KeyFormat::Simple,
            source_bucket: "src".into(),
            source_owner: "111111111111".into(),
            source_region: "us-east-1".into(),
            at: n,
            line: format!("record {n}"),
            target_grants: Vec::new(),
        }
    }

    #[tokio::test]
    async fn an_acknowledged_record_is_on_disk_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let log = AccessLog::open(dir.path(), Duration::from_secs(300)).unwrap();
        for n in 0..3 {
            log.append(&entry(n)).unwrap().await.unwrap();
        }
        // No rotation, no clean shutdown: what a kill leaves.
        let ids = segments(dir.path()).unwrap();
        assert_eq!(ids.len(), 1);
        let text = std::fs::read_to_string(segment_path(dir.path(), ids[0])).unwrap();
        let read: Vec<LogEntry> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(read, vec![entry(0), entry(1), entry(2)]);
        drop(log);
        // A torn line from a crash mid-write is no obstacle.
        let mut f = OpenOptions::new()
            .append(true)
            .open(segment_path(dir.path(), ids[0]))
            .unwrap();
        f.write_all(b"{\"target_bu").unwrap();
        let again = AccessLog::open(dir.path(), Duration::from_secs(300)).unwrap();
        again.append(&entry(3)).unwrap().await.unwrap();
        let after = segments(dir.path()).unwrap();
        assert_eq!(after.len(), 2, "the reopened journal writes a new segment");
        assert!(after[1] > after[0]);
    }

    #[test]
    fn unique_strings_are_stable_per_segment_and_group() {
        let g = GroupKey::of(&entry(0));
        assert_eq!(unique_string(7, &g), unique_string(7, &g));
        assert_ne!(unique_string(7, &g), unique_string(8, &g));
        let other = GroupKey {
            source_bucket: "other".into(),
            ..g.clone()
        };
        assert_ne!(unique_string(7, &g), unique_string(7, &other));
        assert_eq!(unique_string(7, &g).len(), 16);
    }
}
