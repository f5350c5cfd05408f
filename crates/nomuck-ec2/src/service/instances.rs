//! The instance actions.

use std::collections::HashMap;

use nomuck_compute::instances::{AttributeChange, Reservation as DomainReservation, RunRequest};
use nomuck_http::{RequestContext, Response};
use nomuck_meta::compute::InstanceRecord;

use super::{Ec2Api, dry_run_check, ec2_error, tags_of};
use crate::filter::{FilterValues, Filterable};
use crate::request::{
    DescribeInstanceAttribute, DescribeInstanceStatus, DescribeInstances, GetConsoleOutput,
    InstanceAttributeChange, InstanceAttributeName, ModifyInstanceAttribute, RebootInstances,
    RunInstances, StartInstances, StopInstances, TerminateInstances,
};
use crate::response::{
    DescribeInstanceAttributeOutput, DescribeInstanceStatusOutput, DescribeInstancesOutput,
    GetConsoleOutputOutput, GroupIdentifier, Instance, InstanceAttributeValue, InstanceStateChange,
    InstanceStateChanges, InstanceStatus, Reservation, ReturnTrue, StateReason,
};
use crate::{Ec2Error, InstanceStateName, ShutdownBehavior, Tag, reply};

/// The tag DescribeInstances adds to say where the instance's forwarded ports
/// listen: `22=127.0.0.1:40022,80=127.0.0.1:40080` (guest port = host address:port).
pub const FORWARDS_TAG: &str = "nomuck:forwards";

/// Group names by id, for rendering.
type GroupNames = HashMap<String, String>;

async fn group_names(api: &Ec2Api, account: &str) -> Result<GroupNames, Ec2Error> {
    Ok(api
        .compute
        .security_groups(account)
        .await
        .map_err(ec2_error)?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect())
}

fn state_name(r: &InstanceRecord) -> InstanceStateName {
    InstanceStateName::parse(r.state.as_str()).unwrap_or(InstanceStateName::Pending)
}

/// One instance as EC2 shows it.
fn view(api: &Ec2Api, r: &InstanceRecord, groups: &GroupNames) -> Instance {
    let opts = api.compute.options();
    let running = r.state == nomuck_meta::compute::InstanceState::Running;
    let mut tags = tags_of(&r.tags);
    if running && !r.forwards.is_empty() {
        let forwards: Vec<String> = r
            .forwards
            .iter()
            .map(|f| format!("{}={}:{}", f.guest_port, opts.forward_addr, f.host_port))
            .collect();
        tags.push(Tag::new(FORWARDS_TAG, forwards.join(",")));
    }
    let ip: std::net::Ipv4Addr = r
        .private_ip
        .parse()
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
    Instance {
        instance_id: r.id.clone(),
        image_id: r.image_id.clone(),
        state: state_name(r),
        private_dns_name: nomuck_compute::ec2_hostname(ip, &opts.region),
        dns_name: String::new(),
        reason: r.state_transition_reason.clone(),
        key_name: r.key_name.clone(),
        ami_launch_index: r.launch_index,
        instance_type: r.instance_type.clone(),
        launch_time: nomuck_compute::millis_to_time(r.launch_time),
        availability_zone: r.availability_zone.clone(),
        kernel_id: r.kernel_id.clone(),
        ramdisk_id: r.ramdisk_id.clone(),
        subnet_id: Some(nomuck_compute::instances::default_subnet_id(&r.account_id)),
        vpc_id: Some(nomuck_compute::instances::default_vpc_id(&r.account_id)),
        private_ip_address: Some(r.private_ip.clone()),
        ip_address: running.then(|| opts.forward_addr.to_string()),
        groups: r
            .security_group_ids
            .iter()
            .map(|id| GroupIdentifier {
                group_id: id.clone(),
                group_name: groups.get(id).cloned().unwrap_or_default(),
            })
            .collect(),
        state_reason: r.state_reason.as_ref().map(|s| StateReason {
            code: s.code.clone(),
            message: s.message.clone(),
        }),
        architecture: "x86_64".into(),
        root_device_type: "instance-store".into(),
        root_device_name: Some("/dev/vda".into()),
        hypervisor: r
            .accelerator
            .clone()
            .unwrap_or_else(|| super::hypervisor(api)),
        virtualization_type: "hvm".into(),
        client_token: r.client_token.clone(),
        tags,
        metadata_http_tokens: if r.metadata_tokens_required {
            "required"
        } else {
            "optional"
        }
        .into(),
        metadata_http_endpoint: if r.metadata_enabled {
            "enabled"
        } else {
            "disabled"
        }
        .into(),
    }
}

