//! The private network with real guests: nomuck's default guest (nomuck-guest) under
//! QEMU (`-M microvm`, TCG, 256 MiB, 1 vCPU, launched by nomuck-qemu with its
//! `PrivateNic`), on a real switch. Each guest's user-data (served by a small
//! metadata service over the user-mode NIC's guestfwd, as nomuck serves it) runs the
//! experiment and prints `VNET ...` lines on the serial console, which the test reads.
//! Two passive test sockets attached as ports (one per network) see every frame the
//! switch floods there.
//!
//! Needs qemu-system-x86_64 and apt-get (to build the guest); without them this test
//! fails unless NOMUCK_SKIP_QEMU_TESTS=1. At most three guests run at once, each
//! killed by pid when the test ends, however it ends.

use std::net::Ipv4Addr;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nomuck_qemu::{
    Accel, GuestFwd, GuestFwdTarget, InstanceDir, KernelBoot, Machine, PrivateNic, UserNet, Vm,
    VmSpec,
};
use nomuck_vnet::{Mac, Port, Switch, mac_string};

fn qemu_tests_enabled() -> bool {
    let missing: Vec<&str> = ["qemu-system-x86_64", "apt-get"]
        .into_iter()
        .filter(|tool| {
            Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_err()
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("NOMUCK_SKIP_QEMU_TESTS").as_deref() == Ok("1") {
        eprintln!("skipping: {missing:?} not installed and NOMUCK_SKIP_QEMU_TESTS=1");
        return false;
    }
    panic!(
        "these tests need {missing:?} (Debian: apt-get install qemu-system-x86); \
         set NOMUCK_SKIP_QEMU_TESTS=1 to skip them"
    );
}

const NET_A: &str = "acct-a";
const NET_B: &str = "acct-b";

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(172, 31, 0, last)
}

fn mac(net: u8, last: u8) -> Mac {
    [0x52, 0x54, 0x00, net, 0x00, last]
}

/// Answers the init's metadata requests (QEMU runs it per guest connection): a
/// token for PUT, the instance id, and `user-data` from the instance's directory.
const METADATA_SERVICE: &str = r#"dir="$1"
read -r method path version
while IFS= read -r line; do
  [ -z "$(printf '%s' "$line" | tr -d '\r')" ] && break
done
reply() { printf 'HTTP/1.0 %s\r\nContent-Length: %s\r\n\r\n' "$1" "$(wc -c < "$2")"; cat "$2"; }
case "$method $path" in
  "PUT /latest/api/token") reply "200 OK" "$dir/token" ;;
  "GET /latest/meta-data/instance-id") reply "200 OK" "$dir/instance-id" ;;
  "GET /latest/user-data") reply "200 OK" "$dir/user-data" ;;
  *) printf 'HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n' ;;
esac
"#;

/// One guest: its instance directory, its port, and its QEMU (killed on drop).
struct Guest {
    name: &'static str,
    dir: InstanceDir,
    port: Port,
    pid: i32,
}

impl Drop for Guest {
    fn drop(&mut self) {
        let pid = self.pid;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let dir = self.dir.path().as_os_str().as_encoded_bytes();
        // SAFETY: plain syscalls on a pid verified just now to be this guest's QEMU;
        // waitpid only reaps our own child.
        unsafe {
            if cmdline.windows(dir.len()).any(|w| w == dir) {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            } else {
                libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG);
            }
        }
        if std::thread::panicking() {
            eprintln!("--- {} console ---\n{}", self.name, self.console());
        }
    }
}

