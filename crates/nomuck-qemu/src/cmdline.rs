//! The QEMU command line of one guest, built from a typed [`VmSpec`].
//!
//! Everything a guest can reach is on this command line, so it is built in one place
//! and unit-tested: no default devices (`-nodefaults`), no host configuration files
//! (`-no-user-config`), no display, and networking only through user-mode networking
//! with `restrict=on` (the guest reaches nothing but the forwards listed here) plus an
//! optional private NIC whose frames go to a unix socket, never the host's IP stack.

use std::ffi::{OsStr, OsString};
use std::net::Ipv4Addr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Accel;
use crate::vm::InstanceDir;

/// The guest-side link-local network of user-mode networking. It must contain the
/// metadata address 169.254.169.254: QEMU refuses a guestfwd outside its network
/// (the default 10.0.2.0/24 does not work).
pub const USER_NET: &str = "169.254.0.0/16";
/// The gateway (QEMU's side) on [`USER_NET`]. Given explicitly: left to itself QEMU
/// derives it from the network address (169.254.2.2).
pub const USER_NET_HOST: Ipv4Addr = Ipv4Addr::new(169, 254, 0, 2);
/// The first (and, with one NIC per guest, only) address QEMU's DHCP server hands out.
pub const USER_NET_DHCP_START: Ipv4Addr = Ipv4Addr::new(169, 254, 0, 15);
/// EC2's instance metadata address.
pub const METADATA_ADDR: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

/// QEMU's machine type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    /// Minimal virtio-mmio machine: fastest boot (about 3.4 s to userspace under TCG
    /// with an uncompressed PVH vmlinux). Needs a kernel with virtio-mmio and ACPI.
    Microvm,
    /// The i440FX PC: boots any x86 guest (cloud images with their own bootloader).
    Pc,
}

/// Direct kernel boot (`-kernel`/`-initrd`/`-append`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelBoot {
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    pub cmdline: String,
}

/// A TCP port forwarded from the host into the guest (SSH, security-group ports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFwd {
    /// Address the host side listens on: 127.0.0.1 unless the operator set a public
    /// bind address.
    pub host_addr: Ipv4Addr,
    pub host_port: u16,
    pub guest_port: u16,
}

impl HostFwd {
    pub fn loopback(host_port: u16, guest_port: u16) -> HostFwd {
        HostFwd {
            host_addr: Ipv4Addr::LOCALHOST,
            host_port,
            guest_port,
        }
    }
}

/// Where the guest's TCP connections to one address:port go (the metadata service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestFwd {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub target: GuestFwdTarget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestFwdTarget {
    /// QEMU runs this shell command for each guest connection, the connection on its
    /// stdin/stdout. Per-connection, and it connects to nomuck only when the guest
    /// connects, so it keeps working across a nomuck restart: the preferred form for
    /// the metadata service (e.g. a small `nomuck` subcommand that copies between
    /// stdio and the instance's metadata socket; the socket identifies the instance).
    Cmd(String),
    /// A chardev connected to this unix socket once, at QEMU start. QEMU 7.2 does not
    /// reconnect it, so it breaks when nomuck restarts; useful only for tests.
    UnixSocket(PathBuf),
}

impl GuestFwd {
    /// The metadata service: 169.254.169.254:80 to `target`.
    pub fn metadata(target: GuestFwdTarget) -> GuestFwd {
        GuestFwd {
            addr: METADATA_ADDR,
            port: 80,
            target,
        }
    }
}

/// User-mode networking (slirp): the guest's first NIC.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserNet {
    pub mac: Option<String>,
    /// Host name the DHCP server gives the guest.
    pub hostname: Option<String>,
    pub hostfwd: Vec<HostFwd>,
    pub guestfwd: Vec<GuestFwd>,
    /// Let the guest reach the host's networks through QEMU's NAT (`restrict=off`) and
    /// its DNS relay. An operator's choice, off by default: without it the guest
    /// reaches nothing but the forwards above.
    pub outbound: bool,
}

/// A second NIC on the account's private network.
///
/// Frames travel as datagrams between unix sockets (`-netdev dgram`, QEMU ≥ 7.2):
/// QEMU binds `local` and sends every frame to `switch`, where a nomuck-run switch
/// receives it; the sender's socket path tells the switch which instance (and so which
/// account's network) a frame came from, so a guest cannot claim another's port. The
/// switch forwards frames only between instances of one account. Datagrams rather than
/// `-netdev stream`: a stream connection breaks when the switch restarts with nomuck
/// and QEMU 7.2 cannot reconnect it, while a datagram socket simply resumes once the
/// switch binds its path again (frames sent meanwhile are lost, as on a real wire).
/// `-netdev socket` offers no unix sockets. Nothing here touches the host's IP stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateNic {
    pub mac: String,
    /// This instance's socket (in its instance directory); removed before launch.
    pub local: PathBuf,
    /// The switch's socket.
    pub switch: PathBuf,
}

