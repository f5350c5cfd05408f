//! Against real QEMU (`qemu-system-x86_64`, `qemu-img`, `qemu-io`, from Debian's
//! qemu-system-x86 and qemu-utils). Without them these tests FAIL, saying so, unless
//! NOMUCK_SKIP_QEMU_TESTS=1: a silently skipped test cannot catch anything.
//!
//! No guest OS is needed: QMP and the lifecycle work on a machine running only
//! firmware. Guests are tiny (64 MiB, 1 vCPU, TCG) and run one at a time; each is
//! killed by pid when its test ends, even on failure.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nomuck_qemu::qmp::QmpError;
use nomuck_qemu::{
    Accel, EventKind, Exit, GuestFwd, GuestFwdTarget, HostFwd, InstanceDir, Machine, PrivateNic,
    UserNet, Vm, VmError, VmSpec, VmState, create_overlay,
};

/// One guest at a time on this shared machine.
static ONE_GUEST: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("NOMUCK_SKIP_QEMU_TESTS").as_deref() == Ok("1") {
            eprintln!("skipped: {name} not found and NOMUCK_SKIP_QEMU_TESTS=1");
            return None;
        }
        panic!(
            "{name} not found on PATH: install QEMU (dev/setup installs qemu-system-x86 and \
             qemu-utils) or set NOMUCK_SKIP_QEMU_TESTS=1 to skip these tests"
        );
    }
    found
}

/// Kills (and reaps) the test's QEMU by pid when the test ends, also on panic. Only a
/// process that still is a QEMU for this instance directory is touched.
struct Guard {
    pid: Option<i32>,
    dir: PathBuf,
}

impl Guard {
    fn new(dir: &Path) -> Guard {
        Guard {
            pid: None,
            dir: dir.to_owned(),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Some(pid) = self.pid else { return };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let dir = self.dir.as_os_str().as_encoded_bytes();
        // SAFETY: plain syscalls on a pid we verified just now; waitpid only reaps
        // our own child (an exited QEMU is a zombie with an empty command line).
        unsafe {
            if cmdline.windows(dir.len()).any(|w| w == dir) {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            } else {
                libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG);
            }
        }
    }
}

