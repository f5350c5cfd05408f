//! The simulated fulfillment center's automatic operator.
//!
//! Every tick it visits each loaded account and runs the simulated centers'
//! due work as one write on the account's book: inbound shipments move
//! through the dock and are received, orders are waved, picked, packed,
//! labelled and shipped, packages travel to delivery. Each step calls the
//! same operations a center's staff calls through the warehouse API
//! (`inbound_ops::sim_inbound`, `sim::sim_outbound`); the simulator only
//! decides when. Processing times are the centers' own, divided by the
//! simulator's speed; due times are stored on the records, so a restart
//! carries on where it stopped.
//!
//! At start and then once per UTC day it also charges each account's storage
//! fees for every day not charged yet (`storage_fees.rs`: days the server was
//! down included; exactly once, the fee's idempotency key names the day).

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::Fulfillment;
use crate::time::DAY_MS;

impl Fulfillment {
    /// Starts the automatic operator (when the configuration enables it) and
    /// the daily storage charge. Loads every account with fulfillment state
    /// first, so work left by an earlier run resumes.
    pub fn start_background(&self) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.load_all().await {
                tracing::error!(error = %e, "cannot load fulfillment accounts; retrying each tick");
            }
            let tick = Duration::from_millis(this.config().simulator.tick_ms.max(1));
            // Catch up at the first tick: days missed while the server was down.
            let mut charged_day = None;
            loop {
                tokio::time::sleep(tick).await;
                if this.config().simulator.enabled {
                    this.simulate_round().await;
                }
                let today = this.now().div_euclid(DAY_MS);
                if charged_day < Some(today) {
                    this.charge_storage_all(today - 1).await;
                    charged_day = Some(today);
                }
            }
        })
    }

    /// One round of the automatic operator over every loaded account, the
    /// accounts in parallel.
    pub async fn simulate_round(&self) {
        let accounts = self.loaded_accounts().await;
        let rounds = accounts.into_iter().map(|account| {
            let this = self.clone();
            async move {
                let config = this.config().clone();
                let outcome = this
                    .write(&account, move |book, tx| {
                        let now = tx.now;
                        let inbound = crate::inbound_ops::sim_inbound(book, tx, now, &config);
                        let outbound = crate::sim::sim_outbound(book, tx, now, &config);
                        Ok(inbound || outbound)
                    })
                    .await;
                if let Err(e) = outcome {
                    tracing::warn!(%account, error = %e, "simulated center step failed; retrying next tick");
                }
            }
        });
        futures_join_all(rounds).await;
    }

    async fn charge_storage_all(&self, through_day: i64) {
        for account in self.loaded_accounts().await {
            if let Err(e) = self.charge_storage_due(&account, through_day).await {
                tracing::warn!(%account, error = %e, "storage fees not charged; retried tomorrow");
            }
        }
    }
}

/// `join_all` without a dependency for it: spawn and await each.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    for h in handles {
        let _ = h.await;
    }
}
