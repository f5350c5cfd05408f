//! Each account's single writer, with group commit.
//!
//! All of an account's writes run one after another on its writer task, as
//! closures over the in-memory [`Book`]: nothing interleaves between reading
//! stock and reserving it, so no unit is reserved twice whatever the
//! concurrency, and ledger and event sequence numbers are assigned in memory
//! exactly as the store will (the store checks them). The writer drains every
//! call queued meanwhile into one batch, runs them, and persists the whole
//! batch in ONE store commit (one fsync), so throughput grows with
//! concurrency instead of waiting a disk flush per call. Callers are answered
//! only after that commit: an acknowledged write is durable.
//!
//! Readers see the book through a read lock. They may see a batch's changes a
//! few milliseconds before its commit returns; if the commit fails the book is
//! reloaded from the store and every caller of the batch gets the error.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use nomuck_ledger::{Bucket, Entry};
use nomuck_meta::events::NewDelivery;
use nomuck_meta::fulfillment::{DocRecord, EventRecord, LedgerMovement};
use nomuck_meta::{MetaStore, Mutation, fulfillment::FulfillmentMutation};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::book::{Book, NewEvent, Tx};
use crate::error::{FulfillmentError, Result};
use crate::events::{self, Subscriber};
use crate::load;

/// A write's answer, sent once its batch is committed (`None`) or failed.
type Reply = Box<dyn FnOnce(Option<FulfillmentError>) + Send>;
/// A write: runs on the book, says whether it succeeded (its `Tx` is kept)
/// and how to answer its caller.
type Job = Box<dyn FnOnce(&mut Book, &mut Tx) -> (bool, Reply) + Send>;

/// Calls per batch, at most: bounds a commit's size and the time a batch
/// holds the book.
const MAX_BATCH: usize = 512;

pub(crate) struct AccountHandle {
    jobs: mpsc::Sender<Job>,
    book: Arc<RwLock<Book>>,
}

