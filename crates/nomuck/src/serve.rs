//! `nomuck serve`: open the data directory, wire the services to the edge, listen.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use nomuck_edge::{Edge, KeyResolver, ResolvedKey};
use nomuck_http::{
    AccessTokenResolver, AuthError, GrantRefusal, GrantedToken, Principal, RefreshGrant, Rejection,
};
use nomuck_iam::Iam;
use tracing::info;

use crate::config::{ServeConfig, TlsSource};
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

/// Grants and resolves LWA access tokens for the edge through the account service.
struct IamTokens(nomuck_iam::AccessTokens);

#[async_trait::async_trait]
impl AccessTokenResolver for IamTokens {
    async fn grant(&self, grant: &RefreshGrant) -> Result<GrantedToken, GrantRefusal> {
        use nomuck_iam::GrantError as G;
        match self
            .0
            .exchange(&grant.client_id, &grant.client_secret, &grant.refresh_token)
            .await
        {
            Ok(issued) => Ok(GrantedToken {
                access_token: issued.access_token,
                expires_in: issued.expires_in,
            }),
            Err(G::InvalidClient) => Err(GrantRefusal::InvalidClient),
            Err(G::InvalidGrant) => Err(GrantRefusal::InvalidGrant),
            Err(G::Iam(e)) => Err(GrantRefusal::Internal(e.to_string())),
        }
    }