/// Everything that decides one guest's QEMU command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmSpec {
    /// The instance id, shown by `query-name` and in `ps`.
    pub name: String,
    pub vcpus: u32,
    pub memory_mib: u32,
    pub machine: Machine,
    pub accel: Accel,
    /// Firmware image instead of QEMU's default (`-bios`), e.g. UEFI for cloud images.
    pub firmware: Option<PathBuf>,
    /// `None` boots the machine's firmware only (tests; images with a bootloader).
    pub kernel: Option<KernelBoot>,
    /// The instance's root disk: its qcow2 overlay (see [`create_overlay`]).
    pub root_disk: Option<PathBuf>,
    pub user_net: Option<UserNet>,
    pub private_nic: Option<PrivateNic>,
    /// Start with the vCPUs stopped (`-S`, run state `prelaunch`) until `cont`, so a
    /// caller can connect to the event stream before the guest runs one instruction.
    pub start_paused: bool,
}

impl VmSpec {
    /// The arguments after the QEMU binary. Paths of the instance's own files (QMP
    /// socket, pid file, console log) come from `dir`, so supervision finds them.
    pub fn args(&self, dir: &InstanceDir) -> Vec<OsString> {
        let mut a = Args::default();
        a.push("-name")
            .push(format!("guest={}", escape(&self.name)));
        let machine = match self.machine {
            Machine::Microvm => "microvm",
            Machine::Pc => "pc",
        };
        a.push("-machine").push(machine);
        match self.accel {
            Accel::Kvm => a.push("-accel").push("kvm").push("-cpu").push("host"),
            Accel::Tcg => a.push("-accel").push("tcg"),
        };
        if self.machine == Machine::Pc {
            // EC2's DMI vendor, which cloud-init's ds-identify looks for to pick its EC2
            // datasource (the metadata service) without configuration.
            a.push("-smbios").push(format!(
                "type=1,manufacturer=Amazon EC2,product=nomuck,serial={}",
                escape(&self.name)
            ));
        }
        a.push("-smp").push(self.vcpus.to_string());
        a.push("-m").push(format!("{}M", self.memory_mib));
        a.push("-nodefaults")
            .push("-no-user-config")
            .push("-nographic");
        // A guest reboot resets the machine (it stays a reboot, and RESET says so); a
        // guest poweroff *pauses* QEMU in the `shutdown` run state instead of exiting.
        // That keeps "the guest powered itself off" observable: the SHUTDOWN event
        // (guest: true) is seen live, and a nomuck that was down at that moment still
        // finds the QEMU in `shutdown` when it re-attaches, rather than a vanished
        // process whose exit might have been a crash. The supervisor then sends
        // `quit`. `quit` and SIGTERM still exit.
        a.push("-action").push("reboot=reset,shutdown=pause");
        a.push("-chardev").push(cat([
            os("socket,id=qmp,server=on,wait=off,path="),
            escape_path(&dir.qmp_socket()),
        ]));
        a.push("-mon").push("chardev=qmp,mode=control");
        a.push("-chardev").push(cat([
            os("file,id=console,path="),
            escape_path(&dir.console_log()),
        ]));
        a.push("-serial").push("chardev:console");
        a.push("-pidfile").push(dir.pidfile());
        if self.start_paused {
            a.push("-S");
        }
        if let Some(firmware) = &self.firmware {
            a.push("-bios").push(firmware);
        }
        if let Some(k) = &self.kernel {
            a.push("-kernel").push(&k.kernel);
            if let Some(initrd) = &k.initrd {
                a.push("-initrd").push(initrd);
            }
            a.push("-append").push(&k.cmdline);
        }
        let device = |kind: &str| match self.machine {
            Machine::Microvm => format!("virtio-{kind}-device"),
            // No option ROM: nothing boots from the network.
            Machine::Pc if kind == "net" => "virtio-net-pci,romfile=".to_owned(),
            Machine::Pc => format!("virtio-{kind}-pci"),
        };
        if let Some(disk) = &self.root_disk {
            a.push("-drive").push(cat([
                os("if=none,id=root,format=qcow2,discard=unmap,file="),
                escape_path(disk),
            ]));
            a.push("-device")
                .push(format!("{},drive=root", device("blk")));
        }
        if let Some(net) = &self.user_net {
            a.push("-netdev").push(user_netdev(net));
            a.push("-device")
                .push(nic(&device("net"), "net0", net.mac.as_deref()));
        }
        if let Some(p) = &self.private_nic {
            a.push("-netdev").push(cat([
                os("dgram,id=net1,local.type=unix,local.path="),
                escape_path(&p.local),
                os(",remote.type=unix,remote.path="),
                escape_path(&p.switch),
            ]));
            a.push("-device")
                .push(nic(&device("net"), "net1", Some(&p.mac)));
        }
        a.0
    }
}

