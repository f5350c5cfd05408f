//! Images kept in storage: a kernel (`aki-`), a ramdisk (`ari-`) or a machine
//! image (`ami-`: a root disk, or a kernel and ramdisk to boot). Registering
//! pins the object's version and copies it into the local image cache, where
//! guests boot from it; the kind is read from the bytes (an ELF or bzImage
//! kernel, a cpio or compressed ramdisk, a qcow2 or raw disk).

use std::io::Read;
use std::path::{Path, PathBuf};

use nomuck_meta::Mutation;
use nomuck_meta::compute::{ComputeMutation, ImageRecord, InstanceRecord, InstanceState};

use crate::runtime::BootFiles;
use crate::{Compute, ComputeError, ObjectError, ids, now_millis};

/// The kernel command line every kernel-booted guest gets (serial console, and
/// reboot rather than hang on a panic).
pub const BASE_CMDLINE: &str = "console=ttyS0 panic=-1";

pub fn may_launch(image: &ImageRecord, account: &str) -> bool {
    image.account_id == account
        || image.public
        || image.launch_accounts.iter().any(|a| a == account)
}

/// RegisterImage, in the domain's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterRequest {
    pub name: String,
    pub description: Option<String>,
    /// `bucket/key`; `None` registers a machine image of `kernel_id` and `ramdisk_id`.
    pub location: Option<String>,
    pub architecture: Option<String>,
    pub kernel_id: Option<String>,
    pub ramdisk_id: Option<String>,
    /// Extra kernel command line for instances of this machine image.
    pub kernel_cmdline: Option<String>,
    pub tags: Vec<(String, String)>,
    pub dry_run: bool,
}

/// A change of an image's launch permissions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LaunchPermissionChange {
    pub add_accounts: Vec<String>,
    pub remove_accounts: Vec<String>,
    /// `Some(true)`: add group `all`; `Some(false)`: remove it.
    pub public: Option<bool>,
}

fn object_error(e: ObjectError) -> ComputeError {
    match e {
        ObjectError::NotFound(m) | ObjectError::Denied(m) => ComputeError::InvalidValue(m),
        ObjectError::Other(m) => ComputeError::Internal(m),
    }
}

/// What the first bytes of an image say it is: `(image type, disk format)`.
fn sniff(path: &Path) -> Result<(&'static str, Option<&'static str>), ComputeError> {
    let mut head = vec![0u8; 4096];
    let mut f = std::fs::File::open(path).map_err(|e| ComputeError::Internal(e.to_string()))?;
    let n = f
        .read(&mut head)
        .map_err(|e| ComputeError::Internal(e.to_string()))?;
    head.truncate(n);
    let at = |i: usize, magic: &[u8]| head.get(i..i + magic.len()) == Some(magic);
    Ok(if at(0, b"\x7fELF") || at(0x202, b"HdrS") {
        ("kernel", None)
    } else if at(0, b"070701")
        || at(0, b"\x1f\x8b")
        || at(0, b"\xfd7zXZ")
        || at(0, b"\x28\xb5\x2f\xfd")
    {
        ("ramdisk", None)
    } else if at(0, b"QFI\xfb") {
        ("machine", Some("qcow2"))
    } else if n >= 512 {
        ("machine", Some("raw"))
    } else {
        return Err(ComputeError::InvalidValue(
            "The image object is neither a kernel, a ramdisk nor a disk image".into(),
        ));
    })
}

impl Compute {
    fn cache_path(&self, image_id: &str) -> PathBuf {
        self.opts.dir.join("images").join(image_id)
    }

    /// The cached bytes of `image`, fetched from storage when missing.
    async fn cached(&self, image: &ImageRecord) -> Result<PathBuf, ComputeError> {
        let path = self.cache_path(&image.id);
        if path.exists() {
            return Ok(path);
        }
        let part = image
            .part
            .as_ref()
            .ok_or_else(|| ComputeError::Internal(format!("image {} has no object", image.id)))?;
        let partial = path.with_extension("partial");
        self.objects
            .fetch(&image.account_id, part, &partial)
            .await
            .map_err(object_error)?;
        std::fs::rename(&partial, &path).map_err(|e| ComputeError::Internal(e.to_string()))?;
        Ok(path)
    }