fn alive(pid: i32) -> bool {
    // A zombie has an empty command line; it is not a running process.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

fn spec(name: &str) -> VmSpec {
    VmSpec {
        name: name.to_owned(),
        vcpus: 1,
        memory_mib: 64,
        machine: Machine::Microvm,
        accel: Accel::Tcg,
        firmware: None,
        kernel: None,
        root_disk: None,
        user_net: None,
        private_nic: None,
        start_paused: false,
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn sha(path: &Path) -> Vec<u8> {
    // Byte-identical is what matters; the content itself is the cheapest digest.
    std::fs::read(path).unwrap()
}

async fn next_kind(events: &mut nomuck_qemu::QmpEvents) -> Option<EventKind> {
    tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("event within 10 s")
        .map(|e| e.kind)
}

/// Every part of the command line against a real QEMU (overlay disk, restricted user
/// net with hostfwd and guestfwd, the private NIC), then QMP commands and events.
#[tokio::test]
async fn qmp_commands_and_events_against_real_qemu() {
    let (Some(qemu), Some(qemu_img), Some(qemu_io)) = (
        tool("qemu-system-x86_64"),
        tool("qemu-img"),
        tool("qemu-io"),
    ) else {
        return;
    };
    let _one = ONE_GUEST.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = InstanceDir::new(tmp.path()).unwrap();
    let mut guard = Guard::new(dir.path());

    let base = tmp.path().join("base.raw");
    std::fs::write(&base, vec![0x5a; 1 << 20]).unwrap();
    let before = sha(&base);
    let overlay = dir.path().join("root.qcow2");
    create_overlay(&qemu_img, &base, "raw", &overlay, None).unwrap();

    let port = free_port();
    let mut s = spec("i-qmp");
    s.root_disk = Some(overlay);
    s.user_net = Some(UserNet {
        mac: Some("52:54:00:00:00:01".into()),
        hostname: Some("i-qmp".into()),
        hostfwd: vec![HostFwd::loopback(port, 22)],
        guestfwd: vec![GuestFwd::metadata(GuestFwdTarget::Cmd("cat".into()))],
        outbound: false,
    });
    s.private_nic = Some(PrivateNic {
        mac: "52:54:00:00:01:01".into(),
        local: dir.path().join("nic1.sock"),
        switch: dir.path().join("switch.sock"),
    });
    let mut vm = Vm::launch(&qemu, &s, &dir).await.unwrap();
    guard.pid = Some(vm.pid());
    let mut events = vm.take_events().unwrap();
    assert!(vm.take_events().is_none());

    assert_eq!(vm.state().await.unwrap(), VmState::Running);
    // The host side of the SSH forward listens on loopback.
    TcpStream::connect(("127.0.0.1", port)).expect("hostfwd listens on 127.0.0.1");

    vm.qmp().stop().await.unwrap();
    assert_eq!(next_kind(&mut events).await, Some(EventKind::Stop));
    assert_eq!(vm.state().await.unwrap(), VmState::Paused("paused".into()));
    vm.qmp().cont().await.unwrap();
    assert_eq!(next_kind(&mut events).await, Some(EventKind::Resume));
    assert_eq!(vm.state().await.unwrap(), VmState::Running);
    vm.qmp().system_reset().await.unwrap();
    assert_eq!(
        next_kind(&mut events).await,
        Some(EventKind::Reset {
            guest: false,
            reason: "host-qmp-system-reset".into()
        })
    );

    let err = vm.qmp().execute("no-such-command", None).await.unwrap_err();
    assert!(
        matches!(&err, QmpError::Command { class, .. } if class == "CommandNotFound"),
        "{err}"
    );
    let name = vm.qmp().execute("query-name", None).await.unwrap();
    assert_eq!(name["name"], "i-qmp");

    let status = vm.qmp().human_monitor_command("info status").await.unwrap();
    assert_eq!(status.trim(), "VM status: running");
    // Writes of the running guest's disk go to the overlay, never the base (HMP's
    // qemu-io prints to QEMU's stdout, so the overlay is read back below).
    vm.qmp()
        .human_monitor_command("qemu-io root \"write -P 0xcd 0 64k\"")
        .await
        .unwrap();

    vm.qmp().quit().await.unwrap();
    assert_eq!(
        next_kind(&mut events).await,
        Some(EventKind::Shutdown {
            guest: false,
            reason: "host-qmp-quit".into()
        })
    );
    assert_eq!(next_kind(&mut events).await, None, "events end with QEMU");
    assert_eq!(vm.wait_exit().await, Exit::Code(0));
    assert_eq!(vm.state().await.unwrap(), VmState::Gone);
    assert!(!alive(vm.pid()));
    assert!(
        !dir.pidfile().exists(),
        "QEMU removes its pid file on a clean exit"
    );

    let read = Command::new(&qemu_io)
        .args(["-f", "qcow2", "-c", "read -P 0xcd 0 64k"])
        .arg(dir.path().join("root.qcow2"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&read.stdout);
    assert!(read.status.success() && !text.contains("fail"), "{text}");
    assert_eq!(sha(&base), before, "the base image changed");
}

/// nomuck "dies" (its handle and QMP session dropped): the guest keeps running in its
/// own session, is found again, and a power-down without a guest OS to obey it ends
/// in a kill at the deadline. Nothing is left.
#[tokio::test]
async fn guest_outlives_its_supervisor_and_is_reattached() {
    let Some(qemu) = tool("qemu-system-x86_64") else {
        return;
    };
    let _one = ONE_GUEST.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = InstanceDir::new(tmp.path()).unwrap();
    let mut guard = Guard::new(dir.path());

    let vm = Vm::launch(&qemu, &spec("i-detached"), &dir).await.unwrap();
    let pid = vm.pid();
    guard.pid = Some(pid);
    // SAFETY: getsid only reads.
    let (its_session, our_session) = unsafe { (libc::getsid(pid), libc::getsid(0)) };
    assert_eq!(its_session, pid, "QEMU leads its own session");
    assert_ne!(its_session, our_session);
    assert_eq!(
        std::fs::read_to_string(dir.pidfile()).unwrap().trim(),
        pid.to_string(),
        "QEMU recorded itself in the instance directory"
    );

    drop(vm);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(alive(pid), "the guest died with its supervisor");

    let err = Vm::launch(&qemu, &spec("i-detached"), &dir).await.err();
    assert!(
        matches!(err, Some(VmError::AlreadyRunning(p)) if p == pid),
        "{err:?}"
    );

    let vm = Vm::attach(&dir).await.unwrap().expect("re-attached");
    assert_eq!(vm.pid(), pid);
    assert_eq!(vm.state().await.unwrap(), VmState::Running);

    let started = std::time::Instant::now();
    let exit = vm.powerdown(Duration::from_secs(1)).await;
    assert_eq!(exit, Exit::Signal(libc::SIGKILL), "no OS obeys the button");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(!alive(pid));
    assert_eq!(vm.state().await.unwrap(), VmState::Gone);
    assert!(Vm::attach(&dir).await.unwrap().is_none());
    assert!(!dir.pidfile().exists() && !dir.qmp_socket().exists());
}

/// Not a test on its own: the "nomuck" that [`kill_9_of_the_supervisor_group_spares_the_guest`]
/// starts and kills. It launches a guest, prints its pid and waits to be killed.
#[tokio::test]
async fn supervisor_helper() {
    let Some(dir) = std::env::var_os("NOMUCK_QEMU_HELPER_DIR") else {
        return;
    };
    let qemu = tool("qemu-system-x86_64").unwrap();
    let dir = InstanceDir::new(Path::new(&dir)).unwrap();
    let vm = Vm::launch(&qemu, &spec("i-orphan"), &dir).await.unwrap();
    println!("QEMU_PID={}", vm.pid());
    tokio::time::sleep(Duration::from_secs(60)).await;
}

/// The real thing: the supervising process and its whole process group die by
/// SIGKILL (as `kill -9` of nomuck, or Ctrl-C's group signal); the guest lives on, in
/// its own session, and a new supervisor attaches to it.
#[tokio::test]
async fn kill_9_of_the_supervisor_group_spares_the_guest() {
    let Some(_qemu) = tool("qemu-system-x86_64") else {
        return;
    };
    let _one = ONE_GUEST.lock().await;
    // The orphaned QEMU is re-parented to us rather than to PID 1, so this test can
    // reap it (some container inits never reap orphans).
    // SAFETY: prctl with integer arguments.
    assert_eq!(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) }, 0);
    let tmp = tempfile::tempdir().unwrap();
    let dir = InstanceDir::new(tmp.path()).unwrap();
    let mut guard = Guard::new(dir.path());

    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "supervisor_helper", "--nocapture"])
        .env("NOMUCK_QEMU_HELPER_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(helper.stdout.take().unwrap());
    let pid: i32 = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("QEMU_PID=").map(|p| p.parse().unwrap()))
        .expect("the helper launched a guest");
    guard.pid = Some(pid);
    // SAFETY: signals our own child's process group.
    unsafe { libc::kill(-(helper.id() as i32), libc::SIGKILL) };
    helper.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        alive(pid),
        "the guest died with its supervisor's process group"
    );

    let vm = Vm::attach(&dir).await.unwrap().expect("re-attached");
    assert_eq!(vm.pid(), pid);
    assert_eq!(vm.state().await.unwrap(), VmState::Running);
    assert_eq!(vm.kill().await, Exit::Signal(libc::SIGKILL));
    assert!(!alive(pid));
}

