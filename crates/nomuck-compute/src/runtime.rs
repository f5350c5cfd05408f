//! The guests themselves: one QEMU per instance in its own directory
//! (`<dir>/vm/<instance-id>/`), its metadata socket, its forwarded ports.
//!
//! The runtime holds only handles; the truth is the instance record and the
//! QEMU processes. After a restart a guest is re-attached by its directory
//! (nomuck-qemu finds the QEMU that owns it), so nothing here must survive.

use std::collections::HashMap;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nomuck_imds::{HttpTokens, InstanceFacts, MetadataSource, PublicKey, Subnet, TokenKey};
use nomuck_meta::MetaStore;
use nomuck_meta::compute::{InstanceRecord, PortForward};
use nomuck_qemu::{
    Accel, GuestFwd, GuestFwdTarget, HostFwd, InstanceDir, KernelBoot, Machine, UserNet, Vm,
    VmSpec, VmState,
};
use sha2::Digest;
use tokio::task::JoinHandle;

use crate::{ComputeError, ComputeOptions, catalog};

/// What the worker needs to boot an instance, resolved from its images.
#[derive(Debug, Clone)]
pub(crate) struct BootFiles {
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    pub cmdline: String,
    /// Base disk and its format (`raw`, `qcow2`).
    pub disk: Option<(PathBuf, String)>,
}

/// How a running guest is doing, as far as the worker cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    Running,
    /// The guest powered itself off.
    GuestShutdown,
    /// No QEMU any more (it crashed or was killed behind nomuck's back).
    Gone,
}

struct Guest {
    vm: Arc<Vm>,
    metadata: Option<JoinHandle<()>>,
}

impl Drop for Guest {
    fn drop(&mut self) {
        if let Some(task) = self.metadata.take() {
            task.abort();
        }
    }
}

pub(crate) struct Runtime {
    vm_root: PathBuf,
    /// Where instances' unix sockets live: `vm_root`, or a short directory when the
    /// data directory's path would make socket paths too long (see [`socket_root`]).
    socket_root: PathBuf,
    /// The accounts' private networks: one switch, one network per account.
    switch: nomuck_vnet::Switch,
    guests: Mutex<HashMap<String, Guest>>,
    token_key: TokenKey,
    /// Bounds the guests booting at once, so a burst of launches does not starve the
    /// running ones.
    pub(crate) launching: tokio::sync::Semaphore,
}

impl Runtime {
    pub(crate) fn new(opts: &ComputeOptions) -> Result<Runtime, ComputeError> {
        let vm_root = opts.dir.join("vm");
        let socket_root = socket_root(&vm_root)?;
        let switch = nomuck_vnet::Switch::bind(socket_root.join("vnet.sock"))
            .map_err(|e| ComputeError::Internal(format!("private network switch: {e}")))?;
        Ok(Runtime {
            switch,
            socket_root,
            vm_root,
            guests: Mutex::new(HashMap::new()),
            token_key: TokenKey::from_bytes(opts.token_key),
            launching: tokio::sync::Semaphore::new(opts.launch_workers.max(1)),
        })
    }

    /// The instance's NIC on its account's private network, as QEMU and the switch
    /// both name it.
    fn nic_socket(&self, id: &str) -> PathBuf {
        self.sockets_of(id).join("nic1.sock")
    }

    fn sockets_of(&self, id: &str) -> PathBuf {
        self.socket_root.join(id)
    }

    /// The instance's directory, with its sockets in theirs (both made if missing).
    fn instance_dir(&self, id: &str) -> Result<InstanceDir, ComputeError> {
        let (path, sockets) = (self.dir_of(id), self.sockets_of(id));
        for d in [&path, &sockets] {
            std::fs::create_dir_all(d).map_err(|e| io("creating the instance directory", e))?;
        }
        InstanceDir::with_sockets(&path, &sockets)
            .map_err(|e| ComputeError::Internal(e.to_string()))
    }

    /// The instance's directory if it exists (nothing is created).
    fn existing_dir(&self, id: &str) -> Option<InstanceDir> {
        InstanceDir::with_sockets(&self.dir_of(id), &self.sockets_of(id)).ok()
    }

