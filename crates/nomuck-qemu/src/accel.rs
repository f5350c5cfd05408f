//! Which accelerator guests run under: KVM only when it really works, else TCG.
//!
//! Static checks first: `/dev/kvm` must open read-write, and the `kvm_pvm` module must
//! be absent: PVM (paravirtual KVM, found on some cloud hosts) exposes `/dev/kvm` but
//! cannot boot stock kernels (a Debian kernel under `-enable-kvm` hangs forever).
//! Then, optionally, a test guest: a 64 KiB firmware image whose reset vector writes
//! to QEMU's `isa-debug-exit` port, so QEMU exits with a known status within
//! milliseconds if the accelerator executes guest code at all. The test guest catches a
//! KVM that cannot run anything (no nested virtualisation, broken module); it does
//! *not* catch PVM, which runs this 16-bit code fine (measured: exit 85 in 0.15 s) but
//! not a Linux kernel. Hence the static `kvm_pvm` check is what decides on such hosts.

use std::fmt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A QEMU accelerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualisation through `/dev/kvm`.
    Kvm,
    /// QEMU's software emulation (works everywhere, several times slower to boot).
    Tcg,
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The names EC2 reports as an instance's `Hypervisor` are different (`xen`,
        // `nitro`); these are QEMU's.
        f.write_str(match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        })
    }
}

impl std::str::FromStr for Accel {
    type Err = String;
    fn from_str(s: &str) -> Result<Accel, String> {
        match s {
            "kvm" => Ok(Accel::Kvm),
            "tcg" => Ok(Accel::Tcg),
            other => Err(format!(
                "unknown accelerator {other:?} (expected kvm or tcg)"
            )),
        }
    }
}

/// The probe's answer, with a reason for the log and `nomuck doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub accel: Accel,
    pub reason: String,
}

/// What the static checks look at, separated so the decision is testable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// `Err` says why `/dev/kvm` cannot be used.
    pub dev_kvm: Result<(), String>,
    pub kvm_pvm_loaded: bool,
}

impl HostFacts {
    pub fn of_this_host() -> HostFacts {
        let dev_kvm = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .map(drop)
            .map_err(|e| format!("/dev/kvm cannot be opened: {e}"));
        HostFacts {
            dev_kvm,
            kvm_pvm_loaded: Path::new("/sys/module/kvm_pvm").exists(),
        }
    }
}

/// The static decision: an operator's choice wins; otherwise KVM when `/dev/kvm` is
/// usable and is not PVM.
pub fn decide(forced: Option<Accel>, facts: &HostFacts) -> Probe {
    if let Some(accel) = forced {
        return Probe {
            accel,
            reason: format!("{accel} forced by the operator's setting"),
        };
    }
    let tcg = |reason: String| Probe {
        accel: Accel::Tcg,
        reason,
    };
    if let Err(why) = &facts.dev_kvm {
        return tcg(format!("{why}; using TCG (software emulation)"));
    }
    if facts.kvm_pvm_loaded {
        return tcg(
            "/dev/kvm is PVM (module kvm_pvm is loaded), which cannot boot stock kernels; \
             using TCG (software emulation)"
                .to_owned(),
        );
    }
    Probe {
        accel: Accel::Kvm,
        reason: "/dev/kvm is usable and not PVM".to_owned(),
    }
}

/// The static checks on this host.
pub fn probe_accelerator(forced: Option<Accel>) -> Probe {
    decide(forced, &HostFacts::of_this_host())
}

/// The static checks, then (when they choose KVM and the operator forced nothing) the
/// test guest under KVM; TCG if it does not finish within `timeout`.
pub fn probe_accelerator_with_test_guest(
    forced: Option<Accel>,
    qemu: &Path,
    scratch: &Path,
    timeout: Duration,
) -> Probe {
    let probe = probe_accelerator(forced);
    if forced.is_some() || probe.accel != Accel::Kvm {
        return probe;
    }
    match run_test_guest(qemu, Accel::Kvm, scratch, timeout) {
        Ok(took) => Probe {
            accel: Accel::Kvm,
            reason: format!("{}; a test guest ran under KVM in {took:?}", probe.reason),
        },
        Err(why) => Probe {
            accel: Accel::Tcg,
            reason: format!("a test guest failed under KVM ({why}); using TCG"),
        },
    }
}

