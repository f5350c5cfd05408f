//! `nomuck doctor`: what this machine can do for compute, and why not when it cannot.

use std::path::Path;
use std::process::Command;

use crate::config::ServeConfig;

fn version_of(program: &Path, arg: &str) -> Option<String> {
    let out = Command::new(program).arg(arg).output().ok()?;
    let text = String::from_utf8_lossy(if out.stdout.is_empty() {
        &out.stderr
    } else {
        &out.stdout
    })
    .into_owned();
    Some(text.lines().next().unwrap_or_default().trim().to_owned())
}

fn line(ok: bool, what: &str, detail: &str) -> bool {
    println!("{} {what}: {detail}", if ok { "ok  " } else { "FAIL" });
    ok
}

/// Prints one line per check; false when compute cannot run here.
pub fn run(config: &ServeConfig) -> bool {
    let c = &config.compute;
    let mut ok = true;
    let qemu = version_of(&c.qemu_system, "--version");
    ok &= line(
        qemu.is_some(),
        "QEMU",
        &qemu.unwrap_or_else(|| {
            format!(
                "{} not found (install qemu-system-x86)",
                c.qemu_system.display()
            )
        }),
    );
    let img = version_of(&c.qemu_img, "--version");
    ok &= line(
        img.is_some(),
        "qemu-img",
        &img.unwrap_or_else(|| format!("{} not found (install qemu-utils)", c.qemu_img.display())),
    );
    let scratch = std::env::temp_dir().join(format!("nomuck-doctor-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&scratch);
    let probe = nomuck_qemu::accel::probe_accelerator_with_test_guest(
        c.accelerator,
        &c.qemu_system,
        &scratch,
        std::time::Duration::from_secs(5),
    );
    let _ = std::fs::remove_dir_all(&scratch);
    line(
        true,
        "accelerator",
        &format!("{:?}: {}", probe.accel, probe.reason),
    );
    for (program, package, why) in [
        ("ssh-keygen", "openssh-client", "CreateKeyPair"),
        ("ssh", "openssh-client", "nomuck instance ssh"),
        ("apt-get", "apt", "building the default image"),
        ("dpkg-deb", "dpkg", "building the default image"),
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .is_ok_and(|o| o.status.success());
        ok &= line(
            found,
            program,
            &if found {
                format!("present ({why})")
            } else {
                format!("missing: install {package} ({why})")
            },
        );
    }
    let cache = crate::compute::guest_cache_dir();
    let built = cache.join("manifest.json").exists();
    line(
        true,
        "default guest",
        &if built {
            format!("built in {}", cache.display())
        } else {
            format!(
                "not built yet; the server builds it at first start into {}",
                cache.display()
            )
        },
    );
    let memory = crate::serve::host_memory_mib();
    line(
        true,
        "capacity",
        &format!(
            "{memory} MiB of memory; instances may claim {} MiB (memory_overcommit {}), {} per account, {} booting at once",
            (memory as f64 * c.memory_overcommit) as u64,
            c.memory_overcommit,
            c.max_instances_per_account,
            c.launch_workers
        ),
    );
    ok
}
