//! nomuck's fulfillment service: a warehouse a program drives like a
//! peripheral. Centers, items, inbound shipments, outbound fulfillment
//! orders, returns, the warehouse's own operations and a simulated center,
//! all over the exact inventory ledger of `nomuck-ledger`.
//!
//! Knows nothing of HTTP: the API crate (`nomuck-spapi`) maps SP-API shapes
//! to these calls. Persists through `nomuck-meta`'s fulfillment seam
//! (`FulfillmentStore`, `FulfillmentMutation`).
//!
//! # Shape
//! - [`Fulfillment`] is the service. Each account's state is a [`Book`] in
//!   memory with one writer task (`actor.rs`): writes are closures over the
//!   book that check everything first, change the book, and record in a
//!   [`Tx`] what to persist; the writer commits a whole batch of them at once.
//! - Each state machine is a [`record::Record`] (orders, inbound shipments,
//!   returns) stored whole; items and ledger entries have their own tables.
//! - Events (`events.rs`) are written in the commit of their change and
//!   pushed to subscribed topics through the webhook outbox.

mod actor;
pub mod book;
pub mod carrier;
pub mod config;
mod error;
pub mod events;
pub mod fees;
pub mod inbound;
pub mod inbound_ops;
pub mod inventory;
pub mod items;
mod labels;
mod load;
mod order_events;
pub mod order_ops;
pub mod orders;
mod outbound_api;
#[cfg(test)]
mod outbound_tests;
pub mod preview;
pub mod record;
pub mod returns;
pub mod sim;
mod simulator;
pub mod stock;
pub mod storage_fees;
pub mod time;
pub mod tracking;
pub mod warehouse;
pub mod work;

use std::collections::HashMap;
use std::sync::Arc;

use nomuck_meta::{MetaStore, Millis};
use tokio::sync::{Mutex, Notify};

pub use book::{Book, NewEvent, Tx};
pub use config::{Address, Center, FeeSchedule, FulfillmentConfig, SimulatorConfig};
pub use error::{FulfillmentError, Result};
/// The marketplace of an order or preview that names none.
pub use order_events::DEFAULT_MARKETPLACE;

use actor::AccountHandle;

/// The meter's service name for fulfillment's fees.
pub const METER_SERVICE: &str = "fulfillment";

/// The service's clock. Real time; the simulator scales durations, not the
/// clock, so every stored time is a real one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock;

impl Clock {
    pub fn now(&self) -> Millis {
        time::now_millis()
    }
}

/// The fulfillment service. Cheap to clone.
#[derive(Clone)]
pub struct Fulfillment {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn MetaStore>,
    config: FulfillmentConfig,
    clock: Clock,
    accounts: Mutex<HashMap<String, Arc<AccountHandle>>>,
    /// Woken after a commit that queued webhook deliveries.
    deliveries_queued: Option<Arc<Notify>>,
}

impl Fulfillment {
    /// `deliveries_queued` is the webhook dispatcher's wake-up, notified
    /// after a commit that queued deliveries.
    pub fn new(
        store: Arc<dyn MetaStore>,
        config: FulfillmentConfig,
        deliveries_queued: Option<Arc<Notify>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                config,
                clock: Clock,
                accounts: Mutex::new(HashMap::new()),
                deliveries_queued,
            }),
        }
    }

    pub fn config(&self) -> &FulfillmentConfig {
        &self.inner.config
    }

    pub fn store(&self) -> &Arc<dyn MetaStore> {
        &self.inner.store
    }

    pub fn now(&self) -> Millis {
        self.inner.clock.now()
    }

    pub fn centers(&self) -> &[Center] {
        &self.inner.config.centers
    }

    /// The account's writer, loading its book on first use.
    async fn handle(&self, account_id: &str) -> Result<Arc<AccountHandle>> {
        let mut accounts = self.inner.accounts.lock().await;
        if let Some(h) = accounts.get(account_id) {
            return Ok(Arc::clone(h));
        }
        let book = load::book(self.inner.store.as_ref(), account_id).await?;
        let h = Arc::new(AccountHandle::spawn(
            book,
            Arc::clone(&self.inner.store),
            self.inner.clock,
            self.inner.deliveries_queued.clone(),
        ));
        accounts.insert(account_id.to_owned(), Arc::clone(&h));
        Ok(h)
    }

    /// Runs a write on the account's book (see [`book`] for the rules) and
    /// answers once it is durable.
    pub async fn write<R, F>(&self, account_id: &str, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Book, &mut Tx) -> Result<R> + Send + 'static,
    {
        self.handle(account_id).await?.write(f).await
    }

    /// Reads the account's book.
    pub async fn read<R>(&self, account_id: &str, f: impl FnOnce(&Book) -> R) -> Result<R> {
        let h = self.handle(account_id).await?;
        let book = h.read();
        Ok(f(&book))
    }

    /// Every account with fulfillment state in the store, loaded (the
    /// simulator's round visits them).
    pub async fn load_all(&self) -> Result<Vec<String>> {
        let ids = self
            .inner
            .store
            .fulfillment()
            .fulfillment_accounts()
            .await?;
        for id in &ids {
            self.handle(id).await?;
        }
        Ok(ids)
    }

    /// The accounts whose books are loaded.
    pub async fn loaded_accounts(&self) -> Vec<String> {
        self.inner.accounts.lock().await.keys().cloned().collect()
    }
}