    /// Puts the instance's private NIC on its account's network.
    fn attach_port(&self, r: &InstanceRecord) -> Result<(), ComputeError> {
        let mac = nomuck_vnet::parse_mac(&r.mac)
            .ok_or_else(|| ComputeError::Internal(format!("bad MAC {}", r.mac)))?;
        let ip = r
            .private_ip
            .parse()
            .map_err(|_| ComputeError::Internal(format!("bad address {}", r.private_ip)))?;
        self.switch
            .attach(nomuck_vnet::Port {
                local: self.nic_socket(&r.id),
                network: r.account_id.clone(),
                mac,
                ip,
                prefix_len: crate::instances::SUBNET_PREFIX,
                hostname: Some(hostname_of(r)),
            })
            .map_err(|e| ComputeError::Internal(format!("private network: {e}")))
    }

    pub(crate) fn dir_of(&self, id: &str) -> PathBuf {
        self.vm_root.join(id)
    }

    fn guest(&self, id: &str) -> Option<Arc<Vm>> {
        self.lock().get(id).map(|g| Arc::clone(&g.vm))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Guest>> {
        self.guests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn detach_all(&self) {
        self.lock().clear();
    }

    /// Boots `r` (or adopts the QEMU already running for it). Returns the
    /// accelerator it runs under and its forwarded ports.
    pub(crate) async fn launch(
        &self,
        opts: &ComputeOptions,
        store: &Arc<dyn MetaStore>,
        accel: Accel,
        r: &InstanceRecord,
        boot: &BootFiles,
        guest_ports: &[u16],
    ) -> Result<(Accel, Vec<PortForward>), ComputeError> {
        let path = self.dir_of(&r.id);
        let dir = self.instance_dir(&r.id)?;
        let metadata = self.serve_metadata(opts, store, r, dir.socket_dir())?;
        self.attach_port(r)?;
        if let Some(vm) = Vm::attach(&dir)
            .await
            .map_err(|e| ComputeError::Internal(e.to_string()))?
        {
            self.lock().insert(
                r.id.clone(),
                Guest {
                    vm: Arc::new(vm),
                    metadata: Some(metadata),
                },
            );
            return Ok((accel, r.forwards.clone()));
        }
        let ty = catalog::lookup(&r.instance_type).ok_or_else(|| {
            ComputeError::Internal(format!("unknown instance type {}", r.instance_type))
        })?;
        let root_disk = match &boot.disk {
            Some((base, format)) => {
                let overlay = path.join("disk.qcow2");
                if !overlay.exists() {
                    nomuck_qemu::create_overlay(&opts.qemu_img, base, format, &overlay, None)
                        .map_err(|e| ComputeError::Internal(e.to_string()))?;
                }
                Some(overlay)
            }
            None => None,
        };
        let forwards = allocate_forwards(opts.forward_addr, guest_ports, &r.forwards)?;
        let mut cmdline = boot.cmdline.clone();
        if accel == Accel::Tcg {
            cmdline.push(' ');
            cmdline.push_str(&nomuck_guest::tcg_cmdline_extra());
        }
        let spec = VmSpec {
            name: r.id.clone(),
            vcpus: ty.vcpus,
            memory_mib: ty.memory_mib,
            machine: if boot.kernel.is_some() {
                Machine::Microvm
            } else {
                Machine::Pc
            },
            accel,
            firmware: None,
            kernel: boot.kernel.as_ref().map(|k| KernelBoot {
                kernel: k.clone(),
                initrd: boot.initrd.clone(),
                cmdline,
            }),
            root_disk,
            user_net: Some(UserNet {
                mac: Some(user_net_mac(&r.mac)),
                hostname: Some(hostname_of(r)),
                hostfwd: forwards
                    .iter()
                    .map(|f| HostFwd {
                        host_addr: opts.forward_addr,
                        host_port: f.host_port,
                        guest_port: f.guest_port,
                    })
                    .collect(),
                guestfwd: if r.metadata_enabled {
                    vec![GuestFwd::metadata(GuestFwdTarget::Cmd(format!(
                        "{} {}",
                        opts.imds_bridge,
                        dir.socket_dir().join("imds.sock").display()
                    )))]
                } else {
                    Vec::new()
                },
                outbound: opts.guest_outbound,
            }),
            private_nic: Some(nomuck_qemu::PrivateNic {
                mac: r.mac.clone(),
                local: self.nic_socket(&r.id),
                switch: self.switch.path().to_path_buf(),
            }),
            start_paused: false,
        };
        let vm = Vm::launch(&opts.qemu_system, &spec, &dir)
            .await
            .map_err(|e| ComputeError::Internal(e.to_string()))?;
        self.lock().insert(
            r.id.clone(),
            Guest {
                vm: Arc::new(vm),
                metadata: Some(metadata),
            },
        );
        Ok((accel, forwards))
    }

    /// Binds the instance's metadata socket and serves it.
    fn serve_metadata(
        &self,
        opts: &ComputeOptions,
        store: &Arc<dyn MetaStore>,
        r: &InstanceRecord,
        dir: &Path,
    ) -> Result<JoinHandle<()>, ComputeError> {
        let socket = dir.join("imds.sock");
        let _ = std::fs::remove_file(&socket);
        let listener = tokio::net::UnixListener::bind(&socket)
            .map_err(|e| io("binding the metadata socket", e))?;
        let source = Arc::new(Metadata {
            store: Arc::clone(store),
            id: r.id.clone(),
            region: opts.region.clone(),
            zone: opts.availability_zone(),
        });
        Ok(tokio::spawn(nomuck_imds::serve(
            listener,
            source,
            self.token_key.clone(),
        )))
    }

    /// Whether `r`'s guest still runs; re-attaches after a restart.
    pub(crate) async fn health(
        &self,
        opts: &ComputeOptions,
        store: &Arc<dyn MetaStore>,
        r: &InstanceRecord,
    ) -> Health {
        let vm = match self.guest(&r.id) {
            Some(vm) => vm,
            None => match self.attach(opts, store, r).await {
                Some(vm) => vm,
                None => return Health::Gone,
            },
        };
        match vm.state().await {
            Ok(VmState::Running | VmState::Paused(_)) => Health::Running,
            Ok(VmState::Shutdown) => Health::GuestShutdown,
            Ok(VmState::Gone) => {
                self.lock().remove(&r.id);
                Health::Gone
            }
            // QMP hiccup: ask again on the next round.
            Err(e) => {
                tracing::warn!(instance = %r.id, %e, "cannot query the guest");
                Health::Running
            }
        }
    }

    async fn attach(
        &self,
        opts: &ComputeOptions,
        store: &Arc<dyn MetaStore>,
        r: &InstanceRecord,
    ) -> Option<Arc<Vm>> {
        let dir = self.existing_dir(&r.id)?;
        match Vm::attach(&dir).await {
            Ok(Some(vm)) => {
                let vm = Arc::new(vm);
                let metadata = self.serve_metadata(opts, store, r, dir.socket_dir()).ok();
                if let Err(e) = self.attach_port(r) {
                    tracing::warn!(instance = %r.id, %e, "cannot rejoin the private network");
                }
                tracing::info!(instance = %r.id, pid = vm.pid(), "re-attached to its QEMU");
                self.lock().insert(
                    r.id.clone(),
                    Guest {
                        vm: Arc::clone(&vm),
                        metadata,
                    },
                );
                Some(vm)
            }
            Ok(None) => None,
            Err(e) => {
                // A QEMU that owns the directory but does not answer is killed, so
                // none is ever left running unsupervised.
                tracing::warn!(instance = %r.id, %e, "its QEMU does not answer; killing it");
                if let Ok(Some(p)) = nomuck_qemu::QemuProcess::find(&dir) {
                    p.kill().await;
                }
                None
            }
        }
    }

    /// Powers the guest off (`force`: at once) and forgets it.
    pub(crate) async fn stop(&self, id: &str, force: bool, grace: Duration) {
        let vm = self.lock().remove(id).map(|g| Arc::clone(&g.vm));
        let vm = match vm {
            Some(vm) => Some(vm),
            None => match self.existing_dir(id) {
                Some(dir) => Vm::attach(&dir).await.ok().flatten().map(Arc::new),
                None => None,
            },
        };
        if let Some(vm) = vm {
            if force {
                vm.kill().await;
            } else {
                vm.powerdown(grace).await;
            }
        } else if let Some(dir) = self.existing_dir(id)
            && let Ok(Some(p)) = nomuck_qemu::QemuProcess::find(&dir)
        {
            p.kill().await;
        }
        let _ = std::fs::remove_file(self.sockets_of(id).join("imds.sock"));
        self.switch.detach(&self.nic_socket(id));
    }

    /// Kills the guest and deletes its disk; the console log stays until the
    /// record goes.
    pub(crate) async fn terminate(&self, id: &str) {
        self.stop(id, true, Duration::ZERO).await;
        let _ = std::fs::remove_file(self.dir_of(id).join("disk.qcow2"));
    }

    /// Removes everything of a forgotten instance.
    pub(crate) fn purge(&self, id: &str) {
        let _ = std::fs::remove_dir_all(self.dir_of(id));
        let _ = std::fs::remove_dir_all(self.sockets_of(id));
    }

    pub(crate) async fn reboot(&self, id: &str) -> Result<(), ComputeError> {
        let vm = self
            .guest(id)
            .ok_or_else(|| ComputeError::Internal(format!("{id} has no guest attached")))?;
        vm.qmp()
            .system_reset()
            .await
            .map_err(|e| ComputeError::Internal(e.to_string()))
    }

    /// Adds host forwards for `ports` to a running guest (security group changes).
    pub(crate) async fn add_forwards(
        &self,
        id: &str,
        addr: Ipv4Addr,
        forwards: &[PortForward],
    ) -> Result<(), ComputeError> {
        let Some(vm) = self.guest(id) else {
            return Ok(());
        };
        for f in forwards {
            vm.qmp()
                .human_monitor_command(&format!(
                    "hostfwd_add net0 tcp:{addr}:{}-:{}",
                    f.host_port, f.guest_port
                ))
                .await
                .map_err(|e| ComputeError::Internal(e.to_string()))?;
        }
        Ok(())
    }

    pub(crate) async fn remove_forwards(
        &self,
        id: &str,
        addr: Ipv4Addr,
        forwards: &[PortForward],
    ) -> Result<(), ComputeError> {
        let Some(vm) = self.guest(id) else {
            return Ok(());
        };
        for f in forwards {
            vm.qmp()
                .human_monitor_command(&format!("hostfwd_remove net0 tcp:{addr}:{}", f.host_port))
                .await
                .map_err(|e| ComputeError::Internal(e.to_string()))?;
        }
        Ok(())
    }

    /// The serial console so far (the last `limit` bytes).
    pub(crate) fn console(&self, id: &str, limit: usize) -> Vec<u8> {
        let bytes = std::fs::read(self.dir_of(id).join("console.log")).unwrap_or_default();
        let start = bytes.len().saturating_sub(limit);
        bytes.get(start..).unwrap_or_default().to_vec()
    }
}

/// The longest socket path below a socket root: `/<instance id>/imds.sock`.
const SOCKET_SUFFIX_LEN: usize = "/i-0123456789abcdef0/imds.sock".len();
/// `sun_path` holds 108 bytes with the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// `vm_root` when socket paths below it fit in `sun_path`; otherwise a private
/// directory with a short path in the temporary directory, named after `vm_root`
/// so the next start finds the same one.
fn socket_root(vm_root: &Path) -> Result<PathBuf, ComputeError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    std::fs::create_dir_all(vm_root).map_err(|e| io("creating the instance directories", e))?;
    let vm_root = vm_root
        .canonicalize()
        .map_err(|e| io("the instance directories", e))?;
    if vm_root.as_os_str().len() + SOCKET_SUFFIX_LEN <= MAX_SOCKET_PATH {
        return Ok(vm_root);
    }
    let me = std::fs::metadata("/proc/self")
        .map_err(|e| io("/proc/self", e))?
        .uid();
    let digest = sha2::Sha256::digest(vm_root.as_os_str().as_encoded_bytes());
    let short = std::env::temp_dir().join(format!("nomuck-{me}-{}", &hex::encode(digest)[..12]));
    match std::fs::DirBuilder::new().mode(0o700).create(&short) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io("creating the socket directory", e)),
    }
    // Someone else's directory, or one others may write in, would let them stand in
    // for an instance's sockets.
    let meta = std::fs::symlink_metadata(&short).map_err(|e| io("the socket directory", e))?;
    if !meta.is_dir() || meta.uid() != me || meta.permissions().mode() & 0o077 != 0 {
        return Err(ComputeError::Internal(format!(
            "{} is not a private directory of this user",
            short.display()
        )));
    }
    Ok(short)
}

