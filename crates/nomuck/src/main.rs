//! The `nomuck` binary: command line, configuration and wiring. It is the only crate
//! that knows every other crate.

mod accounts_cmd;
mod admin_client;
mod bill_cmd;
mod center_cmd;
mod compute;
mod config;
mod data_dir;
mod doctor;
mod image_cmd;
mod instance_cmd;
mod kms;
mod lwa_cmd;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::accounts_cmd::Accounts;
use crate::config::{FileConfig, LogFormat, Overrides, ServeConfig};

// A request allocates dozens of short-lived buffers across worker threads;
// mimalloc's per-thread free lists make that a fraction of glibc's cost
// (docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "nomuck",
    version,
    about = "A self-hosted utility cloud in one binary: S3 storage, EC2 compute on QEMU, STS, \
             SNS topics with signed webhooks, and accounts with access keys, on one \
             AWS-compatible endpoint.",
    after_help = "Fulfillment is served on the same endpoint; `nomuck bill` shows what the usage costs."
)]
struct Cli {
    /// TOML configuration file. Environment variables override it; flags override both.
    #[arg(long, global = true, env = "NOMUCK_CONFIG")]
    config: Option<PathBuf>,
    /// Where nomuck keeps its data [default: ./nomuck-data]. Only `serve` creates it;
    /// the other commands need an existing one.
    #[arg(long, global = true, env = "NOMUCK_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Log format on standard error.
    #[arg(long, global = true, env = "NOMUCK_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every service on one endpoint; creates the data directory and the admin
    /// account on first start.
    Serve(ServeArgs),
    /// Manage accounts (of an existing data directory, or through its running server).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage access keys (of an existing data directory, or through its running server).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage LWA clients, for SP-API client libraries that fetch access tokens
    /// instead of signing (of an existing data directory, or through its running server).
    #[command(subcommand)]
    Lwa(LwaCommand),
    /// Load-test a service endpoint (nomuck's or any other S3 server).
    #[command(subcommand)]
    Bench(BenchCommand),
    #[command(subcommand)]
    Instance(InstanceCommand),
    /// A fulfillment center's staff: the warehouse operations API of the running
    /// server, as the admin (operator of every center) or the account in
    /// AWS_ACCESS_KEY_ID.
    #[command(subcommand)]
    Center(CenterCommand),
    /// Bills and cost and usage reports: what each account's use costs, from the
    /// metered usage and the price book.
    #[command(subcommand)]
    Bill(BillCommand),
    /// Check what this machine can do for compute (QEMU, accelerator, tools).
    Doctor,
    #[command(subcommand)]
    Image(ImageCommand),
    /// Carries one guest connection to an instance's metadata service: QEMU runs
    /// this for each connection a guest makes to 169.254.169.254:80.
    #[command(hide = true)]
    ImdsBridge {
        /// The instance's metadata socket.
        socket: PathBuf,
    },
}

/// Compute images.
#[derive(Subcommand)]
enum ImageCommand {
    /// Build the default guest from Debian packages, upload it and register it as a
    /// public image (a running server does this at its start); prints its id.
    BuildDefault,
}

