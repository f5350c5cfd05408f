//! nomuck's default compute guest, built from Debian packages: the kernel of
//! `linux-image-amd64` as an uncompressed PVH `vmlinux` (QEMU `-M microvm`
//! boots it directly), and an initramfs with `busybox-static`, `dropbear` (and
//! the shared libraries it needs, from their own Debian packages), the virtio
//! and ext4 modules in load order, and an init (`assets/rcS`) that configures
//! the machine from the EC2 metadata service.
//!
//! Packages come from `apt-get download` and are unpacked with `dpkg-deb -x`:
//! nothing is installed on the host. A build is skipped when the candidate
//! package versions, the build options and this crate's assets are those the
//! previous build in the same directory recorded in its manifest.

mod cpio;
mod elf;
mod kernel;
mod modules;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use kernel::extract_vmlinux;

/// The init, run by busybox init as its `sysinit` action.
const RC_S: &str = include_str!("../assets/rcS");
/// udhcpc's event script: applies a lease to the interface.
const UDHCPC_SCRIPT: &str = include_str!("../assets/udhcpc.script");
const INITTAB: &str = include_str!("../assets/inittab");
const POWER_BUTTON: &str = "#!/bin/sh\n# The ACPI power button was pressed: shut down as `poweroff` does.\nexec poweroff\n";

/// Kernel command line the image expects: the serial console is where init
/// logs (and what GetConsoleOutput will show); `panic=-1` turns a panic into
/// a reboot, which QEMU run with `-no-reboot` reports as the guest stopping.
pub const CMDLINE_HINT: &str = "console=ttyS0 panic=-1";

/// Kernel arguments a guest run under TCG (software emulation) needs too.
/// `-M microvm` has no HPET or PM timer, so the kernel calibrates the TSC
/// against the PIT, which fails when the host is busy, and then boot hangs
/// ("tsc: Marking TSC unstable"). Giving the frequency skips calibration; under
/// TCG the guest's TSC follows the host's, so the host's frequency keeps guest
/// time right (2 GHz when the host does not say).
pub fn tcg_cmdline_extra() -> String {
    let mhz = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("cpu MHz")?
                    .split(':')
                    .nth(1)?
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
        });
    let khz = mhz
        .filter(|m| *m >= 100.0)
        .map_or(2_000_000, |m| (m * 1000.0) as u64);
    format!("tsc_early_khz={khz}")
}

#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    #[error("{0}")]
    Format(String),
}

