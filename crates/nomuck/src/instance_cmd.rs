//! `nomuck instance ssh`: SSH into an instance through the port nomuck forwards to
//! its port 22, found with DescribeInstances (the `nomuck:forwards` tag).
//!
//! The endpoint is `AWS_ENDPOINT_URL`, else the server of the data directory; the
//! credentials are `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, else the data
//! directory's admin key. The instance must belong to that account.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use bytes::Bytes;

use crate::admin_client::{AdminClient, credentials};

/// The tag DescribeInstances carries forwarded ports in (see nomuck-ec2).
const FORWARDS_TAG: &str = "nomuck:forwards";

pub struct SshArgs {
    pub identity: Option<PathBuf>,
    pub user: String,
    pub instance_id: String,
    pub command: Vec<String>,
}

pub(crate) fn client(data_dir: &Path) -> anyhow::Result<AdminClient> {
    let (endpoint, ca_bundle) = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.is_empty() => (url.trim_end_matches('/').to_owned(), None),
        _ => {
            let text =
                std::fs::read_to_string(data_dir.join("server.json")).with_context(|| {
                    format!(
                        "no server is running for {} (and AWS_ENDPOINT_URL is not set)",
                        data_dir.display()
                    )
                })?;
            let info: crate::data_dir::ServerInfo = serde_json::from_str(&text)?;
            (info.endpoint(), info.ca_bundle)
        }
    };
    let (id, secret) = credentials(data_dir)?;
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| crate::config::DEFAULT_REGION.to_owned());
    Ok(AdminClient::new(endpoint, id, secret, region).trusting(ca_bundle))
}

/// The host address and port forwarded to the instance's port 22.
async fn ssh_address(client: &AdminClient, instance_id: &str) -> anyhow::Result<String> {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "DescribeInstances")
        .append_pair("Version", "2016-11-15")
        .append_pair("InstanceId.1", instance_id)
        .finish();
    let (status, reply) = client
        .send(
            http::Method::POST,
            "/",
            "ec2",
            "application/x-www-form-urlencoded; charset=utf-8",
            Bytes::from(body),
        )
        .await?;
    let text = String::from_utf8_lossy(&reply);
    if !status.is_success() {
        let message = between(&text, "<Message>", "</Message>").unwrap_or(&text);
        bail!("{message}");
    }
    let state = between(&text, "<instanceState>", "</instanceState>")
        .and_then(|s| between(s, "<name>", "</name>"))
        .unwrap_or("unknown");
    let forwards = text
        .split("<item>")
        .find_map(|item| {
            (between(item, "<key>", "</key>") == Some(FORWARDS_TAG))
                .then(|| between(item, "<value>", "</value>"))
                .flatten()
        })
        .with_context(|| format!("instance {instance_id} is {state}; it has no SSH port"))?;
    forwards
        .split(',')
        .find_map(|f| f.strip_prefix("22="))
        .map(str::to_owned)
        .with_context(|| format!("instance {instance_id} has no port 22 forwarded"))
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = start + text.get(start..)?.find(close)?;
    text.get(start..end)
}

pub async fn ssh(data_dir: &Path, args: SshArgs) -> anyhow::Result<ExitCode> {
    let client = client(data_dir)?;
    let address = ssh_address(&client, &args.instance_id).await?;
    let (host, port) = address
        .rsplit_once(':')
        .context("the forwarded address has no port")?;
    let mut cmd = std::process::Command::new("ssh");
    cmd.args(["-p", port])
        .args(["-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null"])
        .args(["-o", "LogLevel=ERROR"])
        .args(["-o", "BatchMode=yes"]);
    if let Some(key) = &args.identity {
        cmd.arg("-i").arg(key).args(["-o", "IdentitiesOnly=yes"]);
    }
    cmd.arg(format!("{}@{host}", args.user));
    if !args.command.is_empty() {
        cmd.arg("--").args(&args.command);
    }
    let status = cmd
        .status()
        .context("cannot run ssh (install openssh-client)")?;
    Ok(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(255)),
        None => ExitCode::from(255),
    })
}