    pub async fn register_image(
        &self,
        account: &str,
        req: RegisterRequest,
    ) -> Result<ImageRecord, ComputeError> {
        if let Some(other) = self
            .records()
            .images()
            .await?
            .into_iter()
            .find(|i| i.account_id == account && i.name == req.name)
        {
            return Err(ComputeError::ImageNameTaken(req.name, other.id));
        }
        for (id, kind) in [(&req.kernel_id, "kernel"), (&req.ramdisk_id, "ramdisk")] {
            if let Some(id) = id {
                let ok = self
                    .records()
                    .image(id)
                    .await?
                    .is_some_and(|i| i.image_type == kind && may_launch(&i, account));
                if !ok {
                    return Err(ComputeError::ImageNotFound(vec![id.clone()]));
                }
            }
        }
        let (part, fetched) = match &req.location {
            Some(location) => {
                let (bucket, key) = location
                    .split_once('/')
                    .filter(|(b, k)| !b.is_empty() && !k.is_empty())
                    .ok_or_else(|| {
                        ComputeError::InvalidValue(format!(
                            "Invalid value '{location}' for ImageLocation: expected bucket/key"
                        ))
                    })?;
                let part = self
                    .objects
                    .stat(account, bucket, key)
                    .await
                    .map_err(object_error)?;
                if req.dry_run {
                    return Err(ComputeError::DryRun);
                }
                let scratch = self
                    .opts
                    .dir
                    .join("images")
                    .join(format!("{}.partial", ids::new_id("fetch")));
                self.objects
                    .fetch(account, &part, &scratch)
                    .await
                    .map_err(object_error)?;
                (Some(part), Some(scratch))
            }
            None => {
                if req.kernel_id.is_none() {
                    return Err(ComputeError::MissingParameter("ImageLocation".into()));
                }
                if req.dry_run {
                    return Err(ComputeError::DryRun);
                }
                (None, None)
            }
        };
        let (image_type, disk_format) = match &fetched {
            Some(path) => match sniff(path) {
                Ok(kind) => kind,
                Err(e) => {
                    let _ = std::fs::remove_file(path);
                    return Err(e);
                }
            },
            None => ("machine", None),
        };
        let prefix = match image_type {
            "kernel" => "aki",
            "ramdisk" => "ari",
            _ => "ami",
        };
        let record = ImageRecord {
            id: ids::new_id(prefix),
            account_id: account.to_owned(),
            name: req.name,
            description: req.description.unwrap_or_default(),
            image_type: image_type.into(),
            architecture: req.architecture.unwrap_or_else(|| "x86_64".into()),
            location: req.location.unwrap_or_default(),
            part,
            disk_format: disk_format.map(str::to_owned),
            kernel_id: req.kernel_id.filter(|_| image_type == "machine"),
            ramdisk_id: req.ramdisk_id.filter(|_| image_type == "machine"),
            kernel_cmdline: req.kernel_cmdline,
            state: "available".into(),
            public: false,
            launch_accounts: Vec::new(),
            tags: req.tags,
            created_at: now_millis(),
            generation: 1,
        };
        if let Some(path) = fetched {
            std::fs::rename(&path, self.cache_path(&record.id))
                .map_err(|e| ComputeError::Internal(e.to_string()))?;
        }
        self.commit(vec![Mutation::Compute(ComputeMutation::PutImage {
            record: Box::new(record.clone()),
            expect_generation: None,
        })])
        .await?;
        Ok(record)
    }

    /// Images `account` may see: its own, public ones and those it may launch.
    pub async fn visible_images(&self, account: &str) -> Result<Vec<ImageRecord>, ComputeError> {
        Ok(self
            .records()
            .images()
            .await?
            .into_iter()
            .filter(|i| may_launch(i, account))
            .collect())
    }

    /// An image `account` owns (for changes).
    pub async fn own_image(&self, account: &str, id: &str) -> Result<ImageRecord, ComputeError> {
        self.records()
            .image(id)
            .await?
            .filter(|i| i.account_id == account)
            .ok_or_else(|| ComputeError::ImageNotFound(vec![id.to_owned()]))
    }

    /// An image `account` may see (for attribute reads).
    pub async fn visible_image(
        &self,
        account: &str,
        id: &str,
    ) -> Result<ImageRecord, ComputeError> {
        self.records()
            .image(id)
            .await?
            .filter(|i| may_launch(i, account))
            .ok_or_else(|| ComputeError::ImageNotFound(vec![id.to_owned()]))
    }

    pub async fn deregister_image(
        &self,
        account: &str,
        id: &str,
        dry_run: bool,
    ) -> Result<(), ComputeError> {
        self.own_image(account, id).await?;
        if dry_run {
            return Err(ComputeError::DryRun);
        }
        self.commit(vec![Mutation::Compute(ComputeMutation::DeleteImage {
            id: id.to_owned(),
        })])
        .await?;
        let _ = std::fs::remove_file(self.cache_path(id));
        Ok(())
    }