/// A pid file whose pid is not this instance's QEMU (a recycled pid, another
/// instance's QEMU) is never trusted, and that process is left alone.
#[tokio::test]
async fn a_pid_file_pointing_elsewhere_is_refused() {
    let Some(qemu) = tool("qemu-system-x86_64") else {
        return;
    };
    let _one = ONE_GUEST.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let mine = tmp.path().join("i-mine");
    let other = tmp.path().join("i-other");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    let mine = InstanceDir::new(&mine).unwrap();
    let other = InstanceDir::new(&other).unwrap();

    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    std::fs::write(mine.pidfile(), format!("{}\n", sleeper.id())).unwrap();
    let found = Vm::attach(&mine).await;
    let still_running = sleeper.try_wait().unwrap().is_none();
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    assert!(found.unwrap().is_none(), "a non-QEMU pid was trusted");
    assert!(still_running, "the unrelated process was touched");

    let mut guard = Guard::new(other.path());
    let vm = Vm::launch(&qemu, &spec("i-other"), &other).await.unwrap();
    guard.pid = Some(vm.pid());
    std::fs::write(mine.pidfile(), format!("{}\n", vm.pid())).unwrap();
    assert!(
        Vm::attach(&mine).await.unwrap().is_none(),
        "another instance's QEMU was trusted"
    );
    std::fs::write(mine.pidfile(), "not a pid").unwrap();
    assert!(Vm::attach(&mine).await.unwrap().is_none());
    assert_eq!(vm.state().await.unwrap(), VmState::Running);

    // Without its pid file (QEMU not yet written it) a QEMU is still found by its
    // command line, so it can never be mistaken for absent and launched twice.
    // (QEMU serves one QMP session at a time: the old one goes first.)
    std::fs::remove_file(other.pidfile()).unwrap();
    let pid = vm.pid();
    drop(vm);
    let vm = Vm::attach(&other).await.unwrap().expect("found by /proc");
    assert_eq!(vm.pid(), pid);
    assert_eq!(vm.kill().await, Exit::Signal(libc::SIGKILL));
}