fn nic(device: &str, netdev: &str, mac: Option<&str>) -> String {
    let mut s = format!("{device},netdev={netdev}");
    if let Some(mac) = mac {
        s.push_str(&format!(",mac={}", escape(mac)));
    }
    s
}

fn user_netdev(net: &UserNet) -> OsString {
    // restrict=on: the guest reaches nothing but the forwards below (no NAT to the
    // host's network, no DNS relay). No IPv6, so there is no second stack to police.
    let restrict = if net.outbound { "off" } else { "on" };
    let mut s = format!(
        "user,id=net0,restrict={restrict},ipv6=off,net={USER_NET},host={USER_NET_HOST},dhcpstart={USER_NET_DHCP_START}"
    );
    if let Some(h) = &net.hostname {
        s.push_str(&format!(",hostname={}", escape(h)));
    }
    for f in &net.hostfwd {
        s.push_str(&format!(
            ",hostfwd=tcp:{}:{}-:{}",
            f.host_addr, f.host_port, f.guest_port
        ));
    }
    let mut s = OsString::from(s);
    for f in &net.guestfwd {
        s.push(format!(",guestfwd=tcp:{}:{}-", f.addr, f.port));
        match &f.target {
            GuestFwdTarget::Cmd(cmd) => s.push(format!("cmd:{}", escape(cmd))),
            GuestFwdTarget::UnixSocket(path) => {
                s.push("unix:");
                s.push(escape_path(path));
            }
        }
    }
    s
}

