//! SQLite backend: the embedded default.
//!
//! Layout, so a new mutation is one enum variant + one `apply` fn + one migration:
//! - `migrations/`: numbered `.sql` files and the open-time schema check.
//! - `apply.rs`: one function per [`Mutation`] variant (runs on the writer thread).
//! - `writer.rs`: the single writer thread doing group commit.
//! - `checkpoint.rs`: the thread that checkpoints the WAL off the commit path,
//!   and the WAL size bound the writer enforces.
//! - `reads.rs`: the read-only connection pool and the account/usage queries.
//! - `compute/`, `fulfillment/`, `budgets/`, `kms/`: those domains' mutations and queries.
//! - `objstore/`: object-store mutations and queries (buckets, objects, uploads, GC).
//! - `codec.rs`: JSON encoding of structured object columns.
//! - `errors.rs`: rusqlite error → [`MetaError`] classification.

mod apply;
mod billing;
mod budgets;
mod byte_usage;
mod checkpoint;
mod codec;
mod compute;
mod errors;
mod events;
mod fulfillment;
mod generation;
mod kms;
pub(crate) mod migrations;
mod objstore;
mod reads;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::compute::{ImageRecord, InstanceRecord, KeyPairRecord, SecurityGroupRecord};
use crate::fulfillment::{DocRecord, EventRecord, ItemRecord, LedgerEntryRecord};
use crate::storage::{
    Bucket, MultipartUpload, ObjectListQuery, ObjectSummary, ObjectVersion, Part, UploadListQuery,
    VersionListQuery,
};
use crate::{
    AccessKey, Account, CommitReceipt, LwaClient, MetaError, MetaStore, Millis, Mutation,
    StoredUsageEvent, UsageQuery,
};
use objstore::queries as q;

/// Tuning knobs for [`SqliteMetaStore::open_with`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Read-only connections in the pool (WAL readers never block the writer).
    pub readers: usize,
    /// Most `commit` calls folded into one transaction (one fsync).
    pub max_batch: usize,
    /// Pending `commit` calls queued before callers wait (backpressure).
    pub queue_depth: usize,
    /// How long a connection waits on a lock held by another process.
    pub busy_timeout: Duration,
    /// WAL checkpoints run on their own thread (not in the writer's commit
    /// path), at most this often while commits arrive.
    pub checkpoint_interval: Duration,
    /// Bytes of WAL file above which the writer, between group commits, runs
    /// a RESTART checkpoint so that later commits reuse the file from its
    /// start (holding commits briefly); a restarted WAL is cut back to this
    /// size. The file stays within about this plus one group commit, unless
    /// a reader keeps one snapshot open for longer than a second or so.
    pub wal_limit: u64,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            readers: 4,
            max_batch: 1024,
            queue_depth: 4096,
            busy_timeout: Duration::from_secs(5),
            checkpoint_interval: Duration::from_millis(200),
            wal_limit: 64 << 20,
        }
    }
}

/// Writer counters; `batches` is the number of committed transactions, i.e.
/// WAL fsyncs, so `commit_calls / batches` is the group-commit factor.
/// `wal_restarts` counts the times the WAL reached `wal_limit` and was restarted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SqliteStats {
    pub batches: u64,
    pub commit_calls: u64,
    pub wal_restarts: u64,
}

/// [`MetaStore`] on one SQLite file (WAL, `synchronous=FULL`).
pub struct SqliteMetaStore {
    path: PathBuf,
    // Shut down in Drop: readers close before the writer's connection.
    writer: writer::Writer,
    readers: Arc<reads::ReadPool>,
}