fn reservation(api: &Ec2Api, r: &DomainReservation, groups: &GroupNames) -> Reservation {
    let group_ids = r
        .instances
        .first()
        .map(|i| i.security_group_ids.clone())
        .unwrap_or_default();
    Reservation {
        reservation_id: r.reservation_id.clone(),
        owner_id: r.account_id.clone(),
        groups: group_ids
            .iter()
            .map(|id| GroupIdentifier {
                group_id: id.clone(),
                group_name: groups.get(id).cloned().unwrap_or_default(),
            })
            .collect(),
        instances: r.instances.iter().map(|i| view(api, i, groups)).collect(),
    }
}

pub(super) async fn run(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: RunInstances,
) -> Result<Response, Ec2Error> {
    let tags = super::spec_tags(&r.tag_specifications, "instance")?;
    let request = RunRequest {
        image_id: r.image_id,
        instance_type: r.instance_type,
        min_count: r.min_count,
        max_count: r.max_count,
        key_name: r.key_name,
        security_group_ids: r.security_group_ids,
        security_group_names: r.security_groups,
        user_data: r.user_data,
        client_token: r.client_token,
        tags,
        shutdown_behavior: r
            .instance_initiated_shutdown_behavior
            .map(|b| b.as_str().to_owned()),
        kernel_id: r.kernel_id,
        ramdisk_id: r.ramdisk_id,
        subnet_id: r.subnet_id,
        private_ip: r.private_ip_address,
        availability_zone: r.availability_zone,
        disable_api_termination: r.disable_api_termination,
        metadata_tokens_required: r.metadata_http_tokens.as_deref() == Some("required"),
        metadata_enabled: r.metadata_http_endpoint.as_deref() != Some("disabled"),
        dry_run: r.dry_run,
    };
    let launched = api
        .compute
        .run_instances(account, request)
        .await
        .map_err(ec2_error)?;
    let groups = group_names(api, account).await?;
    Ok(reply(ctx, &reservation(api, &launched, &groups)))
}

/// An instance with what its filters need.
struct Filtered<'a> {
    view: &'a Instance,
    record: &'a InstanceRecord,
}

impl Filterable for Filtered<'_> {
    fn filter_value(&self, name: &str) -> FilterValues {
        let v = self.view;
        let one = |s: &str| FilterValues(vec![s.to_owned()]);
        let opt = |s: &Option<String>| FilterValues(s.iter().cloned().collect());
        match name {
            "architecture" => one(&v.architecture),
            "availability-zone" => one(&v.availability_zone),
            "client-token" => opt(&v.client_token),
            "dns-name" => one(&v.dns_name),
            "group-id" | "instance.group-id" => {
                FilterValues(v.groups.iter().map(|g| g.group_id.clone()).collect())
            }
            "group-name" | "instance.group-name" => {
                FilterValues(v.groups.iter().map(|g| g.group_name.clone()).collect())
            }
            "hypervisor" => one(&v.hypervisor),
            "image-id" => one(&v.image_id),
            "instance-id" => one(&v.instance_id),
            "instance-state-code" => one(&v.state.code().to_string()),
            "instance-state-name" => one(v.state.as_str()),
            "instance-type" => one(&v.instance_type),
            "ip-address" => opt(&v.ip_address),
            "kernel-id" => opt(&v.kernel_id),
            "key-name" => opt(&v.key_name),
            "launch-index" => one(&v.ami_launch_index.to_string()),
            "launch-time" => one(&v
                .launch_time
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()),
            "owner-id" => one(&self.record.account_id),
            "private-dns-name" => one(&v.private_dns_name),
            "private-ip-address" => opt(&v.private_ip_address),
            "ramdisk-id" => opt(&v.ramdisk_id),
            "reason" => one(&v.reason),
            "reservation-id" => one(&self.record.reservation_id),
            "root-device-name" => opt(&v.root_device_name),
            "root-device-type" => one(&v.root_device_type),
            "state-reason-code" => {
                FilterValues(v.state_reason.iter().map(|s| s.code.clone()).collect())
            }
            "state-reason-message" => {
                FilterValues(v.state_reason.iter().map(|s| s.message.clone()).collect())
            }
            "subnet-id" => opt(&v.subnet_id),
            "vpc-id" => opt(&v.vpc_id),
            _ => FilterValues::none(),
        }
    }

    fn tags(&self) -> &[Tag] {
        &self.view.tags
    }
}

