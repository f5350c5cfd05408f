//! Key pairs, security groups and tags.

use nomuck_compute::groups::GroupRef as DomainGroupRef;
use nomuck_compute::keys::KeyRef;
use nomuck_http::{RequestContext, Response};
use nomuck_meta::compute::{IngressRule, KeyPairRecord, SecurityGroupRecord};

use super::{Ec2Api, dry_run_check, ec2_error, spec_tags, tags_of};
use crate::filter::{FilterValues, Filterable};
use crate::request::{
    AuthorizeSecurityGroupIngress, CreateKeyPair, CreateSecurityGroup, DeleteKeyPair,
    DeleteSecurityGroup, DescribeKeyPairs, DescribeSecurityGroups, GroupRef, ImportKeyPair,
    KeyPairRef, RevokeSecurityGroupIngress,
};
use crate::response::{
    CreateKeyPairOutput, CreateSecurityGroupOutput, DescribeKeyPairsOutput,
    DescribeSecurityGroupsOutput, ImportKeyPairOutput, KeyPairInfo, ReturnTrue, SecurityGroup,
};
use crate::types::{IpPermission, IpRange, UserIdGroupPair};
use crate::{Ec2Error, KeyType, Tag, reply};

// --- Key pairs -----------------------------------------------------------------------

pub(super) async fn create_key(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: CreateKeyPair,
) -> Result<Response, Ec2Error> {
    let tags = spec_tags(&r.tag_specifications, "key-pair")?;
    let (key, private) = api
        .compute
        .create_key_pair(account, &r.key_name, r.key_type.as_str(), tags, r.dry_run)
        .await
        .map_err(ec2_error)?;
    Ok(reply(
        ctx,
        &CreateKeyPairOutput {
            key_pair_id: key.id,
            key_name: key.name,
            key_fingerprint: key.fingerprint,
            key_material: private,
            tags: tags_of(&key.tags),
        },
    ))
}

pub(super) async fn import_key(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: ImportKeyPair,
) -> Result<Response, Ec2Error> {
    let tags = spec_tags(&r.tag_specifications, "key-pair")?;
    let key = api
        .compute
        .import_key_pair(
            account,
            &r.key_name,
            &r.public_key_material,
            tags,
            r.dry_run,
        )
        .await
        .map_err(ec2_error)?;
    Ok(reply(
        ctx,
        &ImportKeyPairOutput {
            key_pair_id: key.id,
            key_name: key.name,
            key_fingerprint: key.fingerprint,
            tags: tags_of(&key.tags),
        },
    ))
}

fn key_info(k: &KeyPairRecord, include_public_key: bool) -> KeyPairInfo {
    KeyPairInfo {
        key_pair_id: k.id.clone(),
        key_name: k.name.clone(),
        key_fingerprint: k.fingerprint.clone(),
        key_type: if k.key_type == "ed25519" {
            KeyType::Ed25519
        } else {
            KeyType::Rsa
        },
        public_key: include_public_key.then(|| k.public_key.clone()),
        create_time: nomuck_compute::millis_to_time(k.created_at),
        tags: tags_of(&k.tags),
    }
}

