//! Typed EC2 replies and their XML, with the element names of the AWS model's
//! `locationName`s (what EC2 sends and botocore's `EC2QueryParser` reads).

use base64::Engine as _;
use time::OffsetDateTime;

use crate::request::{ImageAttributeName, InstanceAttributeName};
use crate::types::{InstanceStateName, IpPermission, LaunchPermission, ShutdownBehavior, Tag};
use crate::xml::{Xml, envelope};

/// A success reply of one action.
pub trait Reply {
    /// The action answered (`DescribeInstances`).
    fn action(&self) -> &'static str;
    /// The elements after `<requestId>`.
    fn write(&self, x: &mut Xml);

    /// The whole XML document.
    fn to_xml(&self, request_id: &str) -> String {
        envelope(self.action(), request_id, |x| self.write(x))
    }
}

fn tag_set(x: &mut Xml, tags: &[Tag]) {
    // EC2 leaves `tagSet` out for untagged resources.
    if !tags.is_empty() {
        x.set("tagSet", tags, |x, t| {
            x.text("key", &t.key);
            x.text("value", &t.value);
        });
    }
}

fn state(x: &mut Xml, name: &str, s: InstanceStateName) {
    x.node(name, |x| {
        x.value("code", s.code());
        x.text("name", s.as_str());
    });
}

fn next_token(x: &mut Xml, token: &Option<String>) {
    x.opt("nextToken", token.as_deref());
}

/// `RebootInstances`, `CreateTags`, `DeleteKeyPair`, …: `<return>true</return>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReturnTrue(pub &'static str);

impl Reply for ReturnTrue {
    fn action(&self) -> &'static str {
        self.0
    }

    fn write(&self, x: &mut Xml) {
        x.value("return", true);
    }
}

// --- Instances -----------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupIdentifier {
    pub group_id: String,
    pub group_name: String,
}

fn group_set(x: &mut Xml, groups: &[GroupIdentifier]) {
    x.set("groupSet", groups, |x, g| {
        x.text("groupId", &g.group_id);
        x.text("groupName", &g.group_name);
    });
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateReason {
    /// `Client.UserInitiatedShutdown`, `Server.InsufficientInstanceCapacity`, …
    pub code: String,
    pub message: String,
}

/// One instance as DescribeInstances and RunInstances describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub instance_id: String,
    pub image_id: String,
    pub state: InstanceStateName,
    pub private_dns_name: String,
    pub dns_name: String,
    /// The state transition reason (`User initiated (2026-12-03 15:04:05 GMT)`).
    pub reason: String,
    pub key_name: Option<String>,
    pub ami_launch_index: u32,
    pub instance_type: String,
    pub launch_time: OffsetDateTime,
    pub availability_zone: String,
    pub kernel_id: Option<String>,
    pub ramdisk_id: Option<String>,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    pub private_ip_address: Option<String>,
    pub ip_address: Option<String>,
    pub groups: Vec<GroupIdentifier>,
    pub state_reason: Option<StateReason>,
    pub architecture: String,
    pub root_device_type: String,
    pub root_device_name: Option<String>,
    /// `xen` or `nitro` in EC2; nomuck says which accelerator runs the guest.
    pub hypervisor: String,
    pub virtualization_type: String,
    pub client_token: Option<String>,
    pub tags: Vec<Tag>,
    /// `optional` or `required` (IMDSv2 only).
    pub metadata_http_tokens: String,
    pub metadata_http_endpoint: String,
}