#[derive(Subcommand)]
enum CenterCommand {
    /// The fulfillment centers.
    List,
    /// What awaits the center's staff: shipments to receive, orders to ship.
    Work {
        /// The center's id (`SIM1`, …).
        center: String,
    },
    /// Receive one box of an inbound shipment (checking it in first).
    Receive {
        /// The center's id (`SIM1`, …).
        center: String,
        /// The seller's account id.
        #[arg(long)]
        seller: String,
        /// The inbound shipment's id.
        #[arg(long)]
        shipment: String,
        /// The box's id (the same box twice is received once).
        #[arg(long = "box")]
        box_id: String,
        /// The seller SKU in the box.
        #[arg(long)]
        sku: String,
        /// Units of it in the box.
        #[arg(long)]
        quantity: u32,
        /// Sellable, WarehouseDamaged, CarrierDamaged, DistributorDamaged,
        /// CustomerDamaged, Defective or Expired.
        #[arg(long, default_value = "Sellable")]
        condition: String,
        /// Close the shipment after this box (what was not received is short).
        #[arg(long)]
        close: bool,
    },
    /// Any warehouse operation: METHOD on /fws/v1/centers/CENTER/OPERATION with a
    /// JSON body (e.g. `nomuck center call SIM1 POST waves --seller ID --body '{}'`).
    Call {
        /// The center's id (`SIM1`, …).
        center: String,
        /// GET, POST or PUT.
        method: http::Method,
        /// The path below the center (`waves`, `packages/3/ship`, `work`, …).
        operation: String,
        /// The seller's account id (every operation but `work` needs it).
        #[arg(long)]
        seller: Option<String>,
        /// The JSON request body.
        #[arg(long)]
        body: Option<String>,
    },
}

