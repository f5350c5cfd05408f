//! Compute's wiring: image objects read and written through the storage engine,
//! the compute options from the configuration, and the default image (built from
//! Debian packages with nomuck-guest, uploaded to storage, registered public).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use nomuck_compute::images::RegisterRequest;
use nomuck_compute::{Compute, ImageObjects, ObjectError};
use nomuck_meta::compute::ImagePart;
use nomuck_storage::{Caller, GetObjectRequest, PutObjectRequest, Storage, StorageError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where the default image's objects live (a bucket of the admin account).
pub const IMAGES_BUCKET: &str = "nomuck-images";
/// The name the default machine image is registered under (its kernel version appended).
pub const DEFAULT_IMAGE_PREFIX: &str = "nomuck-default";

/// The default image's root disk size (grown on demand: qcow2 is sparse).
const DEFAULT_DISK_SIZE: &str = "1G";

fn tempfile_in(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("tmp-{}", nomuck_compute::ids::new_id("build")));
    std::fs::create_dir_all(&path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(path)
}

/// Image bytes are objects in storage, read and written as the account.
pub struct StorageObjects(pub Arc<Storage>);

fn object_error(e: StorageError) -> ObjectError {
    match e {
        StorageError::NoSuchBucket(_)
        | StorageError::NoSuchKey { .. }
        | StorageError::NoSuchVersion
        | StorageError::VersionIsDeleteMarker { .. } => {
            ObjectError::NotFound(format!("The image object does not exist: {e}"))
        }
        StorageError::AccessDenied => {
            ObjectError::Denied("Access to the image object is denied".into())
        }
        other => ObjectError::Other(other.to_string()),
    }
}

fn caller(account: &str) -> Caller {
    Caller::account(
        account,
        format!("compute-{}", nomuck_compute::ids::new_id("req")),
    )
}

#[async_trait::async_trait]
impl ImageObjects for StorageObjects {
    async fn stat(&self, account: &str, bucket: &str, key: &str) -> Result<ImagePart, ObjectError> {
        let head = self
            .0
            .head_object(&caller(account), bucket, key, &GetObjectRequest::default())
            .await
            .map_err(object_error)?;
        Ok(ImagePart {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: head.info.version_id,
            etag: head.info.etag,
            size: head.info.size,
        })
    }

    async fn fetch(&self, account: &str, part: &ImagePart, dest: &Path) -> Result<(), ObjectError> {
        use futures_util::StreamExt;
        let got = self
            .0
            .get_object(
                &caller(account),
                &part.bucket,
                &part.key,
                GetObjectRequest {
                    version_id: part.version_id.clone(),
                    ..GetObjectRequest::default()
                },
            )
            .await
            .map_err(object_error)?;
        if got.info.etag != part.etag {
            return Err(ObjectError::NotFound(format!(
                "The image object {}/{} changed since the image was registered",
                part.bucket, part.key
            )));
        }
        let io = |e: std::io::Error| ObjectError::Other(format!("{}: {e}", dest.display()));
        let mut file = tokio::fs::File::create(dest).await.map_err(io)?;
        let mut body = got.body;
        while let Some(chunk) = body.next().await {
            file.write_all(&chunk.map_err(object_error)?)
                .await
                .map_err(io)?;
        }
        file.sync_all().await.map_err(io)?;
        Ok(())
    }

    async fn store(
        &self,
        account: &str,
        bucket: &str,
        key: &str,
        src: &Path,
    ) -> Result<ImagePart, ObjectError> {
        let c = caller(account);
        match self.0.create_bucket(&c, bucket, None, None).await {
            Ok(_) | Err(StorageError::BucketAlreadyOwnedByYou(_)) => {}
            Err(e) => return Err(object_error(e)),
        }
        let file = tokio::fs::File::open(src)
            .await
            .map_err(|e| ObjectError::Other(format!("{}: {e}", src.display())))?;
        let size = file.metadata().await.map(|m| m.len()).ok();
        let body = futures_util::stream::unfold(file, |mut f| async move {
            let mut buf = vec![0u8; 1 << 20];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok::<_, std::io::Error>(Bytes::from(buf)), f))
                }
                Err(e) => Some((Err(e), f)),
            }
        });
        let put = self
            .0
            .put_object(
                &c,
                bucket,
                key,
                PutObjectRequest {
                    content_length: size,
                    ..PutObjectRequest::default()
                },
                body,
            )
            .await
            .map_err(object_error)?;
        Ok(ImagePart {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: put.version_id,
            etag: put.etag,
            size: put.size,
        })
    }
}

/// Billing's cost reports, put into an account's bucket as that account,
/// through the same path (authorization, metering, events) as a client's PUT.
pub struct StorageReports(pub Arc<Storage>);

