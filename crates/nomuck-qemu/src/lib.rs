//! QEMU for nomuck's compute service, knowing nothing of HTTP, EC2 or the metadata
//! store:
//!
//! - [`qmp`]: a QMP client (commands with typed replies and errors, an event stream),
//!   robust against malformed input and against QEMU going away;
//! - [`cmdline`]: a guest's QEMU command line from a typed [`VmSpec`], and qcow2
//!   overlays over base images that are never modified;
//! - [`vm`]: supervision of QEMU processes that outlive nomuck ([`Vm::launch`],
//!   [`Vm::attach`] after a restart, state, power-down, kill), with the invariant that
//!   a QEMU started by nomuck is always either recorded in its instance directory or
//!   killed;
//! - [`accel`]: which accelerator to use (KVM only when it really works).
//!
//! Bounding how many guests boot at once is the caller's job.

pub mod accel;
pub mod cmdline;
pub mod qmp;
pub mod vm;

pub use accel::{Accel, Probe, probe_accelerator};
pub use cmdline::{
    GuestFwd, GuestFwdTarget, HostFwd, KernelBoot, Machine, PrivateNic, UserNet, VmSpec,
    create_overlay,
};
pub use qmp::{Event, EventKind, QmpClient, QmpError, QmpEvents};
pub use vm::{Exit, InstanceDir, QemuProcess, Vm, VmState};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{tool} failed ({status}): {stderr}")]
    Tool {
        tool: String,
        status: String,
        stderr: String,
    },
    #[error("a QEMU (pid {0}) already runs for this instance directory")]
    AlreadyRunning(i32),
    #[error("socket path {} is longer than the 107 bytes a unix socket allows", .0.display())]
    PathTooLong(PathBuf),
    /// QEMU did not come up; it has been killed. `log` is what it printed.
    #[error("QEMU did not start ({reason}; exit {exit:?}): {log}")]
    Start {
        exit: Exit,
        reason: String,
        log: String,
    },
    #[error("QEMU pid {pid}: {source}")]
    Qmp {
        pid: i32,
        #[source]
        source: QmpError,
    },
}
