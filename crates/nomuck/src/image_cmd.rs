//! `nomuck image build-default`: build the default guest from Debian packages, upload
//! it to storage and register it (kernel, ramdisk and machine image, public).
//!
//! With no server running it does so on the data directory itself. A running server
//! does the same at its start (unless `--default-image false`), so then this command
//! waits for that image to be registered and prints it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;

use crate::admin_client::{AdminClient, credentials};
use crate::config::ServeConfig;
use crate::data_dir::{Create, DataDir, OpenOutcome};

pub async fn build_default(config: &ServeConfig) -> anyhow::Result<()> {
    let data_dir = &config.data_dir;
    match DataDir::open(data_dir, Create::Never)? {
        OpenOutcome::Opened(dir) => {
            let storage = dir.storage(nomuck_storage::StorageOptions {
                default_region: config.edge.region.clone(),
                ..nomuck_storage::StorageOptions::default()
            })?;
            let objects = Arc::new(crate::compute::StorageObjects(storage.clone()));
            let probe = nomuck_qemu::probe_accelerator(config.compute.accelerator);
            let compute = crate::serve::new_compute(
                config,
                &dir,
                objects.clone(),
                probe.accel,
                Arc::new(tokio::sync::Notify::new()),
            )?;
            let id = crate::serve::provide_default_image(&compute, &objects, &dir.iam).await?;
            storage.shutdown().await?;
            println!("{id}");
            Ok(())
        }
        OpenOutcome::InUse {
            server: Some(server),
            ..
        } => {
            let (id, secret) = credentials(data_dir)?;
            let client =
                AdminClient::new(server.endpoint(), id, secret, config.edge.region.clone())
                    .trusting(server.ca_bundle.clone());
            eprintln!(
                "nomuck: a server (pid {}) holds {}; waiting for it to register the default image",
                server.pid,
                data_dir.display()
            );
            let deadline = Instant::now() + Duration::from_secs(600);
            loop {
                if let Some(id) = registered(&client).await? {
                    println!("{id}");
                    return Ok(());
                }
                if Instant::now() > deadline {
                    bail!(
                        "the server registered no default image in 10 minutes; its log says why \
                         (or it was started with --default-image false: stop it and run this again)"
                    );
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
        OpenOutcome::InUse { pid, server: None } => bail!(
            "data directory {} is in use by another nomuck process{}; wait for it to finish",
            data_dir.display(),
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
        ),
    }
}

/// The default machine image the server's account sees, if registered.
async fn registered(client: &AdminClient) -> anyhow::Result<Option<String>> {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "DescribeImages")
        .append_pair("Version", "2016-11-15")
        .append_pair("Filter.1.Name", "name")
        .append_pair(
            "Filter.1.Value.1",
            &format!("{}-*", crate::compute::DEFAULT_IMAGE_PREFIX),
        )
        .append_pair("Filter.2.Name", "image-type")
        .append_pair("Filter.2.Value.1", "machine")
        .finish();
    let (status, reply) = client
        .send(
            http::Method::POST,
            "/",
            "ec2",
            "application/x-www-form-urlencoded; charset=utf-8",
            Bytes::from(body),
        )
        .await
        .context("asking the server for its images")?;
    let text = String::from_utf8_lossy(&reply);
    if !status.is_success() {
        bail!("the server refused DescribeImages: {text}");
    }
    Ok(text
        .split("<imageId>")
        .nth(1)
        .and_then(|rest| rest.split("</imageId>").next())
        .map(str::to_owned))
}