    async fn resolve(&self, access_token: &str) -> Result<Principal, Rejection> {
        use nomuck_iam::TokenError as T;
        match self.0.verify(access_token).await {
            Ok(client) => Ok(Principal {
                account_id: client.account.id.clone(),
                account_name: client.account.name.clone(),
                access_key_id: client.client_id.clone(),
                is_admin: client.account.is_admin,
            }),
            Err(T::Malformed) => Err(Rejection::Auth(AuthError::InvalidAccessToken(
                T::Malformed.to_string(),
            ))),
            Err(T::Expired) => Err(Rejection::Auth(AuthError::AccessTokenExpired)),
            Err(T::Revoked) => Err(Rejection::Auth(AuthError::AccessTokenRevoked)),
            Err(T::Iam(e)) => Err(Rejection::Internal(e.to_string())),
        }
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
                .map(|s| format!(", serving on {}", s.endpoint()))
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
    let tls = match &config.tls {
        Some(source) => Some(load_certificate(source, &dir)?),
        None => None,
    };
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
        allow_sse_c_over_http: config.allow_sse_c_over_http,
        // A tenth of a day late at most, and at least hourly.
        lifecycle_interval: (config.lifecycle_day / 10)
            .clamp(Duration::from_millis(200), defaults.lifecycle_interval),
        ..defaults
    })?;
    storage.set_sse_s3_key(dir.sse_s3_key);
    storage.start_background();
    // Access logs: records are journaled under the data directory before a
    // reply finishes and delivered every interval into their target buckets.
    let access_log = nomuck_storage::access_log::AccessLog::open(
        &dir.path().join("access-log"),
        config.access_log_flush,
    )?;
    let delivering_logs = access_log.start_delivery(&storage);
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
    let compute = if config.compute.enabled {
        Some(start_compute(&config, &dir, &storage, events_queued.clone()).await?)
    } else {
        None
    };
    // Fulfillment: each account's book loads on first use (the background
    // task loads them all at start, so simulated work resumes).
    let fulfillment = config.fulfillment.clone().map(|c| {
        nomuck_fulfillment::Fulfillment::new(dir.store.clone(), c, Some(events_queued.clone()))
    });
    let fulfillment_worker = fulfillment.as_ref().map(|f| f.start_background());
    // Billing rates the meter in the background; its cursor moves in the
    // same commit as what it rated, so after a crash it resumes where it was.
    // `billing` answers the queries (bills, daily costs) of whoever needs them.
    let billing = nomuck_billing::Billing::new(
        dir.store.clone(),
        config.billing.book.clone(),
        config.billing.options.clone(),
    )
    .with_report_sink(Arc::new(crate::compute::StorageReports(storage.clone())));
    let billing_worker = config.billing.enabled.then(|| billing.clone().start());
    // Cost Explorer and Budgets read rated costs; budget alerts go out
    // through the same outbox and dispatcher as every other event.
    let costs: Arc<dyn nomuck_costapi::CostSource> = Arc::new(RatedCosts(billing.clone()));
    let budget_alerts = nomuck_costapi::alerts::BudgetAlerts::with_wakeup(
        dir.store.clone(),
        costs.clone(),
        nomuck_costapi::system_clock(),
        events_queued.clone(),
    );
    let alerting = budget_alerts.start(config.billing.budget_alert_interval);
    // KMS: keys in meta's kms seam, material sealed under the master key; the
    // background pass deletes keys at their deletion date and rotates keys.
    // Its day is the lifecycle day, so tests can shorten both.
    let kms = Arc::new(nomuck_kms::Kms::new(
        dir.store.clone(),
        (*dir.sealer).clone(),
        nomuck_kms::KmsOptions {
            region: config.edge.region.clone(),
            day: config.lifecycle_day,
            pass_interval: (config.lifecycle_day / 10)
                .clamp(Duration::from_millis(200), Duration::from_secs(60)),
        },
    ));
    let kms_worker = kms.start_background();
    // SSE-KMS: the engine seals data keys through the built-in KMS.
    storage.set_key_manager(crate::kms::key_manager(kms.clone()));
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
        .with_form_authenticator(Arc::new(nomuck_edge::FormKeys(keys.clone())))
        .with_access_log(access_log),
    );
    let mut edge = Edge::new(config.edge.clone(), keys)
        .with_api(s3.clone())
        .with_anonymous_api(s3)
        .with_api(Arc::new(nomuck_sts::StsApi))
        .with_api(Arc::new(nomuck_sns::SnsApi::new(topics)))
        .with_api(Arc::new(nomuck_costapi::ce::CostExplorerApi::new(
            costs.clone(),
        )))
        .with_api(Arc::new(nomuck_costapi::budgets::BudgetsApi::new(
            dir.store.clone(),
            costs,
        )))
        // Report definitions land in billing's seam; the billing worker
        // puts each account's report into its bucket daily.
        .with_api(Arc::new(nomuck_costapi::cur::CurApi::new(
            dir.store.clone(),
        )))
        .with_api(Arc::new(nomuck_kmsapi::KmsApi::new(kms)))
        .with_admin_api(Arc::new(nomuck_admin::AdminApi::new(dir.iam.clone())))
        .with_access_tokens(Arc::new(IamTokens(nomuck_iam::AccessTokens::new(
            dir.iam.clone(),
            dir.lwa_token_key,
        ))));
    if let Some((compute, _)) = &compute {
        edge = edge.with_api(Arc::new(nomuck_ec2::Ec2Api::new(compute.clone())));
    }
    if let Some(f) = &fulfillment {
        edge = edge.with_api(Arc::new(nomuck_spapi::SpApi::new(f.clone())));
    }
    if let Some(cert) = &tls {
        edge = edge.with_tls(cert)?;
    }

    let scheme = if tls.is_some() { "https" } else { "http" };
    let endpoint = format!("{scheme}://{bound}");
    let ca_bundle = tls
        .as_ref()
        .map(|cert| crate::data_dir::absolute(cert.cert_path()));
    dir.publish_server(&ServerInfo {
        pid: std::process::id(),
        listen: bound.to_string(),
        endpoint: Some(endpoint.clone()),
        ca_bundle: ca_bundle.clone(),
    })?;
    info!(%endpoint, data_dir = %dir.path().display(), region = %config.edge.region, "nomuck serving");
    println!(
        "nomuck is serving on {endpoint} (data directory {})",
        dir.path().display()
    );
    if let Some(cert) = &ca_bundle {
        println!(
            "TLS certificate: {} (for clients: aws --ca-bundle, AWS_CA_BUNDLE, boto3 verify=)",
            cert.display()
        );
    }
    if let Some(ops) = &ops_listener {
        let ops = ops.local_addr()?;
        info!(ops_listen = %ops, "health and metrics served on the ops listener only");
        println!("health and metrics are served on http://{ops}");
    }

    let served = nomuck_edge::serve(Arc::new(edge), listener, ops_listener, shutdown).await;
    dispatching.abort();
    // Journaled records stay on disk; the next start delivers them.
    delivering_logs.abort();
    alerting.abort();
    if let Some(worker) = billing_worker {
        worker.abort();
    }
    if let Some(worker) = fulfillment_worker {
        // Every acknowledged change is committed; the simulator resumes from
        // the records at the next start.
        worker.abort();
    }
    if let Some((compute, worker)) = compute {
        // Guests outlive nomuck: the next start re-attaches to them.
        worker.abort();
        compute.shutdown();
    }
    kms_worker.stop().await;
    if let Err(err) = storage.shutdown().await {
        tracing::warn!(%err, "storage did not shut down cleanly");
    }
    dir.unpublish_server();
    served.context("server failed")?;
    info!("stopped");
    Ok(())
}

