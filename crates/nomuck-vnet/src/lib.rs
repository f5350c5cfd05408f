//! The private network of nomuck's compute service: one userspace Ethernet switch
//! on one unix datagram socket, carrying every instance's second NIC
//! (`nomuck_qemu::PrivateNic`, QEMU's `-netdev dgram`). Frames never touch the
//! host's IP stack and nothing needs root.
//!
//! - A frame's sender is the datagram's source path: the socket QEMU bound for that
//!   instance. Nothing inside a frame can change which port it came from.
//! - Each port belongs to one `network` (one per account). Broadcast and multicast
//!   go to the other ports of that network, unicast to the port with that MAC in
//!   that network; nothing ever crosses networks. Only ARP and IPv4 pass, and only
//!   with the port's own MAC and address as source (0.0.0.0 for an ARP probe or a
//!   DHCP request).
//! - A DHCP server in the switch gives each port its address, with the subnet mask
//!   but no router and no DNS. The switch's own address in a subnet (DHCP server id,
//!   answered for in ARP) is the first host address: 172.31.0.1 in 172.31.0.0/16,
//!   so that address is never a port's.
//! - Restarts: QEMU sends every frame with `sendto` to the switch's path, so a new
//!   switch bound at the same path (with the same ports attached) carries traffic
//!   again; frames sent meanwhile are lost, as on a real wire.
//! - A slow guest cannot stall the switch: sends never wait (a full receiver queue
//!   drops the frame).

mod dhcp;
mod packet;
mod table;

use std::io;
use std::net::Ipv4Addr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

pub use packet::{Mac, mac_string, parse_mac};
pub use table::{Decision, DropReason, PortTable, server_id};

/// The switch's own MAC (locally administered), source of its DHCP and ARP answers.
pub const SWITCH_MAC: Mac = [0x02, 0x6e, 0x6d, 0x00, 0x00, 0x01];

/// The lease time the DHCP server gives (the address itself never changes).
pub const LEASE_SECS: u32 = dhcp::LEASE_SECS;

/// Largest datagram read: QEMU's largest packet (65,536 plus its 4 KiB slack).
const MAX_FRAME: usize = 69_632;

/// One instance's NIC on the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// The socket QEMU binds for this NIC (`PrivateNic::local`), byte for byte as
    /// on QEMU's command line: frames from it are this port's, frames to the port
    /// are sent to it.
    pub local: PathBuf,
    /// The isolation domain, one per account: frames never leave it.
    pub network: String,
    pub mac: Mac,
    /// The instance's private address, given by DHCP and enforced as source.
    pub ip: Ipv4Addr,
    /// The subnet's prefix length (16 for 172.31.0.0/16), 1..=30.
    pub prefix_len: u8,
    /// DHCP option 12, if set (1..=255 bytes).
    pub hostname: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum VnetError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("port {}: {why}", local.display())]
    InvalidPort { local: PathBuf, why: String },
    #[error("port {} has the MAC or address of port {} in network {network}", local.display(), other.display())]
    Conflict {
        local: PathBuf,
        other: PathBuf,
        network: String,
    },
    #[error("Switch::bind must be called inside a tokio runtime")]
    NoRuntime,
}