/// Creates `overlay`, a qcow2 image whose backing file is `base` (format
/// `base_format`: `raw` or `qcow2`). Every write of the guest lands in the overlay; QEMU
/// opens the backing file read-only, so the base image is never modified and can back
/// any number of instances. `size` (bytes) grows the disk beyond the base's size.
pub fn create_overlay(
    qemu_img: &Path,
    base: &Path,
    base_format: &str,
    overlay: &Path,
    size: Option<u64>,
) -> Result<(), crate::VmError> {
    // qcow2 stores the backing path as given and resolves a relative one against the
    // overlay's directory: store an absolute path.
    let base = base.canonicalize().map_err(|e| crate::VmError::Io {
        what: format!("base image {}", base.display()),
        source: e,
    })?;
    let mut cmd = Command::new(qemu_img);
    cmd.args(["create", "-q", "-f", "qcow2", "-F", base_format, "-b"])
        .arg(&base)
        .arg(overlay);
    if let Some(size) = size {
        cmd.arg(size.to_string());
    }
    let out = cmd.output().map_err(|e| crate::VmError::Io {
        what: format!("running {}", qemu_img.display()),
        source: e,
    })?;
    if !out.status.success() {
        return Err(crate::VmError::Tool {
            tool: "qemu-img create".to_owned(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

#[derive(Default)]
struct Args(Vec<OsString>);

impl Args {
    fn push(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.0.push(arg.as_ref().to_owned());
        self
    }
}

fn os(s: &str) -> OsString {
    OsString::from(s)
}

fn cat<const N: usize>(parts: [OsString; N]) -> OsString {
    let mut out = OsString::new();
    for p in parts {
        out.push(p);
    }
    out
}

/// QEMU's option syntax separates `key=value` pairs with commas; a comma inside a
/// value is written twice.
fn escape(value: &str) -> String {
    value.replace(',', ",,")
}

fn escape_path(path: &Path) -> OsString {
    let bytes = path.as_os_str().as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        out.push(b);
        if b == b',' {
            out.push(b',');
        }
    }
    std::os::unix::ffi::OsStringExt::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> InstanceDir {
        InstanceDir::new_unchecked(PathBuf::from("/var/nomuck/i-0123"))
    }

    fn spec() -> VmSpec {
        VmSpec {
            name: "i-0123".into(),
            vcpus: 1,
            memory_mib: 256,
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

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    /// The value following `flag`, for each occurrence.
    fn values(args: &[String], flag: &str) -> Vec<String> {
        args.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].clone())
            .collect()
    }

    #[test]
    fn minimal_guest_has_no_defaults_and_its_files_in_the_instance_dir() {
        let a = strings(spec().args(&dir()));
        for flag in ["-nodefaults", "-no-user-config", "-nographic"] {
            assert!(a.contains(&flag.to_string()), "{flag} missing: {a:?}");
        }
        assert_eq!(values(&a, "-machine"), ["microvm"]);
        assert_eq!(values(&a, "-accel"), ["tcg"]);
        assert!(
            values(&a, "-cpu").is_empty(),
            "TCG keeps QEMU's default CPU"
        );
        assert_eq!(values(&a, "-smp"), ["1"]);
        assert_eq!(values(&a, "-m"), ["256M"]);
        assert_eq!(values(&a, "-name"), ["guest=i-0123"]);
        assert_eq!(values(&a, "-pidfile"), ["/var/nomuck/i-0123/qemu.pid"]);
        assert_eq!(
            values(&a, "-chardev"),
            [
                "socket,id=qmp,server=on,wait=off,path=/var/nomuck/i-0123/qmp.sock",
                "file,id=console,path=/var/nomuck/i-0123/console.log",
            ]
        );
        assert_eq!(values(&a, "-mon"), ["chardev=qmp,mode=control"]);
        assert_eq!(values(&a, "-serial"), ["chardev:console"]);
        assert!(values(&a, "-netdev").is_empty(), "no network unless asked");
        assert!(values(&a, "-drive").is_empty());
        assert!(values(&a, "-kernel").is_empty());
        assert!(values(&a, "-bios").is_empty());
        assert!(!a.contains(&"-S".to_string()));
    }

    #[test]
    fn firmware_and_start_paused() {
        let mut s = spec();
        s.firmware = Some("/usr/share/ovmf/OVMF.fd".into());
        s.start_paused = true;
        let a = strings(s.args(&dir()));
        assert_eq!(values(&a, "-bios"), ["/usr/share/ovmf/OVMF.fd"]);
        assert!(a.contains(&"-S".to_string()));
    }

    #[test]
    fn reboot_resets_and_poweroff_pauses_in_shutdown() {
        let a = strings(spec().args(&dir()));
        assert!(!a.contains(&"-no-reboot".to_string()));
        assert!(!a.contains(&"-no-shutdown".to_string()));
        assert_eq!(values(&a, "-action"), ["reboot=reset,shutdown=pause"]);
    }

    #[test]
    fn kvm_uses_the_host_cpu() {
        let mut s = spec();
        s.accel = Accel::Kvm;
        let a = strings(s.args(&dir()));
        assert_eq!(values(&a, "-accel"), ["kvm"]);
        assert_eq!(values(&a, "-cpu"), ["host"]);
    }

    #[test]
    fn kernel_boot_and_root_overlay() {
        let mut s = spec();
        s.vcpus = 2;
        s.memory_mib = 1741;
        s.kernel = Some(KernelBoot {
            kernel: "/img/vmlinux".into(),
            initrd: Some("/img/initrd".into()),
            cmdline: "console=ttyS0 root=/dev/vda rw".into(),
        });
        s.root_disk = Some("/var/nomuck/i-0123/root.qcow2".into());
        let a = strings(s.args(&dir()));
        assert_eq!(values(&a, "-kernel"), ["/img/vmlinux"]);
        assert_eq!(values(&a, "-initrd"), ["/img/initrd"]);
        assert_eq!(values(&a, "-append"), ["console=ttyS0 root=/dev/vda rw"]);
        assert_eq!(values(&a, "-smp"), ["2"]);
        assert_eq!(values(&a, "-m"), ["1741M"]);
        assert_eq!(
            values(&a, "-drive"),
            ["if=none,id=root,format=qcow2,discard=unmap,file=/var/nomuck/i-0123/root.qcow2"]
        );
        assert_eq!(values(&a, "-device"), ["virtio-blk-device,drive=root"]);

        s.machine = Machine::Pc;
        let a = strings(s.args(&dir()));
        assert_eq!(values(&a, "-machine"), ["pc"]);
        assert_eq!(
            values(&a, "-smbios"),
            [format!(
                "type=1,manufacturer=Amazon EC2,product=nomuck,serial={}",
                s.name
            )]
        );
        assert_eq!(values(&a, "-device"), ["virtio-blk-pci,drive=root"]);
    }

    #[test]
    fn user_net_is_restricted_link_local_with_explicit_host_and_dhcp() {
        let mut s = spec();
        s.user_net = Some(UserNet {
            mac: Some("52:54:00:00:00:01".into()),
            hostname: Some("ip-172-31-0-5".into()),
            hostfwd: vec![HostFwd::loopback(42022, 22), HostFwd::loopback(42080, 8080)],
            guestfwd: vec![GuestFwd::metadata(GuestFwdTarget::Cmd(
                "nomuck imds-bridge /var/nomuck/i-0123/imds.sock".into(),
            ))],
            outbound: false,
        });
        let a = strings(s.args(&dir()));
        assert_eq!(
            values(&a, "-netdev"),
            [
                "user,id=net0,restrict=on,ipv6=off,net=169.254.0.0/16,host=169.254.0.2,\
              dhcpstart=169.254.0.15,hostname=ip-172-31-0-5,\
              hostfwd=tcp:127.0.0.1:42022-:22,hostfwd=tcp:127.0.0.1:42080-:8080,\
              guestfwd=tcp:169.254.169.254:80-cmd:nomuck imds-bridge /var/nomuck/i-0123/imds.sock"
            ]
        );
        assert_eq!(
            values(&a, "-device"),
            ["virtio-net-device,netdev=net0,mac=52:54:00:00:00:01"]
        );
        s.machine = Machine::Pc;
        let a = strings(s.args(&dir()));
        assert_eq!(
            values(&a, "-device"),
            ["virtio-net-pci,romfile=,netdev=net0,mac=52:54:00:00:00:01"]
        );
    }

    #[test]
    fn outbound_access_lifts_the_restriction_only_when_asked() {
        let mut s = spec();
        s.user_net = Some(UserNet::default());
        assert!(values(&strings(s.args(&dir())), "-netdev")[0].contains(",restrict=on,"));
        s.user_net = Some(UserNet {
            outbound: true,
            ..UserNet::default()
        });
        assert!(values(&strings(s.args(&dir())), "-netdev")[0].contains(",restrict=off,"));
    }

    #[test]
    fn guestfwd_to_a_unix_socket() {
        let mut s = spec();
        s.user_net = Some(UserNet {
            guestfwd: vec![GuestFwd::metadata(GuestFwdTarget::UnixSocket(
                "/run/imds.sock".into(),
            ))],
            ..UserNet::default()
        });
        let a = strings(s.args(&dir()));
        assert!(
            values(&a, "-netdev")[0]
                .ends_with(",guestfwd=tcp:169.254.169.254:80-unix:/run/imds.sock"),
            "{a:?}"
        );
    }

    #[test]
    fn private_nic_is_a_dgram_unix_socket_pair() {
        let mut s = spec();
        s.private_nic = Some(PrivateNic {
            mac: "52:54:00:00:01:01".into(),
            local: "/var/nomuck/i-0123/nic1.sock".into(),
            switch: "/var/nomuck/net/acct-1.sock".into(),
        });
        let a = strings(s.args(&dir()));
        assert_eq!(
            values(&a, "-netdev"),
            [
                "dgram,id=net1,local.type=unix,local.path=/var/nomuck/i-0123/nic1.sock,\
              remote.type=unix,remote.path=/var/nomuck/net/acct-1.sock"
            ]
        );
        assert_eq!(
            values(&a, "-device"),
            ["virtio-net-device,netdev=net1,mac=52:54:00:00:01:01"]
        );
    }

    #[test]
    fn commas_in_values_cannot_inject_options() {
        let mut s = spec();
        s.name = "a,process=evil".into();
        s.root_disk = Some("/d/x,readonly=off.qcow2".into());
        s.user_net = Some(UserNet {
            guestfwd: vec![GuestFwd::metadata(GuestFwdTarget::Cmd("nc -U /a,b".into()))],
            ..UserNet::default()
        });
        let d = InstanceDir::new_unchecked(PathBuf::from("/v/i,x"));
        let a = strings(s.args(&d));
        assert_eq!(values(&a, "-name"), ["guest=a,,process=evil"]);
        assert!(values(&a, "-drive")[0].ends_with("file=/d/x,,readonly=off.qcow2"));
        assert!(values(&a, "-chardev")[0].ends_with("path=/v/i,,x/qmp.sock"));
        assert!(values(&a, "-netdev")[0].ends_with("cmd:nc -U /a,,b"));
        // -pidfile takes a plain file name, not options: no escaping there.
        assert_eq!(values(&a, "-pidfile"), ["/v/i,x/qemu.pid"]);
    }
}