    /// Changes an owned image with `f` (attributes, launch permissions, tags).
    pub async fn update_image<F>(
        &self,
        account: &str,
        id: &str,
        f: F,
    ) -> Result<ImageRecord, ComputeError>
    where
        F: Fn(&mut ImageRecord) -> Result<(), ComputeError>,
    {
        for _ in 0..8 {
            let before = self.own_image(account, id).await?;
            let mut after = before.clone();
            f(&mut after)?;
            after.generation = before.generation + 1;
            match self
                .store
                .commit(vec![Mutation::Compute(ComputeMutation::PutImage {
                    record: Box::new(after.clone()),
                    expect_generation: Some(before.generation),
                })])
                .await
            {
                Ok(_) => return Ok(after),
                Err(nomuck_meta::MetaError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ComputeError::Internal(format!(
            "image {id} kept changing; try again"
        )))
    }

    pub async fn modify_launch_permission(
        &self,
        account: &str,
        id: &str,
        change: LaunchPermissionChange,
        dry_run: bool,
    ) -> Result<(), ComputeError> {
        self.own_image(account, id).await?;
        if dry_run {
            return Err(ComputeError::DryRun);
        }
        self.update_image(account, id, |i| {
            if let Some(public) = change.public {
                i.public = public;
            }
            for a in &change.add_accounts {
                if !i.launch_accounts.contains(a) {
                    i.launch_accounts.push(a.clone());
                }
            }
            i.launch_accounts
                .retain(|a| !change.remove_accounts.contains(a));
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// What `r` boots from: its machine image's disk and its kernel and ramdisk.
    pub(crate) async fn boot_files(&self, r: &InstanceRecord) -> Result<BootFiles, ComputeError> {
        let image = self
            .records()
            .image(&r.image_id)
            .await?
            .ok_or_else(|| ComputeError::ImageNotFound(vec![r.image_id.clone()]))?;
        let disk = match (&image.part, &image.disk_format) {
            (Some(_), Some(format)) => Some((self.cached(&image).await?, format.clone())),
            _ => None,
        };
        let mut files = BootFiles {
            kernel: None,
            initrd: None,
            cmdline: BASE_CMDLINE.into(),
            disk,
        };
        if let Some(extra) = &image.kernel_cmdline {
            files.cmdline.push(' ');
            files.cmdline.push_str(extra);
        }
        for (id, slot) in [
            (&r.kernel_id, &mut files.kernel),
            (&r.ramdisk_id, &mut files.initrd),
        ] {
            if let Some(id) = id {
                let part = self
                    .records()
                    .image(id)
                    .await?
                    .ok_or_else(|| ComputeError::ImageNotFound(vec![id.clone()]))?;
                *slot = Some(self.cached(&part).await?);
            }
        }
        Ok(files)
    }

    /// CreateImage: the stopped instance's disk, flattened into a standalone qcow2,
    /// stored as an object in the account's image bucket and registered.
    pub async fn create_image(
        &self,
        account: &str,
        instance_id: &str,
        name: &str,
        description: Option<String>,
        bucket: &str,
        dry_run: bool,
    ) -> Result<ImageRecord, ComputeError> {
        let r = self
            .describe_instances(account, &[instance_id.to_owned()])
            .await?
            .pop()
            .ok_or_else(|| ComputeError::InstanceNotFound(vec![instance_id.to_owned()]))?;
        if r.state != InstanceState::Stopped {
            return Err(ComputeError::IncorrectState(
                r.id,
                r.state.as_str().into(),
                "imaged",
            ));
        }
        let source = self.records().image(&r.image_id).await?;
        let overlay = self.runtime.dir_of(&r.id).join("disk.qcow2");
        if !overlay.exists() {
            return Err(ComputeError::Unsupported(format!(
                "Instance {} has no root disk to image",
                r.id
            )));
        }
        if dry_run {
            return Err(ComputeError::DryRun);
        }
        let flat = self
            .opts
            .dir
            .join("images")
            .join(format!("{}.qcow2.partial", ids::new_id("create")));
        let out = tokio::process::Command::new(&self.opts.qemu_img)
            .args(["convert", "-q", "-O", "qcow2"])
            .arg(&overlay)
            .arg(&flat)
            .output()
            .await
            .map_err(|e| ComputeError::Internal(format!("qemu-img: {e}")))?;
        if !out.status.success() {
            let _ = std::fs::remove_file(&flat);
            return Err(ComputeError::Internal(format!(
                "qemu-img convert failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let key = format!("images/{}/{}.qcow2", r.id, ids::new_id("disk"));
        let stored = self.objects.store(account, bucket, &key, &flat).await;
        let _ = std::fs::remove_file(&flat);
        stored.map_err(object_error)?;
        self.register_image(
            account,
            RegisterRequest {
                name: name.to_owned(),
                description,
                location: Some(format!("{bucket}/{key}")),
                architecture: Some("x86_64".into()),
                kernel_id: r.kernel_id.clone(),
                ramdisk_id: r.ramdisk_id.clone(),
                kernel_cmdline: source.and_then(|s| s.kernel_cmdline),
                tags: Vec::new(),
                dry_run: false,
            },
        )
        .await
    }
}
