//! Supervision of QEMU processes that outlive nomuck.
//!
//! **Invariant: a QEMU started by nomuck is always either recorded in its instance
//! directory or killed.** The record is the pid file that QEMU itself writes (and
//! locks) first thing at start-up (`-pidfile`), before it opens any device, and
//! removes when it exits cleanly; nomuck writes nothing that could be lost between
//! spawning and recording. For the few milliseconds between exec and that write,
//! [`QemuProcess::find`] also recognises the process by its command line (a
//! `qemu-system-*` whose `-pidfile` argument is this directory's pid file). Every
//! error path of [`Vm::launch`] after the spawn kills the process before returning.
//!
//! **Detaching.** QEMU is spawned directly (not `-daemonize`) in a new session
//! (`setsid` between fork and exec): nomuck's process group and terminal signals
//! (Ctrl-C, `kill -- -PGID`, SIGHUP) do not reach it and nothing ties its life to
//! nomuck's, so `kill -9` of nomuck leaves guests running. Not `-daemonize` because
//! its double fork leaves an unreaped intermediate process behind whenever PID 1 does
//! not reap orphans (as in this project's containers), and it points QEMU's stderr at
//! /dev/null; spawned directly, QEMU stays nomuck's child until nomuck exits (so
//! nomuck reaps it and learns its exit status) and its stderr goes to `qemu.log` for
//! its whole life. Readiness is "the QMP socket answers", not a fork handshake.
//!
//! **Trusting a pid.** A pid read from a file may have been recycled. [`QemuProcess`]
//! opens a pidfd for it first and only then checks `/proc/PID/cmdline`: if the check
//! passes, the pidfd refers to that very QEMU, and every later signal goes through the
//! pidfd, so a pid reused after the check can never be signalled by mistake.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;

use crate::VmError;
use crate::cmdline::VmSpec;
use crate::qmp::{QmpClient, QmpError, QmpEvents};

/// How often [`Vm::powerdown`] presses the power button again.
pub const POWER_BUTTON_REPEAT: Duration = Duration::from_secs(2);

/// How long a launched QEMU may take until its QMP socket answers.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest unix socket path Linux accepts (`sun_path` is 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;

/// The directory holding one instance's QEMU files. Paths are absolute: they are
/// compared byte for byte with QEMU's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceDir {
    root: PathBuf,
    /// Where the unix sockets live: `root`, unless that path is too long for a socket
    /// (`sun_path` holds 107 bytes), see [`InstanceDir::with_sockets`].
    sockets: PathBuf,
}

impl InstanceDir {
    /// An existing directory, made absolute and canonical.
    pub fn new(path: &Path) -> Result<InstanceDir, VmError> {
        let root = path.canonicalize().map_err(|e| VmError::Io {
            what: format!("instance directory {}", path.display()),
            source: e,
        })?;
        Ok(InstanceDir {
            sockets: root.clone(),
            root,
        })
    }

    /// An existing directory whose unix sockets live in `sockets`, another existing
    /// directory with a short path (a data directory deep in a file system would make
    /// socket paths longer than the kernel allows).
    pub fn with_sockets(path: &Path, sockets: &Path) -> Result<InstanceDir, VmError> {
        let mut dir = InstanceDir::new(path)?;
        dir.sockets = sockets.canonicalize().map_err(|e| VmError::Io {
            what: format!("socket directory {}", sockets.display()),
            source: e,
        })?;
        Ok(dir)
    }

    /// For tests of the command line: no file system access.
    #[cfg(test)]
    pub(crate) fn new_unchecked(root: PathBuf) -> InstanceDir {
        InstanceDir {
            sockets: root.clone(),
            root,
        }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }
    /// Written and locked by QEMU while it runs; the record of the process.
    pub fn pidfile(&self) -> PathBuf {
        self.root.join("qemu.pid")
    }
    pub fn qmp_socket(&self) -> PathBuf {
        self.sockets.join("qmp.sock")
    }

    /// The directory of the instance's unix sockets.
    pub fn socket_dir(&self) -> &Path {
        &self.sockets
    }
    /// The guest's serial console (GetConsoleOutput reads it).
    pub fn console_log(&self) -> PathBuf {
        self.root.join("console.log")
    }
    /// QEMU's own stdout and stderr (warnings, errors), appended to across launches.
    pub fn qemu_log(&self) -> PathBuf {
        self.root.join("qemu.log")
    }
}