impl std::fmt::Debug for SqliteMetaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteMetaStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteMetaStore {
    /// Opens (creating if missing) the database at `path` with default options.
    /// The parent directory must exist. Blocking: call at startup or via
    /// `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, MetaError> {
        Self::open_with(path, SqliteOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, opts: SqliteOptions) -> Result<Self, MetaError> {
        let path = path.as_ref().to_path_buf();
        let ctx = |e: MetaError| errors::with_path(e, &path);

        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(&path, flags)
            .map_err(errors::db_err)
            .map_err(ctx)?;
        conn.busy_timeout(opts.busy_timeout)
            .map_err(errors::db_err)
            .map_err(ctx)?;
        migrations::prepare(&mut conn).map_err(ctx)?;
        // The writer walks every index a commit touches; keep them cached.
        reads::tune_caches(&conn, 8 << 10).map_err(ctx)?;

        // Readers are opened after migrations so they never see a half-built schema.
        let readers = Arc::new(reads::ReadPool::new(
            path.clone(),
            opts.readers.max(1),
            opts.busy_timeout,
        ));
        readers.warm_up().map_err(ctx)?;

        let checkpointer = checkpoint::Checkpointer::spawn(
            &path,
            opts.busy_timeout,
            opts.checkpoint_interval,
            opts.wal_limit,
        )
        .map_err(ctx)?;
        // Checkpoints are the checkpointer's job now, and the bound's.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(errors::db_err)
            .map_err(ctx)?;
        let wal = checkpoint::WalBound::new(
            &conn,
            &checkpointer,
            &path,
            opts.wal_limit,
            opts.busy_timeout,
        )
        .map_err(ctx)?;
        let writer = writer::Writer::spawn(
            conn,
            opts.max_batch.max(1),
            opts.queue_depth.max(1),
            checkpointer,
            wal,
        )
        .map_err(ctx)?;
        Ok(Self {
            path,
            writer,
            readers,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn stats(&self) -> SqliteStats {
        let c = self.writer.counters();
        SqliteStats {
            batches: c.batches.load(Ordering::Relaxed),
            commit_calls: c.commit_calls.load(Ordering::Relaxed),
            wal_restarts: c.wal_restarts.load(Ordering::Relaxed),
        }
    }

    /// Stops the writer after it has applied everything already queued.
    /// Dropping the store does the same but cannot report errors.
    pub fn close(mut self) -> Result<(), MetaError> {
        self.readers.close();
        self.writer.shutdown()
    }

    /// The schema version this binary creates and understands.
    pub const fn schema_version() -> i64 {
        migrations::LATEST
    }
}

impl Drop for SqliteMetaStore {
    fn drop(&mut self) {
        // Readers first, so the writer's connection closes last (see ReadPool::close).
        self.readers.close();
        let _ = self.writer.shutdown();
    }
}

#[async_trait::async_trait]
impl MetaStore for SqliteMetaStore {
    fn compute(&self) -> &dyn crate::compute::ComputeStore {
        self
    }

    fn fulfillment(&self) -> &dyn crate::fulfillment::FulfillmentStore {
        self
    }

    fn budgets(&self) -> &dyn crate::budgets::BudgetStore {
        self
    }

    fn billing(&self) -> &dyn crate::billing::BillingStore {
        self
    }

    fn kms(&self) -> &dyn crate::kms::KmsStore {
        self
    }

    async fn commit(&self, mutations: Vec<Mutation>) -> Result<CommitReceipt, MetaError> {
        if mutations.is_empty() {
            return Ok(CommitReceipt::default());
        }
        // Reject malformed input here so it never occupies a slot in a batch.
        for m in &mutations {
            m.validate()?;
        }
        self.writer.submit(mutations).await
    }

    async fn account(&self, id: &str) -> Result<Option<Account>, MetaError> {
        let id = id.to_owned();
        self.readers
            .run(move |c| reads::account_by(c, reads::AccountKey::Id, &id))
            .await
    }

    async fn account_by_name(&self, name: &str) -> Result<Option<Account>, MetaError> {
        let name = name.to_owned();
        self.readers
            .run(move |c| reads::account_by(c, reads::AccountKey::Name, &name))
            .await
    }

    async fn accounts(&self) -> Result<Vec<Account>, MetaError> {
        self.readers.run(reads::accounts).await
    }

    async fn access_key(&self, id: &str) -> Result<Option<AccessKey>, MetaError> {
        let id = id.to_owned();
        self.readers
            .run_point(move |c| reads::access_key(c, &id))
            .await
    }

    async fn access_keys(&self, account_id: &str) -> Result<Vec<AccessKey>, MetaError> {
        let account_id = account_id.to_owned();
        self.readers
            .run(move |c| reads::access_keys(c, &account_id))
            .await
    }

    async fn lwa_client(&self, client_id: &str) -> Result<Option<LwaClient>, MetaError> {
        let id = client_id.to_owned();
        self.readers
            .run_point(move |c| reads::lwa_client(c, &id))
            .await
    }

    async fn lwa_clients(&self, account_id: &str) -> Result<Vec<LwaClient>, MetaError> {
        let account_id = account_id.to_owned();
        self.readers
            .run(move |c| reads::lwa_clients(c, &account_id))
            .await
    }

    async fn usage(&self, q: &UsageQuery) -> Result<Vec<StoredUsageEvent>, MetaError> {
        if q.limit == 0 {
            return Ok(Vec::new());
        }
        let q = q.clone();
        self.readers.run(move |c| reads::usage(c, &q)).await
    }

    async fn setting(&self, key: &str) -> Result<Option<Vec<u8>>, MetaError> {
        let key = key.to_owned();
        self.readers.run(move |c| reads::setting(c, &key)).await
    }

    async fn bucket(&self, name: &str) -> Result<Option<Bucket>, MetaError> {
        let name = name.to_owned();
        self.readers.run_point(move |c| q::bucket(c, &name)).await
    }

    async fn buckets_of(&self, owner: &str) -> Result<Vec<Bucket>, MetaError> {
        let owner = owner.to_owned();
        self.readers.run(move |c| q::buckets_of(c, &owner)).await
    }

    async fn bucket_config(&self, bucket: &str, kind: &str) -> Result<Option<Vec<u8>>, MetaError> {
        let (bucket, kind) = (bucket.to_owned(), kind.to_owned());
        self.readers
            .run_point(move |c| q::bucket_config(c, &bucket, &kind))
            .await
    }

    async fn buckets_with_config(&self, kind: &str) -> Result<Vec<String>, MetaError> {
        let kind = kind.to_owned();
        self.readers
            .run(move |c| q::buckets_with_config(c, &kind))
            .await
    }

    async fn object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectVersion>, MetaError> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let version_id = version_id.map(str::to_owned);
        self.readers
            .run_point(move |c| q::object(c, &bucket, &key, version_id.as_deref()))
            .await
    }

    async fn list_objects(&self, query: &ObjectListQuery) -> Result<Vec<ObjectSummary>, MetaError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let query = query.clone();
        self.readers.run(move |c| q::list_objects(c, &query)).await
    }

    async fn list_object_versions(
        &self,
        query: &VersionListQuery,
    ) -> Result<Vec<ObjectSummary>, MetaError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let query = query.clone();
        self.readers
            .run(move |c| q::list_object_versions(c, &query))
            .await
    }