impl AccountHandle {
    pub(crate) fn spawn(
        book: Book,
        store: Arc<dyn MetaStore>,
        clock: crate::Clock,
        deliveries_queued: Option<Arc<Notify>>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        let book = Arc::new(RwLock::new(book));
        tokio::spawn(run(Arc::clone(&book), store, clock, deliveries_queued, rx));
        Self { jobs: tx, book }
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Book> {
        self.book.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the writer and answers once its changes are durable.
    pub(crate) async fn write<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Book, &mut Tx) -> Result<R> + Send + 'static,
    {
        let (send, recv) = oneshot::channel();
        let job: Job = Box::new(move |book, tx| {
            let outcome = f(book, tx);
            let ok = outcome.is_ok();
            let reply: Reply = Box::new(move |failed| {
                let _ = send.send(match failed {
                    Some(e) if ok => Err(e),
                    _ => outcome,
                });
            });
            (ok, reply)
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| FulfillmentError::Unavailable("the account's writer stopped".into()))?;
        recv.await
            .map_err(|_| FulfillmentError::Unavailable("the account's writer stopped".into()))?
    }
}

fn lock(book: &RwLock<Book>) -> RwLockWriteGuard<'_, Book> {
    book.write().unwrap_or_else(|p| p.into_inner())
}

/// A batch whose commit is in flight, and the callers waiting on it.
struct InFlight {
    commit: tokio::task::JoinHandle<Option<FulfillmentError>>,
    replies: Vec<Reply>,
}

async fn run(
    book: Arc<RwLock<Book>>,
    store: Arc<dyn MetaStore>,
    clock: crate::Clock,
    deliveries_queued: Option<Arc<Notify>>,
    mut rx: mpsc::Receiver<Job>,
) {
    let account_id = lock(&book).account_id.clone();
    // Commits are pipelined one deep: while batch N is being written and
    // fsynced (on the store's writer thread), batch N+1 runs on the book, so
    // the CPU work of one overlaps the disk work of the other. N+1 is only
    // submitted once N is durable, and fails with it if N fails (it was
    // built on N's changes).
    let mut in_flight: Option<InFlight> = None;
    loop {
        let first = match in_flight.as_mut() {
            None => rx.recv().await,
            Some(pending) => tokio::select! {
                job = rx.recv() => job,
                done = &mut pending.commit => {
                    let replies = in_flight.take().map(|p| p.replies).unwrap_or_default();
                    settle(&book, &store, &account_id, replies, joined(done).as_ref()).await;
                    continue;
                }
            },
        };
        let Some(first) = first else { break };
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        // Read before taking the book: the topics that want this account's
        // events (one read per batch, not per event).
        let subscribers = events::subscribers(store.as_ref(), &account_id).await;
        let now = clock.now();
        let mut replies = Vec::with_capacity(jobs.len());
        let mutations = {
            let mut b = lock(&book);
            let ledger_head = b.ledger.last_seq();
            let mut txs = Vec::new();
            for job in jobs {
                let mut tx = Tx::new(now);
                let (ok, reply) = job(&mut b, &mut tx);
                if ok {
                    txs.push(tx);
                }
                replies.push(reply);
            }
            to_mutations(&mut b, ledger_head, txs, &subscribers, now)
        };
        // The previous batch first: this one stands on it.
        if let Some(pending) = in_flight.take() {
            let failed = joined(pending.commit.await);
            settle(&book, &store, &account_id, pending.replies, failed.as_ref()).await;
            if let Some(e) = failed {
                // The book was reloaded without either batch.
                for reply in replies {
                    reply(Some(e.clone()));
                }
                continue;
            }
        }
        match mutations {
            Ok(m) if m.is_empty() => replies.into_iter().for_each(|r| r(None)),
            Ok(m) => {
                let pushes = m.iter().any(|m| matches!(m, Mutation::EnqueueDelivery(_)));
                let store = Arc::clone(&store);
                let notify = deliveries_queued.clone().filter(|_| pushes);
                let commit = tokio::spawn(async move {
                    let failed = store.commit(m).await.err().map(FulfillmentError::from);
                    if failed.is_none()
                        && let Some(n) = notify
                    {
                        n.notify_one();
                    }
                    failed
                });
                in_flight = Some(InFlight { commit, replies });
            }
            Err(e) => {
                // Nothing was submitted, but the book holds the batch's
                // changes: reload it and fail the batch.
                settle(&book, &store, &account_id, Vec::new(), Some(&e)).await;
                for reply in replies {
                    reply(Some(e.clone()));
                }
            }
        }
    }
    if let Some(pending) = in_flight.take() {
        let failed = joined(pending.commit.await);
        settle(&book, &store, &account_id, pending.replies, failed.as_ref()).await;
    }
}

fn joined(
    done: std::result::Result<Option<FulfillmentError>, tokio::task::JoinError>,
) -> Option<FulfillmentError> {
    done.unwrap_or_else(|e| Some(FulfillmentError::Internal(format!("commit task: {e}"))))
}

/// Answers a finished batch's callers; after a failure, first puts the book
/// back to what the store holds.
async fn settle(
    book: &RwLock<Book>,
    store: &Arc<dyn MetaStore>,
    account_id: &str,
    replies: Vec<Reply>,
    failed: Option<&FulfillmentError>,
) {
    if let Some(e) = failed {
        tracing::error!(account = %account_id, error = %e, "fulfillment commit failed; reloading the book");
        match load::book(store.as_ref(), account_id).await {
            Ok(fresh) => *lock(book) = fresh,
            Err(e) => {
                tracing::error!(account = %account_id, error = %e, "cannot reload the book")
            }
        }
    }
    for reply in replies {
        reply(failed.cloned());
    }
}

/// The store mutations of a batch: items, ledger entries (continuing the head
/// the batch started from), records, events numbered after the stream's head
/// with their deliveries, and usage.
fn to_mutations(
    book: &mut Book,
    ledger_head: u64,
    txs: Vec<Tx>,
    subscribers: &[Subscriber],
    now: i64,
) -> Result<Vec<Mutation>> {
    let account_id = book.account_id.clone();
    let mut out = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    let mut batch_events = Vec::new();
    let mut events_out = Vec::new();
    let mut usage = Vec::new();
    let mut docs: Vec<(DocRecord, Option<i64>)> = Vec::new();
    let mut doc_at: HashMap<(String, String), usize> = HashMap::new();
    for tx in txs {
        for (record, expect_generation) in tx.items {
            out.push(Mutation::Fulfillment(FulfillmentMutation::PutItem {
                record: Box::new(record),
                expect_generation,
            }));
        }
        entries.extend(tx.entries);
        for (record, expect_generation) in tx.docs {
            // A record changed several times in a batch (an order waved,
            // picked, packed and shipped in one simulator step) is written
            // once: its last state, checked against the generation it had
            // before the batch.
            let key = (record.kind.clone(), record.id.clone());
            match doc_at.get(&key) {
                Some(&i) => {
                    if let Some((last, _)) = docs.get_mut(i) {
                        *last = record;
                    }
                }
                None => {
                    doc_at.insert(key, docs.len());
                    docs.push((record, expect_generation));
                }
            }
        }
        batch_events.extend(tx.events);
        usage.extend(tx.usage);
    }
    batch_events.extend(availability_changes(book, &entries));
    for e in batch_events {
        book.event_head += 1;
        events_out.push(EventRecord {
            account_id: account_id.clone(),
            seq: book.event_head,
            at: now,
            event_type: e.event_type,
            subject: e.subject,
            payload: serde_json::to_vec(&e.payload).unwrap_or_default(),
        });
    }
    out.extend(docs.into_iter().map(|(record, expect_generation)| {
        Mutation::Fulfillment(FulfillmentMutation::PutDoc {
            record: Box::new(record),
            expect_generation,
        })
    }));
    if !entries.is_empty() {
        // One append per distinct `at` keeps each entry's stored time equal
        // to the in-memory one (the store raises `at` to the head's).
        let head = i64::try_from(ledger_head)
            .map_err(|_| FulfillmentError::Internal("ledger head".into()))?;
        let mut first = true;
        for run in entries.chunk_by(|a, b| a.at == b.at) {
            out.push(Mutation::Fulfillment(FulfillmentMutation::AppendLedger {
                account_id: account_id.clone(),
                at: run.first().map_or(now, |e| e.at),
                movements: run.iter().map(movement_record).collect(),
                expect_head: first.then_some(head),
            }));
            first = false;
        }
    }
    for e in &events_out {
        for s in subscribers.iter().filter(|s| s.wants(&e.event_type)) {
            out.push(Mutation::EnqueueDelivery(NewDelivery {
                account_id: account_id.clone(),
                topic: s.topic.clone(),
                payload: events::delivery_payload(e),
                at: now,
            }));
        }
    }
    if !events_out.is_empty() {
        out.push(Mutation::Fulfillment(FulfillmentMutation::AppendEvents {
            account_id,
            events: events_out,
        }));
    }
    out.extend(usage.into_iter().map(Mutation::RecordUsage));
    Ok(out)
}

/// One `FBA_INVENTORY_AVAILABILITY_CHANGES` per SKU whose fulfillable units
/// the batch's ledger entries changed (all centers together), with the stock
/// as the batch leaves it. Derived from the entries, so every kind of
/// movement (receipt, reservation, return, adjustment) announces itself; once
/// per batch, because its callers are answered together after one commit and
/// only the resulting stock is news (each movement has its own event).
fn availability_changes(book: &Book, entries: &[Entry]) -> Vec<NewEvent> {
    let mut net: Vec<(&str, i128)> = Vec::new();
    for e in entries {
        let m = &e.movement;
        let q = i128::from(m.quantity);
        let d = match (m.from, m.to) {
            (Some(Bucket::Fulfillable), Some(Bucket::Fulfillable)) => 0,
            (Some(Bucket::Fulfillable), _) => -q,
            (_, Some(Bucket::Fulfillable)) => q,
            _ => continue,
        };
        match net.iter_mut().find(|(sku, _)| *sku == m.sku) {
            Some((_, n)) => *n += d,
            None => net.push((&m.sku, d)),
        }
    }
    net.into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|(sku, _)| crate::order_events::availability(book, sku))
        .collect()
}

pub(crate) fn movement_record(e: &Entry) -> LedgerMovement {
    let m = &e.movement;
    LedgerMovement {
        fn_sku: m.sku.clone(),
        center_id: m.center.clone(),
        from_bucket: m.from.map(|b| b.name().to_owned()),
        to_bucket: m.to.map(|b| b.name().to_owned()),
        quantity: i64::try_from(m.quantity).unwrap_or(i64::MAX),
        reason: m.reason.name().to_owned(),
        reference: m.reference.clone(),
        idempotency_key: m.idempotency_key.clone(),
    }
}