impl Instance {
    fn write_fields(&self, x: &mut Xml) {
        x.text("instanceId", &self.instance_id);
        x.text("imageId", &self.image_id);
        state(x, "instanceState", self.state);
        x.text("privateDnsName", &self.private_dns_name);
        x.text("dnsName", &self.dns_name);
        x.text("reason", &self.reason);
        x.opt("keyName", self.key_name.as_deref());
        x.value("amiLaunchIndex", self.ami_launch_index);
        x.text("productCodes", "");
        x.text("instanceType", &self.instance_type);
        x.time("launchTime", self.launch_time);
        x.node("placement", |x| {
            x.text("availabilityZone", &self.availability_zone);
            x.text("groupName", "");
            x.text("tenancy", "default");
        });
        x.opt("kernelId", self.kernel_id.as_deref());
        x.opt("ramdiskId", self.ramdisk_id.as_deref());
        x.node("monitoring", |x| x.text("state", "disabled"));
        x.opt("subnetId", self.subnet_id.as_deref());
        x.opt("vpcId", self.vpc_id.as_deref());
        x.opt("privateIpAddress", self.private_ip_address.as_deref());
        x.opt("ipAddress", self.ip_address.as_deref());
        x.value("sourceDestCheck", true);
        group_set(x, &self.groups);
        if let Some(reason) = &self.state_reason {
            x.node("stateReason", |x| {
                x.text("code", &reason.code);
                x.text("message", &reason.message);
            });
        }
        x.text("architecture", &self.architecture);
        x.text("rootDeviceType", &self.root_device_type);
        x.opt("rootDeviceName", self.root_device_name.as_deref());
        x.text("blockDeviceMapping", "");
        x.text("virtualizationType", &self.virtualization_type);
        x.opt("clientToken", self.client_token.as_deref());
        tag_set(x, &self.tags);
        x.text("hypervisor", &self.hypervisor);
        x.value("ebsOptimized", false);
        x.node("metadataOptions", |x| {
            x.text("state", "applied");
            x.text("httpTokens", &self.metadata_http_tokens);
            x.value("httpPutResponseHopLimit", 1);
            x.text("httpEndpoint", &self.metadata_http_endpoint);
        });
    }
}

/// One RunInstances call's instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub reservation_id: String,
    pub owner_id: String,
    pub groups: Vec<GroupIdentifier>,
    pub instances: Vec<Instance>,
}

impl Reservation {
    fn write_fields(&self, x: &mut Xml) {
        x.text("reservationId", &self.reservation_id);
        x.text("ownerId", &self.owner_id);
        group_set(x, &self.groups);
        x.set("instancesSet", &self.instances, |x, i| i.write_fields(x));
    }
}

/// RunInstances answers with the reservation itself.
impl Reply for Reservation {
    fn action(&self) -> &'static str {
        "RunInstances"
    }

    fn write(&self, x: &mut Xml) {
        self.write_fields(x);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeInstancesOutput {
    pub reservations: Vec<Reservation>,
    pub next_token: Option<String>,
}

impl Reply for DescribeInstancesOutput {
    fn action(&self) -> &'static str {
        "DescribeInstances"
    }

    fn write(&self, x: &mut Xml) {
        x.set("reservationSet", &self.reservations, |x, r| {
            r.write_fields(x)
        });
        next_token(x, &self.next_token);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceStateChange {
    pub instance_id: String,
    pub current: InstanceStateName,
    pub previous: InstanceStateName,
}

/// TerminateInstances, StopInstances and StartInstances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceStateChanges {
    pub action: &'static str,
    pub changes: Vec<InstanceStateChange>,
}

impl Reply for InstanceStateChanges {
    fn action(&self) -> &'static str {
        self.action
    }

    fn write(&self, x: &mut Xml) {
        x.set("instancesSet", &self.changes, |x, c| {
            x.text("instanceId", &c.instance_id);
            state(x, "currentState", c.current);
            state(x, "previousState", c.previous);
        });
    }
}

/// `ok`, `impaired`, `initializing`, `insufficient-data` or `not-applicable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceStatus {
    pub instance_id: String,
    pub availability_zone: String,
    pub state: InstanceStateName,
    pub system_status: String,
    pub instance_status: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeInstanceStatusOutput {
    pub statuses: Vec<InstanceStatus>,
    pub next_token: Option<String>,
}

