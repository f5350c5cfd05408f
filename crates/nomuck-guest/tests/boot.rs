//! Builds the real default guest from Debian's packages and boots it under
//! QEMU (`-M microvm`, TCG, 256 MiB, 1 vCPU, user-mode net with restrict=on)
//! with a metadata service on the host, then checks what init did.
//!
//! Needs qemu-system-x86_64, apt-get (with package lists) and mkfs.ext4. When
//! they are missing the tests fail, unless NOMUCK_SKIP_QEMU_TESTS=1 says to
//! skip them: a test that skips itself silently cannot fail.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nomuck_guest::{GuestImage, Options, build_default};

const INSTANCE_ID: &str = "i-0123456789abcdef0";
const TOKEN: &str = "AQAEAtoken-for-the-test==";
const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGnomuckTestKeyOnlyForThisTest nomuck-test";

/// False when the tests are to be skipped; panics when tools are missing otherwise.
fn qemu_tests_enabled() -> bool {
    let missing: Vec<&str> = ["qemu-system-x86_64", "apt-get", "mkfs.ext4"]
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
        eprintln!(
            "skipping the guest boot tests: {missing:?} not installed and NOMUCK_SKIP_QEMU_TESTS=1"
        );
        return false;
    }
    panic!(
        "the guest boot tests need {missing:?} (Debian: apt-get install qemu-system-x86 e2fsprogs); \
         set NOMUCK_SKIP_QEMU_TESTS=1 to skip them"
    );
}

/// One build for all tests of this binary (they run in parallel).
static IMAGE: Mutex<Option<GuestImage>> = Mutex::new(None);

fn work_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("nomuck-guest")
}

fn image() -> GuestImage {
    let mut image = IMAGE.lock().unwrap_or_else(|e| e.into_inner());
    if image.is_none() {
        let started = Instant::now();
        let built =
            build_default(&work_dir(), &Options::default()).expect("build the default guest");
        eprintln!(
            "build_default took {:?} (rebuilt: {})",
            started.elapsed(),
            built.rebuilt
        );
        *image = Some(built);
    }
    image.clone().unwrap()
}

#[test]
fn rebuild_is_skipped_while_package_versions_are_unchanged() {
    if !qemu_tests_enabled() {
        return;
    }
    let first = image();
    let guard = IMAGE.lock().unwrap_or_else(|e| e.into_inner());
    let again = build_default(&work_dir(), &Options::default()).unwrap();
    drop(guard);
    assert!(!again.rebuilt, "the second build should reuse the first");
    assert_eq!(again.manifest, first.manifest);
    assert!(
        first.kernel_version.ends_with("-amd64"),
        "{}",
        first.kernel_version
    );
    let names: Vec<&str> = first
        .manifest
        .packages
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("linux-image-6")),
        "{names:?}"
    );
    assert!(
        names.contains(&"busybox-static") && names.contains(&"dropbear-bin"),
        "{names:?}"
    );
    // Dependencies before their users, as insmod needs them.
    let pos = |m: &str| {
        first
            .manifest
            .modules
            .iter()
            .position(|x| x == m)
            .unwrap_or_else(|| panic!("{m} missing"))
    };
    assert!(pos("failover") < pos("net_failover") && pos("net_failover") < pos("virtio_net"));
    assert!(pos("virtio") < pos("virtio_blk") && pos("jbd2") < pos("ext4"));
    // The kernel really is the uncompressed ELF (the PVH note was checked at build).
    let vmlinux = std::fs::read(&first.vmlinux).unwrap();
    assert_eq!(&vmlinux[..4], b"\x7fELF");
}

