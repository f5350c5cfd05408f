//! `nomuck serve`: open the data directory, wire the services to the edge, listen.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use nomuck_edge::{Edge, KeyResolver, ResolvedKey};
use nomuck_http::Principal;
use nomuck_iam::Iam;
use tracing::info;

use crate::config::ServeConfig;
use crate::data_dir::{ADMIN_CREDENTIALS_FILE, Create, DataDir, OpenOutcome, ServerInfo};

/// Resolves access keys for the edge through the account service.
struct IamResolver(Arc<Iam>);

#[async_trait::async_trait]
impl KeyResolver for IamResolver {
    async fn resolve(&self, access_key_id: &str) -> Result<Option<ResolvedKey>, String> {
        let key = self
            .0
            .active_key(access_key_id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(key.map(|k| ResolvedKey {
            principal: Principal {
                account_id: k.account.id.clone(),
                account_name: k.account.name.clone(),
                access_key_id: k.access_key_id.clone(),
                is_admin: k.account.is_admin,
            },
            secret_access_key: k.secret_access_key.clone(),
        }))
    }
}

pub async fn run(config: ServeConfig) -> anyhow::Result<()> {
    let dir = match DataDir::open(&config.data_dir, Create::IfMissing)? {
        OpenOutcome::Opened(dir) => dir,
        OpenOutcome::InUse { pid, server } => bail!(
            "data directory {} is already in use by another nomuck process{}{}",
            config.data_dir.display(),
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
            server
                .map(|s| format!(", serving on {}", s.listen))
                .unwrap_or_default()
        ),
    };
    if let Some(admin) = dir.bootstrap_admin().await? {
        let file = dir.path().join(ADMIN_CREDENTIALS_FILE);
        // Shown once; the file keeps it for aws-cli (AWS_SHARED_CREDENTIALS_FILE).
        println!(
            "Created the admin account {} ({}).",
            admin.account.name, admin.account.id
        );
        println!("  aws_access_key_id     = {}", admin.access_key_id);
        println!("  aws_secret_access_key = {}", admin.secret_access_key);
        println!("Saved to {} (mode 0600).", file.display());
    }

    // Handlers first: a signal that arrives once we announce ourselves must stop us gracefully.
    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let bound = listener.local_addr()?;
    let ops_listener = match config.ops_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (ops listener)"))?,
        ),
        None => None,
    };

    let defaults = nomuck_storage::StorageOptions::default();
    let storage = dir.storage(nomuck_storage::StorageOptions {
        default_region: config.edge.region.clone(),
        lifecycle_day: config.lifecycle_day,
        // A tenth of a day late at most, and at least hourly.
        lifecycle_interval: (config.lifecycle_day / 10)
            .clamp(Duration::from_millis(200), defaults.lifecycle_interval),
        ..defaults
    })?;
    storage.start_background();
    // Events: object events are rendered as S3 event messages, queued in the
    // same commit as their change, and pushed to topics by the dispatcher.
    let events_queued = Arc::new(tokio::sync::Notify::new());
    storage.set_event_renderer(
        Arc::new(nomuck_s3::notification::S3EventRenderer {
            region: config.edge.region.clone(),
        }),
        events_queued.clone(),
    );
    let mut topics = nomuck_webhook::Topics::new(
        dir.store.clone(),
        dir.iam.clone(),
        config.edge.region.clone(),
    );
    if let Some(hosts) = &config.webhook_allowed_hosts {
        topics = topics.with_allowed_hosts(hosts.clone());
    }
    let topics = Arc::new(topics);
    let dispatcher = nomuck_webhook::Dispatcher::new(
        dir.store.clone(),
        topics.clone(),
        nomuck_webhook::DispatchOptions::default(),
    );
    let dispatching = dispatcher.start(events_queued);
    let keys: Arc<dyn KeyResolver> = Arc::new(IamResolver(dir.iam.clone()));
    let s3: Arc<dyn nomuck_http::ServiceApi> = Arc::new(
        nomuck_s3::S3Api::new(
            storage.clone(),
            nomuck_s3::S3Config {
                domains: config.s3_domains.clone(),
                website_domains: config.s3_website_domains.clone(),
            },
        )
        .with_form_authenticator(Arc::new(nomuck_edge::FormKeys(keys.clone()))),
    );
    let edge = Edge::new(config.edge.clone(), keys)
        .with_api(s3.clone())
        .with_anonymous_api(s3)
        .with_api(Arc::new(nomuck_sts::StsApi))
        .with_api(Arc::new(nomuck_sns::SnsApi::new(topics)))
        .with_admin_api(Arc::new(nomuck_admin::AdminApi::new(dir.iam.clone())));

    dir.publish_server(&ServerInfo {
        pid: std::process::id(),
        listen: bound.to_string(),
    })?;
    info!(listen = %bound, data_dir = %dir.path().display(), region = %config.edge.region, "nomuck serving");
    println!(
        "nomuck is serving on http://{bound} (data directory {})",
        dir.path().display()
    );
    if let Some(ops) = &ops_listener {
        let ops = ops.local_addr()?;
        info!(ops_listen = %ops, "health and metrics served on the ops listener only");
        println!("health and metrics are served on http://{ops}");
    }

    let served = nomuck_edge::serve(Arc::new(edge), listener, ops_listener, shutdown).await;
    dispatching.abort();
    if let Err(err) = storage.shutdown().await {
        tracing::warn!(%err, "storage did not shut down cleanly");
    }
    dir.unpublish_server();
    served.context("server failed")?;
    info!("stopped");
    Ok(())
}

/// Resolves on the first SIGINT or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => info!("SIGTERM received"),
            _ = int.recv() => info!("SIGINT received"),
        }
    })
}