impl Guest {
    fn console(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.dir.console_log()).unwrap_or_default())
            .into_owned()
    }

    /// Waits until the console, from byte `from` on, has a line containing `text`;
    /// returns the console length after it.
    async fn wait_for(&self, text: &str, from: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let console = self.console();
            if let Some(at) = console.get(from..).and_then(|rest| rest.find(text)) {
                return from + at + text.len();
            }
            assert!(
                Instant::now() < deadline,
                "{}: no {text:?} after {timeout:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

struct Lab {
    tmp: tempfile::TempDir,
    qemu: PathBuf,
    image: nomuck_guest::GuestImage,
    switch_path: PathBuf,
}

impl Lab {
    /// Starts `name` on `network` with address `last`; its user-data is `script`.
    async fn guest(
        &self,
        switch: &Switch,
        name: &'static str,
        network: &str,
        port_mac: Mac,
        last: u8,
        script: &str,
    ) -> Guest {
        let root = self.tmp.path().join(name);
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("token"), "token").unwrap();
        std::fs::write(root.join("instance-id"), format!("i-{name}")).unwrap();
        std::fs::write(root.join("user-data"), format!("#!/bin/sh\n{script}")).unwrap();
        std::fs::write(root.join("imds.sh"), METADATA_SERVICE).unwrap();
        let dir = InstanceDir::new(&root).unwrap();
        let port = Port {
            local: dir.path().join("nic1.sock"),
            network: network.into(),
            mac: port_mac,
            ip: ip(last),
            prefix_len: 16,
            hostname: Some(format!("ip-172-31-0-{last}")),
        };
        switch.attach(port.clone()).unwrap();
        let spec = VmSpec {
            name: format!("i-{name}"),
            vcpus: 1,
            memory_mib: 256,
            machine: Machine::Microvm,
            accel: Accel::Tcg,
            firmware: None,
            kernel: Some(KernelBoot {
                kernel: self.image.vmlinux.clone(),
                initrd: Some(self.image.initramfs.clone()),
                cmdline: format!(
                    "{} {}",
                    self.image.cmdline_hint,
                    nomuck_guest::tcg_cmdline_extra()
                ),
            }),
            root_disk: None,
            user_net: Some(UserNet {
                guestfwd: vec![GuestFwd::metadata(GuestFwdTarget::Cmd(format!(
                    "/bin/sh {} {}",
                    dir.path().join("imds.sh").display(),
                    dir.path().display()
                )))],
                ..UserNet::default()
            }),
            private_nic: Some(PrivateNic {
                mac: mac_string(&port_mac),
                local: port.local.clone(),
                switch: self.switch_path.clone(),
            }),
            start_paused: false,
        };
        let vm = Vm::launch(&self.qemu, &spec, &dir).await.unwrap();
        Guest {
            name,
            dir,
            port,
            pid: vm.pid(),
        }
    }
}

/// A test socket attached as a port: records every frame the switch sends it.
struct Observer {
    port: Port,
    frames: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
}

impl Observer {
    fn new(dir: &Path, network: &str, port_mac: Mac) -> Observer {
        let local = dir.join(format!("observer-{network}.sock"));
        let socket = UnixDatagram::bind(&local).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, s) = (frames.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 70_000];
            while !s.load(Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buf) {
                    f.lock().unwrap().push(buf[..n].to_vec());
                }
            }
        });
        Observer {
            port: Port {
                local,
                network: network.into(),
                mac: port_mac,
                ip: ip(200),
                prefix_len: 16,
                hostname: None,
            },
            frames,
            stop,
        }
    }

    /// (source MAC, ARP sender or IPv4 source) of each frame seen.
    fn senders(&self) -> Vec<(Mac, Option<Ipv4Addr>)> {
        self.frames
            .lock()
            .unwrap()
            .iter()
            .filter(|f| f.len() >= 34)
            .map(|f| {
                let src: Mac = f[6..12].try_into().unwrap();
                let at = match u16::from_be_bytes([f[12], f[13]]) {
                    0x0806 => Some(14 + 14),
                    0x0800 => Some(14 + 12),
                    _ => None,
                };
                let addr = at.map(|a| Ipv4Addr::new(f[a], f[a + 1], f[a + 2], f[a + 3]));
                (src, addr)
            })
            .collect()
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn qemu_binary() -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("qemu-system-x86_64"))
        .find(|p| p.is_file())
        .expect("qemu-system-x86_64 on PATH")
}

