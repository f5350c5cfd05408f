//! The account's view of the region: the one region and zone this server is, the
//! account's attributes and the instance types on offer.

use nomuck_compute::catalog::{self, InstanceType};
use nomuck_http::{RequestContext, Response};

use super::{Ec2Api, dry_run_check, hypervisor};
use crate::filter::{FilterValues, Filterable};
use crate::request::{
    DescribeAccountAttributes, DescribeAvailabilityZones, DescribeInstanceTypes, DescribeRegions,
};
use crate::response::{
    AccountAttribute, AvailabilityZone, DescribeAccountAttributesOutput,
    DescribeAvailabilityZonesOutput, DescribeInstanceTypesOutput, DescribeRegionsOutput,
    InstanceTypeInfo, Region,
};
use crate::{Ec2Error, reply};

impl Filterable for Region {
    fn filter_value(&self, name: &str) -> FilterValues {
        match name {
            "endpoint" => self.endpoint.as_str().into(),
            "opt-in-status" => "opt-in-not-required".into(),
            "region-name" => self.region_name.as_str().into(),
            _ => FilterValues::none(),
        }
    }
}

fn region(api: &Ec2Api) -> Region {
    let name = api.compute.options().region.clone();
    Region {
        endpoint: format!("ec2.{name}.amazonaws.com"),
        region_name: name,
    }
}

/// A server is one region; naming any other is `InvalidRegion.NotFound`.
pub(super) fn regions(
    api: &Ec2Api,
    ctx: &RequestContext,
    r: DescribeRegions,
) -> Result<Response, Ec2Error> {
    dry_run_check(r.dry_run)?;
    let here = region(api);
    if let Some(other) = r.region_names.iter().find(|n| **n != here.region_name) {
        return Err(Ec2Error::InvalidRegionNotFound(other.clone()));
    }
    let regions = Some(here)
        .into_iter()
        .filter(|g| r.filters.matches(g))
        .collect();
    Ok(reply(ctx, &DescribeRegionsOutput { regions }))
}

impl Filterable for AvailabilityZone {
    fn filter_value(&self, name: &str) -> FilterValues {
        match name {
            "group-name" | "region-name" => self.region_name.as_str().into(),
            "opt-in-status" => "opt-in-not-required".into(),
            "state" => self.state.as_str().into(),
            "zone-id" => self.zone_id.as_str().into(),
            "zone-name" => self.zone_name.as_str().into(),
            "zone-type" => "availability-zone".into(),
            _ => FilterValues::none(),
        }
    }
}

/// A server is one zone, `REGIONa`; its id is `REGION-az1` (EC2's ids abbreviate
/// the region, `use1-az1`, by a table nomuck need not copy).
pub(super) fn zones(
    api: &Ec2Api,
    ctx: &RequestContext,
    r: DescribeAvailabilityZones,
) -> Result<Response, Ec2Error> {
    dry_run_check(r.dry_run)?;
    let opts = api.compute.options();
    let zone = AvailabilityZone {
        zone_name: opts.availability_zone(),
        zone_id: format!("{}-az1", opts.region),
        region_name: opts.region.clone(),
        state: "available".into(),
    };
    if let Some(other) = r
        .zone_names
        .iter()
        .find(|n| **n != zone.zone_name)
        .or_else(|| r.zone_ids.iter().find(|i| **i != zone.zone_id))
    {
        return Err(Ec2Error::InvalidZoneNotFound(other.clone()));
    }
    let zones = Some(zone)
        .into_iter()
        .filter(|z| r.filters.matches(z))
        .collect();
    Ok(reply(ctx, &DescribeAvailabilityZonesOutput { zones }))
}

/// The attributes EC2 reports and nomuck has an answer for.
const ACCOUNT_ATTRIBUTES: &[&str] = &["supported-platforms", "default-vpc", "max-instances"];

pub(super) fn attributes(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: DescribeAccountAttributes,
) -> Result<Response, Ec2Error> {
    dry_run_check(r.dry_run)?;
    if let Some(bad) = r
        .attribute_names
        .iter()
        .find(|n| !ACCOUNT_ATTRIBUTES.contains(&n.as_str()))
    {
        return Err(Ec2Error::invalid_value("AttributeName", bad));
    }
    let value = |name: &str| match name {
        "supported-platforms" => vec!["VPC".to_owned()],
        "default-vpc" => vec![nomuck_compute::instances::default_vpc_id(account)],
        _ => vec![api.compute.options().max_instances_per_account.to_string()],
    };
    let attributes = ACCOUNT_ATTRIBUTES
        .iter()
        .filter(|n| r.attribute_names.is_empty() || r.attribute_names.iter().any(|a| a == *n))
        .map(|n| AccountAttribute {
            name: (*n).to_owned(),
            values: value(n),
        })
        .collect();
    Ok(reply(ctx, &DescribeAccountAttributesOutput { attributes }))
}