/// Firmware for `-M pc` that reboots the machine once (PIIX reset control, 0xCF9),
/// remembering that in CMOS (which survives a reset), and then powers off through
/// the PIIX4 ACPI PM1a control register: a guest reboot and a guest poweroff without
/// a guest OS.
fn reboot_then_poweroff_firmware() -> Vec<u8> {
    #[rustfmt::skip]
    let code: &[u8] = &[
        0xB0, 0x34, 0xE6, 0x70, 0xE4, 0x71, // CMOS[0x34] -> al
        0x84, 0xC0, 0x75, 0x12,             // test al, al; jnz poweroff
        0xB0, 0x34, 0xE6, 0x70, 0xB0, 0x01, 0xE6, 0x71, // CMOS[0x34] = 1
        0xBA, 0xF9, 0x0C, 0xB0, 0x06, 0xEE, // out 0xCF9, 6: reset
        0xFA, 0xF4, 0xEB, 0xFD,             // cli; hlt; jmp hlt
        // poweroff (0x1C): PM base 0xB000 (config 0x40) and enable (config 0x80) of
        // PIIX4 PM at 00:01.3, then SLP_EN with SLP_TYP 0 (soft off) to PM1a_CNT.
        0xBA, 0xF8, 0x0C, 0x66, 0xB8, 0x40, 0x0B, 0x00, 0x80, 0x66, 0xEF,
        0xBA, 0xFC, 0x0C, 0x66, 0xB8, 0x01, 0xB0, 0x00, 0x00, 0x66, 0xEF,
        0xBA, 0xF8, 0x0C, 0x66, 0xB8, 0x80, 0x0B, 0x00, 0x80, 0x66, 0xEF,
        0xBA, 0xFC, 0x0C, 0xB0, 0x01, 0xEE,
        0xBA, 0x04, 0xB0, 0xB8, 0x00, 0x20, 0xEF,
        0xFA, 0xF4, 0xEB, 0xFD,
    ];
    let mut image = vec![0u8; 64 * 1024];
    image[..code.len()].copy_from_slice(code);
    // Reset vector (F000:FFF0): jmp near to offset 0 of the image.
    image[0xFFF0..0xFFF3].copy_from_slice(&[0xE9, 0x0D, 0x00]);
    image
}