    async fn multipart_upload(
        &self,
        upload_id: &str,
    ) -> Result<Option<MultipartUpload>, MetaError> {
        let id = upload_id.to_owned();
        self.readers
            .run_point(move |c| q::load_upload(c, &id))
            .await
    }

    async fn completed_upload(
        &self,
        upload_id: &str,
    ) -> Result<Option<(String, String, String)>, MetaError> {
        let id = upload_id.to_owned();
        self.readers
            .run_point(move |c| q::completed_upload(c, &id))
            .await
    }

    async fn list_parts(
        &self,
        upload_id: &str,
        after_part: u32,
        limit: usize,
    ) -> Result<Vec<Part>, MetaError> {
        let id = upload_id.to_owned();
        let rows = self
            .readers
            .run(move |c| q::load_parts(c, &id, after_part, limit))
            .await?;
        Ok(rows.into_iter().map(|(_, p)| p).collect())
    }

    async fn list_uploads(
        &self,
        query: &UploadListQuery,
    ) -> Result<Vec<MultipartUpload>, MetaError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let query = query.clone();
        self.readers.run(move |c| q::list_uploads(c, &query)).await
    }

    async fn garbage(&self, queued_before: Millis, limit: usize) -> Result<Vec<String>, MetaError> {
        self.readers
            .run(move |c| q::garbage(c, queued_before, limit))
            .await
    }

    async fn unreferenced_blobs(&self, blob_ids: &[String]) -> Result<Vec<String>, MetaError> {
        let ids = blob_ids.to_vec();
        self.readers
            .run(move |c| q::unreferenced_blobs(c, &ids))
            .await
    }

    async fn topic(
        &self,
        account_id: &str,
        name: &str,
    ) -> Result<Option<crate::events::Topic>, MetaError> {
        let (account_id, name) = (account_id.to_owned(), name.to_owned());
        self.readers
            .run_point(move |c| events::topic(c, &account_id, &name))
            .await
    }

    async fn topics_of(&self, account_id: &str) -> Result<Vec<crate::events::Topic>, MetaError> {
        let account_id = account_id.to_owned();
        self.readers
            .run(move |c| events::topics_of(c, &account_id))
            .await
    }

    async fn due_deliveries(
        &self,
        now: Millis,
        limit: usize,
    ) -> Result<Vec<crate::events::Delivery>, MetaError> {
        self.readers
            .run(move |c| events::due_deliveries(c, now, limit))
            .await
    }
}