impl Filterable for KeyPairInfo {
    fn filter_value(&self, name: &str) -> FilterValues {
        match name {
            "key-pair-id" => self.key_pair_id.as_str().into(),
            "fingerprint" => self.key_fingerprint.as_str().into(),
            "key-name" => self.key_name.as_str().into(),
            "key-type" => self.key_type.as_str().into(),
            _ => FilterValues::none(),
        }
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

pub(super) async fn describe_keys(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: DescribeKeyPairs,
) -> Result<Response, Ec2Error> {
    dry_run_check(r.dry_run)?;
    let mut key_pairs: Vec<KeyPairInfo> = api
        .compute
        .describe_key_pairs(account, &r.key_names, &r.key_pair_ids)
        .await
        .map_err(ec2_error)?
        .iter()
        .map(|k| key_info(k, r.include_public_key))
        .filter(|k| r.filters.matches(k))
        .collect();
    key_pairs.sort_by(|a, b| a.key_name.cmp(&b.key_name));
    Ok(reply(ctx, &DescribeKeyPairsOutput { key_pairs }))
}

pub(super) async fn delete_key(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: DeleteKeyPair,
) -> Result<Response, Ec2Error> {
    let key = match r.key {
        KeyPairRef::Name(n) => KeyRef::Name(n),
        KeyPairRef::Id(i) => KeyRef::Id(i),
    };
    api.compute
        .delete_key_pair(account, &key, r.dry_run)
        .await
        .map_err(ec2_error)?;
    Ok(reply(ctx, &ReturnTrue("DeleteKeyPair")))
}

// --- Security groups -----------------------------------------------------------------

fn domain_group(g: GroupRef) -> DomainGroupRef {
    match g {
        GroupRef::Id(id) => DomainGroupRef::Id(id),
        GroupRef::Name(name) => DomainGroupRef::Name(name),
    }
}

/// Every group allows all outbound traffic: nomuck does not filter egress.
fn allow_all_egress() -> IpPermission {
    IpPermission {
        ip_protocol: "-1".into(),
        ip_ranges: vec![IpRange {
            cidr_ip: "0.0.0.0/0".into(),
            description: None,
        }],
        ..Default::default()
    }
}

/// A group as EC2 shows it; `all` (the account's groups) names its rules' sources.
fn group_view(g: &SecurityGroupRecord, all: &[SecurityGroupRecord]) -> SecurityGroup {
    let name_of = |id: &str| all.iter().find(|x| x.id == id).map(|x| x.name.clone());
    SecurityGroup {
        group_id: g.id.clone(),
        group_name: g.name.clone(),
        description: g.description.clone(),
        owner_id: g.account_id.clone(),
        vpc_id: Some(g.vpc_id.clone()),
        ip_permissions: g
            .ingress
            .iter()
            .map(|rule| IpPermission {
                ip_protocol: rule.protocol.clone(),
                from_port: rule.from_port,
                to_port: rule.to_port,
                ip_ranges: rule
                    .cidrs
                    .iter()
                    .map(|c| IpRange {
                        cidr_ip: c.clone(),
                        description: None,
                    })
                    .collect(),
                groups: rule
                    .groups
                    .iter()
                    .map(|id| UserIdGroupPair {
                        group_id: Some(id.clone()),
                        group_name: name_of(id),
                        user_id: Some(g.account_id.clone()),
                        description: None,
                    })
                    .collect(),
            })
            .collect(),
        ip_permissions_egress: vec![allow_all_egress()],
        tags: tags_of(&g.tags),
    }
}

impl Filterable for SecurityGroup {
    fn filter_value(&self, name: &str) -> FilterValues {
        let rules = &self.ip_permissions;
        let port = |p: Option<i32>| p.map(|p| p.to_string());
        match name {
            "description" => self.description.as_str().into(),
            "group-id" => self.group_id.as_str().into(),
            "group-name" => self.group_name.as_str().into(),
            "owner-id" => self.owner_id.as_str().into(),
            "vpc-id" => self.vpc_id.as_deref().into(),
            "ip-permission.cidr" => FilterValues(
                rules
                    .iter()
                    .flat_map(|r| r.ip_ranges.iter().map(|c| c.cidr_ip.clone()))
                    .collect(),
            ),
            "ip-permission.from-port" => {
                FilterValues(rules.iter().filter_map(|r| port(r.from_port)).collect())
            }
            "ip-permission.to-port" => {
                FilterValues(rules.iter().filter_map(|r| port(r.to_port)).collect())
            }
            "ip-permission.protocol" => {
                FilterValues(rules.iter().map(|r| r.ip_protocol.clone()).collect())
            }
            "ip-permission.group-id" => FilterValues(
                rules
                    .iter()
                    .flat_map(|r| r.groups.iter().filter_map(|g| g.group_id.clone()))
                    .collect(),
            ),
            "ip-permission.group-name" => FilterValues(
                rules
                    .iter()
                    .flat_map(|r| r.groups.iter().filter_map(|g| g.group_name.clone()))
                    .collect(),
            ),
            _ => FilterValues::none(),
        }
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

pub(super) async fn create_group(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: CreateSecurityGroup,
) -> Result<Response, Ec2Error> {
    let tags = spec_tags(&r.tag_specifications, "security-group")?;
    // Every account has exactly one VPC, its default one.
    if let Some(vpc) = r
        .vpc_id
        .filter(|v| *v != nomuck_compute::instances::default_vpc_id(account))
    {
        return Err(Ec2Error::InvalidVpcIdNotFound(vpc));
    }
    let g = api
        .compute
        .create_security_group(account, &r.group_name, &r.description, tags, r.dry_run)
        .await
        .map_err(ec2_error)?;
    Ok(reply(
        ctx,
        &CreateSecurityGroupOutput {
            group_id: g.id,
            tags: tags_of(&g.tags),
        },
    ))
}

pub(super) async fn describe_groups(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: DescribeSecurityGroups,
) -> Result<Response, Ec2Error> {
    dry_run_check(r.dry_run)?;
    let mut all = api
        .compute
        .security_groups(account)
        .await
        .map_err(ec2_error)?;
    all.sort_by(|a, b| a.id.cmp(&b.id));
    let missing: Vec<String> = r
        .group_ids
        .iter()
        .filter(|id| !all.iter().any(|g| &g.id == *id))
        .chain(
            r.group_names
                .iter()
                .filter(|n| !all.iter().any(|g| &g.name == *n)),
        )
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(Ec2Error::InvalidGroupNotFound(missing));
    }
    let named = !r.group_ids.is_empty() || !r.group_names.is_empty();
    let groups: Vec<SecurityGroup> = all
        .iter()
        .filter(|g| !named || r.group_ids.contains(&g.id) || r.group_names.contains(&g.name))
        .map(|g| group_view(g, &all))
        .filter(|g| r.filters.matches(g))
        .collect();
    let (security_groups, next_token) = r.page.apply(groups, |g| g.group_id.as_str());
    Ok(reply(
        ctx,
        &DescribeSecurityGroupsOutput {
            security_groups,
            next_token,
        },
    ))
}

pub(super) async fn delete_group(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: DeleteSecurityGroup,
) -> Result<Response, Ec2Error> {
    api.compute
        .delete_security_group(account, &domain_group(r.group), r.dry_run)
        .await
        .map_err(ec2_error)?;
    Ok(reply(ctx, &ReturnTrue("DeleteSecurityGroup")))
}

/// Rules in the domain's terms: source groups by id, named ones resolved among the
/// account's groups. A source group of another account cannot exist for it.
fn ingress_rules(
    account: &str,
    permissions: &[IpPermission],
    groups: &[SecurityGroupRecord],
) -> Result<Vec<IngressRule>, Ec2Error> {
    let mut rules = Vec::with_capacity(permissions.len());
    for p in permissions {
        let mut sources = Vec::with_capacity(p.groups.len());
        for pair in &p.groups {
            let wanted = pair.group_id.as_ref().or(pair.group_name.as_ref());
            let found = groups.iter().find(|g| {
                pair.user_id.as_deref().is_none_or(|u| u == account)
                    && match (&pair.group_id, &pair.group_name) {
                        (Some(id), _) => &g.id == id,
                        (None, Some(name)) => &g.name == name,
                        (None, None) => false,
                    }
            });
            match (found, wanted) {
                (Some(g), _) => sources.push(g.id.clone()),
                (None, Some(w)) => return Err(Ec2Error::InvalidGroupNotFound(vec![w.clone()])),
                (None, None) => {
                    return Err(Ec2Error::MissingParameter("GroupId or GroupName".into()));
                }
            }
        }
        // The all-protocols rule has no ports (EC2 drops any given).
        let all = p.ip_protocol == "-1";
        rules.push(IngressRule {
            protocol: p.ip_protocol.clone(),
            from_port: if all { None } else { p.from_port },
            to_port: if all { None } else { p.to_port },
            cidrs: p.ip_ranges.iter().map(|r| r.cidr_ip.clone()).collect(),
            groups: sources,
        });
    }
    Ok(rules)
}

async fn change_ingress(
    api: &Ec2Api,
    account: &str,
    group: GroupRef,
    permissions: &[IpPermission],
    authorize: bool,
    dry_run: bool,
) -> Result<(), Ec2Error> {
    let groups = api
        .compute
        .security_groups(account)
        .await
        .map_err(ec2_error)?;
    let rules = ingress_rules(account, permissions, &groups)?;
    api.compute
        .change_ingress(account, &domain_group(group), rules, authorize, dry_run)
        .await
        .map_err(ec2_error)
}

pub(super) async fn authorize(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: AuthorizeSecurityGroupIngress,
) -> Result<Response, Ec2Error> {
    if !r.tag_specifications.is_empty() {
        return Err(Ec2Error::Unsupported(
            "Security group rules have no ids in nomuck and cannot be tagged".into(),
        ));
    }
    change_ingress(api, account, r.group, &r.ip_permissions, true, r.dry_run).await?;
    Ok(reply(ctx, &ReturnTrue("AuthorizeSecurityGroupIngress")))
}

pub(super) async fn revoke(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: RevokeSecurityGroupIngress,
) -> Result<Response, Ec2Error> {
    if !r.security_group_rule_ids.is_empty() {
        return Err(Ec2Error::Unsupported(
            "Security group rules have no ids in nomuck; revoke them by IpPermissions".into(),
        ));
    }
    change_ingress(api, account, r.group, &r.ip_permissions, false, r.dry_run).await?;
    Ok(reply(ctx, &ReturnTrue("RevokeSecurityGroupIngress")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, name: &str, account: &str) -> SecurityGroupRecord {
        SecurityGroupRecord {
            id: id.into(),
            account_id: account.into(),
            name: name.into(),
            description: "d".into(),
            vpc_id: "vpc-1".into(),
            ingress: Vec::new(),
            tags: Vec::new(),
            created_at: 0,
            generation: 1,
        }
    }

    #[test]
    fn rules_resolve_source_groups_of_the_account_only() {
        let groups = [group("sg-1", "web", "111"), group("sg-2", "db", "111")];
        let by_name = IpPermission {
            ip_protocol: "tcp".into(),
            from_port: Some(5432),
            to_port: Some(5432),
            groups: vec![UserIdGroupPair {
                group_name: Some("web".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let rules = ingress_rules("111", std::slice::from_ref(&by_name), &groups).unwrap();
        assert_eq!(rules[0].groups, vec!["sg-1".to_string()]);
        assert_eq!(rules[0].from_port, Some(5432));

        // Another account's group of the same name is not this account's.
        let mut foreign = by_name.clone();
        foreign.groups[0].user_id = Some("222".into());
        assert_eq!(
            ingress_rules("111", &[foreign], &groups),
            Err(Ec2Error::InvalidGroupNotFound(vec!["web".into()]))
        );

        // The all-protocols rule carries no ports.
        let all = IpPermission {
            ip_protocol: "-1".into(),
            from_port: Some(-1),
            to_port: Some(-1),
            ip_ranges: vec![IpRange {
                cidr_ip: "10.0.0.0/8".into(),
                description: None,
            }],
            ..Default::default()
        };
        let rules = ingress_rules("111", &[all], &groups).unwrap();
        assert_eq!((rules[0].from_port, rules[0].to_port), (None, None));
        assert_eq!(rules[0].cidrs, vec!["10.0.0.0/8".to_string()]);
    }

    #[test]
    fn groups_show_rules_with_source_names_and_open_egress() {
        let mut web = group("sg-1", "web", "111");
        web.ingress.push(IngressRule {
            protocol: "tcp".into(),
            from_port: Some(80),
            to_port: Some(80),
            cidrs: vec!["0.0.0.0/0".into()],
            groups: vec!["sg-2".into()],
        });
        let all = [web.clone(), group("sg-2", "lb", "111")];
        let view = group_view(&web, &all);
        assert_eq!(
            view.ip_permissions[0].groups[0].group_name.as_deref(),
            Some("lb")
        );
        assert_eq!(view.ip_permissions_egress, vec![allow_all_egress()]);

        let set = |name: &str, v: &str| {
            crate::FilterSet::new(
                vec![crate::Filter {
                    name: name.into(),
                    values: vec![v.into()],
                }],
                crate::request::SECURITY_GROUP_FILTERS,
            )
            .unwrap()
        };
        assert!(set("ip-permission.from-port", "80").matches(&view));
        assert!(set("ip-permission.group-name", "lb").matches(&view));
        assert!(set("ip-permission.cidr", "0.0.0.0/0").matches(&view));
        assert!(!set("ip-permission.protocol", "udp").matches(&view));
        assert!(set("group-name", "w*").matches(&view));
    }
}