impl GuestError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        GuestError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// The meta package whose `linux-image-*` dependency is the kernel.
    pub kernel_package: String,
    pub busybox_package: String,
    pub dropbear_package: String,
    /// Packages holding the shared libraries dropbear is linked against; each
    /// `DT_NEEDED` library must be found in one of them or the build fails.
    pub library_packages: Vec<String>,
    /// Modules to load at boot (their dependencies are added).
    pub modules: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            kernel_package: "linux-image-amd64".into(),
            busybox_package: "busybox-static".into(),
            dropbear_package: "dropbear-bin".into(),
            library_packages: [
                "libc6",
                "libcrypt1",
                "zlib1g",
                "libtomcrypt1",
                "libtommath1",
                "libgmp10",
            ]
            .map(String::from)
            .to_vec(),
            // virtio_mmio for -M microvm, virtio_pci for -M pc/q35; ext4 and
            // its checksum for a root disk (ext4 asks for crc32c by name,
            // which a system without modprobe cannot load on demand); the
            // ACPI power button and evdev, so that busybox acpid sees QEMU's
            // system_powerdown and powers off.
            modules: [
                "virtio_mmio",
                "virtio_pci",
                "virtio_net",
                "virtio_blk",
                "crc32c_generic",
                "ext4",
                "button",
                "evdev",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// What a build records, and what decides whether a later build can be skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// `(package, version)` for every package the image is made from.
    pub packages: Vec<(String, String)>,
    /// Hash of the build options, the init assets and this crate's version.
    pub recipe: String,
    pub kernel_version: String,
    /// Modules in the order init loads them.
    pub modules: Vec<String>,
    pub vmlinux_sha256: String,
    pub vmlinux_bytes: u64,
    pub initramfs_sha256: String,
    pub initramfs_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct GuestImage {
    pub vmlinux: PathBuf,
    /// A newc cpio archive, uncompressed (the kernel unpacks it as is).
    pub initramfs: PathBuf,
    pub kernel_version: String,
    pub cmdline_hint: &'static str,
    pub manifest: Manifest,
    /// False when the previous build was still current and was reused.
    pub rebuilt: bool,
}

/// Builds (or reuses) the default guest in `work_dir`, which also caches the
/// downloaded packages. Needs `apt-get`, `apt-cache` and `dpkg-deb`. One build
/// per `work_dir` at a time: the caller serializes them.
pub fn build_default(work_dir: &Path, options: &Options) -> Result<GuestImage, GuestError> {
    std::fs::create_dir_all(work_dir).map_err(|e| GuestError::io(work_dir, e))?;
    let packages = resolve_versions(options)?;
    let recipe = recipe_hash(options);
    let manifest_path = work_dir.join("manifest.json");
    let vmlinux = work_dir.join("vmlinux");
    let initramfs_path = work_dir.join("initramfs.cpio");
    if let Some(manifest) = read_manifest(&manifest_path)
        && manifest.packages == packages
        && manifest.recipe == recipe
        // Sizes, not hashes: rehashing 70 MB on every check is slow in debug
        // builds, and the outputs are only ever replaced whole (rename).
        && file_len(&vmlinux) == Some(manifest.vmlinux_bytes)
        && file_len(&initramfs_path) == Some(manifest.initramfs_bytes)
    {
        return Ok(GuestImage {
            vmlinux,
            initramfs: initramfs_path,
            kernel_version: manifest.kernel_version.clone(),
            cmdline_hint: CMDLINE_HINT,
            manifest,
            rebuilt: false,
        });
    }

    let root = work_dir.join("unpacked");
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(|e| GuestError::io(&root, e))?;
    }
    for (name, version) in &packages {
        let deb = download(&work_dir.join("debs"), name, version)?;
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root))?;
    }

    let (kernel_version, bzimage) = find_kernel(&root)?;
    let vmlinux_bytes = kernel::extract_vmlinux(&bzimage)?;
    let modules = modules::collect(
        &root.join("lib/modules").join(&kernel_version),
        &options.modules,
    )?;
    let initramfs_bytes = initramfs(&root, &kernel_version, &modules)?;

    let manifest = Manifest {
        packages,
        recipe,
        kernel_version: kernel_version.clone(),
        modules: modules.iter().map(|m| m.name.clone()).collect(),
        vmlinux_sha256: hex::encode(Sha256::digest(&vmlinux_bytes)),
        vmlinux_bytes: vmlinux_bytes.len() as u64,
        initramfs_sha256: hex::encode(Sha256::digest(&initramfs_bytes)),
        initramfs_bytes: initramfs_bytes.len() as u64,
    };
    write_atomic(&vmlinux, &vmlinux_bytes)?;
    write_atomic(&initramfs_path, &initramfs_bytes)?;
    // Last, so a crash part-way leaves no manifest claiming the outputs are current.
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
    write_atomic(&manifest_path, &json)?;
    std::fs::remove_dir_all(&root).map_err(|e| GuestError::io(&root, e))?;
    Ok(GuestImage {
        vmlinux,
        initramfs: initramfs_path,
        kernel_version,
        cmdline_hint: CMDLINE_HINT,
        manifest,
        rebuilt: true,
    })
}

fn recipe_hash(options: &Options) -> String {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION"));
    for part in [RC_S, UDHCPC_SCRIPT, INITTAB, POWER_BUTTON] {
        h.update(part);
        h.update([0]);
    }
    h.update(format!("{options:?}"));
    hex::encode(h.finalize())
}

fn read_manifest(path: &Path) -> Option<Manifest> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn file_len(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<(), GuestError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data).map_err(|e| GuestError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| GuestError::io(path, e))
}

