//! The dispatcher: sends due deliveries and records each attempt.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use nomuck_meta::events::{Delivery, DeliveryOutcome};
use nomuck_meta::{MetaStore, Millis, Mutation};
use tokio::task::JoinHandle;

use crate::topics::{TopicInfo, Topics};
use crate::{DELIVERY_HEADER, SIGNATURE_HEADER, TOPIC_HEADER, WebhookError, sign};

#[derive(Debug, Clone)]
pub struct DispatchOptions {
    /// How often the outbox is polled.
    pub interval: Duration,
    /// How long one delivery may take (connect, send, answer).
    pub timeout: Duration,
    /// The first retry waits this long; each later one twice as long.
    pub first_retry: Duration,
    pub max_backoff: Duration,
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// How long finished deliveries are kept before they are forgotten.
    pub keep_finished: Duration,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
            first_retry: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3600),
            // 1 s, 2 s, … then hourly: about a day of trying.
            max_attempts: 36,
            concurrency: 16,
            keep_finished: Duration::from_secs(7 * 86_400),
        }
    }
}

/// What one dispatch pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: usize,
    pub retried: usize,
    pub gave_up: usize,
}

pub struct Dispatcher {
    meta: Arc<dyn MetaStore>,
    topics: Arc<Topics>,
    client: Client<HttpConnector, Full<Bytes>>,
    opts: DispatchOptions,
    /// One pass at a time; holds when finished deliveries were last pruned.
    running: tokio::sync::Mutex<Option<std::time::Instant>>,
}

/// How often finished deliveries are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

fn now_millis() -> Millis {
    nomuck_iam::now_millis()
}

fn millis(d: Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Dispatcher {
    pub fn new(meta: Arc<dyn MetaStore>, topics: Arc<Topics>, opts: DispatchOptions) -> Arc<Self> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(opts.timeout));
        Arc::new(Self {
            meta,
            topics,
            client: Client::builder(TokioExecutor::new()).build(connector),
            opts,
            running: tokio::sync::Mutex::new(None),
        })
    }

    /// Polls the outbox every `interval`, and at once whenever `queued` is
    /// notified, until the dispatcher is dropped.
    pub fn start(self: &Arc<Self>, queued: Arc<tokio::sync::Notify>) -> JoinHandle<()> {
        let weak: Weak<Self> = Arc::downgrade(self);
        let every = self.opts.interval.max(Duration::from_millis(10));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = queued.notified() => {}
                }
                let Some(d) = weak.upgrade() else { return };
                if let Err(e) = d.deliver_due_now().await {
                    tracing::warn!(error = %e, "webhook dispatch failed; will retry");
                }
            }
        })
    }

    /// Sends every delivery due now; records each attempt.
    pub async fn deliver_due_now(&self) -> Result<DeliveryReport, WebhookError> {
        let mut last_prune = self.running.lock().await;
        let mut report = DeliveryReport::default();
        loop {
            let due = self.meta.due_deliveries(now_millis(), 256).await?;
            if due.is_empty() {
                // The outbox keeps what it finished for a while, not forever.
                if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                    let before = now_millis().saturating_sub(millis(self.opts.keep_finished));
                    self.meta
                        .commit(vec![Mutation::PruneDeliveries { before }])
                        .await?;
                    *last_prune = Some(std::time::Instant::now());
                }
                return Ok(report);
            }
            // Each topic is read and its secret opened once per batch, not per delivery.
            let mut topics: HashMap<(String, String), Result<TopicInfo, String>> = HashMap::new();
            for d in &due {
                if let Entry::Vacant(slot) = topics.entry((d.account_id.clone(), d.topic.clone())) {
                    slot.insert(self.resolve(&d.account_id, &d.topic).await);
                }
            }
            let (topics, unresolved) = (&topics, &Err("topic not resolved".to_owned()));
            let outcomes: Vec<(i64, DeliveryOutcome)> = futures_util::stream::iter(due)
                .map(|d| async move {
                    let topic = topics
                        .get(&(d.account_id.clone(), d.topic.clone()))
                        .unwrap_or(unresolved);
                    let outcome = self.attempt(&d, topic).await;
                    (d.id, outcome)
                })
                .buffer_unordered(self.opts.concurrency.max(1))
                .collect()
                .await;
            let mut muts = Vec::with_capacity(outcomes.len());
            for (id, outcome) in outcomes {
                match &outcome {
                    DeliveryOutcome::Delivered { .. } => report.delivered += 1,
                    DeliveryOutcome::Retry { .. } => report.retried += 1,
                    DeliveryOutcome::GaveUp { .. } => report.gave_up += 1,
                }
                muts.push(Mutation::RecordDeliveryAttempt { id, outcome });
            }
            self.meta.commit(muts).await?;
        }
    }

    async fn attempt(&self, d: &Delivery, topic: &Result<TopicInfo, String>) -> DeliveryOutcome {
        let sent = match topic {
            Ok(topic) => self.post(d, topic).await,
            Err(why) => Err(why.clone()),
        };
        let error = match sent {
            Ok(()) => return DeliveryOutcome::Delivered { at: now_millis() },
            Err(e) => e,
        };
        let attempts = d.attempts.saturating_add(1);
        if attempts >= self.opts.max_attempts {
            tracing::warn!(delivery = d.id, topic = %d.topic, %error, "webhook delivery given up");
            return DeliveryOutcome::GaveUp { error };
        }
        let backoff = self
            .opts
            .first_retry
            .saturating_mul(1u32 << (attempts - 1).min(20))
            .min(self.opts.max_backoff);
        DeliveryOutcome::Retry {
            next_at: now_millis().saturating_add(millis(backoff)),
            error,
        }
    }

    /// The topic a delivery goes to, if it may still be delivered to.
    async fn resolve(&self, account_id: &str, name: &str) -> Result<TopicInfo, String> {
        let arn = crate::arn(self.topics.region(), account_id, name);
        let topic = self
            .topics
            .get(account_id, &arn)
            .await
            .map_err(|e| e.to_string())?;
        // The operator may have narrowed the allowed hosts since the topic was made.
        self.topics
            .allows(&topic.push_endpoint)
            .map_err(|e| e.to_string())?;
        Ok(topic)
    }

    /// One POST; `Err` says why it did not count as delivered.
    async fn post(&self, d: &Delivery, topic: &TopicInfo) -> Result<(), String> {
        let timestamp = now_millis() / 1000;
        let request = http::Request::post(&topic.push_endpoint)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, "nomuck-webhook/1")
            .header(DELIVERY_HEADER, d.id.to_string())
            .header(TOPIC_HEADER, &topic.arn)
            .header(
                SIGNATURE_HEADER,
                sign(&topic.signing_secret, timestamp, &d.payload),
            )
            .body(Full::new(Bytes::from(d.payload.clone())))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let sent = tokio::time::timeout(self.opts.timeout, async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            // Read the (bounded) answer so the connection can be reused.
            let _ = http_body_util::Limited::new(response.into_body(), 64 << 10)
                .collect()
                .await;
            Ok::<_, String>(status)
        })
        .await
        .map_err(|_| format!("no answer within {:?}", self.opts.timeout))??;
        if sent.is_success() {
            Ok(())
        } else {
            Err(format!("the endpoint answered {sent}"))
        }
    }
}