/// Counters since the switch was bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwitchStats {
    pub received: u64,
    /// Frames handed to a port's socket (one per destination).
    pub delivered: u64,
    /// DHCP and ARP answers of the switch itself.
    pub replies: u64,
    pub dropped_unknown_sender: u64,
    /// Forged source MAC or address.
    pub dropped_spoofed: u64,
    /// Every other drop (malformed, other EtherTypes, unknown destination, ...).
    pub dropped_other: u64,
    /// Sends that failed: the receiving QEMU is gone or its queue is full.
    pub send_failures: u64,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    delivered: AtomicU64,
    replies: AtomicU64,
    dropped_unknown_sender: AtomicU64,
    dropped_spoofed: AtomicU64,
    dropped_other: AtomicU64,
    send_failures: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A running switch. Dropping it stops it (the socket file stays, for the next
/// switch to replace).
pub struct Switch {
    path: PathBuf,
    table: Arc<RwLock<PortTable>>,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Switch {
    /// Binds the switch's socket at `path` (replacing a stale socket file; anything
    /// else there is an error), makes it accessible to its owner only, and starts
    /// forwarding on the current tokio runtime. No ports are attached.
    pub fn bind(path: impl Into<PathBuf>) -> Result<Switch, VnetError> {
        let path = path.into();
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| VnetError::NoRuntime)?;
        let io_err = |what: &str| {
            let what = format!("{what} {}", path.display());
            move |source| VnetError::Io { what, source }
        };
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_socket() => {
                std::fs::remove_file(&path).map_err(io_err("removing stale socket"))?
            }
            Ok(_) => {
                return Err(VnetError::Io {
                    what: format!("{} exists and is not a socket", path.display()),
                    source: io::ErrorKind::AlreadyExists.into(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("checking")(e)),
        }
        let socket = std::os::unix::net::UnixDatagram::bind(&path).map_err(io_err("binding"))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(io_err("restricting"))?;
        socket
            .set_nonblocking(true)
            .map_err(io_err("configuring"))?;
        // Sends go through a second descriptor of the same socket, straight to the
        // kernel: a full receiver answers EAGAIN and the frame is dropped, where a
        // send through tokio would wait on (or misreport) writability.
        let sender = socket.try_clone().map_err(io_err("cloning"))?;
        let receiver = {
            let _entered = runtime.enter();
            tokio::net::UnixDatagram::from_std(socket).map_err(io_err("registering"))?
        };
        let table = Arc::new(RwLock::new(PortTable::default()));
        let counters = Arc::new(Counters::default());
        let task = runtime.spawn(run(receiver, sender, table.clone(), counters.clone()));
        tracing::info!(path = %path.display(), "private network switch listening");
        Ok(Switch {
            path,
            table,
            counters,
            task,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Connects `port` (replacing a port with the same `local`); takes effect for
    /// the next frame. Fails on an invalid port or a MAC or address already used
    /// by another port of the same network.
    pub fn attach(&self, port: Port) -> Result<(), VnetError> {
        tracing::debug!(local = %port.local.display(), network = %port.network, ip = %port.ip, "port attached");
        self.write().attach(port)
    }

    /// Disconnects the port bound at `local`, returning it.
    pub fn detach(&self, local: &Path) -> Option<Port> {
        self.write().detach(local)
    }

    /// The port attached at `local`.
    pub fn port(&self, local: &Path) -> Option<Port> {
        self.read().get(local).cloned()
    }

    pub fn stats(&self) -> SwitchStats {
        let c = &*self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SwitchStats {
            received: get(&c.received),
            delivered: get(&c.delivered),
            replies: get(&c.replies),
            dropped_unknown_sender: get(&c.dropped_unknown_sender),
            dropped_spoofed: get(&c.dropped_spoofed),
            dropped_other: get(&c.dropped_other),
            send_failures: get(&c.send_failures),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, PortTable> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, PortTable> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(
    receiver: tokio::net::UnixDatagram,
    sender: std::os::unix::net::UnixDatagram,
    table: Arc<RwLock<PortTable>>,
    counters: Arc<Counters>,
) {
    let mut buf = vec![0u8; MAX_FRAME];
    loop {
        let (len, from) = match receiver.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                // Nothing a datagram can do should end the switch; back off briefly
                // in case the error repeats.
                tracing::warn!(error = %e, "private network switch: receive failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        bump(&counters.received);
        let Some(from) = from.as_pathname() else {
            bump(&counters.dropped_unknown_sender);
            continue;
        };
        let frame = &buf[..len];
        let send = |to: &Path, frame: &[u8]| match sender.send_to(frame, to) {
            Ok(_) => true,
            Err(e) => {
                bump(&counters.send_failures);
                tracing::trace!(to = %to.display(), error = %e, "frame not delivered");
                false
            }
        };
        // Sends never block, so holding the read lock across them is cheap.
        let ports = table.read().unwrap_or_else(|e| e.into_inner());
        match ports.decide(from, frame) {
            Decision::Forward(to) => {
                for port in to {
                    if send(port, frame) {
                        bump(&counters.delivered);
                    }
                }
            }
            Decision::Reply(answer) => {
                if send(from, &answer) {
                    bump(&counters.replies);
                }
            }
            Decision::Drop(reason) => {
                let counter = match reason {
                    DropReason::UnknownSender => &counters.dropped_unknown_sender,
                    r if r.is_spoof() => &counters.dropped_spoofed,
                    _ => &counters.dropped_other,
                };
                bump(counter);
                tracing::debug!(from = %from.display(), ?reason, "frame dropped");
            }
        }
    }
}
