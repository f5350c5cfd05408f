//! Security groups. Each account has a `default` group (made on first need). The
//! TCP ports a group's ingress rules open are forwarded to its running instances
//! from free host ports (SSH, port 22, always is); changing the rules changes the
//! forwards of running instances at once.

use std::collections::BTreeSet;

use nomuck_meta::compute::{
    ComputeMutation, IngressRule, InstanceRecord, InstanceState, SecurityGroupRecord,
};
use nomuck_meta::{MetaError, Mutation};

use crate::instances::{Metering, default_vpc_id};
use crate::{Compute, ComputeError, ids, now_millis};

pub const DEFAULT_GROUP: &str = "default";
/// A rule opening more ports than this is not forwarded port by port (forwarding
/// is for services, not for port ranges).
pub const MAX_FORWARDED_RANGE: i32 = 32;
const SSH: u16 = 22;

/// A reference to a group, by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    Id(String),
    Name(String),
}

impl Compute {
    /// The account's `default` group, created when it has none yet.
    pub async fn default_group(&self, account: &str) -> Result<SecurityGroupRecord, ComputeError> {
        let groups = self.records().security_groups(account).await?;
        if let Some(g) = groups.into_iter().find(|g| g.name == DEFAULT_GROUP) {
            return Ok(g);
        }
        let g = SecurityGroupRecord {
            id: ids::new_id("sg"),
            account_id: account.to_owned(),
            name: DEFAULT_GROUP.into(),
            description: "default VPC security group".into(),
            vpc_id: default_vpc_id(account),
            ingress: Vec::new(),
            tags: Vec::new(),
            created_at: now_millis(),
            generation: 1,
        };
        match self
            .store
            .commit(vec![Mutation::Compute(ComputeMutation::PutSecurityGroup {
                record: Box::new(g.clone()),
                expect_generation: None,
            })])
            .await
        {
            Ok(_) => Ok(g),
            // Made by a concurrent call meanwhile.
            Err(MetaError::Conflict(_)) => Box::pin(self.default_group(account)).await,
            Err(e) => Err(e.into()),
        }
    }

    /// The account's groups (its `default` group included).
    pub async fn security_groups(
        &self,
        account: &str,
    ) -> Result<Vec<SecurityGroupRecord>, ComputeError> {
        let groups = self.records().security_groups(account).await?;
        if groups.iter().any(|g| g.name == DEFAULT_GROUP) {
            return Ok(groups);
        }
        self.default_group(account).await?;
        Ok(self.records().security_groups(account).await?)
    }

    pub async fn security_group(
        &self,
        account: &str,
        group: &GroupRef,
    ) -> Result<SecurityGroupRecord, ComputeError> {
        let groups = self.security_groups(account).await?;
        let found = match group {
            GroupRef::Id(id) => groups.into_iter().find(|g| &g.id == id),
            GroupRef::Name(name) => groups.into_iter().find(|g| &g.name == name),
        };
        found.ok_or_else(|| {
            ComputeError::GroupNotFound(vec![match group {
                GroupRef::Id(s) | GroupRef::Name(s) => s.clone(),
            }])
        })
    }