/// Compute instances.
#[derive(Subcommand)]
enum InstanceCommand {
    /// SSH into an instance (through the port nomuck forwards to its port 22),
    /// running COMMAND if given and exiting with its status.
    Ssh {
        /// The private key saved from CreateKeyPair.
        #[arg(short = 'i', long = "identity")]
        identity: Option<PathBuf>,
        /// The user to log in as.
        #[arg(short = 'l', long, default_value = "root")]
        user: String,
        /// The instance (`i-…`), one of the signing account's.
        instance_id: String,
        /// A command to run instead of a login shell (after `--`).
        #[arg(last = true)]
        command: Vec<String>,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Put, get, mixed, list or delete load against an S3 endpoint; prints ops/s,
    /// MB/s, latency percentiles, errors and CPU per operation.
    S3(nomuck_bench::Args),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:2006].
    #[arg(long, env = "NOMUCK_LISTEN")]
    listen: Option<String>,
    /// Serve health and metrics on this loopback address instead of the main
    /// listener (for a main listener on a public address).
    #[arg(long, env = "NOMUCK_OPS_LISTEN")]
    ops_listen: Option<String>,
    /// Region this server answers as [default: us-east-1].
    #[arg(long, env = "NOMUCK_REGION")]
    region: Option<String>,
    /// Connections served at once [default: 4096].
    #[arg(long, env = "NOMUCK_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Domain for virtual-hosted-style S3 requests (`BUCKET.<domain>`); repeat for
    /// several [default: localhost].
    #[arg(long = "s3-domain", env = "NOMUCK_S3_DOMAINS", value_delimiter = ',')]
    s3_domains: Option<Vec<String>>,
    /// Domain of static website endpoints (`BUCKET.<domain>`); repeat for several
    /// [default: s3-website.localhost].
    #[arg(
        long = "s3-website-domain",
        env = "NOMUCK_S3_WEBSITE_DOMAINS",
        value_delimiter = ','
    )]
    s3_website_domains: Option<Vec<String>>,
    /// Length of a lifecycle day in seconds, for testing lifecycle rules
    /// and KMS deletion windows and rotation periods [default: 86400].
    #[arg(long, env = "NOMUCK_LIFECYCLE_DAY_SECS")]
    lifecycle_day_secs: Option<u64>,
    /// How often access logs are delivered to their target buckets, in
    /// seconds [default: 300].
    #[arg(long, env = "NOMUCK_ACCESS_LOG_FLUSH_SECS")]
    access_log_flush_secs: Option<u64>,
    /// Accept SSE-C (customer-provided keys) over plain HTTP, which AWS
    /// refuses; for test rigs without TLS [default: false].
    #[arg(long, env = "NOMUCK_ALLOW_SSE_C_OVER_HTTP")]
    allow_sse_c_over_http: Option<bool>,
    /// Hosts that webhook push endpoints may name, comma-separated [default: any host].
    #[arg(
        long = "webhook-allowed-hosts",
        env = "NOMUCK_WEBHOOK_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    webhook_allowed_hosts: Option<Vec<String>>,
    /// Serve the EC2 API and run instances (default true).
    #[arg(long, env = "NOMUCK_COMPUTE")]
    compute: Option<bool>,
    /// `auto`, `kvm` or `tcg`.
    #[arg(long, env = "NOMUCK_ACCELERATOR")]
    accelerator: Option<String>,
    /// How long a stopping guest may take to power off before it is killed.
    #[arg(long, env = "NOMUCK_STOP_GRACE_SECS")]
    stop_grace_secs: Option<u64>,
    /// How long terminated instances stay visible.
    #[arg(long, env = "NOMUCK_TERMINATED_RETENTION_SECS")]
    terminated_retention_secs: Option<u64>,
    /// Build and register the default image at start (default true).
    #[arg(long, env = "NOMUCK_DEFAULT_IMAGE")]
    default_image: Option<bool>,
    /// Serve the fulfillment APIs (default true).
    #[arg(long, env = "NOMUCK_FULFILLMENT")]
    fulfillment: Option<bool>,
    /// Run the simulated fulfillment centers' automatic operator (default true).
    #[arg(long, env = "NOMUCK_SIMULATOR")]
    simulator: Option<bool>,
    /// How much faster than real time simulated centers work (default 1).
    #[arg(long, env = "NOMUCK_SIMULATOR_SPEED")]
    simulator_speed: Option<f64>,
    /// Serve HTTPS only, with this PEM certificate chain (leaf first); re-read
    /// with the key on SIGHUP.
    #[arg(long, env = "NOMUCK_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "NOMUCK_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS only, with a self-signed certificate for localhost, 127.0.0.1
    /// and ::1 made on first start (tls/cert.pem in the data directory).
    #[arg(
        long,
        env = "NOMUCK_TLS_SELF_SIGNED",
        num_args = 0..=1,
        default_missing_value = "true",
        conflicts_with = "tls_cert"
    )]
    tls_self_signed: Option<bool>,
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account.
    Create {
        /// Name of the new account (unique).
        name: String,
        /// Allow the account to use the admin API.
        #[arg(long)]
        admin: bool,
        /// Print the account as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List accounts.
    List {
        /// Print the accounts as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an access key for an account (by name or id); the secret is shown once.
    Create {
        /// Account name or 12-digit account id.
        account: String,
        /// Print the key (with its secret) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List an account's access keys.
    List {
        /// Account name or 12-digit account id.
        account: String,
        /// Print the keys as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an access key; requests signed with it fail from now on.
    Revoke {
        /// Access key id (AKIA…).
        key_id: String,
    },
}

#[derive(Subcommand)]
enum LwaCommand {
    /// Create an LWA client for an account: prints its client_id, client_secret and
    /// refresh_token, shown once.
    Create {
        /// Account name or 12-digit account id.
        account: String,
        /// Print the client (with its secrets) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List LWA clients, of one account or of all.
    List {
        /// Account name or 12-digit account id (all accounts when left out).
        account: Option<String>,
        /// Print the clients as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an LWA client: its refresh token and access tokens fail from now on.
    Revoke {
        /// Client id (amzn1.application-oa2-client.…).
        client_id: String,
    },
}

/// Bills and reports (of every account unless one is named).
#[derive(Subcommand)]
enum BillCommand {
    /// A month's bill: per service and usage type, the quantity, unit, rate and
    /// cost, and the total.
    Show {
        /// Account name or 12-digit account id (every account when left out).
        #[arg(long)]
        account: Option<String>,
        /// The month, YYYY-MM (UTC) [default: the current month].
        #[arg(long)]
        month: Option<String>,
        /// Print the bill as JSON (amounts as exact decimal strings).
        #[arg(long)]
        json: bool,
    },
    /// A month's cost and usage report as CSV: one row per account, service,
    /// usage type, operation and day.
    Report {
        /// Account name or 12-digit account id (every account when left out).
        #[arg(long)]
        account: Option<String>,
        /// The month, YYYY-MM (UTC).
        #[arg(long)]
        month: String,
        /// Write the report to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Put the account's cost report into one of its buckets every day (as
    /// nomuck-cost-reports/YYYY-MM.csv), or stop; only while no server runs.
    ReportBucket {
        /// Account name or 12-digit account id.
        #[arg(long)]
        account: String,
        /// The account's bucket (left out with --clear).
        #[arg(long, required_unless_present = "clear")]
        bucket: Option<String>,
        /// Stop writing reports.
        #[arg(long, conflicts_with = "bucket")]
        clear: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The bridge's stdout is the guest's connection: no logging, no runtime.
    if let Command::ImdsBridge { socket } = &cli.command {
        return match nomuck_imds::bridge_stdio(socket) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    }
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("nomuck: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let file = FileConfig::load(cli.config.as_deref())?;
    init_logging(cli.log_format.or(file.log_format).unwrap_or_default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let command = match cli.command {
            Command::Instance(InstanceCommand::Ssh {
                identity,
                user,
                instance_id,
                command,
            }) => {
                let args = instance_cmd::SshArgs {
                    identity,
                    user,
                    instance_id,
                    command,
                };
                return instance_cmd::ssh(&config::data_dir(cli.data_dir, &file), args).await;
            }
            other => other,
        };
        match command {
            Command::Serve(args) => {
                let config = ServeConfig::resolve(
                    Overrides {
                        listen: args.listen,
                        ops_listen: args.ops_listen,
                        data_dir: cli.data_dir,
                        region: args.region,
                        max_connections: args.max_connections,
                        s3_domains: args.s3_domains,
                        s3_website_domains: args.s3_website_domains,
                        lifecycle_day_secs: args.lifecycle_day_secs,
                        access_log_flush_secs: args.access_log_flush_secs,
                        allow_sse_c_over_http: args.allow_sse_c_over_http,
                        webhook_allowed_hosts: args.webhook_allowed_hosts,
                        compute_enabled: args.compute,
                        accelerator: args.accelerator,
                        stop_grace_secs: args.stop_grace_secs,
                        terminated_retention_secs: args.terminated_retention_secs,
                        default_image: args.default_image,
                        fulfillment_enabled: args.fulfillment,
                        simulator_enabled: args.simulator,
                        simulator_speed: args.simulator_speed,
                        tls_cert: args.tls_cert,
                        tls_key: args.tls_key,
                        tls_self_signed: args.tls_self_signed,
                    },
                    &file,
                )?;
                serve::run(config).await
            }
            Command::Account(cmd) => {
                let accounts = Accounts::connect(&config::data_dir(cli.data_dir, &file)).await?;
                match cmd {
                    AccountCommand::Create { name, admin, json } => {
                        let account = accounts.create_account(&name, admin).await?;
                        if json {
                            println!("{}", serde_json::to_string_pretty(&account)?);
                        } else {
                            println!("created account {} ({})", account.name, account.account_id);
                        }
                        Ok(())
                    }
                    AccountCommand::List { json } => {
                        accounts_cmd::print_accounts(&accounts.list_accounts().await?, json)
                    }
                }
            }
            Command::ImdsBridge { .. } | Command::Instance(_) => Ok(()),
            Command::Center(cmd) => {
                let data_dir = config::data_dir(cli.data_dir, &file);
                let get = http::Method::GET;
                let call = match &cmd {
                    CenterCommand::List => center_cmd::CenterCall {
                        center: None, method: get, op: "", seller: None, body: None,
                    },
                    CenterCommand::Work { center } => center_cmd::CenterCall {
                        center: Some(center), method: get, op: "work", seller: None, body: None,
                    },
                    CenterCommand::Receive { center, seller, shipment, box_id, sku, quantity, condition, close } => {
                        center_cmd::CenterCall {
                            center: Some(center),
                            method: http::Method::POST,
                            op: "receipts",
                            seller: Some(seller),
                            body: Some(serde_json::json!({
                                "shipmentId": shipment, "close": close,
                                "boxes": [{"boxId": box_id, "items": [
                                    {"sellerSku": sku, "quantity": quantity, "condition": condition}]}],
                            }).to_string()),
                        }
                    }
                    CenterCommand::Call { center, method, operation, seller, body } => center_cmd::CenterCall {
                        center: Some(center),
                        method: method.clone(),
                        op: operation,
                        seller: seller.as_deref(),
                        body: body.clone(),
                    },
                };
                center_cmd::run(&data_dir, call).await
            }
            Command::Image(ImageCommand::BuildDefault) => {
                let config = ServeConfig::resolve(
                    Overrides {
                        data_dir: cli.data_dir,
                        ..Overrides::default()
                    },
                    &file,
                )?;
                image_cmd::build_default(&config).await
            }
            Command::Bill(cmd) => {
                let data_dir = config::data_dir(cli.data_dir, &file);
                let billing = config::BillingConfig::resolve(&file.billing)?;
                match cmd {
                    BillCommand::Show {
                        account,
                        month,
                        json,
                    } => {
                        bill_cmd::show(
                            &data_dir,
                            &billing,
                            account.as_deref(),
                            month.as_deref(),
                            json,
                        )
                        .await
                    }
                    BillCommand::Report {
                        account,
                        month,
                        out,
                    } => bill_cmd::report(&data_dir, &billing, account.as_deref(), &month, out).await,
                    BillCommand::ReportBucket {
                        account, bucket, ..
                    } => {
                        bill_cmd::set_report_bucket(&data_dir, &billing, &account, bucket.as_deref())
                            .await
                    }
                }
            }
            Command::Doctor => {
                let config = ServeConfig::resolve(Overrides::default(), &file)?;
                if doctor::run(&config) {
                    Ok(())
                } else {
                    anyhow::bail!("compute cannot run on this machine (see FAIL above)")
                }
            }
            Command::Bench(BenchCommand::S3(args)) => {
                nomuck_bench::run_and_print(args).await.map(|_| ())
            }
            Command::Lwa(cmd) => {
                let accounts = Accounts::connect(&config::data_dir(cli.data_dir, &file)).await?;
                match cmd {
                    LwaCommand::Create { account, json } => lwa_cmd::print_new_client(
                        &accounts.create_lwa_client(&account).await?,
                        json,
                    ),
                    LwaCommand::List { account, json } => lwa_cmd::print_clients(
                        &accounts.list_lwa_clients(account.as_deref()).await?,
                        json,
                    ),
                    LwaCommand::Revoke { client_id } => {
                        accounts.revoke_lwa_client(&client_id).await?;
                        println!("revoked {client_id}");
                        Ok(())
                    }
                }
            }
            Command::Key(cmd) => {
                let accounts = Accounts::connect(&config::data_dir(cli.data_dir, &file)).await?;
                match cmd {
                    KeyCommand::Create { account, json } => {
                        accounts_cmd::print_new_key(&accounts.create_key(&account).await?, json)
                    }
                    KeyCommand::List { account, json } => {
                        accounts_cmd::print_keys(&accounts.list_keys(&account).await?, json)
                    }
                    KeyCommand::Revoke { key_id } => {
                        accounts.revoke_key(&key_id).await?;
                        println!("revoked {key_id}");
                        Ok(())
                    }
                }
            }
        }
        .map(|()| ExitCode::SUCCESS)
    })
}

fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("NOMUCK_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal who has not asked for none (NO_COLOR): in a
    // file, a pipe or journald the escape codes are noise that breaks grep.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every flag and argument of every subcommand says what it is for in `--help`.
    #[test]
    fn every_argument_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {} (command)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "nomuck", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
        Cli::command().debug_assert();
    }
}
