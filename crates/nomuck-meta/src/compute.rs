//! Compute's part of the persistence seam: instances, images, key pairs and
//! security groups (the records behind the EC2 API), with their own trait
//! ([`ComputeStore`], reached through [`crate::MetaStore::compute`]), their own
//! mutations ([`ComputeMutation`], committed through [`crate::MetaStore::commit`]
//! so a state change, its usage event and its delivery share one transaction),
//! their own migrations and their own conformance cases.
//!
//! Every record carries a `generation`: a write names the generation it read
//! (`expect_generation`), so two writers of one record never overwrite each
//! other unseen; the loser gets [`crate::MetaError::Conflict`] and re-reads.

use serde::{Deserialize, Serialize};

use crate::Millis;

/// EC2's instance states, with EC2's numeric codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    Pending,
    Running,
    Stopping,
    Stopped,
    ShuttingDown,
    Terminated,
}

impl InstanceState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::ShuttingDown => "shutting-down",
            Self::Terminated => "terminated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "running" => Self::Running,
            "stopping" => Self::Stopping,
            "stopped" => Self::Stopped,
            "shutting-down" => Self::ShuttingDown,
            "terminated" => Self::Terminated,
            _ => return None,
        })
    }

    /// Whether the instance holds host resources (memory, a QEMU process) or is
    /// about to: counted against capacity and the account's instance limit.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            Self::Pending | Self::Running | Self::Stopping | Self::ShuttingDown
        )
    }
}

/// A TCP port of the guest forwarded from the host (SSH, security-group ports).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortForward {
    pub guest_port: u16,
    pub host_port: u16,
}

/// Why an instance is in its state (EC2's `StateReason`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StateReason {
    pub code: String,
    pub message: String,
}

/// One instance, whatever its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// `i-` and 17 hex digits.
    pub id: String,
    pub account_id: String,
    pub reservation_id: String,
    pub launch_index: u32,
    pub image_id: String,
    pub kernel_id: Option<String>,
    pub ramdisk_id: Option<String>,
    pub instance_type: String,
    pub key_name: Option<String>,
    /// `sg-…` ids, in the order the instance has them.
    pub security_group_ids: Vec<String>,
    /// Raw (decoded) user data.
    pub user_data: Option<Vec<u8>>,
    /// RunInstances' idempotency token: shared by the instances of one
    /// reservation, held by no other reservation of the account.
    pub client_token: Option<String>,
    pub tags: Vec<(String, String)>,
    /// `stop` or `terminate`.
    pub shutdown_behavior: String,
    pub disable_api_termination: bool,
    /// IMDSv2 only (`HttpTokens=required`).
    pub metadata_tokens_required: bool,
    /// `HttpEndpoint=enabled`.
    pub metadata_enabled: bool,
    pub availability_zone: String,
    /// On the account's private network; unique per account among live and
    /// stopped instances (the database enforces it).
    pub private_ip: String,
    pub mac: String,
    pub state: InstanceState,
    pub state_reason: Option<StateReason>,
    /// EC2's `StateTransitionReason` text (e.g. `User initiated (2026-…)`).
    pub state_transition_reason: String,
    /// A pending request of the user the worker has yet to carry out:
    /// `stop`, `force-stop`, `terminate`, `reboot`, `start`.
    pub pending_action: Option<String>,
    /// `kvm` or `tcg` once the instance has run.
    pub accelerator: Option<String>,
    pub forwards: Vec<PortForward>,
    pub launch_time: Millis,
    pub state_changed_at: Millis,
    /// Start of the running time not yet metered; `None` unless running.
    pub metered_from: Option<Millis>,
    pub generation: i64,
}

/// Where an image's bytes live: an object in storage, pinned to the version
/// registered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImagePart {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub etag: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// `ami-`, `aki-` or `ari-` and 17 hex digits.
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub description: String,
    /// `machine`, `kernel` or `ramdisk`.
    pub image_type: String,
    pub architecture: String,
    /// `bucket/key` as registered.
    pub location: String,
    /// The kernel, ramdisk, or root disk object.
    pub part: Option<ImagePart>,
    /// `raw` or `qcow2` for a machine image with a root disk.
    pub disk_format: Option<String>,
    /// Default kernel and ramdisk of a machine image.
    pub kernel_id: Option<String>,
    pub ramdisk_id: Option<String>,
    /// Extra kernel command line for instances of this machine image.
    pub kernel_cmdline: Option<String>,
    /// `available`, `pending` (CreateImage still writing), `failed`.
    pub state: String,
    pub public: bool,
    /// Accounts allowed to launch it besides its owner.
    pub launch_accounts: Vec<String>,
    pub tags: Vec<(String, String)>,
    pub created_at: Millis,
    pub generation: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPairRecord {
    /// `key-` and 17 hex digits.
    pub id: String,
    pub account_id: String,
    /// Unique per account.
    pub name: String,
    /// `rsa` or `ed25519`.
    pub key_type: String,
    /// The OpenSSH public key line.
    pub public_key: String,
    /// As EC2 shows it (MD5 or SHA-1 of the key for RSA, SHA-256 for ED25519).
    pub fingerprint: String,
    pub tags: Vec<(String, String)>,
    pub created_at: Millis,
}

