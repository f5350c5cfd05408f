//! `bridge_stdio` in a real child process, wired the way QEMU's guestfwd wires it:
//! one socket as its stdin, stdout and stderr. This binary is its own child: run with
//! `NOMUCK_IMDS_TEST_BRIDGE_TO=<socket>` it is the bridge and nothing else (no test
//! harness, whose output on stdout would land in the HTTP stream). The last test boots
//! the default guest under QEMU with this binary as its guestfwd bridge.

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Server, facts, parse_reply};
use nomuck_imds::TokenKey;

const CHILD_ENV: &str = "NOMUCK_IMDS_TEST_BRIDGE_TO";

fn main() {
    if let Some(socket) = std::env::var_os(CHILD_ENV) {
        let code = match nomuck_imds::bridge_stdio(Path::new(&socket)) {
            Ok(()) => 0,
            Err(_) => 1,
        };
        std::process::exit(code);
    }
    let tests: &[(&str, fn())] = &[
        (
            "an_http10_exchange_crosses_the_bridge",
            an_http10_exchange_crosses_the_bridge,
        ),
        (
            "a_half_closed_imdsv2_exchange_crosses_the_bridge",
            a_half_closed_imdsv2_exchange_crosses_the_bridge,
        ),
        (
            "a_missing_socket_closes_the_guest_connection_silently",
            a_missing_socket_closes_the_guest_connection_silently,
        ),
        (
            "a_real_guest_configures_itself_through_guestfwd",
            a_real_guest_configures_itself_through_guestfwd,
        ),
    ];
    for (name, test) in tests {
        test();
        println!("test {name} ... ok");
    }
}

/// The bridge as a child, its stdio one end of a socketpair; returns the other end
/// (the guest's connection, as libslirp holds it).
fn spawn_bridge(socket: &Path) -> (Child, UnixStream) {
    let (guest, child_end) = UnixStream::pair().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, socket)
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(
            child_end.try_clone().unwrap(),
        )))
        .stdout(Stdio::from(std::os::fd::OwnedFd::from(
            child_end.try_clone().unwrap(),
        )))
        .stderr(Stdio::from(std::os::fd::OwnedFd::from(child_end)))
        .spawn()
        .unwrap();
    guest
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (child, guest)
}

/// Reads until the bridge closes the guest's connection, which it does only by exiting.
fn read_until_closed(guest: &mut UnixStream) -> Vec<u8> {
    let mut out = Vec::new();
    guest
        .read_to_end(&mut out)
        .expect("the bridge closes within 10 s");
    out
}

fn an_http10_exchange_crosses_the_bridge() {
    let server = Server::start(facts("i-0ccccccccccccccccc"), TokenKey::random());
    let (mut child, mut guest) = spawn_bridge(&server.socket);
    // As the default guest's nc sends it: HTTP/1.0, and the connection left open.
    guest
        .write_all(b"GET /latest/meta-data/instance-id HTTP/1.0\r\nHost: 169.254.169.254\r\n\r\n")
        .unwrap();
    let reply = parse_reply(&read_until_closed(&mut guest));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "i-0ccccccccccccccccc");
    assert!(child.wait().unwrap().success());
}

fn a_half_closed_imdsv2_exchange_crosses_the_bridge() {
    let server = Server::start(facts("i-0ddddddddddddddddd"), TokenKey::random());
    let (mut child, mut guest) = spawn_bridge(&server.socket);
    guest
        .write_all(
            b"PUT /latest/api/token HTTP/1.0\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n",
        )
        .unwrap();
    let reply = parse_reply(&read_until_closed(&mut guest));
    assert_eq!(reply.status, 200);
    let token = reply.text();
    assert!(child.wait().unwrap().success());

    // HTTP/1.1 keep-alive, the client then half-closing: the reply must still arrive,
    // and the bridge end once the service has answered and closed.
    let (mut child, mut guest) = spawn_bridge(&server.socket);
    guest
        .write_all(
            format!(
                "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\n\
X-aws-ec2-metadata-token: {token}\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    guest.shutdown(Shutdown::Write).unwrap();
    let reply = parse_reply(&read_until_closed(&mut guest));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "i-0ddddddddddddddddd");
    assert_eq!(
        reply.header("x-aws-ec2-metadata-token-ttl-seconds"),
        Some("60")
    );
    assert!(child.wait().unwrap().success());
}

fn a_missing_socket_closes_the_guest_connection_silently() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, mut guest) = spawn_bridge(&dir.path().join("imds.sock"));
    let _ = guest.write_all(b"GET / HTTP/1.0\r\n\r\n");
    // Nothing, not even an error message, reaches the guest's stream: it ends (reset,
    // since the bridge exits with the request unread).
    let mut out = Vec::new();
    match guest.read_to_end(&mut out) {
        Ok(_) => {}
        Err(err) => assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}"),
    }
    assert_eq!(out, b"");
    assert!(!child.wait().unwrap().success());
}

