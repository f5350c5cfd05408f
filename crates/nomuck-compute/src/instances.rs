//! Instances: what RunInstances, Describe…, Stop/Start/Reboot/Terminate and the
//! instance attributes do to the records. Every change goes through
//! [`Compute::update_instance`], the one place that meters running time and
//! queues state-change events, so both happen exactly once per transition and in
//! the same commit as it.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use nomuck_meta::compute::{
    ComputeMutation, ImageRecord, InstanceRecord, InstanceState, StateReason,
};
use nomuck_meta::{MetaError, Millis, Mutation, UsageEvent};
use sha2::{Digest, Sha256};

use crate::{Compute, ComputeError, catalog, ids, now_millis, reason_time};

/// The account's default VPC and subnet, as in AWS.
pub const VPC_CIDR: &str = "172.31.0.0/16";
pub const SUBNET_CIDR: &str = "172.31.0.0/20";
pub const SUBNET_PREFIX: u8 = 20;
/// Raw user data is limited to 16 KiB, as in EC2.
pub const MAX_USER_DATA: usize = 16 * 1024;

fn account_hex(account_id: &str, what: &str) -> String {
    let digest = Sha256::digest(format!("{what}/{account_id}").as_bytes());
    hex::encode(digest).chars().take(17).collect()
}

pub fn default_vpc_id(account_id: &str) -> String {
    format!("vpc-{}", account_hex(account_id, "vpc"))
}

pub fn default_subnet_id(account_id: &str) -> String {
    format!("subnet-{}", account_hex(account_id, "subnet"))
}

/// RunInstances, in the domain's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunRequest {
    pub image_id: String,
    pub instance_type: Option<String>,
    pub min_count: u32,
    pub max_count: u32,
    pub key_name: Option<String>,
    pub security_group_ids: Vec<String>,
    pub security_group_names: Vec<String>,
    pub user_data: Option<Vec<u8>>,
    pub client_token: Option<String>,
    pub tags: Vec<(String, String)>,
    /// `stop` (default) or `terminate`.
    pub shutdown_behavior: Option<String>,
    pub kernel_id: Option<String>,
    pub ramdisk_id: Option<String>,
    pub subnet_id: Option<String>,
    pub private_ip: Option<String>,
    pub availability_zone: Option<String>,
    pub disable_api_termination: bool,
    pub metadata_tokens_required: bool,
    pub metadata_enabled: bool,
    /// Validate everything, launch nothing: answers [`ComputeError::DryRun`].
    pub dry_run: bool,
}

/// The instances one RunInstances call started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub reservation_id: String,
    pub account_id: String,
    pub instances: Vec<InstanceRecord>,
}

/// One instance's state before and after a Stop/Start/Terminate call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub instance_id: String,
    pub previous: InstanceState,
    pub current: InstanceState,
}

/// An instance attribute to change (ModifyInstanceAttribute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeChange {
    InstanceType(String),
    UserData(Vec<u8>),
    ShutdownBehavior(String),
    DisableApiTermination(bool),
    Groups(Vec<String>),
}

/// How [`Compute::update_instance`] meters running time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Metering {
    /// Only at the transitions into and out of `running`.
    Transitions,
    /// Also record the running time so far (whole seconds) when it is due.
    Checkpoint,
}