impl Reply for DescribeInstanceStatusOutput {
    fn action(&self) -> &'static str {
        "DescribeInstanceStatus"
    }

    fn write(&self, x: &mut Xml) {
        x.set("instanceStatusSet", &self.statuses, |x, s| {
            x.text("instanceId", &s.instance_id);
            x.text("availabilityZone", &s.availability_zone);
            state(x, "instanceState", s.state);
            for (name, status) in [
                ("systemStatus", &s.system_status),
                ("instanceStatus", &s.instance_status),
            ] {
                x.node(name, |x| {
                    x.text("status", status);
                    // Reachability passes once the summary is ok; EC2 calls the
                    // in-between `initializing` too.
                    let reach = match status.as_str() {
                        "ok" => "passed",
                        "impaired" => "failed",
                        other => other,
                    };
                    x.set("details", [reach], |x, reach| {
                        x.text("name", "reachability");
                        x.text("status", reach);
                    });
                });
            }
        });
        next_token(x, &self.next_token);
    }
}

/// The value DescribeInstanceAttribute returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceAttributeValue {
    /// `instanceType`, `kernel`, `ramdisk`, `rootDeviceName`, `sriovNetSupport`; `None`
    /// writes the empty element, as EC2 does for an unset kernel.
    Text(Option<String>),
    ShutdownBehavior(ShutdownBehavior),
    /// Raw user data; written in base64.
    UserData(Option<Vec<u8>>),
    Bool(bool),
    Groups(Vec<GroupIdentifier>),
    /// `blockDeviceMapping`, `productCodes`: lists nomuck never fills.
    EmptyList,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeInstanceAttributeOutput {
    pub instance_id: String,
    pub attribute: InstanceAttributeName,
    pub value: InstanceAttributeValue,
}