    /// Group ids for a launch: those named (by id or name), or the default group.
    pub(crate) async fn resolve_groups(
        &self,
        account: &str,
        ids: &[String],
        names: &[String],
    ) -> Result<Vec<String>, ComputeError> {
        let groups = self.security_groups(account).await?;
        let mut out = Vec::new();
        let mut missing = Vec::new();
        for id in ids {
            match groups.iter().find(|g| &g.id == id) {
                Some(g) => out.push(g.id.clone()),
                None => missing.push(id.clone()),
            }
        }
        for name in names {
            match groups.iter().find(|g| &g.name == name) {
                Some(g) => out.push(g.id.clone()),
                None => missing.push(name.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(ComputeError::GroupNotFound(missing));
        }
        if out.is_empty() {
            out.push(self.default_group(account).await?.id);
        }
        out.dedup();
        Ok(out)
    }

    pub async fn create_security_group(
        &self,
        account: &str,
        name: &str,
        description: &str,
        tags: Vec<(String, String)>,
        dry_run: bool,
    ) -> Result<SecurityGroupRecord, ComputeError> {
        if name == DEFAULT_GROUP {
            return Err(ComputeError::GroupReserved(name.into()));
        }
        if name.starts_with("sg-") {
            return Err(ComputeError::InvalidValue(
                "Group names may not be in the format sg-*".into(),
            ));
        }
        if self
            .security_groups(account)
            .await?
            .iter()
            .any(|g| g.name == name)
        {
            return Err(ComputeError::GroupTaken(name.into()));
        }
        if dry_run {
            return Err(ComputeError::DryRun);
        }
        let g = SecurityGroupRecord {
            id: ids::new_id("sg"),
            account_id: account.to_owned(),
            name: name.to_owned(),
            description: description.to_owned(),
            vpc_id: default_vpc_id(account),
            ingress: Vec::new(),
            tags,
            created_at: now_millis(),
            generation: 1,
        };
        self.store
            .commit(vec![Mutation::Compute(ComputeMutation::PutSecurityGroup {
                record: Box::new(g.clone()),
                expect_generation: None,
            })])
            .await
            .map_err(|e| match e {
                MetaError::Conflict(_) => ComputeError::GroupTaken(name.into()),
                e => e.into(),
            })?;
        Ok(g)
    }

    pub async fn delete_security_group(
        &self,
        account: &str,
        group: &GroupRef,
        dry_run: bool,
    ) -> Result<(), ComputeError> {
        let g = self.security_group(account, group).await?;
        if g.name == DEFAULT_GROUP {
            return Err(ComputeError::CannotDeleteDefault(g.id));
        }
        let users = self.records().instances(Some(account)).await?;
        if users
            .iter()
            .any(|r| r.state != InstanceState::Terminated && r.security_group_ids.contains(&g.id))
        {
            return Err(ComputeError::InUse(g.id));
        }
        if dry_run {
            return Err(ComputeError::DryRun);
        }
        self.store
            .commit(vec![Mutation::Compute(
                ComputeMutation::DeleteSecurityGroup { id: g.id },
            )])
            .await?;
        Ok(())
    }

    /// Adds (`authorize`) or removes ingress rules, then updates the forwards of
    /// the account's running instances.
    pub async fn change_ingress(
        &self,
        account: &str,
        group: &GroupRef,
        rules: Vec<IngressRule>,
        authorize: bool,
        dry_run: bool,
    ) -> Result<(), ComputeError> {
        let g = self.security_group(account, group).await?;
        let known = self.security_groups(account).await?;
        if let Some(source) = rules
            .iter()
            .flat_map(|rule| &rule.groups)
            .find(|source| !known.iter().any(|g| &g.id == *source))
        {
            return Err(ComputeError::GroupNotFound(vec![source.clone()]));
        }
        if dry_run {
            return Err(ComputeError::DryRun);
        }
        for _ in 0..8 {
            let before = self
                .security_group(account, &GroupRef::Id(g.id.clone()))
                .await?;
            let mut after = before.clone();
            for rule in &rules {
                let existing = after.ingress.iter().position(|r| same_ports(r, rule));
                if authorize {
                    match existing {
                        Some(i) => {
                            let r = &mut after.ingress[i];
                            let before_len = r.cidrs.len() + r.groups.len();
                            merge(&mut r.cidrs, &rule.cidrs);
                            merge(&mut r.groups, &rule.groups);
                            if r.cidrs.len() + r.groups.len() == before_len {
                                return Err(ComputeError::RuleTaken(describe_rule(rule)));
                            }
                        }
                        None => after.ingress.push(rule.clone()),
                    }
                } else {
                    let Some(i) = existing else {
                        return Err(ComputeError::RuleNotFound);
                    };
                    let r = &mut after.ingress[i];
                    let before_len = r.cidrs.len() + r.groups.len();
                    r.cidrs.retain(|c| !rule.cidrs.contains(c));
                    r.groups.retain(|c| !rule.groups.contains(c));
                    if r.cidrs.len() + r.groups.len() == before_len {
                        return Err(ComputeError::RuleNotFound);
                    }
                    if r.cidrs.is_empty() && r.groups.is_empty() {
                        after.ingress.remove(i);
                    }
                }
            }
            after.generation = before.generation + 1;
            match self
                .store
                .commit(vec![Mutation::Compute(ComputeMutation::PutSecurityGroup {
                    record: Box::new(after),
                    expect_generation: Some(before.generation),
                })])
                .await
            {
                Ok(_) => {
                    self.refresh_forwards(account).await;
                    return Ok(());
                }
                Err(MetaError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ComputeError::Internal(
            "security group kept changing; try again".into(),
        ))
    }

    /// The guest TCP ports forwarded to `r`: SSH, and every port its groups open
    /// (ranges up to [`MAX_FORWARDED_RANGE`] ports).
    pub(crate) async fn guest_ports(&self, r: &InstanceRecord) -> Result<Vec<u16>, ComputeError> {
        let groups = self.records().security_groups(&r.account_id).await?;
        let mut ports = BTreeSet::from([SSH]);
        for g in groups
            .iter()
            .filter(|g| r.security_group_ids.contains(&g.id))
        {
            for rule in &g.ingress {
                if !matches!(rule.protocol.as_str(), "tcp" | "6") {
                    continue;
                }
                let (Some(from), Some(to)) = (rule.from_port, rule.to_port) else {
                    continue;
                };
                if to < from || to - from >= MAX_FORWARDED_RANGE {
                    continue;
                }
                ports.extend(
                    (from..=to)
                        .filter_map(|p| u16::try_from(p).ok())
                        .filter(|p| *p != 0),
                );
            }
        }
        Ok(ports.into_iter().collect())
    }

    /// Brings the forwards of the account's running instances in line with their
    /// groups' rules. Best effort: a failure is logged and retried at the next change.
    pub(crate) async fn refresh_forwards(&self, account: &str) {
        let Ok(instances) = self.records().instances(Some(account)).await else {
            return;
        };
        for r in instances
            .into_iter()
            .filter(|r| r.state == InstanceState::Running)
        {
            if let Err(e) = self.refresh_instance_forwards(&r).await {
                tracing::warn!(instance = %r.id, %e, "cannot update its forwarded ports");
            }
        }
    }

    async fn refresh_instance_forwards(&self, r: &InstanceRecord) -> Result<(), ComputeError> {
        let wanted = self.guest_ports(r).await?;
        let stale: Vec<_> = r
            .forwards
            .iter()
            .filter(|f| !wanted.contains(&f.guest_port))
            .cloned()
            .collect();
        let mut added = Vec::new();
        for port in wanted
            .iter()
            .filter(|p| !r.forwards.iter().any(|f| f.guest_port == **p))
        {
            added.push(nomuck_meta::compute::PortForward {
                guest_port: *port,
                host_port: crate::runtime::free_port(self.opts.forward_addr)?,
            });
        }
        if stale.is_empty() && added.is_empty() {
            return Ok(());
        }
        let addr = self.opts.forward_addr;
        self.runtime.remove_forwards(&r.id, addr, &stale).await?;
        self.runtime.add_forwards(&r.id, addr, &added).await?;
        self.update_instance(&r.id, Metering::Transitions, |rec| {
            rec.forwards.retain(|f| !stale.contains(f));
            rec.forwards.extend(added.iter().cloned());
            Ok(true)
        })
        .await?;
        Ok(())
    }
}

fn same_ports(a: &IngressRule, b: &IngressRule) -> bool {
    a.protocol == b.protocol && a.from_port == b.from_port && a.to_port == b.to_port
}

fn merge(into: &mut Vec<String>, from: &[String]) {
    for x in from {
        if !into.contains(x) {
            into.push(x.clone());
        }
    }
}

fn describe_rule(r: &IngressRule) -> String {
    let port = |p: Option<i32>| p.map_or_else(|| "-1".to_owned(), |p| p.to_string());
    format!(
        "peer: {}, {}, from port: {}, to port: {}, ALLOW",
        r.cidrs
            .first()
            .or(r.groups.first())
            .map_or("", String::as_str),
        r.protocol.to_uppercase(),
        port(r.from_port),
        port(r.to_port)
    )
}