#[async_trait::async_trait]
impl crate::compute::ComputeStore for SqliteMetaStore {
    async fn instance(&self, id: &str) -> Result<Option<InstanceRecord>, MetaError> {
        let id = id.to_owned();
        self.readers
            .run_point(move |c| compute::one(c, "compute_instances", &id))
            .await
    }

    async fn instances(&self, account_id: Option<&str>) -> Result<Vec<InstanceRecord>, MetaError> {
        let account_id = account_id.map(str::to_owned);
        self.readers
            .run(move |c| compute::instances(c, account_id.as_deref()))
            .await
    }

    async fn active_instances(&self) -> Result<Vec<InstanceRecord>, MetaError> {
        self.readers.run(compute::active_instances).await
    }

    async fn instances_by_client_token(
        &self,
        account_id: &str,
        client_token: &str,
    ) -> Result<Vec<InstanceRecord>, MetaError> {
        let (a, t) = (account_id.to_owned(), client_token.to_owned());
        self.readers
            .run(move |c| compute::instances_by_client_token(c, &a, &t))
            .await
    }

    async fn image(&self, id: &str) -> Result<Option<ImageRecord>, MetaError> {
        let id = id.to_owned();
        self.readers
            .run_point(move |c| compute::one(c, "compute_images", &id))
            .await
    }

    async fn images(&self) -> Result<Vec<ImageRecord>, MetaError> {
        self.readers.run(compute::images).await
    }

    async fn key_pair(
        &self,
        account_id: &str,
        name: &str,
    ) -> Result<Option<KeyPairRecord>, MetaError> {
        let (a, n) = (account_id.to_owned(), name.to_owned());
        self.readers
            .run_point(move |c| compute::key_pair(c, &a, &n))
            .await
    }

    async fn key_pairs(&self, account_id: &str) -> Result<Vec<KeyPairRecord>, MetaError> {
        let a = account_id.to_owned();
        self.readers.run(move |c| compute::key_pairs(c, &a)).await
    }

    async fn security_group(&self, id: &str) -> Result<Option<SecurityGroupRecord>, MetaError> {
        let id = id.to_owned();
        self.readers
            .run_point(move |c| compute::one(c, "compute_security_groups", &id))
            .await
    }

    async fn security_groups(
        &self,
        account_id: &str,
    ) -> Result<Vec<SecurityGroupRecord>, MetaError> {
        let a = account_id.to_owned();
        self.readers
            .run(move |c| compute::security_groups(c, &a))
            .await
    }
}