impl Reply for DescribeInstanceAttributeOutput {
    fn action(&self) -> &'static str {
        "DescribeInstanceAttribute"
    }

    fn write(&self, x: &mut Xml) {
        use InstanceAttributeValue as V;
        x.text("instanceId", &self.instance_id);
        let name = self.attribute.as_str();
        match &self.value {
            V::Text(text) => x.node(name, |x| x.opt("value", text.as_deref())),
            V::ShutdownBehavior(b) => x.node(name, |x| x.text("value", b.as_str())),
            V::UserData(data) => x.node(name, |x| {
                let encoded = data
                    .as_ref()
                    .map(|d| base64::engine::general_purpose::STANDARD.encode(d));
                x.opt("value", encoded.as_deref());
            }),
            V::Bool(b) => x.node(name, |x| x.value("value", b)),
            V::Groups(groups) => group_set(x, groups),
            V::EmptyList => x.text(name, ""),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetConsoleOutputOutput {
    pub instance_id: String,
    pub timestamp: OffsetDateTime,
    /// Raw console bytes; written in base64.
    pub output: Vec<u8>,
}

impl Reply for GetConsoleOutputOutput {
    fn action(&self) -> &'static str {
        "GetConsoleOutput"
    }

    fn write(&self, x: &mut Xml) {
        x.text("instanceId", &self.instance_id);
        x.time("timestamp", self.timestamp);
        x.text(
            "output",
            &base64::engine::general_purpose::STANDARD.encode(&self.output),
        );
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceTypeInfo {
    pub instance_type: String,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub current_generation: bool,
    pub free_tier_eligible: bool,
    pub burstable: bool,
    pub hypervisor: String,
    pub architectures: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeInstanceTypesOutput {
    pub instance_types: Vec<InstanceTypeInfo>,
    pub next_token: Option<String>,
}

impl Reply for DescribeInstanceTypesOutput {
    fn action(&self) -> &'static str {
        "DescribeInstanceTypes"
    }

    fn write(&self, x: &mut Xml) {
        x.set("instanceTypeSet", &self.instance_types, |x, t| {
            x.text("instanceType", &t.instance_type);
            x.value("currentGeneration", t.current_generation);
            x.value("freeTierEligible", t.free_tier_eligible);
            x.text_set("supportedUsageClasses", &["on-demand".to_owned()]);
            x.text_set("supportedRootDeviceTypes", &["ebs".to_owned()]);
            x.text_set("supportedVirtualizationTypes", &["hvm".to_owned()]);
            x.value("bareMetal", false);
            x.text("hypervisor", &t.hypervisor);
            x.node("processorInfo", |x| {
                x.text_set("supportedArchitectures", &t.architectures);
            });
            x.node("vCpuInfo", |x| {
                x.value("defaultVCpus", t.vcpus);
                x.value("defaultCores", t.vcpus);
                x.value("defaultThreadsPerCore", 1);
            });
            x.node("memoryInfo", |x| x.value("sizeInMiB", t.memory_mib));
            x.value("instanceStorageSupported", false);
            x.value("hibernationSupported", false);
            x.value("burstablePerformanceSupported", t.burstable);
        });
        next_token(x, &self.next_token);
    }
}

// --- Key pairs -----------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateKeyPairOutput {
    pub key_pair_id: String,
    pub key_name: String,
    pub key_fingerprint: String,
    /// The private key, PEM/OpenSSH text; returned once, never stored.
    pub key_material: String,
    pub tags: Vec<Tag>,
}

impl Reply for CreateKeyPairOutput {
    fn action(&self) -> &'static str {
        "CreateKeyPair"
    }

    fn write(&self, x: &mut Xml) {
        x.text("keyPairId", &self.key_pair_id);
        x.text("keyName", &self.key_name);
        x.text("keyFingerprint", &self.key_fingerprint);
        x.text("keyMaterial", &self.key_material);
        tag_set(x, &self.tags);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportKeyPairOutput {
    pub key_pair_id: String,
    pub key_name: String,
    pub key_fingerprint: String,
    pub tags: Vec<Tag>,
}

impl Reply for ImportKeyPairOutput {
    fn action(&self) -> &'static str {
        "ImportKeyPair"
    }

    fn write(&self, x: &mut Xml) {
        x.text("keyPairId", &self.key_pair_id);
        x.text("keyName", &self.key_name);
        x.text("keyFingerprint", &self.key_fingerprint);
        tag_set(x, &self.tags);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairInfo {
    pub key_pair_id: String,
    pub key_name: String,
    pub key_fingerprint: String,
    pub key_type: crate::KeyType,
    /// Only with `IncludePublicKey=true`.
    pub public_key: Option<String>,
    pub create_time: OffsetDateTime,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeKeyPairsOutput {
    pub key_pairs: Vec<KeyPairInfo>,
}

impl Reply for DescribeKeyPairsOutput {
    fn action(&self) -> &'static str {
        "DescribeKeyPairs"
    }

    fn write(&self, x: &mut Xml) {
        x.set("keySet", &self.key_pairs, |x, k| {
            x.text("keyPairId", &k.key_pair_id);
            x.text("keyName", &k.key_name);
            x.text("keyFingerprint", &k.key_fingerprint);
            x.text("keyType", k.key_type.as_str());
            x.opt("publicKey", k.public_key.as_deref());
            x.time("createTime", k.create_time);
            tag_set(x, &k.tags);
        });
    }
}

// --- Security groups -----------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateSecurityGroupOutput {
    pub group_id: String,
    pub tags: Vec<Tag>,
}

impl Reply for CreateSecurityGroupOutput {
    fn action(&self) -> &'static str {
        "CreateSecurityGroup"
    }

    fn write(&self, x: &mut Xml) {
        x.value("return", true);
        x.text("groupId", &self.group_id);
        tag_set(x, &self.tags);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroup {
    pub group_id: String,
    pub group_name: String,
    pub description: String,
    pub owner_id: String,
    pub vpc_id: Option<String>,
    pub ip_permissions: Vec<IpPermission>,
    pub ip_permissions_egress: Vec<IpPermission>,
    pub tags: Vec<Tag>,
}

fn permissions(x: &mut Xml, name: &str, rules: &[IpPermission]) {
    x.set(name, rules, |x, p| {
        x.text("ipProtocol", &p.ip_protocol);
        if let Some(from) = p.from_port {
            x.value("fromPort", from);
        }
        if let Some(to) = p.to_port {
            x.value("toPort", to);
        }
        x.set("groups", &p.groups, |x, g| {
            x.opt("userId", g.user_id.as_deref());
            x.opt("groupId", g.group_id.as_deref());
            x.opt("groupName", g.group_name.as_deref());
            x.opt("description", g.description.as_deref());
        });
        x.set("ipRanges", &p.ip_ranges, |x, r| {
            x.text("cidrIp", &r.cidr_ip);
            x.opt("description", r.description.as_deref());
        });
        x.text("ipv6Ranges", "");
        x.text("prefixListIds", "");
    });
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeSecurityGroupsOutput {
    pub security_groups: Vec<SecurityGroup>,
    pub next_token: Option<String>,
}

impl Reply for DescribeSecurityGroupsOutput {
    fn action(&self) -> &'static str {
        "DescribeSecurityGroups"
    }

    fn write(&self, x: &mut Xml) {
        x.set("securityGroupInfo", &self.security_groups, |x, g| {
            x.text("ownerId", &g.owner_id);
            x.text("groupId", &g.group_id);
            x.text("groupName", &g.group_name);
            x.text("groupDescription", &g.description);
            x.opt("vpcId", g.vpc_id.as_deref());
            permissions(x, "ipPermissions", &g.ip_permissions);
            permissions(x, "ipPermissionsEgress", &g.ip_permissions_egress);
            tag_set(x, &g.tags);
        });
        next_token(x, &self.next_token);
    }
}

// --- Tags, regions, zones, account ---------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagDescription {
    pub resource_id: String,
    /// `instance`, `image`, `key-pair`, `security-group`, …
    pub resource_type: String,
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeTagsOutput {
    pub tags: Vec<TagDescription>,
    pub next_token: Option<String>,
}

impl Reply for DescribeTagsOutput {
    fn action(&self) -> &'static str {
        "DescribeTags"
    }

    fn write(&self, x: &mut Xml) {
        x.set("tagSet", &self.tags, |x, t| {
            x.text("resourceId", &t.resource_id);
            x.text("resourceType", &t.resource_type);
            x.text("key", &t.key);
            x.text("value", &t.value);
        });
        next_token(x, &self.next_token);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub region_name: String,
    pub endpoint: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeRegionsOutput {
    pub regions: Vec<Region>,
}

impl Reply for DescribeRegionsOutput {
    fn action(&self) -> &'static str {
        "DescribeRegions"
    }

    fn write(&self, x: &mut Xml) {
        x.set("regionInfo", &self.regions, |x, r| {
            x.text("regionName", &r.region_name);
            x.text("regionEndpoint", &r.endpoint);
            x.text("optInStatus", "opt-in-not-required");
        });
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityZone {
    pub zone_name: String,
    pub zone_id: String,
    pub region_name: String,
    /// `available`.
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeAvailabilityZonesOutput {
    pub zones: Vec<AvailabilityZone>,
}

impl Reply for DescribeAvailabilityZonesOutput {
    fn action(&self) -> &'static str {
        "DescribeAvailabilityZones"
    }

    fn write(&self, x: &mut Xml) {
        x.set("availabilityZoneInfo", &self.zones, |x, z| {
            x.text("zoneName", &z.zone_name);
            x.text("zoneState", &z.state);
            x.text("regionName", &z.region_name);
            x.text("messageSet", "");
            x.text("optInStatus", "opt-in-not-required");
            x.text("zoneId", &z.zone_id);
            x.text("groupName", &z.region_name);
            x.text("networkBorderGroup", &z.region_name);
            x.text("zoneType", "availability-zone");
        });
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountAttribute {
    pub name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeAccountAttributesOutput {
    pub attributes: Vec<AccountAttribute>,
}

impl Reply for DescribeAccountAttributesOutput {
    fn action(&self) -> &'static str {
        "DescribeAccountAttributes"
    }

    fn write(&self, x: &mut Xml) {
        x.set("accountAttributeSet", &self.attributes, |x, a| {
            x.text("attributeName", &a.name);
            x.set("attributeValueSet", &a.values, |x, v| {
                x.text("attributeValue", v)
            });
        });
    }
}

// --- Images --------------------------------------------------------------------------

/// RegisterImage and CreateImage answer with the new image's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageIdOutput {
    pub action: &'static str,
    pub image_id: String,
}

impl Reply for ImageIdOutput {
    fn action(&self) -> &'static str {
        self.action
    }

    fn write(&self, x: &mut Xml) {
        x.text("imageId", &self.image_id);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub image_id: String,
    /// `bucket/key` of the image's object.
    pub image_location: String,
    /// `available`, `pending`, `failed`, …
    pub image_state: String,
    pub owner_id: String,
    /// `amazon` for the images nomuck ships, as AWS marks its own.
    pub owner_alias: Option<String>,
    pub is_public: bool,
    pub architecture: String,
    /// `machine`, `kernel` or `ramdisk`.
    pub image_type: String,
    pub kernel_id: Option<String>,
    pub ramdisk_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub root_device_type: String,
    pub root_device_name: Option<String>,
    pub virtualization_type: String,
    pub hypervisor: String,
    pub creation_date: OffsetDateTime,
    pub state_reason: Option<StateReason>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeImagesOutput {
    pub images: Vec<Image>,
    pub next_token: Option<String>,
}

impl Reply for DescribeImagesOutput {
    fn action(&self) -> &'static str {
        "DescribeImages"
    }

    fn write(&self, x: &mut Xml) {
        x.set("imagesSet", &self.images, |x, i| {
            x.text("imageId", &i.image_id);
            x.text("imageLocation", &i.image_location);
            x.text("imageState", &i.image_state);
            x.text("imageOwnerId", &i.owner_id);
            x.time("creationDate", i.creation_date);
            x.value("isPublic", i.is_public);
            x.text("architecture", &i.architecture);
            x.text("imageType", &i.image_type);
            x.opt("kernelId", i.kernel_id.as_deref());
            x.opt("ramdiskId", i.ramdisk_id.as_deref());
            x.opt("imageOwnerAlias", i.owner_alias.as_deref());
            x.text("name", &i.name);
            x.opt("description", i.description.as_deref());
            x.text("rootDeviceType", &i.root_device_type);
            x.opt("rootDeviceName", i.root_device_name.as_deref());
            x.text("blockDeviceMapping", "");
            x.text("virtualizationType", &i.virtualization_type);
            if let Some(reason) = &i.state_reason {
                x.node("stateReason", |x| {
                    x.text("code", &reason.code);
                    x.text("message", &reason.message);
                });
            }
            tag_set(x, &i.tags);
            x.text("hypervisor", &i.hypervisor);
        });
        next_token(x, &self.next_token);
    }
}

/// The value DescribeImageAttribute returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageAttributeValue {
    LaunchPermissions(Vec<LaunchPermission>),
    /// `description`, `kernel`, `ramdisk`.
    Text(Option<String>),
    /// `productCodes`, `blockDeviceMapping`.
    EmptyList,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeImageAttributeOutput {
    pub image_id: String,
    pub attribute: ImageAttributeName,
    pub value: ImageAttributeValue,
}

impl Reply for DescribeImageAttributeOutput {
    fn action(&self) -> &'static str {
        "DescribeImageAttribute"
    }

    fn write(&self, x: &mut Xml) {
        x.text("imageId", &self.image_id);
        let name = self.attribute.as_str();
        match &self.value {
            ImageAttributeValue::LaunchPermissions(list) => x.set(name, list, |x, p| match p {
                LaunchPermission::UserId(id) => x.text("userId", id),
                LaunchPermission::All => x.text("group", "all"),
            }),
            ImageAttributeValue::Text(text) => x.node(name, |x| x.opt("value", text.as_deref())),
            ImageAttributeValue::EmptyList => x.text(name, ""),
        }
    }
}
