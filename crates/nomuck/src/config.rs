//! Configuration: built-in defaults, overridden by the TOML file, overridden by
//! environment variables, overridden by flags. Clap folds flags and environment
//! together (a flag wins); this module lays the file and defaults underneath.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:2006";
pub const DEFAULT_DATA_DIR: &str = "./nomuck-data";
pub const DEFAULT_REGION: &str = "us-east-1";

/// The TOML file. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    /// Loopback address for health and metrics, off the main listener.
    pub ops_listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub region: Option<String>,
    pub log_format: Option<LogFormat>,
    #[serde(default)]
    pub limits: FileLimits,
    #[serde(default)]
    pub s3: FileS3,
    #[serde(default)]
    pub webhooks: FileWebhooks,
    #[serde(default)]
    pub compute: FileCompute,
    #[serde(default)]
    pub fulfillment: FileFulfillment,
    #[serde(default)]
    pub billing: FileBilling,
    #[serde(default)]
    pub tls: FileTls,
}

/// `[tls]`: HTTPS on the main listener.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTls {
    /// PEM certificate chain, leaf first (with `key`).
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`.
    pub key: Option<PathBuf>,
    /// Create (once) and serve a self-signed certificate for localhost.
    pub self_signed: Option<bool>,
}

/// Where the main listener's certificate comes from; no value: plain HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// The operator's files, re-read on SIGHUP.
    Files { cert: PathBuf, key: PathBuf },
    /// `tls/cert.pem` and `tls/key.pem` in the data directory, created on first start.
    SelfSigned,
}

impl TlsSource {
    fn resolve(over: &Overrides, file: &FileTls) -> anyhow::Result<Option<Self>> {
        let cert = over.tls_cert.clone().or_else(|| file.cert.clone());
        let key = over.tls_key.clone().or_else(|| file.key.clone());
        let self_signed = over.tls_self_signed.or(file.self_signed).unwrap_or(false);
        match (cert, key, self_signed) {
            (None, None, false) => Ok(None),
            (None, None, true) => Ok(Some(Self::SelfSigned)),
            (Some(cert), Some(key), false) => Ok(Some(Self::Files { cert, key })),
            (Some(_), Some(_), true) => {
                anyhow::bail!("give either a TLS certificate and key or tls self_signed, not both")
            }
            (Some(_), None, _) => anyhow::bail!("a TLS certificate needs its key (--tls-key)"),
            (None, Some(_), _) => {
                anyhow::bail!("a TLS key needs its certificate (--tls-cert)")
            }
        }
    }
}

/// `[billing]`: rating the meter into bills (the price book is
/// `nomuck_billing::price`'s TOML format).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileBilling {
    /// Rate usage in the background of `serve` (default true).
    pub enabled: Option<bool>,
    /// A TOML price book; unset: Amazon's 2006 prices.
    pub price_book_file: Option<PathBuf>,
    /// Days a month stays open for late usage after it ends (default 3).
    pub grace_days: Option<u64>,
    /// Seconds between checks of the budgets against their thresholds
    /// (default 60).
    pub budget_alert_interval_secs: Option<u64>,
}

/// The resolved `[billing]` settings.
#[derive(Debug, Clone)]
pub struct BillingConfig {
    pub enabled: bool,
    pub book: nomuck_billing::PriceBook,
    pub options: nomuck_billing::BillingOptions,
    /// How often budgets are checked against their thresholds.
    pub budget_alert_interval: Duration,
}

impl BillingConfig {
    pub fn resolve(file: &FileBilling) -> anyhow::Result<Self> {
        let book = match &file.price_book_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read price book {}", path.display()))?;
                nomuck_billing::PriceBook::from_toml(&text)
                    .with_context(|| format!("invalid price book {}", path.display()))?
            }
            None => nomuck_billing::PriceBook::default(),
        };
        let mut options = nomuck_billing::BillingOptions::default();
        if let Some(days) = file.grace_days {
            options.grace = Duration::from_secs(days.saturating_mul(86_400));
        }
        Ok(Self {
            enabled: file.enabled.unwrap_or(true),
            book,
            options,
            budget_alert_interval: Duration::from_secs(
                file.budget_alert_interval_secs.unwrap_or(60).max(1),
            ),
        })
    }
}

/// `[fulfillment]`: the fulfillment service. Centers, fees and the simulator
/// take `nomuck_fulfillment`'s own shapes; each defaults to the embedded one
/// (one simulated center, `SIM1`; FBA's early fee schedule).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileFulfillment {
    /// Serve the fulfillment APIs at all (default true).
    pub enabled: Option<bool>,
    pub centers: Option<Vec<nomuck_fulfillment::Center>>,
    pub fees: Option<nomuck_fulfillment::FeeSchedule>,
    /// A TOML file holding a fee schedule (the keys of `[fulfillment.fees]`);
    /// wins over `fees`.
    pub fees_file: Option<PathBuf>,
    pub simulator: Option<nomuck_fulfillment::SimulatorConfig>,
    /// Requests per second per account on the fulfillment API (default 1000).
    pub rate_limit_per_second: Option<f64>,
}

/// `[compute]`: the EC2 service.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCompute {
    /// Serve EC2 at all (default true).
    pub enabled: Option<bool>,
    /// `auto` (default: KVM only when it really works), `kvm` or `tcg`.
    pub accelerator: Option<String>,
    pub qemu_system: Option<PathBuf>,
    pub qemu_img: Option<PathBuf>,
    /// Address forwarded guest ports listen on (default 127.0.0.1).
    pub forward_address: Option<String>,
    /// Instances may claim host memory times this (default 1.5).
    pub memory_overcommit: Option<f64>,
    pub max_instances_per_account: Option<u32>,
    pub launch_workers: Option<usize>,
    pub stop_grace_secs: Option<u64>,
    pub meter_interval_secs: Option<u64>,
    pub terminated_retention_secs: Option<u64>,
    /// Build and register the default image at start (default true).
    pub default_image: Option<bool>,
    /// Let guests reach the host's networks through QEMU's NAT (default false).
    pub guest_outbound: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWebhooks {
    /// Hosts push endpoints may name (unset: any host).
    pub allowed_hosts: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileS3 {
    /// Host suffixes for virtual-hosted-style requests (`BUCKET.<domain>`).
    pub domains: Option<Vec<String>>,
    /// Host suffixes of static website endpoints (`BUCKET.<domain>`).
    pub website_domains: Option<Vec<String>>,
    /// Length of a lifecycle "day" in seconds (86400; shorter for tests).
    pub lifecycle_day_secs: Option<u64>,
    /// How often access logs are delivered, in seconds (300).
    pub access_log_flush_secs: Option<u64>,
    /// Accept SSE-C keys over plain HTTP (AWS refuses them; off by default).
    pub allow_sse_c_over_http: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    pub max_connections: Option<usize>,
    pub max_header_bytes: Option<usize>,
    pub shutdown_grace_secs: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl FileConfig {
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }
}

/// Settings of `nomuck serve`, after layering.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// Where health and metrics are served instead of `listen`; always loopback.
    pub ops_listen: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub edge: nomuck_edge::EdgeConfig,
    pub s3_domains: Vec<String>,
    pub s3_website_domains: Vec<String>,
    /// How long a lifecycle day lasts (a real day unless testing).
    pub lifecycle_day: Duration,
    /// How often journaled access log records are delivered.
    pub access_log_flush: Duration,
    /// Accept SSE-C keys over plain HTTP (`[s3] allow_sse_c_over_http`).
    pub allow_sse_c_over_http: bool,
    /// Hosts webhook push endpoints may name; `None`: any.
    pub webhook_allowed_hosts: Option<Vec<String>>,
    pub compute: ComputeConfig,
    /// `None`: the fulfillment service is off.
    pub fulfillment: Option<nomuck_fulfillment::FulfillmentConfig>,
    pub billing: BillingConfig,
    /// `None`: the main listener speaks plain HTTP.
    pub tls: Option<TlsSource>,
}

/// The resolved `[compute]` settings.
#[derive(Debug, Clone)]
pub struct ComputeConfig {
    pub enabled: bool,
    /// `None`: probe.
    pub accelerator: Option<nomuck_compute::Accel>,
    pub qemu_system: PathBuf,
    pub qemu_img: PathBuf,
    pub forward_address: std::net::Ipv4Addr,
    pub memory_overcommit: f64,
    pub max_instances_per_account: u32,
    pub launch_workers: usize,
    pub stop_grace: Duration,
    pub meter_interval: Duration,
    pub terminated_retention: Duration,
    pub default_image: bool,
    pub guest_outbound: bool,
}

impl ComputeConfig {
    fn resolve(over: &Overrides, file: &FileCompute) -> anyhow::Result<Self> {
        let accelerator =
            match over
                .accelerator
                .clone()
                .or_else(|| file.accelerator.clone())
                .as_deref()
            {
                None | Some("auto") => None,
                Some(other) => Some(other.parse::<nomuck_compute::Accel>().map_err(|_| {
                    anyhow::anyhow!("accelerator {other:?} is not auto, kvm or tcg")
                })?),
            };
        let forward_text = file
            .forward_address
            .clone()
            .unwrap_or_else(|| "127.0.0.1".into());
        let forward_address = forward_text.parse().with_context(|| {
            format!("compute.forward_address {forward_text:?} is not an IPv4 address")
        })?;
        let memory_overcommit = file.memory_overcommit.unwrap_or(1.5);
        anyhow::ensure!(
            memory_overcommit > 0.0,
            "compute.memory_overcommit must be above 0"
        );
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let secs = |v: Option<u64>, default: u64| Duration::from_secs(v.unwrap_or(default));
        Ok(Self {
            enabled: over.compute_enabled.or(file.enabled).unwrap_or(true),
            accelerator,
            qemu_system: file
                .qemu_system
                .clone()
                .unwrap_or_else(|| PathBuf::from("qemu-system-x86_64")),
            qemu_img: file
                .qemu_img
                .clone()
                .unwrap_or_else(|| PathBuf::from("qemu-img")),
            forward_address,
            memory_overcommit,
            max_instances_per_account: file.max_instances_per_account.unwrap_or(20),
            launch_workers: file.launch_workers.unwrap_or(cores).max(1),
            stop_grace: secs(over.stop_grace_secs.or(file.stop_grace_secs), 60),
            meter_interval: secs(file.meter_interval_secs, 3600).max(Duration::from_secs(1)),
            terminated_retention: secs(
                over.terminated_retention_secs
                    .or(file.terminated_retention_secs),
                3600,
            ),
            default_image: over.default_image.or(file.default_image).unwrap_or(true),
            guest_outbound: file.guest_outbound.unwrap_or(false),
        })
    }
}

/// What flags and environment said (clap already merged the two).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub ops_listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub region: Option<String>,
    pub max_connections: Option<usize>,
    pub s3_domains: Option<Vec<String>>,
    pub s3_website_domains: Option<Vec<String>>,
    pub lifecycle_day_secs: Option<u64>,
    pub access_log_flush_secs: Option<u64>,
    pub allow_sse_c_over_http: Option<bool>,
    pub webhook_allowed_hosts: Option<Vec<String>>,
    pub compute_enabled: Option<bool>,
    pub accelerator: Option<String>,
    pub stop_grace_secs: Option<u64>,
    pub terminated_retention_secs: Option<u64>,
    pub default_image: Option<bool>,
    pub fulfillment_enabled: Option<bool>,
    pub simulator_enabled: Option<bool>,
    pub simulator_speed: Option<f64>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_self_signed: Option<bool>,
}

pub fn data_dir(overridden: Option<PathBuf>, file: &FileConfig) -> PathBuf {
    overridden
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
}

impl ServeConfig {
    pub fn resolve(over: Overrides, file: &FileConfig) -> anyhow::Result<Self> {
        let compute = ComputeConfig::resolve(&over, &file.compute)?;
        let fulfillment = resolve_fulfillment(&over, &file.fulfillment)?;
        let billing = BillingConfig::resolve(&file.billing)?;
        let tls = TlsSource::resolve(&over, &file.tls)?;
        let listen_text = over
            .listen
            .or_else(|| file.listen.clone())
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text
            .parse()
            .with_context(|| format!("listen address {listen_text:?} is not IP:PORT"))?;
        let ops_listen = match over.ops_listen.or_else(|| file.ops_listen.clone()) {
            Some(text) => Some(ops_address(&text)?),
            None => None,
        };
        let defaults = nomuck_edge::EdgeConfig::default();
        let edge = nomuck_edge::EdgeConfig {
            region: over
                .region
                .or_else(|| file.region.clone())
                .unwrap_or_else(|| DEFAULT_REGION.to_owned()),
            max_connections: over
                .max_connections
                .or(file.limits.max_connections)
                .unwrap_or(defaults.max_connections),
            max_header_bytes: file
                .limits
                .max_header_bytes
                .unwrap_or(defaults.max_header_bytes),
            shutdown_grace: file
                .limits
                .shutdown_grace_secs
                .map(Duration::from_secs)
                .unwrap_or(defaults.shutdown_grace),
            ..defaults
        };
        anyhow::ensure!(
            edge.max_connections > 0,
            "max_connections must be at least 1"
        );
        anyhow::ensure!(
            edge.max_header_bytes >= nomuck_edge::MIN_HEADER_BYTES,
            "limits.max_header_bytes = {} is below the minimum of {} bytes; signed SDK requests need that much",
            edge.max_header_bytes,
            nomuck_edge::MIN_HEADER_BYTES
        );
        let s3_domains = over
            .s3_domains
            .or_else(|| file.s3.domains.clone())
            .unwrap_or_else(|| vec!["localhost".to_owned()]);
        let s3_website_domains = over
            .s3_website_domains
            .or_else(|| file.s3.website_domains.clone())
            .unwrap_or_else(|| vec![nomuck_s3::DEFAULT_WEBSITE_DOMAIN.to_owned()]);
        let day_secs = over
            .lifecycle_day_secs
            .or(file.s3.lifecycle_day_secs)
            .unwrap_or(86_400);
        anyhow::ensure!(day_secs > 0, "lifecycle_day_secs must be at least 1");
        let flush_secs = over
            .access_log_flush_secs
            .or(file.s3.access_log_flush_secs)
            .unwrap_or(300);
        anyhow::ensure!(flush_secs > 0, "access_log_flush_secs must be at least 1");
        Ok(Self {
            compute,
            fulfillment,
            billing,
            tls,
            listen,
            ops_listen,
            data_dir: data_dir(over.data_dir, file),
            edge,
            s3_domains,
            s3_website_domains,
            lifecycle_day: Duration::from_secs(day_secs),
            access_log_flush: Duration::from_secs(flush_secs),
            allow_sse_c_over_http: over
                .allow_sse_c_over_http
                .or(file.s3.allow_sse_c_over_http)
                .unwrap_or(false),
            webhook_allowed_hosts: over
                .webhook_allowed_hosts
                .or_else(|| file.webhooks.allowed_hosts.clone()),
        })
    }
}

fn resolve_fulfillment(
    over: &Overrides,
    file: &FileFulfillment,
) -> anyhow::Result<Option<nomuck_fulfillment::FulfillmentConfig>> {
    if !over.fulfillment_enabled.or(file.enabled).unwrap_or(true) {
        return Ok(None);
    }
    let mut config = nomuck_fulfillment::FulfillmentConfig::default();
    if let Some(centers) = &file.centers {
        config.centers = centers.clone();
    }
    if let Some(fees) = &file.fees {
        config.fees = fees.clone();
    }
    if let Some(path) = &file.fees_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read fee schedule {}", path.display()))?;
        config.fees = toml::from_str(&text)
            .with_context(|| format!("invalid fee schedule {}", path.display()))?;
    }
    if let Some(sim) = &file.simulator {
        config.simulator = sim.clone();
    }
    if let Some(rate) = file.rate_limit_per_second {
        anyhow::ensure!(
            rate.is_finite() && rate > 0.0,
            "fulfillment.rate_limit_per_second must be above 0"
        );
        config.rate_limit_per_second = rate;
    }
    if let Some(on) = over.simulator_enabled {
        config.simulator.enabled = on;
    }
    if let Some(speed) = over.simulator_speed {
        config.simulator.speed = speed;
    }
    anyhow::ensure!(
        config.simulator.speed.is_finite() && config.simulator.speed > 0.0,
        "fulfillment simulator speed must be above 0"
    );
    anyhow::ensure!(
        !config.centers.is_empty(),
        "fulfillment needs at least one center"
    );
    let mut ids = std::collections::HashSet::new();
    for c in &config.centers {
        anyhow::ensure!(
            !c.id.is_empty()
                && c.id.len() <= 40
                && c.id
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'),
            "fulfillment center id {:?} must be 1-40 letters, digits, - or _",
            c.id
        );
        anyhow::ensure!(
            ids.insert(c.id.clone()),
            "fulfillment center {} is defined twice",
            c.id
        );
    }
    Ok(Some(config))
}

/// The operations listener's address, which must be loopback: metrics describe
/// every tenant's traffic and must not be reachable where the service endpoint is.
fn ops_address(text: &str) -> anyhow::Result<SocketAddr> {
    let addr: SocketAddr = text
        .parse()
        .with_context(|| format!("ops listen address {text:?} is not IP:PORT"))?;
    anyhow::ensure!(
        addr.ip().is_loopback(),
        "ops listen address {addr} is not a loopback address; health and metrics may only be \
         served on 127.0.0.0/8 or [::1]"
    );
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_env_override_file_which_overrides_defaults() {
        let file: FileConfig = toml::from_str(
            "listen = \"127.0.0.1:9000\"\nregion = \"eu-west-1\"\n[limits]\nmax_connections = 10\n",
        )
        .unwrap();
        let resolved = ServeConfig::resolve(Overrides::default(), &file).unwrap();
        assert_eq!(resolved.listen.port(), 9000);
        assert_eq!(resolved.edge.region, "eu-west-1");
        assert_eq!(resolved.edge.max_connections, 10);
        assert_eq!(resolved.data_dir, PathBuf::from(DEFAULT_DATA_DIR));

        let over = Overrides {
            listen: Some("127.0.0.1:9001".into()),
            region: Some("us-west-2".into()),
            ..Overrides::default()
        };
        let resolved = ServeConfig::resolve(over, &file).unwrap();
        assert_eq!(resolved.listen.port(), 9001);
        assert_eq!(resolved.edge.region, "us-west-2");

        let defaults = ServeConfig::resolve(Overrides::default(), &FileConfig::default()).unwrap();
        assert_eq!(defaults.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(defaults.lifecycle_day, Duration::from_secs(86_400));
        let file: FileConfig = toml::from_str("[s3]\nlifecycle_day_secs = 10").unwrap();
        let short = ServeConfig::resolve(Overrides::default(), &file).unwrap();
        assert_eq!(short.lifecycle_day, Duration::from_secs(10));
        assert_eq!(defaults.access_log_flush, Duration::from_secs(300));
        let file: FileConfig = toml::from_str("[s3]\naccess_log_flush_secs = 2").unwrap();
        let flush = ServeConfig::resolve(Overrides::default(), &file).unwrap();
        assert_eq!(flush.access_log_flush, Duration::from_secs(2));
        let flag = Overrides {
            access_log_flush_secs: Some(0),
            ..Overrides::default()
        };
        assert!(ServeConfig::resolve(flag, &file).is_err(), "0 s is refused");
        assert_eq!(short.webhook_allowed_hosts, None);
        // SSE-C over plain HTTP: off unless the file or a flag turns it on.
        assert!(!defaults.allow_sse_c_over_http);
        let file: FileConfig = toml::from_str("[s3]\nallow_sse_c_over_http = true").unwrap();
        assert!(
            ServeConfig::resolve(Overrides::default(), &file)
                .unwrap()
                .allow_sse_c_over_http
        );
        let off = Overrides {
            allow_sse_c_over_http: Some(false),
            ..Overrides::default()
        };
        assert!(
            !ServeConfig::resolve(off, &file)
                .unwrap()
                .allow_sse_c_over_http
        );
        let file: FileConfig =
            toml::from_str("[webhooks]\nallowed_hosts = [\"hooks.example.com\"]").unwrap();
        let only = ServeConfig::resolve(Overrides::default(), &file).unwrap();
        assert_eq!(only.webhook_allowed_hosts.unwrap(), ["hooks.example.com"]);
    }

    #[test]
    fn ops_listener_is_loopback_only_and_header_limit_has_a_floor() {
        let file: FileConfig = toml::from_str("ops_listen = \"127.0.0.1:9100\"").unwrap();
        let resolved = ServeConfig::resolve(Overrides::default(), &file).unwrap();
        assert_eq!(resolved.ops_listen, Some("127.0.0.1:9100".parse().unwrap()));
        let over = Overrides {
            ops_listen: Some("[::1]:9101".into()),
            ..Overrides::default()
        };
        let resolved = ServeConfig::resolve(over, &file).unwrap();
        assert_eq!(resolved.ops_listen, Some("[::1]:9101".parse().unwrap()));
        let over = Overrides {
            ops_listen: Some("0.0.0.0:9100".into()),
            ..Overrides::default()
        };
        let err = ServeConfig::resolve(over, &file).unwrap_err().to_string();
        assert!(err.contains("not a loopback address"), "{err}");

        let file: FileConfig = toml::from_str("[limits]\nmax_header_bytes = 4096").unwrap();
        let err = ServeConfig::resolve(Overrides::default(), &file)
            .unwrap_err()
            .to_string();
        assert!(err.contains("minimum of 8192 bytes"), "{err}");
        let file: FileConfig = toml::from_str("[limits]\nmax_header_bytes = 8192").unwrap();
        let resolved = ServeConfig::resolve(Overrides::default(), &file).unwrap();
        assert_eq!(resolved.edge.max_header_bytes, 8192);
    }

    #[test]
    fn tls_comes_from_files_or_self_signed_and_flags_win_over_the_file() {
        let plain = ServeConfig::resolve(Overrides::default(), &FileConfig::default()).unwrap();
        assert_eq!(plain.tls, None);
        let file: FileConfig =
            toml::from_str("[tls]\ncert = \"/c.pem\"\nkey = \"/k.pem\"\n").unwrap();
        let files = ServeConfig::resolve(Overrides::default(), &file).unwrap();
        assert_eq!(
            files.tls,
            Some(TlsSource::Files {
                cert: "/c.pem".into(),
                key: "/k.pem".into()
            })
        );
        let over = Overrides {
            tls_cert: Some("/flag.pem".into()),
            ..Overrides::default()
        };
        let flagged = ServeConfig::resolve(over, &file).unwrap();
        assert!(
            matches!(&flagged.tls, Some(TlsSource::Files { cert, .. }) if cert == Path::new("/flag.pem"))
        );
        let file: FileConfig = toml::from_str("[tls]\nself_signed = true\n").unwrap();
        let own = ServeConfig::resolve(Overrides::default(), &file).unwrap();
        assert_eq!(own.tls, Some(TlsSource::SelfSigned));
        let file: FileConfig = toml::from_str("[tls]\ncert = \"/c.pem\"\n").unwrap();
        let err = ServeConfig::resolve(Overrides::default(), &file).unwrap_err();
        assert!(err.to_string().contains("needs its key"), "{err}");
        let file: FileConfig =
            toml::from_str("[tls]\ncert = \"/c\"\nkey = \"/k\"\nself_signed = true\n").unwrap();
        assert!(ServeConfig::resolve(Overrides::default(), &file).is_err());
    }

    #[test]
    fn billing_loads_its_price_book_file_and_grace() {
        let defaults = ServeConfig::resolve(Overrides::default(), &FileConfig::default()).unwrap();
        assert!(defaults.billing.enabled);
        assert_eq!(defaults.billing.book, nomuck_billing::PriceBook::default());
        assert_eq!(
            defaults.billing.options.grace,
            Duration::from_secs(3 * 86_400)
        );

        let dir = tempfile::tempdir().unwrap();
        let book = dir.path().join("prices.toml");
        std::fs::write(
            &book,
            "[[version]]\neffective = \"2027-01-01\"\nstorage_gb_month = \"0.125\"\n",
        )
        .unwrap();
        let text = format!(
            "[billing]\nprice_book_file = {:?}\ngrace_days = 5\nenabled = false\n",
            book.display().to_string()
        );
        let file: FileConfig = toml::from_str(&text).unwrap();
        let resolved = ServeConfig::resolve(Overrides::default(), &file).unwrap();
        assert!(!resolved.billing.enabled);
        assert_eq!(
            resolved.billing.options.grace,
            Duration::from_secs(5 * 86_400)
        );
        assert_eq!(resolved.billing.book.versions().len(), 1);
        assert_eq!(
            resolved.billing.book.versions()[0]
                .rates
                .storage_gb_month
                .to_string(),
            "0.125"
        );

        std::fs::write(&book, "[[version]]\neffective = \"later\"\n").unwrap();
        let err = format!(
            "{:#}",
            ServeConfig::resolve(Overrides::default(), &file).unwrap_err()
        );
        assert!(
            err.contains("invalid price book") && err.contains("later"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_and_bad_addresses_are_errors() {
        assert!(toml::from_str::<FileConfig>("lisen = \"x\"").is_err());
        let file: FileConfig = toml::from_str("listen = \"nowhere\"").unwrap();
        assert!(ServeConfig::resolve(Overrides::default(), &file).is_err());
    }
}