/// How a QEMU process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// It was not nomuck's child (adopted after a restart): its status went to its
    /// new parent.
    Unknown,
}

/// What the guest is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmState {
    Running,
    /// QEMU is alive but not running guest code; the QEMU run state says why
    /// (`paused` after `stop`, `io-error`, `internal-error`, `guest-panicked`, …).
    Paused(String),
    /// The guest powered off (or was powered down) and QEMU waits to be told to quit.
    Shutdown,
    /// No QEMU process any more.
    Gone,
}

/// A QEMU process verified to belong to one instance directory, held by pidfd.
/// Created and used inside a tokio runtime (the pidfd is registered with its reactor).
#[derive(Debug)]
pub struct QemuProcess {
    pid: i32,
    pidfd: AsyncFd<OwnedFd>,
    /// Set by the first reap: a child can be reaped only once.
    exit: std::sync::OnceLock<Exit>,
}

impl QemuProcess {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The live QEMU that owns `dir`, if any: the pid in its pid file, or failing that
    /// a process whose command line names that pid file. A pid whose process is not
    /// such a QEMU (exited, recycled for something else, another instance's QEMU) is
    /// never returned.
    pub fn find(dir: &InstanceDir) -> Result<Option<QemuProcess>, VmError> {
        let pidfile = dir.pidfile();
        if let Ok(text) = std::fs::read_to_string(&pidfile)
            && let Ok(pid) = text.trim().parse::<i32>()
            && let Some(p) = QemuProcess::verify(pid, &pidfile)?
        {
            return Ok(Some(p));
        }
        for pid in proc_pids()? {
            if let Some(p) = QemuProcess::verify(pid, &pidfile)? {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    /// Pins `pid` with a pidfd, then checks it is a QEMU for `pidfile`.
    fn verify(pid: i32, pidfile: &Path) -> Result<Option<QemuProcess>, VmError> {
        if pid <= 0 {
            return Ok(None);
        }
        let fd = match pidfd_open(pid) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
            Err(e) => {
                return Err(VmError::Io {
                    what: format!("pidfd_open({pid})"),
                    source: e,
                });
            }
        };
        // Read after the pidfd exists: if this is our QEMU now, the pidfd is it.
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            return Ok(None);
        };
        if !is_qemu_for(&cmdline, pidfile) {
            return Ok(None);
        }
        Ok(Some(QemuProcess::from_pidfd(pid, fd)?))
    }

    fn from_pidfd(pid: i32, fd: OwnedFd) -> Result<QemuProcess, VmError> {
        // SAFETY: the OwnedFd moves into the AsyncFd, which keeps it open until dropped.
        let pidfd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
            .map_err(|e| VmError::Io {
            what: "registering pidfd".into(),
            source: e.into_parts().1,
        })?;
        Ok(QemuProcess {
            pid,
            pidfd,
            exit: std::sync::OnceLock::new(),
        })
    }

    /// True once the process has exited (a zombie counts as exited).
    pub fn has_exited(&self) -> bool {
        let mut p = libc::pollfd {
            fd: self.pidfd.get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n > 0 && p.revents & libc::POLLIN != 0
    }

    /// Waits for the process to exit, reaps it when it is nomuck's child, and says
    /// how it ended.
    pub async fn wait_exit(&self) -> Exit {
        loop {
            if self.has_exited() {
                break;
            }
            match self.pidfd.readable().await {
                Ok(mut guard) => guard.clear_ready(),
                // Cannot happen for a registered pidfd; fall back to polling.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        self.reap()
    }

    fn reap(&self) -> Exit {
        *self.exit.get_or_init(|| self.waitid())
    }

    fn waitid(&self) -> Exit {
        // SAFETY: zeroed siginfo_t is a valid out-parameter for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let fd = self.pidfd.get_ref().as_raw_fd();
        // SAFETY: waitid on our pidfd with a valid siginfo pointer.
        let rc = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                fd as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG,
            )
        };
        // ECHILD: not our child (adopted after a nomuck restart); its parent reaps it.
        if rc != 0 {
            return Exit::Unknown;
        }
        // SAFETY: waitid filled `info` for a child that exited.
        let status = unsafe { info.si_status() };
        match info.si_code {
            libc::CLD_EXITED => Exit::Code(status),
            libc::CLD_KILLED | libc::CLD_DUMPED => Exit::Signal(status),
            _ => Exit::Unknown,
        }
    }

    /// SIGKILL through the pidfd, then waits for the exit.
    pub async fn kill(&self) -> Exit {
        if !self.has_exited() {
            // ESRCH (already gone) is fine; nothing else can fail for our pidfd.
            let _ = pidfd_send_signal(self.pidfd.get_ref(), libc::SIGKILL);
        }
        self.wait_exit().await
    }
}

impl Drop for QemuProcess {
    fn drop(&mut self) {
        // An exited child nobody waited for would stay a zombie while nomuck runs.
        if self.exit.get().is_none() && self.has_exited() {
            self.reap();
        }
    }
}

/// A running QEMU and its QMP session. Dropping a `Vm` closes the session only: the
/// guest keeps running and [`Vm::attach`] finds it again. While this nomuck runs, QEMU
/// is its child: keep one handle per guest and end with [`Vm::wait_exit`],
/// [`Vm::kill`] or [`Vm::powerdown`] (which reap it), or a guest that exits after its
/// last handle was dropped stays a zombie until nomuck exits.
pub struct Vm {
    dir: InstanceDir,
    process: QemuProcess,
    qmp: QmpClient,
    events: Option<QmpEvents>,
}

impl Vm {
    /// Starts QEMU for `spec` in `dir` and connects to it. Refuses when a QEMU already
    /// owns `dir`. On any failure after the spawn the process is killed.
    pub async fn launch(qemu: &Path, spec: &VmSpec, dir: &InstanceDir) -> Result<Vm, VmError> {
        if let Some(p) = QemuProcess::find(dir)? {
            return Err(VmError::AlreadyRunning(p.pid));
        }
        let socket = dir.qmp_socket();
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(VmError::PathTooLong(socket));
        }
        // Leftovers of a QEMU that was killed: no live process owns them (checked above).
        let mut stale = vec![socket.clone(), dir.pidfile()];
        stale.extend(spec.private_nic.iter().map(|n| n.local.clone()));
        for path in stale {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(VmError::Io {
                        what: format!("removing {}", path.display()),
                        source: e,
                    });
                }
                _ => {}
            }
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.qemu_log())
            .map_err(|e| VmError::Io {
                what: format!("opening {}", dir.qemu_log().display()),
                source: e,
            })?;
        let log_len = log.metadata().map(|m| m.len()).unwrap_or(0);
        let log_err = log.try_clone().map_err(|e| VmError::Io {
            what: "duplicating the log fd".into(),
            source: e,
        })?;
        let mut cmd = Command::new(qemu);
        cmd.args(spec.args(dir))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| VmError::Io {
            what: format!("starting {}", qemu.display()),
            source: e,
        })?;
        let pid = child.id() as i32;
        // Our child cannot be recycled before we reap it, so this pidfd is surely it.
        let process = match pidfd_open(pid)
            .map_err(|e| VmError::Io {
                what: format!("pidfd_open({pid})"),
                source: e,
            })
            .and_then(|fd| QemuProcess::from_pidfd(pid, fd))
        {
            Ok(p) => p,
            Err(e) => {
                // Not supervisable: kill it rather than leave it running untracked.
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        // From here on the pidfd waits and reaps; the std handle is not needed.
        drop(child);
        match connect_when_ready(&process, &socket, START_TIMEOUT).await {
            Ok((qmp, events)) => Ok(Vm {
                dir: dir.clone(),
                process,
                qmp,
                events: Some(events),
            }),
            Err(e) => {
                let exit = process.kill().await;
                let log = read_from(&dir.qemu_log(), log_len);
                Err(VmError::Start {
                    exit,
                    reason: e.to_string(),
                    log,
                })
            }
        }
    }

    /// Re-attaches to the QEMU that owns `dir` (after a nomuck restart): `Ok(None)`
    /// when no live QEMU owns it. An owned QEMU whose QMP socket does not answer is an
    /// error; the caller may then [`QemuProcess::find`] and kill it. QEMU serves one
    /// QMP session at a time, so attaching while another session is open (a second
    /// handle in this process) times out after [`crate::qmp::HANDSHAKE_TIMEOUT`]; a
    /// killed nomuck's session is closed by the kernel and does not get in the way.
    pub async fn attach(dir: &InstanceDir) -> Result<Option<Vm>, VmError> {
        let Some(process) = QemuProcess::find(dir)? else {
            return Ok(None);
        };
        // Found by command line before it created its socket: give it a moment.
        match connect_when_ready(&process, &dir.qmp_socket(), Duration::from_secs(10)).await {
            Ok((qmp, events)) => Ok(Some(Vm {
                dir: dir.clone(),
                process,
                qmp,
                events: Some(events),
            })),
            Err(_) if process.has_exited() => Ok(None),
            Err(e) => Err(VmError::Qmp {
                pid: process.pid,
                source: e,
            }),
        }
    }

    pub fn pid(&self) -> i32 {
        self.process.pid
    }

    pub fn dir(&self) -> &InstanceDir {
        &self.dir
    }

    pub fn qmp(&self) -> &QmpClient {
        &self.qmp
    }

    /// The QMP event stream (once; later calls return `None`).
    pub fn take_events(&mut self) -> Option<QmpEvents> {
        self.events.take()
    }

    pub async fn state(&self) -> Result<VmState, VmError> {
        if self.process.has_exited() {
            return Ok(VmState::Gone);
        }
        match self.qmp.query_status().await {
            Ok(s) => Ok(match s.status.as_str() {
                "running" => VmState::Running,
                "shutdown" => VmState::Shutdown,
                other => VmState::Paused(other.to_owned()),
            }),
            Err(e) => {
                // The session ends when QEMU exits; tell that apart from a broken one.
                let exited = tokio::time::timeout(Duration::from_secs(1), self.process.wait_exit());
                match exited.await {
                    Ok(_) => Ok(VmState::Gone),
                    Err(_) => Err(VmError::Qmp {
                        pid: self.process.pid,
                        source: e,
                    }),
                }
            }
        }
    }

    /// Presses the power button and gives the guest `grace` to power off; QEMU is then
    /// told to quit. Past `grace` (or when QMP fails) the process is killed. Returns
    /// once the process is gone. The button is pressed again every
    /// [`POWER_BUTTON_REPEAT`]: a guest still booting has no ACPI handler yet and
    /// misses the first press, as a real machine would.
    pub async fn powerdown(&self, grace: Duration) -> Exit {
        let deadline = Instant::now() + grace;
        if self.qmp.system_powerdown().await.is_ok() {
            let mut pressed = Instant::now();
            loop {
                if self.process.has_exited() {
                    return self.process.wait_exit().await;
                }
                if matches!(self.state().await, Ok(VmState::Shutdown)) {
                    let _ = self.qmp.quit().await;
                    let exited =
                        tokio::time::timeout(Duration::from_secs(5), self.process.wait_exit());
                    if let Ok(exit) = exited.await {
                        return exit;
                    }
                    break;
                }
                if Instant::now() >= deadline {
                    break;
                }
                if pressed.elapsed() >= POWER_BUTTON_REPEAT {
                    let _ = self.qmp.system_powerdown().await;
                    pressed = Instant::now();
                }
                let step = Duration::from_millis(100).min(deadline - Instant::now());
                let _ = tokio::time::timeout(step, self.process.wait_exit()).await;
            }
        }
        self.kill().await
    }

    /// Kills QEMU (SIGKILL), waits for it and removes its stale files.
    pub async fn kill(&self) -> Exit {
        let exit = self.process.kill().await;
        let _ = std::fs::remove_file(self.dir.qmp_socket());
        let _ = std::fs::remove_file(self.dir.pidfile());
        exit
    }

    pub async fn wait_exit(&self) -> Exit {
        self.process.wait_exit().await
    }
}