pub(super) async fn describe(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: DescribeInstances,
) -> Result<Response, Ec2Error> {
    dry_run_check(r.dry_run)?;
    let records = api
        .compute
        .describe_instances(account, &r.instance_ids)
        .await
        .map_err(ec2_error)?;
    let groups = group_names(api, account).await?;
    let matching: Vec<(InstanceRecord, Instance)> = records
        .into_iter()
        .map(|rec| {
            let v = view(api, &rec, &groups);
            (rec, v)
        })
        .filter(|(rec, v)| {
            r.filters.matches(&Filtered {
                view: v,
                record: rec,
            })
        })
        .collect();
    let (page, next_token) = r.page.apply(matching, |(rec, _)| rec.id.as_str());
    // One reservation per RunInstances call, instances in launch order.
    let mut reservations: Vec<Reservation> = Vec::new();
    for (rec, v) in page {
        match reservations
            .iter_mut()
            .find(|res| res.reservation_id == rec.reservation_id)
        {
            Some(res) => res.instances.push(v),
            None => reservations.push(Reservation {
                reservation_id: rec.reservation_id.clone(),
                owner_id: rec.account_id.clone(),
                groups: v.groups.clone(),
                instances: vec![v],
            }),
        }
    }
    Ok(reply(
        ctx,
        &DescribeInstancesOutput {
            reservations,
            next_token,
        },
    ))
}

struct StatusView(InstanceStatus);

impl Filterable for StatusView {
    fn filter_value(&self, name: &str) -> FilterValues {
        let s = &self.0;
        let one = |v: &str| FilterValues(vec![v.to_owned()]);
        match name {
            "availability-zone" => one(&s.availability_zone),
            "instance-state-code" => one(&s.state.code().to_string()),
            "instance-state-name" => one(s.state.as_str()),
            "instance-status.status" => one(&s.instance_status),
            "system-status.status" => one(&s.system_status),
            "instance-status.reachability" | "system-status.reachability" => {
                one(if s.instance_status == "ok" {
                    "passed"
                } else {
                    "initializing"
                })
            }
            _ => FilterValues::none(),
        }
    }
}

pub(super) async fn status(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: DescribeInstanceStatus,
) -> Result<Response, Ec2Error> {
    dry_run_check(r.dry_run)?;
    let records = api
        .compute
        .describe_instances(account, &r.instance_ids)
        .await
        .map_err(ec2_error)?;
    let shown: Vec<&InstanceRecord> = records
        .iter()
        .filter(|rec| {
            r.include_all_instances || rec.state == nomuck_meta::compute::InstanceState::Running
        })
        .collect();
    // Running: "ok" once the guest answers (its SSH banner), "initializing" before. The
    // probes run at once, so a page of guests costs one probe's time, not their sum.
    let answers =
        futures_util::future::join_all(shown.iter().map(|rec| api.compute.reachable(rec))).await;
    let mut statuses = Vec::new();
    for (rec, answered) in shown.into_iter().zip(answers) {
        let health = if rec.state != nomuck_meta::compute::InstanceState::Running {
            "not-applicable"
        } else if answered {
            "ok"
        } else {
            "initializing"
        };
        let view = StatusView(InstanceStatus {
            instance_id: rec.id.clone(),
            availability_zone: rec.availability_zone.clone(),
            state: state_name(rec),
            system_status: if health == "not-applicable" {
                health
            } else {
                "ok"
            }
            .into(),
            instance_status: health.into(),
        });
        if r.filters.matches(&view) {
            statuses.push(view);
        }
    }
    let (page, next_token) = r.page.apply(statuses, |s| s.0.instance_id.as_str());
    Ok(reply(
        ctx,
        &DescribeInstanceStatusOutput {
            statuses: page.into_iter().map(|s| s.0).collect(),
            next_token,
        },
    ))
}