/// Pings 172.31.0.$1 once a second forever, printing `VNET reach-$2 yes|no` when
/// the answer changes.
fn reach_loop(last: u8, label: &str) -> String {
    format!(
        "state=unknown\n\
         while :; do\n\
           if ping -c 1 -W 1 {ip} >/dev/null 2>&1; then now=yes; else now=no; fi\n\
           [ \"$now\" != \"$state\" ] && echo \"VNET reach-{label} $now\" && state=$now\n\
           sleep 1\n\
         done\n",
        ip = ip(last)
    )
}

const BOOT: Duration = Duration::from_secs(300);

/// (a) two guests of one account get their addresses by DHCP and reach each other;
/// (b) another account's guest reaches neither, and its frames never arrive on the
/// first network; (c) a guest forging another MAC or address gets nothing through;
/// (d) after a switch restart (a new switch on the same path, the same ports) the
/// guests reach each other again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_network_with_real_guests() {
    if !qemu_tests_enabled() {
        return;
    }
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nomuck-guest");
    let image = tokio::task::spawn_blocking(move || {
        nomuck_guest::build_default(&work, &nomuck_guest::Options::default())
    })
    .await
    .unwrap()
    .expect("build the default guest");
    // Short paths: unix socket paths must fit in 107 bytes.
    let tmp = tempfile::Builder::new()
        .prefix("vnet")
        .tempdir_in("/tmp")
        .unwrap();
    let lab = Lab {
        switch_path: tmp.path().join("vnet.sock"),
        tmp,
        qemu: qemu_binary(),
        image,
    };
    let switch = Switch::bind(&lab.switch_path).unwrap();
    let watch_a = Observer::new(lab.tmp.path(), NET_A, mac(0xaa, 200));
    let watch_b = Observer::new(lab.tmp.path(), NET_B, mac(0xbb, 200));
    switch.attach(watch_a.port.clone()).unwrap();
    switch.attach(watch_b.port.clone()).unwrap();

    let started = Instant::now();
    let a1 = lab
        .guest(
            &switch,
            "a1",
            NET_A,
            mac(0xaa, 10),
            10,
            &reach_loop(11, "a2"),
        )
        .await;
    let a2 = lab
        .guest(
            &switch,
            "a2",
            NET_A,
            mac(0xaa, 11),
            11,
            &reach_loop(10, "a1"),
        )
        .await;
    // b1 is on its own network with an address next to a1 and a2.
    let b1_script = "while :; do\n\
           for t in 10 11; do\n\
             ping -c 1 -W 1 172.31.0.$t >/dev/null 2>&1 && echo \"VNET b1 LEAK to .$t\"\n\
           done\n\
           echo VNET b1-tried\n\
           sleep 1\n\
         done\n";
    let b1 = lab
        .guest(&switch, "b1", NET_B, mac(0xbb, 20), 20, b1_script)
        .await;

    // (a) DHCP gave each its address (no router on the private lease), and they
    // reach each other.
    for (g, last) in [(&a1, 10), (&a2, 11), (&b1, 20)] {
        g.wait_for(
            &format!("bound 172.31.0.{last}/255.255.0.0 gateway none"),
            0,
            BOOT,
        )
        .await;
        // The user-mode NIC's lease too (restrict=on: it names no router either).
        g.wait_for("bound 169.254.0.15/255.255.0.0", 0, BOOT).await;
    }
    let leases: Vec<String> = a1
        .console()
        .lines()
        .filter(|l| l.starts_with("nomuck-init: eth"))
        .map(String::from)
        .collect();
    eprintln!("a1's leases: {leases:?}");
    a1.wait_for("VNET reach-a2 yes", 0, BOOT).await;
    a2.wait_for("VNET reach-a1 yes", 0, BOOT).await;
    eprintln!(
        "a1 and a2 reach each other {:?} after launch",
        started.elapsed()
    );

    // (b) b1 keeps trying while a1 and a2 are demonstrably up.
    let tried = b1.console().matches("VNET b1-tried").count();
    let deadline = Instant::now() + Duration::from_secs(120);
    while b1.console().matches("VNET b1-tried").count() < tried + 3 {
        assert!(Instant::now() < deadline, "b1 stopped trying");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(!b1.console().contains("LEAK"), "b1 reached network A");
    let b_seen = watch_b.senders();
    assert!(
        b_seen.contains(&(b1.port.mac, Some(b1.port.ip))),
        "b1's ARP requests reach its own network: {b_seen:?}"
    );
    drop(b1);

    // (c) c1, on network A, forges addresses; the switch drops what it forges.
    let c1_script = format!(
        "dev=$(ip -o -4 addr | awk '/inet 172\\.31\\./ {{print $2}}')\n\
         try() {{ if ping -c 1 -W 2 172.31.0.10 >/dev/null 2>&1; then echo \"VNET c1 $1 reached\"; else echo \"VNET c1 $1 blocked\"; fi; }}\n\
         i=0\n\
         until ping -c 1 -W 1 172.31.0.10 >/dev/null 2>&1 || [ $i -ge 60 ]; do i=$((i + 1)); sleep 1; done\n\
         try control\n\
         ip addr del 172.31.0.12/16 dev $dev; ip addr add 172.31.0.99/16 dev $dev\n\
         try forged-ip\n\
         ip addr del 172.31.0.99/16 dev $dev; ip addr add 172.31.0.11/16 dev $dev\n\
         try stolen-ip\n\
         ip addr del 172.31.0.11/16 dev $dev; ip addr add 172.31.0.12/16 dev $dev\n\
         ip link set $dev down; ip link set $dev address {a2_mac}; ip link set $dev up\n\
         try stolen-mac\n\
         ip link set $dev down; ip link set $dev address {own_mac}; ip link set $dev up\n\
         try restored\n\
         echo VNET c1-done\n",
        a2_mac = mac_string(&a2.port.mac),
        own_mac = mac_string(&mac(0xaa, 12)),
    );
    let c1 = lab
        .guest(&switch, "c1", NET_A, mac(0xaa, 12), 12, &c1_script)
        .await;
    c1.wait_for("VNET c1 control reached", 0, BOOT).await;
    let spoofed_before = switch.stats().dropped_spoofed;
    c1.wait_for("VNET c1-done", 0, Duration::from_secs(120))
        .await;
    let console = c1.console();
    for (step, expect) in [
        ("forged-ip", "blocked"),
        ("stolen-ip", "blocked"),
        ("stolen-mac", "blocked"),
        ("restored", "reached"),
    ] {
        assert!(
            console.contains(&format!("VNET c1 {step} {expect}")),
            "c1 {step} not {expect}"
        );
    }
    let stats = switch.stats();
    eprintln!("switch after c1's forgeries: {stats:?}");
    assert!(
        stats.dropped_spoofed > spoofed_before,
        "the forged frames reached the switch and were dropped there: {stats:?}"
    );

    // What network A's observer saw: only its own guests, each with its own MAC and
    // address (or 0.0.0.0): nothing of b1, nothing forged by c1.
    let legit = [&a1.port, &a2.port, &c1.port];
    let a_seen = watch_a.senders();
    assert!(!a_seen.is_empty());
    for (src, addr) in &a_seen {
        let port = legit
            .iter()
            .find(|p| p.mac == *src)
            .unwrap_or_else(|| panic!("frame from foreign MAC {src:?} on network A"));
        if let Some(addr) = addr {
            assert!(
                *addr == port.ip || addr.is_unspecified(),
                "frame from {src:?} with forged source {addr}"
            );
        }
    }

    // (d) The switch restarts: while it is down a1 loses a2; a new switch on the
    // same path with the same ports carries their traffic again.
    let from = a1.console().len();
    drop(switch);
    let lost = a1
        .wait_for("VNET reach-a2 no", from, Duration::from_secs(60))
        .await;
    let switch = Switch::bind(&lab.switch_path).unwrap();
    for port in [&a1.port, &a2.port, &c1.port] {
        switch.attach(port.clone()).unwrap();
    }
    let restarted = Instant::now();
    a1.wait_for("VNET reach-a2 yes", lost, Duration::from_secs(60))
        .await;
    eprintln!(
        "traffic resumed {:?} after the new switch bound; stats {:?}",
        restarted.elapsed(),
        switch.stats()
    );
}