/// A guest reboot is a reboot (RESET, QEMU keeps running); a guest poweroff leaves
/// QEMU paused in `shutdown`, still visible after a re-attach, until it is told to
/// quit.
#[tokio::test]
async fn guest_reboot_resets_and_guest_poweroff_waits_in_shutdown() {
    let Some(qemu) = tool("qemu-system-x86_64") else {
        return;
    };
    let _one = ONE_GUEST.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = InstanceDir::new(tmp.path()).unwrap();
    let mut guard = Guard::new(dir.path());
    let firmware = dir.path().join("fw.bin");
    std::fs::write(&firmware, reboot_then_poweroff_firmware()).unwrap();

    let mut s = spec("i-power");
    s.machine = Machine::Pc;
    s.firmware = Some(firmware);
    s.start_paused = true;
    let mut vm = Vm::launch(&qemu, &s, &dir).await.unwrap();
    guard.pid = Some(vm.pid());
    let mut events = vm.take_events().unwrap();
    assert_eq!(
        vm.state().await.unwrap(),
        VmState::Paused("prelaunch".into())
    );
    vm.qmp().cont().await.unwrap();

    assert_eq!(next_kind(&mut events).await, Some(EventKind::Resume));
    assert_eq!(
        next_kind(&mut events).await,
        Some(EventKind::Reset {
            guest: true,
            reason: "guest-reset".into()
        })
    );
    assert_eq!(
        next_kind(&mut events).await,
        Some(EventKind::Shutdown {
            guest: true,
            reason: "guest-shutdown".into()
        })
    );
    assert_eq!(next_kind(&mut events).await, Some(EventKind::Stop));
    assert_eq!(vm.state().await.unwrap(), VmState::Shutdown);

    // A restarted nomuck still sees what happened.
    let pid = vm.pid();
    drop(events);
    drop(vm);
    let vm = Vm::attach(&dir).await.unwrap().expect("still there");
    assert_eq!(vm.pid(), pid);
    assert_eq!(vm.state().await.unwrap(), VmState::Shutdown);

    // Power-down of a guest already off: quit, a clean exit.
    assert_eq!(vm.powerdown(Duration::from_secs(10)).await, Exit::Code(0));
    assert!(!alive(pid));
}

#[test]
fn overlay_keeps_the_base_byte_identical() {
    let (Some(qemu_img), Some(qemu_io)) = (tool("qemu-img"), tool("qemu-io")) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for format in ["raw", "qcow2"] {
        let base = tmp.path().join(format!("base.{format}"));
        let status = Command::new(&qemu_img)
            .args(["create", "-q", "-f", format])
            .arg(&base)
            .arg("4M")
            .status()
            .unwrap();
        assert!(status.success());
        let before = sha(&base);
        let overlay = tmp.path().join(format!("over-{format}.qcow2"));
        create_overlay(&qemu_img, &base, format, &overlay, Some(8 << 20)).unwrap();

        let io = |cmd: &str| {
            let out = Command::new(&qemu_io)
                .args(["-f", "qcow2", "-c", cmd])
                .arg(&overlay)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success() && !text.contains("fail"),
                "{cmd}: {text}"
            );
        };
        io("write -P 0xcd 0 64k");
        io("read -P 0xcd 0 64k");
        io("write -P 0xee 7M 4k"); // beyond the base's end: the overlay grew
        assert_eq!(sha(&base), before, "{format} base image changed");

        let info = Command::new(&qemu_img)
            .args(["info", "--output=json"])
            .arg(&overlay)
            .output()
            .unwrap();
        let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        assert_eq!(info["backing-filename"], base.to_str().unwrap());
        assert_eq!(info["backing-filename-format"], format);
        assert_eq!(info["virtual-size"], 8 << 20);
    }
    // A missing base is an error, not an overlay over nothing.
    let err = create_overlay(
        &qemu_img,
        &tmp.path().join("missing.raw"),
        "raw",
        &tmp.path().join("x.qcow2"),
        None,
    );
    assert!(matches!(err, Err(VmError::Io { .. })), "{err:?}");
}

#[test]
fn accelerator_test_guest_runs_under_tcg() {
    let Some(qemu) = tool("qemu-system-x86_64") else {
        return;
    };
    let _one = ONE_GUEST.blocking_lock();
    let tmp = tempfile::tempdir().unwrap();
    let took =
        nomuck_qemu::accel::run_test_guest(&qemu, Accel::Tcg, tmp.path(), Duration::from_secs(20))
            .expect("the test guest exits with its status under TCG");
    assert!(took < Duration::from_secs(20));
}

#[tokio::test]
async fn a_qemu_that_cannot_start_is_reported_with_its_message() {
    let Some(qemu) = tool("qemu-system-x86_64") else {
        return;
    };
    let _one = ONE_GUEST.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = InstanceDir::new(tmp.path()).unwrap();
    let mut s = spec("i-bad");
    s.root_disk = Some(dir.path().join("no-such-disk.qcow2"));
    let err = Vm::launch(&qemu, &s, &dir)
        .await
        .err()
        .expect("launch fails");
    match err {
        VmError::Start { exit, log, .. } => {
            assert_eq!(exit, Exit::Code(1));
            assert!(log.contains("no-such-disk.qcow2"), "{log}");
        }
        other => panic!("{other:?}"),
    }
    assert!(Vm::attach(&dir).await.unwrap().is_none());
}