pub(super) async fn describe_attribute(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: DescribeInstanceAttribute,
) -> Result<Response, Ec2Error> {
    dry_run_check(r.dry_run)?;
    let rec = api
        .compute
        .describe_instances(account, std::slice::from_ref(&r.instance_id))
        .await
        .map_err(ec2_error)?
        .pop()
        .ok_or_else(|| Ec2Error::InvalidInstanceIdNotFound(vec![r.instance_id.clone()]))?;
    use InstanceAttributeName as N;
    use InstanceAttributeValue as V;
    let value = match r.attribute {
        N::InstanceType => V::Text(Some(rec.instance_type.clone())),
        N::Kernel => V::Text(rec.kernel_id.clone()),
        N::Ramdisk => V::Text(rec.ramdisk_id.clone()),
        N::UserData => V::UserData(rec.user_data.clone()),
        N::DisableApiTermination => V::Bool(rec.disable_api_termination),
        N::DisableApiStop | N::EbsOptimized | N::EnaSupport => V::Bool(false),
        N::SourceDestCheck => V::Bool(true),
        N::InstanceInitiatedShutdownBehavior => V::ShutdownBehavior(
            ShutdownBehavior::parse("", &rec.shutdown_behavior).unwrap_or(ShutdownBehavior::Stop),
        ),
        N::RootDeviceName => V::Text(Some("/dev/vda".into())),
        N::SriovNetSupport => V::Text(None),
        N::BlockDeviceMapping | N::ProductCodes => V::EmptyList,
        N::GroupSet => {
            let groups = group_names(api, account).await?;
            V::Groups(
                rec.security_group_ids
                    .iter()
                    .map(|id| GroupIdentifier {
                        group_id: id.clone(),
                        group_name: groups.get(id).cloned().unwrap_or_default(),
                    })
                    .collect(),
            )
        }
    };
    Ok(reply(
        ctx,
        &DescribeInstanceAttributeOutput {
            instance_id: rec.id,
            attribute: r.attribute,
            value,
        },
    ))
}

pub(super) async fn modify_attribute(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: ModifyInstanceAttribute,
) -> Result<Response, Ec2Error> {
    use InstanceAttributeChange as C;
    let change = match r.change {
        C::InstanceType(t) => AttributeChange::InstanceType(t),
        C::UserData(u) => AttributeChange::UserData(u),
        C::DisableApiTermination(d) => AttributeChange::DisableApiTermination(d),
        C::InstanceInitiatedShutdownBehavior(b) => {
            AttributeChange::ShutdownBehavior(b.as_str().to_owned())
        }
        C::Groups(g) => AttributeChange::Groups(g),
        C::Kernel(_) | C::Ramdisk(_) => {
            return Err(Ec2Error::Unsupported(
                "Changing an instance's kernel or ramdisk is not supported; launch it from another image".into(),
            ));
        }
        C::SourceDestCheck(_) => {
            return Err(Ec2Error::Unsupported(
                "sourceDestCheck cannot be changed on nomuck's private network".into(),
            ));
        }
    };
    api.compute
        .modify_instance_attribute(account, &r.instance_id, change, r.dry_run)
        .await
        .map_err(ec2_error)?;
    Ok(reply(ctx, &ReturnTrue("ModifyInstanceAttribute")))
}

fn changes(
    action: &'static str,
    list: Vec<nomuck_compute::instances::StateChange>,
) -> InstanceStateChanges {
    let name = |s: nomuck_meta::compute::InstanceState| {
        InstanceStateName::parse(s.as_str()).unwrap_or(InstanceStateName::Pending)
    };
    InstanceStateChanges {
        action,
        changes: list
            .into_iter()
            .map(|c| InstanceStateChange {
                instance_id: c.instance_id,
                current: name(c.current),
                previous: name(c.previous),
            })
            .collect(),
    }
}

pub(super) async fn terminate(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: TerminateInstances,
) -> Result<Response, Ec2Error> {
    let list = api
        .compute
        .terminate_instances(account, &r.instance_ids, r.dry_run)
        .await
        .map_err(ec2_error)?;
    Ok(reply(ctx, &changes("TerminateInstances", list)))
}

pub(super) async fn stop(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: StopInstances,
) -> Result<Response, Ec2Error> {
    let list = api
        .compute
        .stop_instances(account, &r.instance_ids, r.force, r.dry_run)
        .await
        .map_err(ec2_error)?;
    Ok(reply(ctx, &changes("StopInstances", list)))
}

pub(super) async fn start(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: StartInstances,
) -> Result<Response, Ec2Error> {
    let list = api
        .compute
        .start_instances(account, &r.instance_ids, r.dry_run)
        .await
        .map_err(ec2_error)?;
    Ok(reply(ctx, &changes("StartInstances", list)))
}

pub(super) async fn reboot(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: RebootInstances,
) -> Result<Response, Ec2Error> {
    api.compute
        .reboot_instances(account, &r.instance_ids, r.dry_run)
        .await
        .map_err(ec2_error)?;
    Ok(reply(ctx, &ReturnTrue("RebootInstances")))
}

pub(super) async fn console(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: GetConsoleOutput,
) -> Result<Response, Ec2Error> {
    dry_run_check(r.dry_run)?;
    let (output, at) = api
        .compute
        .console_output(account, &r.instance_id)
        .await
        .map_err(ec2_error)?;
    Ok(reply(
        ctx,
        &GetConsoleOutputOutput {
            instance_id: r.instance_id,
            timestamp: nomuck_compute::millis_to_time(at),
            output,
        },
    ))
}