/// Cost Explorer's and Budgets' view of the rated costs: the billing
/// domain's per-day sums, through the port the API crate defines (so it
/// does not depend on how costs are rated).
struct RatedCosts(nomuck_billing::Billing);

#[async_trait::async_trait]
impl nomuck_costapi::CostSource for RatedCosts {
    async fn daily_costs(
        &self,
        account_id: &str,
        start: time::Date,
        end_exclusive: time::Date,
    ) -> Result<Vec<nomuck_costapi::DailyCost>, nomuck_costapi::CostSourceError> {
        let rows = self
            .0
            .daily_costs(account_id, start, end_exclusive)
            .await
            .map_err(|e| nomuck_costapi::CostSourceError::Unavailable(e.to_string()))?;
        Ok(rows
            .into_iter()
            .map(|r| nomuck_costapi::DailyCost {
                day: r.day,
                service: r.service,
                usage_type: r.usage_type,
                operation: r.operation,
                unit: r.unit,
                quantity: r.quantity,
                cost: r.cost,
            })
            .collect())
    }
}

/// The certificate the endpoint serves, made first if it is the data directory's
/// self-signed one; SIGHUP re-reads it from here on.
fn load_certificate(
    source: &TlsSource,
    dir: &DataDir,
) -> anyhow::Result<Arc<nomuck_edge::ServerCert>> {
    let (cert_path, key_path) = match source {
        TlsSource::Files { cert, key } => (cert.clone(), key.clone()),
        TlsSource::SelfSigned => {
            let (cert, key, created) = dir.self_signed_tls()?;
            if created {
                println!(
                    "Created a self-signed certificate for localhost, 127.0.0.1 and ::1: {}",
                    crate::data_dir::absolute(&cert).display()
                );
            }
            (cert, key)
        }
    };
    let cert = nomuck_edge::ServerCert::load(&cert_path, &key_path)?;
    reload_on_hangup(cert.clone())?;
    Ok(cert)
}

/// Re-read the certificate and key on each SIGHUP (a renewed certificate takes
/// effect for new connections without a restart). A pair that cannot be used is
/// logged and the one in use kept.
fn reload_on_hangup(cert: Arc<nomuck_edge::ServerCert>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            match cert.reload() {
                Ok(()) => {
                    info!(cert = %cert.cert_path().display(), "SIGHUP: TLS certificate reloaded")
                }
                Err(err) => {
                    tracing::error!(%err, "SIGHUP: TLS certificate not reloaded; still serving the previous one")
                }
            }
        }
    });
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