/// Kills QEMU when the test ends, however it ends, and shows the console on failure.
struct Qemu(Child, std::path::PathBuf);

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if std::thread::panicking() {
            let console = std::fs::read(&self.1).unwrap_or_default();
            let tail = &console[console.len().saturating_sub(4000)..];
            eprintln!("--- guest console ---\n{}", String::from_utf8_lossy(tail));
        }
    }
}

/// The whole path as nomuck will run it: the default guest (nomuck-guest) under QEMU
/// with nomuck-qemu's command line, `guestfwd` running this binary as the bridge for
/// each connection, `serve` behind it with tokens required. The guest's init reads
/// its instance id over IMDSv2, installs the key and runs the user-data.
fn a_real_guest_configures_itself_through_guestfwd() {
    use nomuck_qemu::{
        Accel, GuestFwd, GuestFwdTarget, InstanceDir, KernelBoot, Machine, UserNet, VmSpec,
    };
    let have_qemu = Command::new("qemu-system-x86_64")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if !have_qemu {
        if std::env::var("NOMUCK_SKIP_QEMU_TESTS").as_deref() == Ok("1") {
            eprintln!(
                "skipping the guest test: no qemu-system-x86_64 and NOMUCK_SKIP_QEMU_TESTS=1"
            );
            return;
        }
        panic!("the guest test needs qemu-system-x86_64 (set NOMUCK_SKIP_QEMU_TESTS=1 to skip)");
    }
    // Shared with nomuck-guest's own tests: built once, reused while unchanged.
    let image = nomuck_guest::build_default(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("nomuck-guest"),
        &nomuck_guest::Options::default(),
    )
    .expect("build the default guest");

    let mut f = facts("i-0eeeeeeeeeeeeeeee");
    f.http_tokens = nomuck_imds::HttpTokens::Required;
    f.user_data = Some(bytes::Bytes::from_static(
        b"#!/bin/sh\necho \"USER-DATA-MARKER host=$(hostname)\"\n",
    ));
    let server = Server::start(f, TokenKey::random());
    let dir = tempfile::tempdir().unwrap();
    let instance_dir = InstanceDir::new(dir.path()).unwrap();
    let bridge = format!(
        "env {CHILD_ENV}={} {}",
        server.socket.display(),
        std::env::current_exe().unwrap().display()
    );
    let spec = VmSpec {
        name: "i-0eeeeeeeeeeeeeeee".into(),
        vcpus: 1,
        memory_mib: 256,
        machine: Machine::Microvm,
        accel: Accel::Tcg,
        firmware: None,
        kernel: Some(KernelBoot {
            kernel: image.vmlinux.clone(),
            initrd: Some(image.initramfs.clone()),
            cmdline: format!(
                "{} {}",
                image.cmdline_hint,
                nomuck_guest::tcg_cmdline_extra()
            ),
        }),
        root_disk: None,
        user_net: Some(UserNet {
            guestfwd: vec![GuestFwd::metadata(GuestFwdTarget::Cmd(bridge))],
            ..UserNet::default()
        }),
        private_nic: None,
        start_paused: false,
    };
    let console = instance_dir.console_log();
    let child = Command::new("qemu-system-x86_64")
        .args(spec.args(&instance_dir))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("qemu.err")).unwrap())
        .spawn()
        .expect("start qemu-system-x86_64");
    let mut qemu = Qemu(child, console.clone());
    let log = || String::from_utf8_lossy(&std::fs::read(&console).unwrap_or_default()).into_owned();
    let wait_for = |line: &str, timeout: Duration, qemu: &mut Qemu| {
        let deadline = std::time::Instant::now() + timeout;
        while !log().contains(line) && std::time::Instant::now() < deadline {
            if let Some(status) = qemu.0.try_wait().unwrap() {
                let err = std::fs::read_to_string(dir.path().join("qemu.err")).unwrap_or_default();
                panic!("qemu exited early ({status}): {err}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_for(
        "nomuck-init: boot finished",
        Duration::from_secs(180),
        &mut qemu,
    );
    // User-data runs in the background after init's last line, when it was served.
    wait_for("user-data exited", Duration::from_secs(20), &mut qemu);
    let text = log();
    assert!(
        text.contains("instance-id i-0eeeeeeeeeeeeeeee (IMDSv2)"),
        "{text}"
    );
    assert!(
        text.contains("installed the key pair's public key"),
        "{text}"
    );
    assert!(
        text.contains("USER-DATA-MARKER host=ip-172-31-3-9"),
        "{text}"
    );
    drop(qemu);
}