/// One ingress rule: TCP/UDP/ICMP or all (`-1`), a port range, sources.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IngressRule {
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub cidrs: Vec<String>,
    /// Source groups (`sg-…`) of the same account.
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroupRecord {
    /// `sg-` and 17 hex digits.
    pub id: String,
    pub account_id: String,
    /// Unique per account.
    pub name: String,
    pub description: String,
    pub vpc_id: String,
    pub ingress: Vec<IngressRule>,
    pub tags: Vec<(String, String)>,
    pub created_at: Millis,
    pub generation: i64,
}

/// Compute's writes. Committed with [`crate::Mutation::Compute`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComputeMutation {
    /// Insert (`expect_generation: None`: the id must be new) or replace the
    /// record stored at `expect_generation`. The stored generation becomes
    /// `record.generation`, which must be greater. Refused with `Conflict` when
    /// the generation moved, the client token is another reservation's or the
    /// private IP is taken.
    PutInstance {
        record: Box<InstanceRecord>,
        expect_generation: Option<i64>,
    },
    /// Forget a terminated instance.
    DeleteInstance {
        id: String,
    },
    PutImage {
        record: Box<ImageRecord>,
        expect_generation: Option<i64>,
    },
    DeleteImage {
        id: String,
    },
    /// Refused with `Conflict` when the account already has the name.
    CreateKeyPair(KeyPairRecord),
    /// Replace tags of an existing key pair.
    SetKeyPairTags {
        id: String,
        tags: Vec<(String, String)>,
    },
    DeleteKeyPair {
        id: String,
    },
    PutSecurityGroup {
        record: Box<SecurityGroupRecord>,
        expect_generation: Option<i64>,
    },
    DeleteSecurityGroup {
        id: String,
    },
}

/// Compute's reads. Lists are ordered by id unless said otherwise.
#[async_trait::async_trait]
pub trait ComputeStore: Send + Sync {
    async fn instance(&self, id: &str) -> Result<Option<InstanceRecord>, crate::MetaError>;
    /// The account's instances, or everyone's with `None` (the worker).
    async fn instances(
        &self,
        account_id: Option<&str>,
    ) -> Result<Vec<InstanceRecord>, crate::MetaError>;
    /// Instances whose state is not `stopped` or `terminated`, or that have a
    /// pending action: what the worker must look after.
    async fn active_instances(&self) -> Result<Vec<InstanceRecord>, crate::MetaError>;
    async fn instances_by_client_token(
        &self,
        account_id: &str,
        client_token: &str,
    ) -> Result<Vec<InstanceRecord>, crate::MetaError>;
    async fn image(&self, id: &str) -> Result<Option<ImageRecord>, crate::MetaError>;
    /// Every image (the caller filters by visibility).
    async fn images(&self) -> Result<Vec<ImageRecord>, crate::MetaError>;
    async fn key_pair(
        &self,
        account_id: &str,
        name: &str,
    ) -> Result<Option<KeyPairRecord>, crate::MetaError>;
    /// Ordered by name.
    async fn key_pairs(&self, account_id: &str) -> Result<Vec<KeyPairRecord>, crate::MetaError>;
    async fn security_group(
        &self,
        id: &str,
    ) -> Result<Option<SecurityGroupRecord>, crate::MetaError>;
    async fn security_groups(
        &self,
        account_id: &str,
    ) -> Result<Vec<SecurityGroupRecord>, crate::MetaError>;
}

impl ComputeMutation {
    /// Rejects malformed records before they reach a backend.
    pub(crate) fn validate(&self) -> Result<(), crate::MetaError> {
        fn id(kind: &str, prefixes: &[&str], id: &str) -> Result<(), crate::MetaError> {
            let ok = prefixes.iter().any(|p| {
                id.strip_prefix(p)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|hex| {
                        !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())
                    })
            });
            if ok {
                Ok(())
            } else {
                Err(crate::MetaError::Invalid(format!(
                    "malformed {kind} id {id:?}"
                )))
            }
        }
        fn owner(account_id: &str) -> Result<(), crate::MetaError> {
            if account_id.is_empty() {
                return Err(crate::MetaError::Invalid("empty account id".into()));
            }
            Ok(())
        }
        match self {
            Self::PutInstance { record, .. } => {
                id("instance", &["i"], &record.id)?;
                owner(&record.account_id)?;
                record
                    .private_ip
                    .parse::<std::net::Ipv4Addr>()
                    .map(|_| ())
                    .map_err(|_| {
                        crate::MetaError::Invalid(format!(
                            "private address {:?} is not IPv4",
                            record.private_ip
                        ))
                    })
            }
            Self::DeleteInstance { id: i } => id("instance", &["i"], i),
            Self::PutImage { record, .. } => {
                id("image", &["ami", "aki", "ari"], &record.id)?;
                owner(&record.account_id)
            }
            Self::DeleteImage { id: i } => id("image", &["ami", "aki", "ari"], i),
            Self::CreateKeyPair(k) => {
                id("key pair", &["key"], &k.id)?;
                owner(&k.account_id)?;
                if k.name.is_empty() {
                    return Err(crate::MetaError::Invalid("empty key pair name".into()));
                }
                Ok(())
            }
            Self::SetKeyPairTags { id: i, .. } | Self::DeleteKeyPair { id: i } => {
                id("key pair", &["key"], i)
            }
            Self::PutSecurityGroup { record, .. } => {
                id("security group", &["sg"], &record.id)?;
                owner(&record.account_id)?;
                if record.name.is_empty() {
                    return Err(crate::MetaError::Invalid(
                        "empty security group name".into(),
                    ));
                }
                Ok(())
            }
            Self::DeleteSecurityGroup { id: i } => id("security group", &["sg"], i),
        }
    }
}