/// Starts the compute service: accelerator probe, worker, and (in the background)
/// the default image.
async fn start_compute(
    config: &ServeConfig,
    dir: &DataDir,
    storage: &Arc<nomuck_storage::Storage>,
    events_queued: Arc<tokio::sync::Notify>,
) -> anyhow::Result<(Arc<nomuck_compute::Compute>, tokio::task::JoinHandle<()>)> {
    let c = &config.compute;
    let compute_dir = dir.path().join("compute");
    std::fs::create_dir_all(&compute_dir)
        .with_context(|| format!("cannot create {}", compute_dir.display()))?;
    let qemu_ok = std::process::Command::new(&c.qemu_system)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !qemu_ok {
        tracing::warn!(qemu = %c.qemu_system.display(), "QEMU is not installed: instances cannot launch (install qemu-system-x86)");
    }
    let probe = {
        let (forced, qemu, scratch) = (c.accelerator, c.qemu_system.clone(), compute_dir.clone());
        tokio::task::spawn_blocking(move || {
            nomuck_qemu::accel::probe_accelerator_with_test_guest(
                forced,
                &qemu,
                &scratch,
                Duration::from_secs(5),
            )
        })
        .await?
    };
    tracing::info!(accelerator = ?probe.accel, reason = %probe.reason, "compute accelerator");
    let objects = Arc::new(crate::compute::StorageObjects(storage.clone()));
    let compute = new_compute(config, dir, objects.clone(), probe.accel, events_queued)?;
    let worker = compute.start();
    if c.default_image {
        let (compute, iam) = (compute.clone(), dir.iam.clone());
        tokio::spawn(async move {
            if let Err(e) = provide_default_image(&compute, &objects, &iam).await {
                tracing::warn!(error = %format!("{e:#}"), "the default image is not available");
            }
        });
    }
    Ok((compute, worker))
}

/// The compute service over `dir` (its worker not started).
pub fn new_compute(
    config: &ServeConfig,
    dir: &DataDir,
    objects: Arc<crate::compute::StorageObjects>,
    accel: nomuck_compute::Accel,
    events_queued: Arc<tokio::sync::Notify>,
) -> anyhow::Result<Arc<nomuck_compute::Compute>> {
    let c = &config.compute;
    let exe = std::env::current_exe().context("cannot find this executable's path")?;
    let memory_limit_mib = (host_memory_mib() as f64 * c.memory_overcommit) as u64;
    Ok(nomuck_compute::Compute::new(
        dir.store.clone(),
        objects,
        nomuck_compute::ComputeOptions {
            dir: dir.path().join("compute"),
            region: config.edge.region.clone(),
            qemu_system: c.qemu_system.clone(),
            qemu_img: c.qemu_img.clone(),
            accel: c.accelerator,
            imds_bridge: format!("{} imds-bridge", shell_quote(&exe.to_string_lossy())),
            forward_addr: c.forward_address,
            guest_outbound: c.guest_outbound,
            memory_limit_mib,
            max_instances_per_account: c.max_instances_per_account,
            launch_workers: c.launch_workers,
            stop_grace: c.stop_grace,
            terminated_retention: c.terminated_retention,
            meter_interval: c.meter_interval,
            token_key: dir.imds_token_key,
        },
        accel,
        events_queued,
    )?)
}

pub async fn provide_default_image(
    compute: &nomuck_compute::Compute,
    objects: &crate::compute::StorageObjects,
    iam: &nomuck_iam::Iam,
) -> anyhow::Result<String> {
    let admin = iam
        .accounts()
        .await?
        .into_iter()
        .find(|a| a.is_admin)
        .context("no admin account")?;
    let guest = crate::compute::build_guest(crate::compute::guest_cache_dir()).await?;
    crate::compute::ensure_default_image(compute, objects, &admin.id, &guest).await
}

pub fn host_memory_mib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(4096, |kib| kib / 1024)
}

/// `s` as one word for /bin/sh.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