#[test]
fn initramfs_is_what_busybox_cpio_reads() {
    if !qemu_tests_enabled() {
        return;
    }
    let image = image();
    // An independent newc reader: busybox's cpio, from the cached package.
    let debs = work_dir().join("debs");
    let deb_dir = std::fs::read_dir(&debs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("busybox-static_")
        })
        .expect("busybox-static was downloaded");
    let deb = std::fs::read_dir(&deb_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let unpacked = tempfile::tempdir().unwrap();
    assert!(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(unpacked.path())
            .status()
            .unwrap()
            .success()
    );
    let listing = Command::new(unpacked.path().join("bin/busybox"))
        .args(["cpio", "-t"])
        .stdin(std::fs::File::open(&image.initramfs).unwrap())
        .output()
        .unwrap();
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    let names: Vec<String> = String::from_utf8(listing.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let module_dir = format!("lib/modules/{}", image.kernel_version);
    let mut expected: Vec<String> = [
        "init",
        "dev/console",
        "bin/busybox",
        "etc/init.d/rcS",
        "usr/sbin/dropbear",
        "usr/bin/dropbearkey",
        "lib64/ld-linux-x86-64.so.2",
        "lib/x86_64-linux-gnu/libc.so.6",
        "lib/x86_64-linux-gnu/libtomcrypt.so.1",
    ]
    .map(String::from)
    .to_vec();
    expected.extend(
        image
            .manifest
            .modules
            .iter()
            .map(|m| format!("{module_dir}/{m}.ko")),
    );
    for name in &expected {
        assert!(names.contains(name), "{name} missing from {names:?}");
    }
}

/// Kills QEMU when the test ends, however it ends; on failure shows the
/// end of the serial console, which is what says why.
struct Qemu(Child, PathBuf);

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if std::thread::panicking() {
            let console = std::fs::read(&self.1).unwrap_or_default();
            let tail = &console[console.len().saturating_sub(6000)..];
            eprintln!(
                "--- end of the guest's console ---\n{}",
                String::from_utf8_lossy(tail)
            );
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A metadata service for `guestfwd=...-cmd:`: QEMU runs it once per guest
/// connection with the connection on stdin/stdout. It serves files under
/// `dir/latest`, wants an IMDSv2 token on every GET and logs each request.
fn write_metadata_service(dir: &Path) -> PathBuf {
    let latest = dir.join("latest");
    std::fs::create_dir_all(latest.join("meta-data/public-keys/0")).unwrap();
    std::fs::write(latest.join("meta-data/instance-id"), INSTANCE_ID).unwrap();
    std::fs::write(
        latest.join("meta-data/public-keys/0/openssh-key"),
        format!("{PUBLIC_KEY}\n"),
    )
    .unwrap();
    std::fs::write(
        latest.join("user-data"),
        "#!/bin/sh\n\
         echo \"USER-DATA-MARKER host=$(hostname) disk=$(cat /mnt/hello)\"\n",
    )
    .unwrap();
    let script = dir.join("imds.sh");
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
dir='{dir}'
read -r method path version
token=""
while IFS= read -r line; do
  line=$(printf '%s' "$line" | tr -d '\r')
  [ -z "$line" ] && break
  case "$line" in [Xx]-[Aa]ws-[Ee]c2-[Mm]etadata-[Tt]oken:*) token=${{line#*: }} ;; esac
done
echo "$method $path token=$token" >> "$dir/requests.log"
reply() {{ printf 'HTTP/1.0 %s\r\nContent-Length: %s\r\n\r\n' "$1" "$(printf '%s' "$2" | wc -c)"; printf '%s' "$2"; }}
case "$method $path" in
  "PUT /latest/api/token") reply "200 OK" '{TOKEN}' ;;
  *..*) reply "404 Not Found" "" ;;
  "GET "*)
    if [ "$token" != '{TOKEN}' ]; then reply "401 Unauthorized" "";
    elif [ -f "$dir$path" ]; then reply "200 OK" "$(cat "$dir$path")";
    else reply "404 Not Found" ""; fi ;;
  *) reply "405 Method Not Allowed" "" ;;
esac
"#,
            dir = dir.display()
        ),
    )
    .unwrap();
    script
}

/// Sends `system_powerdown` over QMP (greeting, capabilities, command).
fn qmp_powerdown(socket: &Path) {
    use std::io::BufRead;
    let stream = std::os::unix::net::UnixStream::connect(socket).expect("connect to QMP");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.contains("QMP"), "{line}");
    for command in ["qmp_capabilities", "system_powerdown"] {
        writeln!(writer, r#"{{"execute":"{command}"}}"#).unwrap();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line.contains("\"return\"") || line.contains("\"error\"") {
                break; // events may come before the answer
            }
        }
        assert!(line.contains("\"return\""), "{command}: {line}");
    }
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn read_banner(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut banner = Vec::new();
    let mut byte = [0u8; 1];
    while !banner.ends_with(b"\n") && banner.len() < 255 {
        match stream.read(&mut byte) {
            Ok(1) => banner.push(byte[0]),
            _ => return None, // slirp accepts, then closes while nothing listens yet
        }
    }
    Some(String::from_utf8_lossy(&banner).into_owned())
}