/// One catalog entry as DescribeInstanceTypes shows it.
fn type_info(t: &InstanceType, hypervisor: &str) -> InstanceTypeInfo {
    InstanceTypeInfo {
        instance_type: t.name.to_owned(),
        vcpus: t.vcpus,
        memory_mib: u64::from(t.memory_mib),
        current_generation: t.current_generation,
        // EC2's free tier: t2.micro, and t3.micro where t2 is not offered.
        free_tier_eligible: matches!(t.name, "t2.micro" | "t3.micro"),
        burstable: t.name.starts_with('t'),
        hypervisor: hypervisor.to_owned(),
        architectures: vec!["x86_64".into()],
    }
}

impl Filterable for InstanceTypeInfo {
    fn filter_value(&self, name: &str) -> FilterValues {
        match name {
            "current-generation" => self.current_generation.into(),
            "free-tier-eligible" => self.free_tier_eligible.into(),
            "hypervisor" => self.hypervisor.as_str().into(),
            "instance-type" => self.instance_type.as_str().into(),
            "memory-info.size-in-mib" => self.memory_mib.into(),
            "processor-info.supported-architecture" => self.architectures.clone().into(),
            "supported-root-device-type" => "ebs".into(),
            "supported-usage-class" => "on-demand".into(),
            "supported-virtualization-type" => "hvm".into(),
            "vcpu-info.default-cores" | "vcpu-info.default-vcpus" => u64::from(self.vcpus).into(),
            _ => FilterValues::none(),
        }
    }
}

pub(super) fn instance_types(
    api: &Ec2Api,
    ctx: &RequestContext,
    r: DescribeInstanceTypes,
) -> Result<Response, Ec2Error> {
    dry_run_check(r.dry_run)?;
    let unknown: Vec<&str> = r
        .instance_types
        .iter()
        .filter(|n| catalog::lookup(n).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(Ec2Error::InvalidInstanceType(unknown.join(", ")));
    }
    let hv = hypervisor(api);
    let mut types: Vec<InstanceTypeInfo> = catalog::TYPES
        .iter()
        .filter(|t| r.instance_types.is_empty() || r.instance_types.iter().any(|n| n == t.name))
        .map(|t| type_info(t, &hv))
        .filter(|t| r.filters.matches(t))
        .collect();
    types.sort_by(|a, b| a.instance_type.cmp(&b.instance_type));
    let (instance_types, next_token) = r.page.apply(types, |t| t.instance_type.as_str());
    Ok(reply(
        ctx,
        &DescribeInstanceTypesOutput {
            instance_types,
            next_token,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(filters: &[(&str, &str)], allowed: &[&str]) -> crate::FilterSet {
        crate::FilterSet::new(
            filters
                .iter()
                .map(|(n, v)| crate::Filter {
                    name: (*n).into(),
                    values: vec![(*v).into()],
                })
                .collect(),
            allowed,
        )
        .unwrap()
    }

    #[test]
    fn instance_types_answer_their_filters_from_the_catalog() {
        let allowed = crate::request::INSTANCE_TYPE_FILTERS;
        let micro = type_info(catalog::lookup("t3.micro").unwrap(), "kvm");
        let small = type_info(catalog::lookup("m1.small").unwrap(), "kvm");
        let free = set(&[("free-tier-eligible", "true")], allowed);
        assert!(free.matches(&micro) && !free.matches(&small));
        assert!(set(&[("vcpu-info.default-vcpus", "2")], allowed).matches(&micro));
        assert!(set(&[("memory-info.size-in-mib", "1740")], allowed).matches(&small));
        assert!(set(&[("current-generation", "false")], allowed).matches(&small));
        assert!(set(&[("hypervisor", "kvm")], allowed).matches(&micro));
        assert!(set(&[("instance-type", "t3.*")], allowed).matches(&micro));
        assert!(micro.burstable && !small.burstable);
    }

    #[test]
    fn zones_and_regions_filter_by_name() {
        let zone = AvailabilityZone {
            zone_name: "eu-west-1a".into(),
            zone_id: "eu-west-1-az1".into(),
            region_name: "eu-west-1".into(),
            state: "available".into(),
        };
        let allowed = crate::request::ZONE_FILTERS;
        assert!(set(&[("zone-name", "eu-west-1a")], allowed).matches(&zone));
        assert!(set(&[("region-name", "eu-*")], allowed).matches(&zone));
        assert!(!set(&[("state", "impaired")], allowed).matches(&zone));
        let region = Region {
            region_name: "eu-west-1".into(),
            endpoint: "ec2.eu-west-1.amazonaws.com".into(),
        };
        let allowed = crate::request::REGION_FILTERS;
        assert!(set(&[("endpoint", "*eu-west-1*")], allowed).matches(&region));
        assert!(!set(&[("region-name", "us-east-1")], allowed).matches(&region));
    }
}