fn io(what: &str, e: std::io::Error) -> ComputeError {
    ComputeError::Internal(format!("{what}: {e}"))
}

/// Host ports for `guest_ports`: the ones already recorded are kept (the guest
/// keeps its SSH port across stop/start when it is still free), the rest are
/// free ports picked by the kernel.
fn allocate_forwards(
    addr: Ipv4Addr,
    guest_ports: &[u16],
    recorded: &[PortForward],
) -> Result<Vec<PortForward>, ComputeError> {
    let mut out = Vec::new();
    for &guest_port in guest_ports {
        let kept = recorded
            .iter()
            .find(|f| f.guest_port == guest_port)
            .filter(|f| TcpListener::bind((addr, f.host_port)).is_ok());
        let host_port = match kept {
            Some(f) => f.host_port,
            None => free_port(addr)?,
        };
        out.push(PortForward {
            guest_port,
            host_port,
        });
    }
    Ok(out)
}

pub(crate) fn free_port(addr: Ipv4Addr) -> Result<u16, ComputeError> {
    TcpListener::bind((addr, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| io("finding a free port", e))
}

/// The user-mode NIC's MAC: the private NIC's (the instance's `mac`, which the
/// metadata service reports) with another first octet, still locally administered.
fn user_net_mac(mac: &str) -> String {
    format!("06{}", mac.get(2..).unwrap_or(":00:00:00:00:00"))
}

fn hostname_of(r: &InstanceRecord) -> String {
    let ip: Ipv4Addr = r.private_ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
    let [a, b, c, d] = ip.octets();
    format!("ip-{a}-{b}-{c}-{d}")
}

/// The metadata service's view of one instance, read anew for each request.
struct Metadata {
    store: Arc<dyn MetaStore>,
    id: String,
    region: String,
    zone: String,
}

#[async_trait::async_trait]
impl MetadataSource for Metadata {
    async fn facts(&self) -> Option<InstanceFacts> {
        let compute = self.store.compute();
        let r = compute.instance(&self.id).await.ok()??;
        if matches!(r.state, nomuck_meta::compute::InstanceState::Terminated) {
            return None;
        }
        let mut public_keys = Vec::new();
        if let Some(name) = &r.key_name
            && let Ok(Some(k)) = compute.key_pair(&r.account_id, name).await
        {
            public_keys.push(PublicKey {
                name: k.name,
                openssh_key: k.public_key,
            });
        }
        let groups = compute
            .security_groups(&r.account_id)
            .await
            .unwrap_or_default();
        let names = r
            .security_group_ids
            .iter()
            .filter_map(|id| groups.iter().find(|g| &g.id == id).map(|g| g.name.clone()))
            .collect();
        let ip: Ipv4Addr = r.private_ip.parse().ok()?;
        Some(InstanceFacts {
            instance_id: r.id.clone(),
            ami_id: r.image_id.clone(),
            kernel_id: r.kernel_id.clone(),
            ramdisk_id: r.ramdisk_id.clone(),
            instance_type: r.instance_type.clone(),
            architecture: "x86_64".into(),
            reservation_id: r.reservation_id.clone(),
            launch_index: r.launch_index,
            local_hostname: nomuck_imds::ec2_hostname(ip, &self.region),
            local_ipv4: ip,
            mac: r.mac.clone(),
            subnet: Some(Subnet {
                subnet_id: crate::instances::default_subnet_id(&r.account_id),
                vpc_id: crate::instances::default_vpc_id(&r.account_id),
                ipv4_cidr_block: crate::instances::SUBNET_CIDR.into(),
                vpc_ipv4_cidr_block: crate::instances::VPC_CIDR.into(),
            }),
            public_keys,
            availability_zone: self.zone.clone(),
            region: self.region.clone(),
            account_id: r.account_id.clone(),
            security_groups: names,
            security_group_ids: r.security_group_ids.clone(),
            user_data: r.user_data.clone().map(bytes::Bytes::from),
            launch_time: crate::millis_to_time(r.launch_time),
            http_tokens: if r.metadata_tokens_required {
                HttpTokens::Required
            } else {
                HttpTokens::Optional
            },
        })
    }
}