impl Compute {
    pub async fn run_instances(
        &self,
        account: &str,
        req: RunRequest,
    ) -> Result<Reservation, ComputeError> {
        let _serial = self.launch_lock.lock().await;
        if let Some(token) = &req.client_token {
            let earlier = self
                .records()
                .instances_by_client_token(account, token)
                .await?;
            if let Some(first) = earlier.first() {
                if first.image_id != req.image_id
                    || req
                        .instance_type
                        .as_deref()
                        .is_some_and(|t| t != first.instance_type)
                {
                    return Err(ComputeError::TokenMismatch(token.clone()));
                }
                return Ok(Reservation {
                    reservation_id: first.reservation_id.clone(),
                    account_id: account.to_owned(),
                    instances: earlier,
                });
            }
        }
        let instance_type = req
            .instance_type
            .clone()
            .unwrap_or_else(|| catalog::DEFAULT_TYPE.to_owned());
        let ty = catalog::lookup(&instance_type).ok_or_else(|| {
            ComputeError::InvalidValue(format!("Invalid value '{instance_type}' for InstanceType."))
        })?;
        if let Some(zone) = &req.availability_zone
            && *zone != self.opts.availability_zone()
        {
            return Err(ComputeError::InvalidValue(format!(
                "Invalid availability zone: [{zone}]"
            )));
        }
        if let Some(subnet) = &req.subnet_id
            && *subnet != default_subnet_id(account)
        {
            return Err(ComputeError::NoSuchId(subnet.clone()));
        }
        if req
            .user_data
            .as_ref()
            .is_some_and(|u| u.len() > MAX_USER_DATA)
        {
            return Err(ComputeError::InvalidValue(format!(
                "User data is limited to {MAX_USER_DATA} bytes"
            )));
        }
        let shutdown_behavior = req
            .shutdown_behavior
            .clone()
            .unwrap_or_else(|| "stop".into());
        let image = self.launchable_image(account, &req.image_id).await?;
        let kernel_id = req.kernel_id.clone().or_else(|| image.kernel_id.clone());
        let ramdisk_id = req.ramdisk_id.clone().or_else(|| image.ramdisk_id.clone());
        if let Some(k) = &kernel_id {
            self.part_image(account, k, "kernel").await?;
        }
        if let Some(r) = &ramdisk_id {
            self.part_image(account, r, "ramdisk").await?;
        }
        if kernel_id.is_none() && image.part.is_none() {
            return Err(ComputeError::InvalidCombination(format!(
                "Image {} has neither a kernel nor a root disk",
                image.id
            )));
        }
        if let Some(name) = &req.key_name
            && self.records().key_pair(account, name).await?.is_none()
        {
            return Err(ComputeError::KeyPairNotFound(name.clone()));
        }
        let groups = self
            .resolve_groups(account, &req.security_group_ids, &req.security_group_names)
            .await?;

        // Limits: the account's, then the host's memory.
        let everyone = self.records().instances(None).await?;
        let live = |r: &&InstanceRecord| r.state.is_live();
        let mine = everyone
            .iter()
            .filter(|r| r.account_id == account)
            .filter(live)
            .count();
        let limit = self.opts.max_instances_per_account;
        let room = (limit as usize).saturating_sub(mine);
        if room < req.min_count as usize {
            return Err(ComputeError::InstanceLimit {
                requested: req.min_count,
                limit,
            });
        }
        let claimed: u64 = everyone
            .iter()
            .filter(live)
            .filter_map(|r| catalog::lookup(&r.instance_type))
            .map(|t| u64::from(t.memory_mib))
            .sum();
        let fit = self.opts.memory_limit_mib.saturating_sub(claimed) / u64::from(ty.memory_mib);
        let count = (req.max_count as usize)
            .min(room)
            .min(usize::try_from(fit).unwrap_or(usize::MAX));
        if count < req.min_count as usize {
            return Err(ComputeError::InsufficientCapacity(
                instance_type.clone(),
                self.opts.availability_zone(),
            ));
        }
        let taken: HashSet<Ipv4Addr> = everyone
            .iter()
            .filter(|r| r.account_id == account && r.state != InstanceState::Terminated)
            .filter_map(|r| r.private_ip.parse().ok())
            .collect();
        let addresses = allocate_addresses(&taken, req.private_ip.as_deref(), count)?;
        if req.dry_run {
            return Err(ComputeError::DryRun);
        }

        let now = now_millis();
        let reservation_id = ids::new_id("r");
        let mut records = Vec::with_capacity(count);
        for (index, ip) in addresses.into_iter().enumerate() {
            records.push(InstanceRecord {
                id: ids::new_id("i"),
                account_id: account.to_owned(),
                reservation_id: reservation_id.clone(),
                launch_index: u32::try_from(index).unwrap_or(u32::MAX),
                image_id: image.id.clone(),
                kernel_id: kernel_id.clone(),
                ramdisk_id: ramdisk_id.clone(),
                instance_type: instance_type.clone(),
                key_name: req.key_name.clone(),
                security_group_ids: groups.clone(),
                user_data: req.user_data.clone(),
                client_token: req.client_token.clone(),
                tags: req.tags.clone(),
                shutdown_behavior: shutdown_behavior.clone(),
                disable_api_termination: req.disable_api_termination,
                metadata_tokens_required: req.metadata_tokens_required,
                metadata_enabled: req.metadata_enabled,
                availability_zone: self.opts.availability_zone(),
                private_ip: ip.to_string(),
                mac: ids::new_mac(),
                state: InstanceState::Pending,
                state_reason: None,
                state_transition_reason: String::new(),
                pending_action: None,
                accelerator: None,
                forwards: Vec::new(),
                launch_time: now,
                state_changed_at: now,
                metered_from: None,
                generation: 1,
            });
        }
        let mut mutations = Vec::new();
        for r in &records {
            mutations.extend(self.state_events(r, now).await);
            mutations.push(Mutation::Compute(ComputeMutation::PutInstance {
                record: Box::new(r.clone()),
                expect_generation: None,
            }));
        }
        self.commit(mutations).await?;
        tracing::info!(account, reservation = %reservation_id, count, image = %image.id, "instances launched");
        Ok(Reservation {
            reservation_id,
            account_id: account.to_owned(),
            instances: records,
        })
    }