fn run(command: &mut Command) -> Result<String, GuestError> {
    let shown = format!("{command:?}");
    let out = command.output().map_err(|e| GuestError::Command {
        command: shown.clone(),
        detail: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(GuestError::Command {
            command: shown,
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `apt-cache show` of the candidate versions, one call for all (each call
/// loads the package lists): for each package, its fields.
fn candidates(packages: &[String]) -> Result<Vec<BTreeMap<String, String>>, GuestError> {
    let text = run(Command::new("apt-cache")
        .args(["show", "--no-all-versions"])
        .args(packages))?;
    let stanzas: Vec<BTreeMap<String, String>> = text
        .split("\n\n")
        .map(|stanza| {
            stanza
                .lines()
                .filter_map(|line| line.split_once(": "))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect::<BTreeMap<_, _>>()
        })
        .filter(|fields| fields.contains_key("Package"))
        .collect();
    packages
        .iter()
        .map(|name| {
            stanzas
                .iter()
                .find(|f| f.get("Package") == Some(name))
                .cloned()
                .ok_or_else(|| {
                    GuestError::Format(format!("apt-cache show: no candidate for {name}"))
                })
        })
        .collect()
}

/// The exact packages and versions the image will be made from.
fn resolve_versions(options: &Options) -> Result<Vec<(String, String)>, GuestError> {
    // The meta package only depends on the versioned kernel package, which holds the files.
    let meta = candidates(std::slice::from_ref(&options.kernel_package))?.remove(0);
    let depends = meta.get("Depends").cloned().unwrap_or_default();
    let kernel = depends
        .split([',', '|'])
        .map(|d| d.split_whitespace().next().unwrap_or_default())
        .find(|d| d.starts_with("linux-image-"))
        .ok_or_else(|| {
            GuestError::Format(format!(
                "{}: no linux-image-* dependency in {depends:?}",
                options.kernel_package
            ))
        })?
        .to_owned();
    let mut names = vec![
        kernel,
        options.busybox_package.clone(),
        options.dropbear_package.clone(),
    ];
    names.extend(options.library_packages.iter().cloned());
    let fields = candidates(&names)?;
    names
        .into_iter()
        .zip(fields)
        .map(|(name, fields)| {
            let version = fields
                .get("Version")
                .cloned()
                .ok_or_else(|| GuestError::Format(format!("apt-cache show {name}: no Version")))?;
            Ok((name, version))
        })
        .collect()
}

/// `apt-get download NAME=VERSION` into its own directory under `debs`, once.
fn download(debs: &Path, name: &str, version: &str) -> Result<PathBuf, GuestError> {
    let dir = debs.join(format!("{name}_{}", version.replace(':', "%3a")));
    let find = |dir: &Path| -> Option<PathBuf> {
        std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "deb"))
    };
    if let Some(deb) = find(&dir) {
        return Ok(deb);
    }
    // Download beside, then rename: a half-downloaded file is never taken as cached.
    let partial = debs.join(format!(".partial-{name}"));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).map_err(|e| GuestError::io(&partial, e))?;
    run(Command::new("apt-get")
        .args(["download", "-q", &format!("{name}={version}")])
        .current_dir(&partial))?;
    std::fs::rename(&partial, &dir).map_err(|e| GuestError::io(&dir, e))?;
    find(&dir).ok_or_else(|| {
        GuestError::Format(format!("apt-get download {name}={version} left no .deb"))
    })
}

fn find_kernel(root: &Path) -> Result<(String, Vec<u8>), GuestError> {
    let boot = root.join("boot");
    for entry in std::fs::read_dir(&boot).map_err(|e| GuestError::io(&boot, e))? {
        let path = entry.map_err(|e| GuestError::io(&boot, e))?.path();
        if let Some(version) = path
            .file_name()
            .and_then(|f| f.to_str())
            .and_then(|f| f.strip_prefix("vmlinuz-"))
        {
            let data = std::fs::read(&path).map_err(|e| GuestError::io(&path, e))?;
            return Ok((version.to_owned(), data));
        }
    }
    Err(GuestError::Format(format!(
        "no vmlinuz-* in {}",
        boot.display()
    )))
}

const LIB_DIRS: [&str; 2] = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"];

/// Reads a file of the unpacked tree, following symlinks inside the tree
/// (an absolute link target means the tree's root, not the host's).
fn read_in_tree(root: &Path, rel: &str) -> Result<Vec<u8>, GuestError> {
    let mut path = root.join(rel.trim_start_matches('/'));
    for _ in 0..16 {
        let meta = std::fs::symlink_metadata(&path).map_err(|e| GuestError::io(&path, e))?;
        if !meta.file_type().is_symlink() {
            return std::fs::read(&path).map_err(|e| GuestError::io(&path, e));
        }
        let target = std::fs::read_link(&path).map_err(|e| GuestError::io(&path, e))?;
        path = if target.is_absolute() {
            root.join(target.strip_prefix("/").expect("absolute"))
        } else {
            path.parent().expect("inside root").join(target)
        };
    }
    Err(GuestError::Format(format!("{rel}: too many symlinks")))
}

/// The program's interpreter and every shared library it needs, transitively,
/// as (path in the guest, bytes).
fn shared_libraries(
    root: &Path,
    program: &[u8],
    what: &str,
) -> Result<Vec<(String, Vec<u8>)>, GuestError> {
    let elf = elf::Elf::parse(program, what)?;
    let mut files = Vec::new();
    if let Some(interp) = elf.interpreter()? {
        let name = Path::new(&interp)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let data = LIB_DIRS
            .iter()
            .find_map(|dir| read_in_tree(root, &format!("{dir}/{name}")).ok())
            .ok_or_else(|| {
                GuestError::Format(format!(
                    "{what}: interpreter {interp} is in none of the library packages"
                ))
            })?;
        files.push((interp.trim_start_matches('/').to_owned(), data));
    }
    let mut pending = elf.needed()?;
    let mut seen = Vec::new();
    while let Some(soname) = pending.pop() {
        if seen.contains(&soname) {
            continue;
        }
        seen.push(soname.clone());
        let data = LIB_DIRS
            .iter()
            .find_map(|dir| read_in_tree(root, &format!("{dir}/{soname}")).ok())
            .ok_or_else(|| {
                GuestError::Format(format!(
                    "{what} needs {soname}, which is in none of the library packages"
                ))
            })?;
        pending.extend(elf::Elf::parse(&data, &soname)?.needed()?);
        files.push((format!("lib/x86_64-linux-gnu/{soname}"), data));
    }
    Ok(files)
}

fn initramfs(
    root: &Path,
    kernel_version: &str,
    modules: &[modules::Module],
) -> Result<Vec<u8>, GuestError> {
    let busybox = read_in_tree(root, "bin/busybox")?;
    let dropbear = read_in_tree(root, "usr/sbin/dropbear")?;
    let dropbearkey = read_in_tree(root, "usr/bin/dropbearkey")?;
    let mut libraries = shared_libraries(root, &dropbear, "dropbear")?;
    for library in shared_libraries(root, &dropbearkey, "dropbearkey")? {
        if !libraries.iter().any(|(path, _)| *path == library.0) {
            libraries.push(library);
        }
    }
    let module_dir = format!("lib/modules/{kernel_version}");
    let load_order: String = modules.iter().map(|m| format!("{}\n", m.name)).collect();

    let io = |e| GuestError::io(Path::new("initramfs"), e);
    let mut w = cpio::CpioWriter::new(Vec::new());
    for dir in [
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "usr/share",
        "usr/share/udhcpc",
        "etc",
        "etc/init.d",
        "etc/dropbear",
        "dev",
        "proc",
        "sys",
        "run",
        "tmp",
        "var",
        "mnt",
        "lib",
        "lib64",
        "lib/x86_64-linux-gnu",
        "lib/modules",
        &module_dir,
    ] {
        w.dir(dir, 0o755).map_err(io)?;
    }
    w.dir("root", 0o700).map_err(io)?;
    // The kernel opens /dev/console for init before anything is mounted.
    w.char_device("dev/console", 0o600, 5, 1).map_err(io)?;
    w.file("bin/busybox", 0o755, &busybox).map_err(io)?;
    // The rest of the applet links are made by rcS (`busybox --install -s`).
    w.symlink("bin/sh", "busybox").map_err(io)?;
    w.symlink("init", "bin/busybox").map_err(io)?;
    w.symlink("var/run", "../run").map_err(io)?;
    w.file("etc/inittab", 0o644, INITTAB.as_bytes())
        .map_err(io)?;
    w.file("etc/init.d/rcS", 0o755, RC_S.as_bytes())
        .map_err(io)?;
    w.file(
        "usr/share/udhcpc/default.script",
        0o755,
        UDHCPC_SCRIPT.as_bytes(),
    )
    .map_err(io)?;
    w.file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")
        .map_err(io)?;
    w.file("etc/group", 0o644, b"root:x:0:\n").map_err(io)?;
    // dropbear refuses users whose shell is not listed here.
    w.file("etc/shells", 0o644, b"/bin/sh\n").map_err(io)?;
    // busybox acpid runs this on the power button (QEMU's system_powerdown).
    w.dir("etc/acpi", 0o755).map_err(io)?;
    w.dir("etc/acpi/PWRF", 0o755).map_err(io)?;
    w.file("etc/acpi/PWRF/00000080", 0o755, POWER_BUTTON.as_bytes())
        .map_err(io)?;
    w.file("usr/sbin/dropbear", 0o755, &dropbear).map_err(io)?;
    w.file("usr/bin/dropbearkey", 0o755, &dropbearkey)
        .map_err(io)?;
    for (path, data) in &libraries {
        w.file(path, 0o755, data).map_err(io)?;
    }
    for module in modules {
        w.file(
            &format!("{module_dir}/{}.ko", module.name),
            0o644,
            &module.data,
        )
        .map_err(io)?;
    }
    w.file(
        &format!("{module_dir}/load-order"),
        0o644,
        load_order.as_bytes(),
    )
    .map_err(io)?;
    w.finish().map_err(io)
}