/// Retries connecting to the QMP socket until it answers, the process exits or
/// `timeout` passes.
async fn connect_when_ready(
    process: &QemuProcess,
    socket: &Path,
    timeout: Duration,
) -> Result<(QmpClient, QmpEvents), QmpError> {
    let deadline = Instant::now() + timeout;
    loop {
        if process.has_exited() {
            return Err(QmpError::Disconnected("QEMU exited".into()));
        }
        match QmpClient::connect(socket).await {
            Ok(c) => return Ok(c),
            // Not created yet, or created but not listening yet.
            Err(QmpError::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
                ) && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether a `/proc/PID/cmdline` is a QEMU started with `-pidfile pidfile`. The exact
/// pid file argument is what identifies the instance; the program name only needs to
/// start with `qemu` (`qemu-system-x86_64` on Debian, `qemu-kvm` on RHEL).
pub(crate) fn is_qemu_for(cmdline: &[u8], pidfile: &Path) -> bool {
    let mut args = cmdline.split(|&b| b == 0);
    let Some(argv0) = args.next() else {
        return false;
    };
    let exe = argv0.rsplit(|&b| b == b'/').next().unwrap_or_default();
    if !exe.starts_with(b"qemu") {
        return false;
    }
    let want = pidfile.as_os_str().as_bytes();
    let args: Vec<&[u8]> = args.collect();
    args.windows(2).any(|w| w[0] == b"-pidfile" && w[1] == want)
}

fn proc_pids() -> Result<Vec<i32>, VmError> {
    let entries = std::fs::read_dir("/proc").map_err(|e| VmError::Io {
        what: "listing /proc".into(),
        source: e,
    })?;
    Ok(entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect())
}

/// The tail of a log from `offset` (what this launch wrote), at most 4 KiB.
fn read_from(path: &Path, offset: u64) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = (offset as usize).min(bytes.len());
    let tail = &bytes[start..];
    let tail = &tail[tail.len().saturating_sub(4096)..];
    String::from_utf8_lossy(tail).trim().to_owned()
}

fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn pidfd_send_signal(fd: &OwnedFd, signal: i32) -> io::Result<()> {
    // SAFETY: valid pidfd, no siginfo, no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The arguments QEMU would be started with, for logs and for running the same
/// command line by hand (benchmarks compare the two).
pub fn command_line(qemu: &Path, spec: &VmSpec, dir: &InstanceDir) -> Vec<OsString> {
    let mut v = vec![qemu.as_os_str().to_owned()];
    v.extend(spec.args(dir));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmdline(args: &[&str]) -> Vec<u8> {
        let mut v = Vec::new();
        for a in args {
            v.extend_from_slice(a.as_bytes());
            v.push(0);
        }
        v
    }

    #[test]
    fn recognises_only_a_qemu_for_this_pidfile() {
        let pf = Path::new("/d/i-1/qemu.pid");
        let ours = cmdline(&[
            "/usr/bin/qemu-system-x86_64",
            "-name",
            "x",
            "-pidfile",
            "/d/i-1/qemu.pid",
        ]);
        assert!(is_qemu_for(&ours, pf));
        let relative_exe = cmdline(&["qemu-system-x86_64", "-pidfile", "/d/i-1/qemu.pid"]);
        assert!(is_qemu_for(&relative_exe, pf));
        let rhel = cmdline(&["/usr/libexec/qemu-kvm", "-pidfile", "/d/i-1/qemu.pid"]);
        assert!(is_qemu_for(&rhel, pf));
        for theirs in [
            cmdline(&["/usr/bin/qemu-system-x86_64", "-pidfile", "/d/i-2/qemu.pid"]),
            cmdline(&[
                "/usr/bin/qemu-system-x86_64",
                "-pidfile",
                "/d/i-1/qemu.pid.old",
            ]),
            cmdline(&["/bin/sleep", "-pidfile", "/d/i-1/qemu.pid"]),
            cmdline(&[
                "/bin/sh",
                "/usr/bin/qemu-system-x86_64",
                "-pidfile",
                "/d/i-1/qemu.pid",
            ]),
            cmdline(&["/usr/bin/qemu-system-x86_64", "-name", "/d/i-1/qemu.pid"]),
            Vec::new(), // a zombie's cmdline
        ] {
            assert!(
                !is_qemu_for(&theirs, pf),
                "{:?}",
                String::from_utf8_lossy(&theirs)
            );
        }
    }
}