/// The value the test guest writes to the `isa-debug-exit` port; QEMU then exits with
/// `(value << 1) | 1`.
const EXIT_VALUE: u8 = 0x2a;
const EXIT_STATUS: i32 = ((EXIT_VALUE as i32) << 1) | 1;

/// The test guest's firmware: 64 KiB (QEMU wants a multiple of 64 KiB) with code only
/// at the reset vector, 16 bytes below the top, where an x86 CPU starts in real mode.
pub fn test_guest_firmware() -> Vec<u8> {
    let mut image = vec![0u8; 64 * 1024];
    let code = [
        0xB0, EXIT_VALUE, // mov al, EXIT_VALUE
        0xE6, 0xF4, //       out 0xf4, al   (isa-debug-exit)
        0xFA, //             cli
        0xF4, //             hlt            (only reached if the port did nothing)
        0xEB, 0xFD, //       jmp hlt
    ];
    let at = image.len() - 16;
    image[at..at + code.len()].copy_from_slice(&code);
    image
}

/// Runs the test guest under `accel`; `Ok(elapsed)` when QEMU exits with the test
/// guest's status within `timeout`. `scratch` is a directory for the firmware file.
pub fn run_test_guest(
    qemu: &Path,
    accel: Accel,
    scratch: &Path,
    timeout: Duration,
) -> Result<Duration, String> {
    let firmware = scratch.join("nomuck-accel-test.bin");
    std::fs::write(&firmware, test_guest_firmware())
        .map_err(|e| format!("writing {}: {e}", firmware.display()))?;
    let start = Instant::now();
    let mut child = Command::new(qemu)
        .args(["-machine", "microvm", "-accel", &accel.to_string()])
        .args([
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-m",
            "16M",
        ])
        .arg("-bios")
        .arg(&firmware)
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=4"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", qemu.display()))?;
    let result = loop {
        match child.try_wait() {
            Ok(Some(status)) if status.code() == Some(EXIT_STATUS) => break Ok(start.elapsed()),
            Ok(Some(status)) => break Err(format!("QEMU exited with {status}")),
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("no exit within {timeout:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => break Err(e.to_string()),
        }
    };
    let _ = std::fs::remove_file(&firmware);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(dev_kvm: Result<(), String>, pvm: bool) -> HostFacts {
        HostFacts {
            dev_kvm,
            kvm_pvm_loaded: pvm,
        }
    }

    #[test]
    fn kvm_only_when_usable_and_not_pvm() {
        assert_eq!(decide(None, &facts(Ok(()), false)).accel, Accel::Kvm);
        let pvm = decide(None, &facts(Ok(()), true));
        assert_eq!(pvm.accel, Accel::Tcg);
        assert!(pvm.reason.contains("kvm_pvm"), "{}", pvm.reason);
        let none = decide(
            None,
            &facts(Err("/dev/kvm cannot be opened: nope".into()), false),
        );
        assert_eq!(none.accel, Accel::Tcg);
        assert!(none.reason.contains("/dev/kvm"), "{}", none.reason);
    }

    #[test]
    fn the_operator_wins() {
        let p = decide(Some(Accel::Kvm), &facts(Ok(()), true));
        assert_eq!(p.accel, Accel::Kvm);
        assert!(p.reason.contains("forced"));
        assert_eq!(
            decide(Some(Accel::Tcg), &facts(Ok(()), false)).accel,
            Accel::Tcg
        );
    }

    #[test]
    fn this_machine_is_tcg_because_of_pvm() {
        // The machine this project is developed on has PVM; elsewhere, say what it is.
        let facts = HostFacts::of_this_host();
        let probe = probe_accelerator(None);
        if facts.kvm_pvm_loaded {
            assert_eq!(probe.accel, Accel::Tcg);
            assert!(probe.reason.contains("kvm_pvm"), "{}", probe.reason);
        } else {
            assert_eq!(probe, decide(None, &facts));
        }
    }

    #[test]
    fn firmware_has_the_reset_vector_at_the_top() {
        let fw = test_guest_firmware();
        assert_eq!(fw.len(), 65536);
        assert_eq!(&fw[0xFFF0..0xFFF4], &[0xB0, 0x2A, 0xE6, 0xF4]);
        assert_eq!(EXIT_STATUS, 85);
    }

    #[test]
    fn accel_names_round_trip() {
        for a in [Accel::Kvm, Accel::Tcg] {
            assert_eq!(a.to_string().parse::<Accel>(), Ok(a));
        }
        assert!("xen".parse::<Accel>().is_err());
    }
}