#[async_trait::async_trait]
impl nomuck_billing::ReportSink for StorageReports {
    async fn put(
        &self,
        account_id: &str,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> Result<(), String> {
        let c = Caller::account(
            account_id,
            format!("billing-{}", nomuck_compute::ids::new_id("req")),
        );
        let len = u64::try_from(body.len()).ok();
        let body =
            futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(body)) });
        self.0
            .put_object(
                &c,
                bucket,
                key,
                PutObjectRequest {
                    content_length: len,
                    ..PutObjectRequest::default()
                },
                body,
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The default guest's build directory: shared by every data directory of this
/// user (`NOMUCK_GUEST_CACHE`, else `~/.cache/nomuck/guest`), so it is built once.
pub fn guest_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NOMUCK_GUEST_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache/nomuck/guest")
}

/// Builds the default guest (or reuses the cached build), holding a lock on the
/// cache so concurrent servers build it once.
pub async fn build_guest(cache: PathBuf) -> anyhow::Result<nomuck_guest::GuestImage> {
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&cache)
            .with_context(|| format!("cannot create {}", cache.display()))?;
        let lock = std::fs::File::create(cache.join(".lock"))
            .with_context(|| format!("cannot lock {}", cache.display()))?;
        lock.lock()?;
        let image = nomuck_guest::build_default(&cache, &nomuck_guest::Options::default())
            .context("building the default guest from Debian packages")?;
        Ok(image)
    })
    .await?
}

/// Registers the default image (kernel, ramdisk, machine image, public) as the
/// admin account unless an image of that name is registered already. Returns its id.
pub async fn ensure_default_image(
    compute: &Compute,
    objects: &StorageObjects,
    admin: &str,
    guest: &nomuck_guest::GuestImage,
) -> anyhow::Result<String> {
    let name = format!("{DEFAULT_IMAGE_PREFIX}-{}", guest.kernel_version);
    if let Some(existing) = compute
        .visible_images(admin)
        .await?
        .into_iter()
        .find(|i| i.account_id == admin && i.name == name && i.image_type == "machine")
    {
        return Ok(existing.id);
    }
    let prefix = format!(
        "default/{}/{}",
        guest.kernel_version, &guest.manifest.recipe
    );
    let kernel_key = format!("{prefix}/vmlinux");
    let ramdisk_key = format!("{prefix}/initramfs.cpio");
    objects
        .store(admin, IMAGES_BUCKET, &kernel_key, &guest.vmlinux)
        .await
        .map_err(|e| anyhow::anyhow!("storing the kernel: {e}"))?;
    objects
        .store(admin, IMAGES_BUCKET, &ramdisk_key, &guest.initramfs)
        .await
        .map_err(|e| anyhow::anyhow!("storing the ramdisk: {e}"))?;
    let public = nomuck_compute::images::LaunchPermissionChange {
        public: Some(true),
        ..Default::default()
    };
    let mut parts = Vec::new();
    for (kind, key) in [("kernel", &kernel_key), ("ramdisk", &ramdisk_key)] {
        let image = compute
            .register_image(
                admin,
                RegisterRequest {
                    name: format!("{name}-{kind}"),
                    description: Some(format!(
                        "nomuck default guest {kind} (Debian {})",
                        guest.kernel_version
                    )),
                    location: Some(format!("{IMAGES_BUCKET}/{key}")),
                    ..RegisterRequest::default()
                },
            )
            .await?;
        compute
            .modify_launch_permission(admin, &image.id, public.clone(), false)
            .await?;
        parts.push(image.id);
    }
    // The root disk: an empty qcow2 (a few hundred KiB however large the disk)
    // that the guest's init formats on first boot; each instance writes to its
    // own overlay, so what it stores there survives stop and start.
    let scratch = tempfile_in(&compute.options().dir)?;
    let disk = scratch.join("disk.qcow2");
    let out = tokio::process::Command::new(&compute.options().qemu_img)
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&disk)
        .arg(DEFAULT_DISK_SIZE)
        .output()
        .await
        .context("running qemu-img")?;
    anyhow::ensure!(
        out.status.success(),
        "qemu-img create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let disk_key = format!("{prefix}/disk.qcow2");
    let stored = objects.store(admin, IMAGES_BUCKET, &disk_key, &disk).await;
    let _ = std::fs::remove_dir_all(&scratch);
    stored.map_err(|e| anyhow::anyhow!("storing the root disk: {e}"))?;
    let machine = compute
        .register_image(
            admin,
            RegisterRequest {
                name: name.clone(),
                location: Some(format!("{IMAGES_BUCKET}/{disk_key}")),
                description: Some(
                    "nomuck's default guest: Debian kernel, busybox, dropbear SSH; configures itself from the metadata service".into(),
                ),
                kernel_id: parts.first().cloned(),
                ramdisk_id: parts.get(1).cloned(),
                ..RegisterRequest::default()
            },
        )
        .await?;
    compute
        .modify_launch_permission(admin, &machine.id, public, false)
        .await?;
    tracing::info!(image = %machine.id, %name, "registered the default image");
    Ok(machine.id)
}
