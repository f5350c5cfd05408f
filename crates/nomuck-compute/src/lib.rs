//! nomuck's compute domain: the instances, images, key pairs and security groups
//! behind the EC2 API, and the worker that turns their records into QEMU guests.
//!
//! It speaks Rust types and [`ComputeError`]; the EC2 query protocol (XML, error
//! codes) is `nomuck-ec2`'s business. Records persist through compute's part of the
//! metadata seam ([`nomuck_meta::compute`]); image bytes live in storage, reached
//! through [`ImageObjects`] so this crate does not depend on the storage engine.
//!
//! Every user action is a committed record change first (a state, a pending action);
//! the [`worker`] carries it out against QEMU and commits the outcome. So after a
//! crash the worker resumes from the records, and the records never claim a state the
//! guest is not in for longer than the worker takes to notice.

pub mod catalog;
mod error;
pub mod events;
pub mod groups;
pub mod ids;
pub mod images;
pub mod instances;
pub mod keys;
mod runtime;
pub mod tags;
mod worker;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nomuck_meta::compute::{ComputeStore, ImagePart};
use nomuck_meta::{MetaStore, Millis, Mutation};

pub use error::ComputeError;
pub use nomuck_imds::ec2_hostname;
pub use nomuck_qemu::Accel;

/// Where image bytes live: objects in storage, read and written as an account.
#[async_trait::async_trait]
pub trait ImageObjects: Send + Sync {
    /// The current version of `bucket/key`, if `account` may read it.
    async fn stat(&self, account: &str, bucket: &str, key: &str) -> Result<ImagePart, ObjectError>;
    /// Writes the pinned version's bytes to `dest`, reading as `account`.
    async fn fetch(&self, account: &str, part: &ImagePart, dest: &Path) -> Result<(), ObjectError>;
    /// Stores the file `src` as `bucket/key`, written by `account`.
    async fn store(
        &self,
        account: &str,
        bucket: &str,
        key: &str,
        src: &Path,
    ) -> Result<ImagePart, ObjectError>;
}

/// Why an image object could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    Other(String),
}

/// The operator's settings.
#[derive(Debug, Clone)]
pub struct ComputeOptions {
    /// Where instance directories and cached image files live.
    pub dir: PathBuf,
    pub region: String,
    pub qemu_system: PathBuf,
    pub qemu_img: PathBuf,
    /// Force an accelerator; `None` probes.
    pub accel: Option<Accel>,
    /// The command QEMU runs for each guest connection to the metadata service; the
    /// instance's metadata socket path is appended (`nomuck imds-bridge`).
    pub imds_bridge: String,
    /// Host address forwarded ports listen on.
    pub forward_addr: Ipv4Addr,
    /// Guests may reach the host's networks (QEMU's NAT); off by default.
    pub guest_outbound: bool,
    /// Memory instances may claim, in MiB (host memory times the overcommit ratio).
    pub memory_limit_mib: u64,
    /// Live instances an account may have.
    pub max_instances_per_account: u32,
    /// Guests booting at once.
    pub launch_workers: usize,
    /// How long a guest may take to power off before it is killed.
    pub stop_grace: Duration,
    /// How long terminated instances stay visible.
    pub terminated_retention: Duration,
    /// Running time is metered at least this often (and at every stop).
    pub meter_interval: Duration,
    /// Secret for IMDSv2 session tokens.
    pub token_key: [u8; 32],
}

impl ComputeOptions {
    pub fn availability_zone(&self) -> String {
        format!("{}a", self.region)
    }
}

/// The compute service.
pub struct Compute {
    store: Arc<dyn MetaStore>,
    objects: Arc<dyn ImageObjects>,
    opts: ComputeOptions,
    accel: Accel,
    runtime: runtime::Runtime,
    /// Wakes the worker after a commit that gave it something to do.
    work: Arc<tokio::sync::Notify>,
    /// Wakes the event dispatcher after a commit that queued a delivery.
    events_queued: Arc<tokio::sync::Notify>,
    /// RunInstances of one account run one at a time, so client tokens, addresses
    /// and limits are checked against a stable view.
    launch_lock: tokio::sync::Mutex<()>,
}

impl Compute {
    pub fn new(
        store: Arc<dyn MetaStore>,
        objects: Arc<dyn ImageObjects>,
        opts: ComputeOptions,
        accel: Accel,
        events_queued: Arc<tokio::sync::Notify>,
    ) -> Result<Arc<Compute>, ComputeError> {
        for sub in ["vm", "images"] {
            std::fs::create_dir_all(opts.dir.join(sub)).map_err(|e| {
                ComputeError::Internal(format!("cannot create {}: {e}", opts.dir.display()))
            })?;
        }
        Ok(Arc::new(Compute {
            runtime: runtime::Runtime::new(&opts)?,
            store,
            objects,
            opts,
            accel,
            work: Arc::new(tokio::sync::Notify::new()),
            events_queued,
            launch_lock: tokio::sync::Mutex::new(()),
        }))
    }

    /// Starts the worker, which first re-attaches to the guests of a previous run.
    pub fn start(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        worker::start(Arc::clone(self))
    }

    /// Powers nothing off: guests outlive nomuck. Stops serving metadata.
    pub fn shutdown(&self) {
        self.runtime.detach_all();
    }

    pub fn accelerator(&self) -> Accel {
        self.accel
    }

    pub fn options(&self) -> &ComputeOptions {
        &self.opts
    }

    fn records(&self) -> &dyn ComputeStore {
        self.store.compute()
    }

    /// Commits `mutations`; wakes the worker and, when events were queued, the
    /// dispatcher.
    async fn commit(&self, mutations: Vec<Mutation>) -> Result<(), ComputeError> {
        let queued = mutations
            .iter()
            .any(|m| matches!(m, Mutation::EnqueueDelivery(_)));
        self.store.commit(mutations).await?;
        self.work.notify_one();
        if queued {
            self.events_queued.notify_one();
        }
        Ok(())
    }
}

pub(crate) fn now_millis() -> Millis {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// `ms` (Unix milliseconds) as a time.
pub fn millis_to_time(ms: Millis) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// The time of `ms` as EC2 writes it in reasons: `2026-12-03 15:04:05 GMT`.
pub(crate) fn reason_time(ms: Millis) -> String {
    let t = millis_to_time(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} GMT",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