#[test]
fn boots_under_microvm_and_configures_itself_from_metadata() {
    if !qemu_tests_enabled() {
        return;
    }
    let image = image();
    let dir = tempfile::tempdir().unwrap();
    let imds = write_metadata_service(dir.path());
    let content = dir.path().join("disk-content");
    std::fs::create_dir(&content).unwrap();
    std::fs::write(content.join("hello"), "disk-says-hello").unwrap();
    let disk = dir.path().join("root.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let mkfs = Command::new("mkfs.ext4")
        .arg("-q")
        .arg("-F")
        .arg("-d")
        .arg(&content)
        .arg(&disk)
        .status()
        .unwrap();
    assert!(mkfs.success());
    let console = dir.path().join("console.log");
    let ssh_port = free_port();
    let qmp_path = dir.path().join("qmp.sock");

    let started = Instant::now();
    let child = Command::new("qemu-system-x86_64")
        .args([
            "-M",
            "microvm",
            "-m",
            "256",
            "-smp",
            "1",
            "-nodefaults",
            "-no-user-config",
            "-nographic",
            "-no-reboot",
        ])
        .arg("-kernel")
        .arg(&image.vmlinux)
        .arg("-initrd")
        .arg(&image.initramfs)
        .arg("-append")
        .arg(format!(
            "{} {}",
            image.cmdline_hint,
            nomuck_guest::tcg_cmdline_extra()
        ))
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-netdev")
        .arg(format!(
            "user,id=n0,restrict=on,net=169.254.0.0/16,host=169.254.0.2,dhcpstart=169.254.0.15,\
             hostfwd=tcp:127.0.0.1:{ssh_port}-:22,\
             guestfwd=tcp:169.254.169.254:80-cmd:/bin/sh {}",
            imds.display()
        ))
        .args(["-device", "virtio-net-device,netdev=n0"])
        .arg("-drive")
        .arg(format!("id=d0,file={},format=raw,if=none", disk.display()))
        .args(["-device", "virtio-blk-device,drive=d0"])
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qmp_path.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("qemu.err")).unwrap())
        .spawn()
        .expect("start qemu-system-x86_64");
    let mut qemu = Qemu(child, console.clone());
    // Lossy: the serial console is bytes, not always UTF-8.
    let log = || String::from_utf8_lossy(&std::fs::read(&console).unwrap_or_default()).into_owned();
    let qemu_err = dir.path().join("qemu.err");
    let running = |qemu: &mut Qemu| {
        if let Some(status) = qemu.0.try_wait().unwrap() {
            let err = std::fs::read_to_string(&qemu_err).unwrap_or_default();
            panic!("qemu exited early ({status}): {err}\nconsole:\n{}", log());
        }
    };

    wait_for("userspace", Duration::from_secs(120), || {
        running(&mut qemu);
        log().contains("nomuck-init: userspace reached")
    });
    let userspace = started.elapsed();
    wait_for("the user-data marker", Duration::from_secs(180), || {
        running(&mut qemu);
        log().contains("USER-DATA-MARKER")
    });
    let marker = started.elapsed();
    let mut banner = None;
    wait_for("dropbear's banner", Duration::from_secs(60), || {
        banner = read_banner(ssh_port);
        banner.is_some()
    });
    let ssh = started.elapsed();
    eprintln!(
        "userspace after {userspace:?}, user-data output after {marker:?}, SSH banner after {ssh:?}"
    );
    let banner = banner.unwrap();
    assert!(banner.starts_with("SSH-2.0-dropbear"), "{banner:?}");

    let console_text = log();
    assert!(
        console_text.contains(&format!(
            "USER-DATA-MARKER host={INSTANCE_ID} disk=disk-says-hello"
        )),
        "{console_text}"
    );
    assert!(
        console_text.contains(&format!("instance-id {INSTANCE_ID} (IMDSv2)")),
        "{console_text}"
    );
    assert!(
        console_text.contains("installed the key pair's public key"),
        "{console_text}"
    );
    assert!(
        console_text.contains("mounted /dev/vda on /mnt"),
        "{console_text}"
    );
    let requests = std::fs::read_to_string(dir.path().join("requests.log")).unwrap();
    assert!(
        requests.contains("PUT /latest/api/token token="),
        "{requests}"
    );
    assert!(
        requests.contains(&format!(
            "GET /latest/meta-data/public-keys/0/openssh-key token={TOKEN}"
        )),
        "{requests}"
    );

    // Asked as a host asks (QMP system_powerdown: the ACPI power button), the
    // guest shuts down through init and QEMU exits cleanly.
    let asked = Instant::now();
    qmp_powerdown(&qmp_path);
    let mut status = None;
    wait_for(
        "QEMU to exit after poweroff",
        Duration::from_secs(60),
        || {
            status = qemu.0.try_wait().unwrap();
            status.is_some()
        },
    );
    eprintln!("QEMU exited {:?} after system_powerdown", asked.elapsed());
    assert!(status.unwrap().success(), "qemu exited with {status:?}");
    assert!(log().contains("nomuck-init: powering off"), "{}", log());
}