    /// The account's instances; with `ids`, exactly those (all must be its own).
    pub async fn describe_instances(
        &self,
        account: &str,
        ids: &[String],
    ) -> Result<Vec<InstanceRecord>, ComputeError> {
        let mine = self.records().instances(Some(account)).await?;
        if ids.is_empty() {
            return Ok(mine);
        }
        let missing: Vec<String> = ids
            .iter()
            .filter(|id| !mine.iter().any(|r| &r.id == *id))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(ComputeError::InstanceNotFound(missing));
        }
        Ok(mine.into_iter().filter(|r| ids.contains(&r.id)).collect())
    }

    async fn own_instances(
        &self,
        account: &str,
        ids: &[String],
    ) -> Result<Vec<InstanceRecord>, ComputeError> {
        let mut unique = ids.to_vec();
        unique.dedup();
        self.describe_instances(account, &unique).await
    }

    pub async fn stop_instances(
        &self,
        account: &str,
        ids: &[String],
        force: bool,
        dry_run: bool,
    ) -> Result<Vec<StateChange>, ComputeError> {
        let records = self.own_instances(account, ids).await?;
        use InstanceState::{Running, Stopped, Stopping};
        require_states(&records, &[Running, Stopping, Stopped], "stopped")?;
        if dry_run {
            return Err(ComputeError::DryRun);
        }
        let action = if force { "force-stop" } else { "stop" };
        let reason = format!("User initiated ({})", reason_time(now_millis()));
        self.change_all(&records, |r| match r.state {
            InstanceState::Running => {
                r.state = InstanceState::Stopping;
                r.pending_action = Some(action.into());
                r.state_transition_reason = reason.clone();
                r.state_reason = Some(user_reason("Client.UserInitiatedShutdown"));
                Ok(true)
            }
            InstanceState::Stopping if force => {
                r.pending_action = Some(action.into());
                Ok(true)
            }
            InstanceState::Stopping | InstanceState::Stopped => Ok(false),
            other => Err(ComputeError::IncorrectState(
                r.id.clone(),
                other.as_str().into(),
                "stopped",
            )),
        })
        .await
    }

    pub async fn start_instances(
        &self,
        account: &str,
        ids: &[String],
        dry_run: bool,
    ) -> Result<Vec<StateChange>, ComputeError> {
        let records = self.own_instances(account, ids).await?;
        use InstanceState::{Pending, Running, Stopped};
        require_states(&records, &[Stopped, Pending, Running], "started")?;
        if dry_run {
            return Err(ComputeError::DryRun);
        }
        self.change_all(&records, |r| match r.state {
            InstanceState::Stopped => {
                r.state = InstanceState::Pending;
                r.pending_action = None;
                r.state_transition_reason = String::new();
                r.state_reason = None;
                Ok(true)
            }
            InstanceState::Pending | InstanceState::Running => Ok(false),
            other => Err(ComputeError::IncorrectState(
                r.id.clone(),
                other.as_str().into(),
                "started",
            )),
        })
        .await
    }

    pub async fn terminate_instances(
        &self,
        account: &str,
        ids: &[String],
        dry_run: bool,
    ) -> Result<Vec<StateChange>, ComputeError> {
        let records = self.own_instances(account, ids).await?;
        if let Some(r) = records.iter().find(|r| r.disable_api_termination) {
            return Err(ComputeError::NotPermitted(format!(
                "The instance '{}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.",
                r.id
            )));
        }
        if dry_run {
            return Err(ComputeError::DryRun);
        }
        let reason = format!("User initiated ({})", reason_time(now_millis()));
        self.change_all(&records, |r| match r.state {
            InstanceState::ShuttingDown | InstanceState::Terminated => Ok(false),
            _ => {
                r.state = InstanceState::ShuttingDown;
                r.pending_action = Some("terminate".into());
                r.state_transition_reason = reason.clone();
                r.state_reason = Some(user_reason("Client.UserInitiatedShutdown"));
                Ok(true)
            }
        })
        .await
    }

    pub async fn reboot_instances(
        &self,
        account: &str,
        ids: &[String],
        dry_run: bool,
    ) -> Result<(), ComputeError> {
        let records = self.own_instances(account, ids).await?;
        use InstanceState::{Pending, Running};
        require_states(&records, &[Running, Pending], "rebooted")?;
        if dry_run {
            return Err(ComputeError::DryRun);
        }
        for r in records.iter().filter(|r| r.state == InstanceState::Running) {
            self.runtime.reboot(&r.id).await?;
        }
        Ok(())
    }

    /// The serial console (the last 64 KiB, as EC2's `Latest`) and when it was read.
    pub async fn console_output(
        &self,
        account: &str,
        id: &str,
    ) -> Result<(Vec<u8>, Millis), ComputeError> {
        self.own_instances(account, &[id.to_owned()]).await?;
        Ok((self.runtime.console(id, 64 * 1024), now_millis()))
    }

    pub async fn modify_instance_attribute(
        &self,
        account: &str,
        id: &str,
        change: AttributeChange,
        dry_run: bool,
    ) -> Result<(), ComputeError> {
        let r = self
            .own_instances(account, &[id.to_owned()])
            .await?
            .pop()
            .ok_or_else(|| ComputeError::InstanceNotFound(vec![id.to_owned()]))?;
        let needs_stopped = matches!(
            change,
            AttributeChange::InstanceType(_) | AttributeChange::UserData(_)
        );
        if needs_stopped && r.state != InstanceState::Stopped {
            return Err(ComputeError::IncorrectState(
                r.id.clone(),
                r.state.as_str().into(),
                "modified",
            ));
        }
        let change = match change {
            AttributeChange::InstanceType(t) => {
                if catalog::lookup(&t).is_none() {
                    return Err(ComputeError::InvalidValue(format!(
                        "Invalid value '{t}' for InstanceType."
                    )));
                }
                AttributeChange::InstanceType(t)
            }
            AttributeChange::UserData(u) if u.len() > MAX_USER_DATA => {
                return Err(ComputeError::InvalidValue(format!(
                    "User data is limited to {MAX_USER_DATA} bytes"
                )));
            }
            AttributeChange::Groups(g) => {
                AttributeChange::Groups(self.resolve_groups(account, &g, &[]).await?)
            }
            other => other,
        };
        if dry_run {
            return Err(ComputeError::DryRun);
        }
        let groups_changed = matches!(change, AttributeChange::Groups(_));
        self.update_instance(&r.id, Metering::Transitions, |r| {
            match &change {
                AttributeChange::InstanceType(t) if r.state == InstanceState::Stopped => {
                    r.instance_type = t.clone();
                }
                AttributeChange::UserData(u) if r.state == InstanceState::Stopped => {
                    r.user_data = Some(u.clone());
                }
                AttributeChange::InstanceType(_) | AttributeChange::UserData(_) => {
                    return Err(ComputeError::IncorrectState(
                        r.id.clone(),
                        r.state.as_str().into(),
                        "modified",
                    ));
                }
                AttributeChange::ShutdownBehavior(b) => r.shutdown_behavior = b.clone(),
                AttributeChange::DisableApiTermination(d) => r.disable_api_termination = *d,
                AttributeChange::Groups(g) => r.security_group_ids = g.clone(),
            }
            Ok(true)
        })
        .await?;
        if groups_changed {
            self.refresh_forwards(account).await;
        }
        Ok(())
    }

    /// Applies `f` to each record (re-read at commit time), collecting state changes.
    async fn change_all<F>(
        &self,
        records: &[InstanceRecord],
        f: F,
    ) -> Result<Vec<StateChange>, ComputeError>
    where
        F: Fn(&mut InstanceRecord) -> Result<bool, ComputeError>,
    {
        let mut out = Vec::new();
        for r in records {
            let (before, after) = self
                .update_instance(&r.id, Metering::Transitions, &f)
                .await?
                .ok_or_else(|| ComputeError::InstanceNotFound(vec![r.id.clone()]))?;
            out.push(StateChange {
                instance_id: r.id.clone(),
                previous: before.state,
                current: after.state,
            });
        }
        Ok(out)
    }

    /// Reads instance `id`, lets `f` change it and commits the change at the
    /// generation read, with its metering and events; retries when someone else
    /// changed the record meanwhile. `f` returns `false` for "nothing to change".
    /// `None` when the instance does not exist.
    pub(crate) async fn update_instance<F>(
        &self,
        id: &str,
        metering: Metering,
        f: F,
    ) -> Result<Option<(InstanceRecord, InstanceRecord)>, ComputeError>
    where
        F: Fn(&mut InstanceRecord) -> Result<bool, ComputeError>,
    {
        for _ in 0..16 {
            let Some(before) = self.records().instance(id).await? else {
                return Ok(None);
            };
            let mut after = before.clone();
            let changed = f(&mut after)?;
            let now = now_millis();
            let mut mutations = Vec::new();
            if let Some(usage) = self.meter(&before, &mut after, now, metering) {
                mutations.push(usage);
            }
            if !changed && mutations.is_empty() {
                return Ok(Some((before.clone(), before)));
            }
            if after.state != before.state {
                after.state_changed_at = now;
                mutations.extend(self.state_events(&after, now).await);
            }
            after.generation = before.generation + 1;
            mutations.push(Mutation::Compute(ComputeMutation::PutInstance {
                record: Box::new(after.clone()),
                expect_generation: Some(before.generation),
            }));
            match self.store.commit(mutations.clone()).await {
                Ok(_) => {
                    self.work.notify_one();
                    if mutations
                        .iter()
                        .any(|m| matches!(m, Mutation::EnqueueDelivery(_)))
                    {
                        self.events_queued.notify_one();
                    }
                    return Ok(Some((before, after)));
                }
                Err(MetaError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ComputeError::Internal(format!(
            "instance {id} kept changing; try again"
        )))
    }

    /// The usage event for running time `before` → `after` records, if one is due:
    /// when the instance leaves `running` (the rest, rounded up to a whole second),
    /// and at checkpoints (whole seconds, the remainder carried). `metered_from`
    /// moves in the same commit, and the idempotency key is the interval's start, so
    /// every interval is metered exactly once however often a step is retried. The
    /// key ends with `/run/<ms the instance became running>` (`state_changed_at`,
    /// set in the same commit as `metered_from` was).
    fn meter(
        &self,
        before: &InstanceRecord,
        after: &mut InstanceRecord,
        now: Millis,
        metering: Metering,
    ) -> Option<Mutation> {
        if after.state == InstanceState::Running && before.state != InstanceState::Running {
            after.metered_from = Some(now);
            return None;
        }
        let from = before.metered_from?;
        let elapsed = now.saturating_sub(from).max(0);
        let (seconds, next) = if after.state != InstanceState::Running {
            ((elapsed + 999) / 1000, None)
        } else if metering == Metering::Checkpoint
            && u128::try_from(elapsed).unwrap_or(0) >= self.opts.meter_interval.as_millis()
        {
            let s = elapsed / 1000;
            (s, Some(from + s * 1000))
        } else {
            return None;
        };
        after.metered_from = next;
        let meter =
            catalog::lookup(&before.instance_type).map_or("BoxUsage:unknown", |t| t.price_class);
        Some(Mutation::RecordUsage(UsageEvent {
            account_id: before.account_id.clone(),
            service: "ec2".into(),
            meter: meter.into(),
            quantity: seconds,
            unit: nomuck_meter::unit::INSTANCE_SECONDS.into(),
            at: now,
            // The run's start (it became running then) lets billing bill
            // every started hour of a run, however many intervals carry it.
            idempotency_key: format!(
                "ec2/{}/running/{from}/run/{}",
                before.id, before.state_changed_at
            ),
        }))
    }

    /// A machine image `account` may launch.
    pub(crate) async fn launchable_image(
        &self,
        account: &str,
        id: &str,
    ) -> Result<ImageRecord, ComputeError> {
        let image = self
            .records()
            .image(id)
            .await?
            .filter(|i| i.image_type == "machine" && crate::images::may_launch(i, account))
            .ok_or_else(|| ComputeError::ImageNotFound(vec![id.to_owned()]))?;
        if image.state != "available" {
            return Err(ComputeError::InvalidValue(format!(
                "Image {id} is not available (it is {})",
                image.state
            )));
        }
        Ok(image)
    }

    async fn part_image(
        &self,
        account: &str,
        id: &str,
        kind: &str,
    ) -> Result<ImageRecord, ComputeError> {
        self.records()
            .image(id)
            .await?
            .filter(|i| i.image_type == kind && crate::images::may_launch(i, account))
            .ok_or_else(|| ComputeError::ImageNotFound(vec![id.to_owned()]))
    }
}

/// Refuses the whole request when any instance is in none of `allowed` (EC2 changes
/// nothing then); `verb` completes "cannot be …".
fn require_states(
    records: &[InstanceRecord],
    allowed: &[InstanceState],
    verb: &'static str,
) -> Result<(), ComputeError> {
    match records.iter().find(|r| !allowed.contains(&r.state)) {
        Some(r) => Err(ComputeError::IncorrectState(
            r.id.clone(),
            r.state.as_str().into(),
            verb,
        )),
        None => Ok(()),
    }
}

fn user_reason(code: &str) -> StateReason {
    StateReason {
        code: code.into(),
        message: "Client.UserInitiatedShutdown: User initiated shutdown".into(),
    }
}

/// Private addresses for `count` instances in the default subnet: the one asked
/// for, or the lowest free ones (the first four and the last of the subnet are
/// reserved, as in AWS).
fn allocate_addresses(
    taken: &HashSet<Ipv4Addr>,
    wanted: Option<&str>,
    count: usize,
) -> Result<Vec<Ipv4Addr>, ComputeError> {
    let first = u32::from(Ipv4Addr::new(172, 31, 0, 4));
    let last = u32::from(Ipv4Addr::new(172, 31, 15, 254));
    if let Some(w) = wanted {
        let ip: Ipv4Addr = w.parse().map_err(|_| {
            ComputeError::InvalidValue(format!("Invalid value '{w}' for PrivateIpAddress."))
        })?;
        if count != 1 {
            return Err(ComputeError::InvalidCombination(
                "A private IP address can be given only when launching one instance".into(),
            ));
        }
        if !(first..=last).contains(&u32::from(ip)) {
            return Err(ComputeError::InvalidValue(format!(
                "Address {ip} does not fall within the subnet's address range"
            )));
        }
        if taken.contains(&ip) {
            return Err(ComputeError::InvalidValue(format!(
                "Address {ip} is in use."
            )));
        }
        return Ok(vec![ip]);
    }
    let free: Vec<Ipv4Addr> = (first..=last)
        .map(Ipv4Addr::from)
        .filter(|ip| !taken.contains(ip))
        .take(count)
        .collect();
    if free.len() < count {
        return Err(ComputeError::InsufficientCapacity(
            "private address".into(),
            SUBNET_CIDR.into(),
        ));
    }
    Ok(free)
}

impl Compute {
    /// EC2's reachability check, answered the way a client would check: the guest's
    /// SSH server sends its banner through the forwarded port. (QEMU's user-mode
    /// network accepts a forwarded connection even when nothing listens in the guest,
    /// so a connect alone proves nothing.)
    pub async fn reachable(&self, r: &InstanceRecord) -> bool {
        use tokio::io::AsyncReadExt;
        if r.state != InstanceState::Running {
            return false;
        }
        let Some(ssh) = r.forwards.iter().find(|f| f.guest_port == 22) else {
            return false;
        };
        let probe = async {
            let mut stream =
                tokio::net::TcpStream::connect((self.opts.forward_addr, ssh.host_port)).await?;
            let mut banner = [0u8; 4];
            stream.read_exact(&mut banner).await?;
            Ok::<_, std::io::Error>(&banner == b"SSH-")
        };
        matches!(
            tokio::time::timeout(std::time::Duration::from_millis(500), probe).await,
            Ok(Ok(true))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_skip_taken_and_reserved_ones() {
        let taken: HashSet<Ipv4Addr> = [Ipv4Addr::new(172, 31, 0, 5)].into();
        let got = allocate_addresses(&taken, None, 2).unwrap();
        assert_eq!(
            got,
            [Ipv4Addr::new(172, 31, 0, 4), Ipv4Addr::new(172, 31, 0, 6)]
        );
        assert!(allocate_addresses(&taken, Some("172.31.0.5"), 1).is_err());
        assert!(allocate_addresses(&taken, Some("10.0.0.1"), 1).is_err());
        assert_eq!(
            allocate_addresses(&taken, Some("172.31.3.9"), 1).unwrap(),
            [Ipv4Addr::new(172, 31, 3, 9)]
        );
    }

    #[test]
    fn vpc_ids_are_stable_per_account() {
        assert_eq!(
            default_vpc_id("111122223333"),
            default_vpc_id("111122223333")
        );
        assert_ne!(
            default_vpc_id("111122223333"),
            default_vpc_id("444455556666")
        );
        assert!(crate::ids::is_id("vpc", &default_vpc_id("111122223333")));
    }
}