#[async_trait::async_trait]
impl crate::fulfillment::FulfillmentStore for SqliteMetaStore {
    async fn ledger_after(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<LedgerEntryRecord>, MetaError> {
        let a = account_id.to_owned();
        self.readers
            .run(move |c| fulfillment::ledger_after(c, &a, after_seq, limit))
            .await
    }

    async fn ledger_entry_by_key(
        &self,
        account_id: &str,
        idempotency_key: &str,
    ) -> Result<Option<LedgerEntryRecord>, MetaError> {
        let (a, k) = (account_id.to_owned(), idempotency_key.to_owned());
        self.readers
            .run_point(move |c| fulfillment::entry_by_key(c, &a, &k))
            .await
    }

    async fn ledger_head(&self, account_id: &str) -> Result<i64, MetaError> {
        let a = account_id.to_owned();
        self.readers
            .run_point(move |c| fulfillment::ledger_head(c, &a))
            .await
    }

    async fn item(
        &self,
        account_id: &str,
        seller_sku: &str,
    ) -> Result<Option<ItemRecord>, MetaError> {
        let (a, s) = (account_id.to_owned(), seller_sku.to_owned());
        self.readers
            .run_point(move |c| fulfillment::item(c, &a, &s))
            .await
    }

    async fn item_by_fn_sku(&self, fn_sku: &str) -> Result<Option<ItemRecord>, MetaError> {
        let f = fn_sku.to_owned();
        self.readers
            .run_point(move |c| fulfillment::item_by_fn_sku(c, &f))
            .await
    }

    async fn items(
        &self,
        account_id: &str,
        after_seller_sku: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ItemRecord>, MetaError> {
        let a = account_id.to_owned();
        let after = after_seller_sku.map(str::to_owned);
        self.readers
            .run(move |c| fulfillment::items(c, &a, after.as_deref(), limit))
            .await
    }

    async fn doc(
        &self,
        account_id: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<DocRecord>, MetaError> {
        let (a, k, i) = (account_id.to_owned(), kind.to_owned(), id.to_owned());
        self.readers
            .run_point(move |c| fulfillment::doc(c, &a, &k, &i))
            .await
    }

    async fn docs(
        &self,
        account_id: &str,
        kind: &str,
        after_id: Option<&str>,
        open_only: bool,
        limit: usize,
    ) -> Result<Vec<DocRecord>, MetaError> {
        let (a, k) = (account_id.to_owned(), kind.to_owned());
        let after = after_id.map(str::to_owned);
        self.readers
            .run(move |c| fulfillment::docs(c, &a, &k, after.as_deref(), open_only, limit))
            .await
    }

    async fn fulfillment_accounts(&self) -> Result<Vec<String>, MetaError> {
        self.readers.run(fulfillment::accounts).await
    }

    async fn events_after(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, MetaError> {
        let a = account_id.to_owned();
        self.readers
            .run(move |c| fulfillment::events_after(c, &a, after_seq, limit))
            .await
    }

    async fn event_head(&self, account_id: &str) -> Result<i64, MetaError> {
        let a = account_id.to_owned();
        self.readers
            .run_point(move |c| fulfillment::event_head(c, &a))
            .await
    }
}

#[async_trait::async_trait]
impl crate::budgets::BudgetStore for SqliteMetaStore {
    async fn budget(
        &self,
        account_id: &str,
        name: &str,
    ) -> Result<Option<crate::budgets::BudgetRecord>, MetaError> {
        let (a, n) = (account_id.to_owned(), name.to_owned());
        self.readers
            .run_point(move |c| budgets::budget(c, &a, &n))
            .await
    }

    async fn budgets(
        &self,
        account_id: &str,
        after_name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<crate::budgets::BudgetRecord>, MetaError> {
        let a = account_id.to_owned();
        let after = after_name.map(str::to_owned);
        self.readers
            .run(move |c| budgets::budgets(c, &a, after.as_deref(), limit))
            .await
    }

    async fn all_budgets(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<crate::budgets::BudgetRecord>, MetaError> {
        let after = after.map(|(a, n)| (a.to_owned(), n.to_owned()));
        self.readers
            .run(move |c| {
                budgets::all_budgets(
                    c,
                    after.as_ref().map(|(a, n)| (a.as_str(), n.as_str())),
                    limit,
                )
            })
            .await
    }

    async fn budget_alerts(
        &self,
        account_id: &str,
        budget_name: &str,
    ) -> Result<Vec<crate::budgets::BudgetAlertRecord>, MetaError> {
        let (a, n) = (account_id.to_owned(), budget_name.to_owned());
        self.readers.run(move |c| budgets::alerts(c, &a, &n)).await
    }
}

#[async_trait::async_trait]
impl crate::kms::KmsStore for SqliteMetaStore {
    async fn kms_key(&self, key_id: &str) -> Result<Option<crate::kms::KmsKeyRecord>, MetaError> {
        let k = key_id.to_owned();
        self.readers.run_point(move |c| kms::key(c, &k)).await
    }

    async fn kms_keys(
        &self,
        account_id: &str,
        after_key_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<crate::kms::KmsKeyRecord>, MetaError> {
        let a = account_id.to_owned();
        let after = after_key_id.map(str::to_owned);
        self.readers
            .run(move |c| kms::keys(c, Some(&a), after.as_deref(), limit))
            .await
    }

    async fn all_kms_keys(
        &self,
        after_key_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<crate::kms::KmsKeyRecord>, MetaError> {
        let after = after_key_id.map(str::to_owned);
        self.readers
            .run(move |c| kms::keys(c, None, after.as_deref(), limit))
            .await
    }

    async fn kms_alias(
        &self,
        account_id: &str,
        name: &str,
    ) -> Result<Option<crate::kms::KmsAliasRecord>, MetaError> {
        let (a, n) = (account_id.to_owned(), name.to_owned());
        self.readers.run_point(move |c| kms::alias(c, &a, &n)).await
    }

    async fn kms_aliases(
        &self,
        account_id: &str,
        key_id: Option<&str>,
        after_name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<crate::kms::KmsAliasRecord>, MetaError> {
        let a = account_id.to_owned();
        let k = key_id.map(str::to_owned);
        let after = after_name.map(str::to_owned);
        self.readers
            .run(move |c| kms::aliases(c, &a, k.as_deref(), after.as_deref(), limit))
            .await
    }
}

#[async_trait::async_trait]
impl crate::billing::BillingStore for SqliteMetaStore {
    async fn billing_state(&self) -> Result<crate::billing::BillingState, MetaError> {
        self.readers.run_point(billing::state).await
    }

    async fn usage_days(
        &self,
        after_seq: i64,
        limit: usize,
        keep: &[crate::billing::KeepWhole],
    ) -> Result<crate::billing::UsageDays, MetaError> {
        let keep = keep.to_vec();
        self.readers
            .run(move |c| billing::usage_days(c, after_seq, limit, &keep))
            .await
    }

    async fn day_usage(
        &self,
        account_id: Option<&str>,
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<crate::billing::DayUsageRecord>, MetaError> {
        let a = account_id.map(str::to_owned);
        self.readers
            .run(move |c| billing::day_usage(c, a.as_deref(), from_day, to_day))
            .await
    }

    async fn quantity_before(
        &self,
        account_id: Option<&str>,
        day: i64,
    ) -> Result<Vec<crate::billing::DayUsageRecord>, MetaError> {
        let a = account_id.map(str::to_owned);
        self.readers
            .run(move |c| billing::quantity_before(c, a.as_deref(), day))
            .await
    }

    async fn run(&self, run_key: &str) -> Result<Option<crate::billing::RunRecord>, MetaError> {
        let k = run_key.to_owned();
        self.readers.run_point(move |c| billing::run(c, &k)).await
    }

    async fn closed_bill(
        &self,
        account_id: &str,
        month: &str,
    ) -> Result<Option<crate::billing::ClosedBill>, MetaError> {
        let (a, m) = (account_id.to_owned(), month.to_owned());
        self.readers
            .run_point(move |c| billing::closed_bill(c, &a, &m))
            .await
    }

    async fn closed_bills(
        &self,
        month: &str,
    ) -> Result<Vec<crate::billing::ClosedBill>, MetaError> {
        let m = month.to_owned();
        self.readers
            .run(move |c| billing::closed_bills(c, &m))
            .await
    }

    async fn report_bucket(
        &self,
        account_id: &str,
    ) -> Result<Option<crate::billing::ReportBucket>, MetaError> {
        let a = account_id.to_owned();
        self.readers
            .run_point(move |c| Ok(billing::report_buckets(c, Some(&a))?.into_iter().next()))
            .await
    }

    async fn report_buckets(&self) -> Result<Vec<crate::billing::ReportBucket>, MetaError> {
        self.readers.run(|c| billing::report_buckets(c, None)).await
    }
}
