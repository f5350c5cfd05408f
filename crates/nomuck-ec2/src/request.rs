//! Typed EC2 requests, decoded from the query parameters with the names of the AWS model
//! (botocore's `ec2/2016-11-15`): EC2's serializer writes a member's `queryName`, or its
//! `locationName` capitalised, so `InstanceIds` travels as `InstanceId.N` and
//! `SecurityGroupIds` as `SecurityGroupId.N`.

use crate::filter::{Filter, FilterSet};
use crate::page::{self, PageRequest};
use crate::types::{IpPermission, LaunchPermission, ShutdownBehavior, Tag, TagSpecification};
use crate::{Ec2Error, KeyType, Params};

/// Raw user data is limited to 16 KiB (before base64), as in EC2.
pub const MAX_USER_DATA: usize = 16 * 1024;

/// Every action this crate decodes, with its wire name.
macro_rules! actions {
    ($($name:ident),* $(,)?) => {
        /// One decoded EC2 request.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Ec2Request {
            $($name($name),)*
        }

        impl Ec2Request {
            /// The action's name, as on the wire (`RunInstances`).
            pub fn action(&self) -> &'static str {
                match self {
                    $(Self::$name(_) => stringify!($name),)*
                }
            }

            /// Whether the request only asks if it would be allowed (`DryRun=true`).
            pub fn dry_run(&self) -> bool {
                match self {
                    $(Self::$name(r) => r.dry_run,)*
                }
            }
        }

        /// The wire names of every action [`decode`] knows.
        pub const ACTIONS: &[&str] = &[$(stringify!($name)),*];

        /// Decode `action` from its parameters (without `Action` and `Version`).
        pub fn decode(action: &str, mut p: Params) -> Result<Ec2Request, Ec2Error> {
            // Query-string authentication travels with the parameters; the edge checked it.
            p.ignore(AUTH_PARAMS);
            let request = match action {
                $(stringify!($name) => Ec2Request::$name($name::decode(&mut p)?),)*
                other => return Err(Ec2Error::InvalidAction(other.to_owned())),
            };
            p.finish()?;
            Ok(request)
        }
    };
}

actions!(
    RunInstances,
    DescribeInstances,
    DescribeInstanceStatus,
    DescribeInstanceAttribute,
    ModifyInstanceAttribute,
    TerminateInstances,
    StopInstances,
    StartInstances,
    RebootInstances,
    GetConsoleOutput,
    DescribeInstanceTypes,
    CreateKeyPair,
    ImportKeyPair,
    DescribeKeyPairs,
    DeleteKeyPair,
    CreateSecurityGroup,
    DescribeSecurityGroups,
    DeleteSecurityGroup,
    AuthorizeSecurityGroupIngress,
    RevokeSecurityGroupIngress,
    CreateTags,
    DeleteTags,
    DescribeTags,
    DescribeRegions,
    DescribeAvailabilityZones,
    DescribeAccountAttributes,
    RegisterImage,
    DescribeImages,
    DeregisterImage,
    ModifyImageAttribute,
    DescribeImageAttribute,
    ResetImageAttribute,
    CreateImage,
);

/// SigV4 (and legacy SigV2) query authentication parameters.
const AUTH_PARAMS: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "Signature",
    "Timestamp",
    "Expires",
];

/// EC2 ids are `prefix-` and 8 or 17 lowercase hex digits.
pub fn is_id(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            matches!(hex.len(), 8 | 17)
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

fn instance_ids(ids: Vec<String>) -> Result<Vec<String>, Ec2Error> {
    match ids.iter().find(|id| !is_id("i", id)) {
        Some(bad) => Err(Ec2Error::InvalidInstanceIdMalformed(bad.clone())),
        None => Ok(ids),
    }
}

fn instance_id(id: String) -> Result<String, Ec2Error> {
    if is_id("i", &id) {
        Ok(id)
    } else {
        Err(Ec2Error::InvalidInstanceIdMalformed(id))
    }
}

/// Machine, kernel and ramdisk images share the image id namespace.
fn image_id(id: String) -> Result<String, Ec2Error> {
    if ["ami", "aki", "ari"].iter().any(|p| is_id(p, &id)) {
        Ok(id)
    } else {
        Err(Ec2Error::InvalidAmiIdMalformed(id))
    }
}

fn group_ids(ids: Vec<String>) -> Result<Vec<String>, Ec2Error> {
    match ids.iter().find(|id| !is_id("sg", id)) {
        Some(bad) => Err(Ec2Error::InvalidGroupIdMalformed(bad.clone())),
        None => Ok(ids),
    }
}

/// A required, non-empty `Name.N` list.
fn required_list(p: &mut Params, name: &str) -> Result<Vec<String>, Ec2Error> {
    let list = p.list(name)?;
    if list.is_empty() {
        return Err(Ec2Error::MissingParameter(name.to_owned()));
    }
    Ok(list)
}

fn filters(p: &mut Params, allowed: &[&str]) -> Result<FilterSet, Ec2Error> {
    FilterSet::new(Filter::decode_all(p)?, allowed)
}

fn page(p: &mut Params, rule: page::PageRule, has_ids: bool) -> Result<PageRequest, Ec2Error> {
    let max = p.opt_int::<i64>("MaxResults")?;
    let token = p.str("NextToken");
    PageRequest::new(rule, max, token.as_deref(), has_ids)
}

/// User data: base64 on the wire, at most [`MAX_USER_DATA`] bytes decoded. The
/// messages are EC2's own.
fn user_data(encoded: &str) -> Result<Vec<u8>, Ec2Error> {
    let data = crate::params::decode_base64(encoded).ok_or_else(|| {
        Ec2Error::InvalidParameterValue("Invalid BASE64 encoding of user data.".into())
    })?;
    if data.len() > MAX_USER_DATA {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "User data is limited to {MAX_USER_DATA} bytes"
        )));
    }
    Ok(data)
}

// --- Instances ---------------------------------------------------------------------

/// Filter names DescribeInstances documents that nomuck can answer.
pub const INSTANCE_FILTERS: &[&str] = &[
    "architecture",
    "availability-zone",
    "client-token",
    "dns-name",
    "group-id",
    "group-name",
    "hypervisor",
    "image-id",
    "instance-id",
    "instance-state-code",
    "instance-state-name",
    "instance-type",
    "instance.group-id",
    "instance.group-name",
    "ip-address",
    "kernel-id",
    "key-name",
    "launch-index",
    "launch-time",
    "owner-id",
    "placement-group-name",
    "private-dns-name",
    "private-ip-address",
    "ramdisk-id",
    "reason",
    "reservation-id",
    "root-device-name",
    "root-device-type",
    "state-reason-code",
    "state-reason-message",
    "subnet-id",
    "tag:",
    "tag-key",
    "tag-value",
    "virtualization-type",
    "vpc-id",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInstances {
    pub image_id: String,
    /// EC2's default is `m1.small`.
    pub instance_type: Option<String>,
    pub min_count: u32,
    pub max_count: u32,
    pub key_name: Option<String>,
    pub security_group_ids: Vec<String>,
    pub security_groups: Vec<String>,
    /// Decoded from base64.
    pub user_data: Option<Vec<u8>>,
    pub client_token: Option<String>,
    pub tag_specifications: Vec<TagSpecification>,
    pub instance_initiated_shutdown_behavior: Option<ShutdownBehavior>,
    pub kernel_id: Option<String>,
    pub ramdisk_id: Option<String>,
    pub subnet_id: Option<String>,
    pub private_ip_address: Option<String>,
    pub disable_api_termination: bool,
    /// `MetadataOptions.HttpTokens`: `required` makes the metadata service IMDSv2-only.
    pub metadata_http_tokens: Option<String>,
    /// `MetadataOptions.HttpEndpoint`: `disabled` turns the metadata service off.
    pub metadata_http_endpoint: Option<String>,
    pub availability_zone: Option<String>,
    pub dry_run: bool,
}

impl RunInstances {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        p.refuse(&[
            "BlockDeviceMapping",
            "NetworkInterface",
            "LaunchTemplate",
            "InstanceMarketOptions",
            "ElasticGpuSpecification",
            "ElasticInferenceAccelerator",
            "CapacityReservationSpecification",
            "HibernationOptions",
            "LicenseSpecification",
            "EnclaveOptions",
            "Ipv6Address",
            "Ipv6AddressCount",
            "IamInstanceProfile",
            "SecondaryInterface",
        ])?;
        // Accepted and meaningless here: detailed monitoring, EBS tuning, CPU layout.
        p.ignore(&[
            "Monitoring",
            "EbsOptimized",
            "CpuOptions",
            "CreditSpecification",
            "MaintenanceOptions",
            "PrivateDnsNameOptions",
            "AdditionalInfo",
            "DisableApiStop",
            "NetworkPerformanceOptions",
            "Operator",
        ]);
        let image_id = p.required_str("ImageId")?;
        if !is_id("ami", &image_id) {
            return Err(Ec2Error::InvalidAmiIdMalformed(image_id));
        }
        let min_count: i64 = p.required_int("MinCount")?;
        let max_count: i64 = p.required_int("MaxCount")?;
        if min_count < 1 {
            return Err(Ec2Error::InvalidParameterValue(format!(
                "Value ({min_count}) for parameter minCount is invalid. Expected a positive integer."
            )));
        }
        if max_count < 1 {
            return Err(Ec2Error::InvalidParameterValue(format!(
                "Value ({max_count}) for parameter maxCount is invalid. Expected a positive integer."
            )));
        }
        if min_count > max_count {
            return Err(Ec2Error::InvalidParameterValue(
                "Value for parameter minCount is greater than parameter maxCount.".into(),
            ));
        }
        let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
        let mut metadata = p.structure("MetadataOptions");
        let (metadata_http_tokens, metadata_http_endpoint) = match &mut metadata {
            Some(m) => {
                let tokens = m.str("HttpTokens");
                let endpoint = m.str("HttpEndpoint");
                m.ignore(&[
                    "HttpPutResponseHopLimit",
                    "HttpProtocolIpv6",
                    "InstanceMetadataTags",
                ]);
                (tokens, endpoint)
            }
            None => (None, None),
        };
        if let Some(m) = metadata {
            m.finish()?;
        }
        if let Some(t) = metadata_http_tokens
            .as_deref()
            .filter(|t| !matches!(*t, "optional" | "required"))
        {
            return Err(Ec2Error::invalid_value("MetadataOptions.HttpTokens", t));
        }
        if let Some(e) = metadata_http_endpoint
            .as_deref()
            .filter(|e| !matches!(*e, "enabled" | "disabled"))
        {
            return Err(Ec2Error::invalid_value("MetadataOptions.HttpEndpoint", e));
        }
        let availability_zone = match p.structure("Placement") {
            Some(mut placement) => {
                let zone = placement.str("AvailabilityZone");
                placement.ignore(&["Tenancy", "GroupName", "Affinity", "HostId"]);
                placement.finish()?;
                zone
            }
            None => None,
        };
        Ok(Self {
            image_id,
            instance_type: p.str("InstanceType"),
            min_count: count(min_count),
            max_count: count(max_count),
            key_name: p.str("KeyName"),
            security_group_ids: group_ids(p.list("SecurityGroupId")?)?,
            security_groups: p.list("SecurityGroup")?,
            user_data: p.str("UserData").map(|u| user_data(&u)).transpose()?,
            client_token: p.str("ClientToken"),
            tag_specifications: TagSpecification::decode_all(p)?,
            instance_initiated_shutdown_behavior: p
                .str("InstanceInitiatedShutdownBehavior")
                .map(|v| ShutdownBehavior::parse("InstanceInitiatedShutdownBehavior", &v))
                .transpose()?,
            kernel_id: p.str("KernelId"),
            ramdisk_id: p.str("RamdiskId"),
            subnet_id: p.str("SubnetId"),
            private_ip_address: p.str("PrivateIpAddress"),
            disable_api_termination: p.flag("DisableApiTermination")?,
            metadata_http_tokens,
            metadata_http_endpoint,
            availability_zone,
            dry_run: p.flag("DryRun")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeInstances {
    pub instance_ids: Vec<String>,
    pub filters: FilterSet,
    pub page: PageRequest,
    pub dry_run: bool,
}

impl DescribeInstances {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        p.ignore(&["IncludeManagedResources"]);
        let instance_ids = instance_ids(p.list("InstanceId")?)?;
        Ok(Self {
            filters: filters(p, INSTANCE_FILTERS)?,
            page: page(p, page::DESCRIBE_INSTANCES, !instance_ids.is_empty())?,
            instance_ids,
            dry_run: p.flag("DryRun")?,
        })
    }
}

pub const INSTANCE_STATUS_FILTERS: &[&str] = &[
    "availability-zone",
    "instance-state-code",
    "instance-state-name",
    "instance-status.reachability",
    "instance-status.status",
    "system-status.reachability",
    "system-status.status",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeInstanceStatus {
    pub instance_ids: Vec<String>,
    pub filters: FilterSet,
    pub page: PageRequest,
    /// Without it, only running instances are described.
    pub include_all_instances: bool,
    pub dry_run: bool,
}

impl DescribeInstanceStatus {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        p.ignore(&["IncludeManagedResources"]);
        let instance_ids = instance_ids(p.list("InstanceId")?)?;
        Ok(Self {
            filters: filters(p, INSTANCE_STATUS_FILTERS)?,
            page: page(p, page::DESCRIBE_INSTANCE_STATUS, !instance_ids.is_empty())?,
            instance_ids,
            include_all_instances: p.flag("IncludeAllInstances")?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

/// The instance attributes DescribeInstanceAttribute answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceAttributeName {
    InstanceType,
    Kernel,
    Ramdisk,
    UserData,
    DisableApiTermination,
    DisableApiStop,
    InstanceInitiatedShutdownBehavior,
    RootDeviceName,
    BlockDeviceMapping,
    ProductCodes,
    SourceDestCheck,
    GroupSet,
    EbsOptimized,
    SriovNetSupport,
    EnaSupport,
}

impl InstanceAttributeName {
    const ALL: [Self; 15] = [
        Self::InstanceType,
        Self::Kernel,
        Self::Ramdisk,
        Self::UserData,
        Self::DisableApiTermination,
        Self::DisableApiStop,
        Self::InstanceInitiatedShutdownBehavior,
        Self::RootDeviceName,
        Self::BlockDeviceMapping,
        Self::ProductCodes,
        Self::SourceDestCheck,
        Self::GroupSet,
        Self::EbsOptimized,
        Self::SriovNetSupport,
        Self::EnaSupport,
    ];

    /// The wire name, which is also the response element's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InstanceType => "instanceType",
            Self::Kernel => "kernel",
            Self::Ramdisk => "ramdisk",
            Self::UserData => "userData",
            Self::DisableApiTermination => "disableApiTermination",
            Self::DisableApiStop => "disableApiStop",
            Self::InstanceInitiatedShutdownBehavior => "instanceInitiatedShutdownBehavior",
            Self::RootDeviceName => "rootDeviceName",
            Self::BlockDeviceMapping => "blockDeviceMapping",
            Self::ProductCodes => "productCodes",
            Self::SourceDestCheck => "sourceDestCheck",
            Self::GroupSet => "groupSet",
            Self::EbsOptimized => "ebsOptimized",
            Self::SriovNetSupport => "sriovNetSupport",
            Self::EnaSupport => "enaSupport",
        }
    }

    fn parse(value: &str) -> Result<Self, Ec2Error> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == value)
            .ok_or_else(|| Ec2Error::invalid_value("Attribute", value))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeInstanceAttribute {
    pub instance_id: String,
    pub attribute: InstanceAttributeName,
    pub dry_run: bool,
}

impl DescribeInstanceAttribute {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        Ok(Self {
            instance_id: instance_id(p.required_str("InstanceId")?)?,
            attribute: InstanceAttributeName::parse(&p.required_str("Attribute")?)?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

/// The one attribute a ModifyInstanceAttribute call changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceAttributeChange {
    InstanceType(String),
    Kernel(String),
    Ramdisk(String),
    /// Decoded user data.
    UserData(Vec<u8>),
    DisableApiTermination(bool),
    InstanceInitiatedShutdownBehavior(ShutdownBehavior),
    SourceDestCheck(bool),
    Groups(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModifyInstanceAttribute {
    pub instance_id: String,
    pub change: InstanceAttributeChange,
    pub dry_run: bool,
}

impl ModifyInstanceAttribute {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        use InstanceAttributeChange as C;
        p.refuse(&[
            "BlockDeviceMapping",
            "EnaSupport",
            "SriovNetSupport",
            "DisableApiStop",
        ])?;
        p.ignore(&["EbsOptimized"]);
        let instance_id = instance_id(p.required_str("InstanceId")?)?;
        let bool_of = |name: &str, v: &str| match v.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(Ec2Error::invalid_value(name, v)),
        };
        let change_of = |name: &str, v: String| -> Result<C, Ec2Error> {
            Ok(match name {
                "instanceType" => C::InstanceType(v),
                "kernel" => C::Kernel(v),
                "ramdisk" => C::Ramdisk(v),
                "userData" => C::UserData(user_data(&v)?),
                "disableApiTermination" => C::DisableApiTermination(bool_of(name, &v)?),
                "instanceInitiatedShutdownBehavior" => {
                    C::InstanceInitiatedShutdownBehavior(ShutdownBehavior::parse(name, &v)?)
                }
                "sourceDestCheck" => C::SourceDestCheck(bool_of(name, &v)?),
                other => return Err(Ec2Error::invalid_value("Attribute", other)),
            })
        };
        let mut changes = Vec::new();
        // The structured form: `InstanceType.Value=…`.
        for (member, wire) in [
            ("InstanceType", "instanceType"),
            ("Kernel", "kernel"),
            ("Ramdisk", "ramdisk"),
            ("UserData", "userData"),
            ("DisableApiTermination", "disableApiTermination"),
            (
                "InstanceInitiatedShutdownBehavior",
                "instanceInitiatedShutdownBehavior",
            ),
            ("SourceDestCheck", "sourceDestCheck"),
        ] {
            if let Some(mut s) = p.structure(member) {
                let value = s.required_str("Value")?;
                s.finish()?;
                changes.push(change_of(wire, value)?);
            }
        }
        let groups = group_ids(p.list("GroupId")?)?;
        if !groups.is_empty() {
            changes.push(C::Groups(groups));
        }
        // The original form: `Attribute=instanceType&Value=…`.
        if let Some(attribute) = p.str("Attribute") {
            let value = p.required_str("Value")?;
            changes.push(change_of(&attribute, value)?);
        }
        if changes.len() > 1 {
            return Err(Ec2Error::InvalidParameterCombination(
                "Fields for multiple attribute types specified".into(),
            ));
        }
        let change = changes.pop().ok_or_else(|| {
            Ec2Error::InvalidParameterCombination("No attributes specified.".into())
        })?;
        Ok(Self {
            instance_id,
            change,
            dry_run: p.flag("DryRun")?,
        })
    }
}

/// TerminateInstances, StartInstances and RebootInstances: a list of instances.
macro_rules! instance_list_action {
    ($name:ident $(, $flag:ident = $wire:literal)*) => {
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            pub instance_ids: Vec<String>,
            $(pub $flag: bool,)*
            pub dry_run: bool,
        }

        impl $name {
            fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
                p.ignore(&["AdditionalInfo", "SkipOsShutdown"]);
                Ok(Self {
                    instance_ids: instance_ids(required_list(p, "InstanceId")?)?,
                    $($flag: p.flag($wire)?,)*
                    dry_run: p.flag("DryRun")?,
                })
            }
        }
    };
}

instance_list_action!(TerminateInstances, force = "Force");
instance_list_action!(StartInstances);
instance_list_action!(RebootInstances);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopInstances {
    pub instance_ids: Vec<String>,
    /// Power off without waiting for the guest to shut down.
    pub force: bool,
    pub dry_run: bool,
}

impl StopInstances {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        if p.flag("Hibernate")? {
            return Err(Ec2Error::Unsupported(
                "Hibernation is not supported for these instances.".into(),
            ));
        }
        p.ignore(&["SkipOsShutdown"]);
        Ok(Self {
            instance_ids: instance_ids(required_list(p, "InstanceId")?)?,
            force: p.flag("Force")?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetConsoleOutput {
    pub instance_id: String,
    /// The most recent 64 KiB rather than what was logged since boot.
    pub latest: bool,
    pub dry_run: bool,
}

impl GetConsoleOutput {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        Ok(Self {
            instance_id: instance_id(p.required_str("InstanceId")?)?,
            latest: p.flag("Latest")?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

pub const INSTANCE_TYPE_FILTERS: &[&str] = &[
    "current-generation",
    "free-tier-eligible",
    "hypervisor",
    "instance-type",
    "memory-info.size-in-mib",
    "processor-info.supported-architecture",
    "supported-root-device-type",
    "supported-usage-class",
    "supported-virtualization-type",
    "vcpu-info.default-cores",
    "vcpu-info.default-vcpus",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeInstanceTypes {
    pub instance_types: Vec<String>,
    pub filters: FilterSet,
    pub page: PageRequest,
    pub dry_run: bool,
}

impl DescribeInstanceTypes {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        p.ignore(&["IncludeUnsupportedInRegion"]);
        let instance_types = p.list("InstanceType")?;
        Ok(Self {
            filters: filters(p, INSTANCE_TYPE_FILTERS)?,
            page: page(p, page::DESCRIBE_INSTANCE_TYPES, !instance_types.is_empty())?,
            instance_types,
            dry_run: p.flag("DryRun")?,
        })
    }
}

// --- Key pairs -----------------------------------------------------------------------

/// EC2 key names: up to 255 ASCII characters.
fn key_name(p: &mut Params) -> Result<String, Ec2Error> {
    let name = p.required_str("KeyName")?;
    if name.is_empty() || name.len() > 255 || !name.is_ascii() {
        return Err(Ec2Error::invalid_value("KeyName", &name));
    }
    Ok(name)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateKeyPair {
    pub key_name: String,
    pub key_type: KeyType,
    pub tag_specifications: Vec<TagSpecification>,
    pub dry_run: bool,
}

impl CreateKeyPair {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        let key_type = match p.str("KeyType").as_deref() {
            None | Some("rsa") => KeyType::Rsa,
            Some("ed25519") => KeyType::Ed25519,
            Some(other) => return Err(Ec2Error::invalid_value("KeyType", other)),
        };
        match p.str("KeyFormat").as_deref() {
            None | Some("pem") => {}
            Some("ppk") => {
                return Err(Ec2Error::Unsupported(
                    "The key format ppk is not supported.".into(),
                ));
            }
            Some(other) => return Err(Ec2Error::invalid_value("KeyFormat", other)),
        }
        Ok(Self {
            key_name: key_name(p)?,
            key_type,
            tag_specifications: TagSpecification::decode_all(p)?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportKeyPair {
    pub key_name: String,
    /// The OpenSSH public key line, decoded from base64.
    pub public_key_material: Vec<u8>,
    pub tag_specifications: Vec<TagSpecification>,
    pub dry_run: bool,
}

impl ImportKeyPair {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        let key_name = key_name(p)?;
        let public_key_material = p
            .opt_blob("PublicKeyMaterial")?
            .ok_or_else(|| Ec2Error::MissingParameter("PublicKeyMaterial".into()))?;
        Ok(Self {
            key_name,
            public_key_material,
            tag_specifications: TagSpecification::decode_all(p)?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

pub const KEY_PAIR_FILTERS: &[&str] = &[
    "key-pair-id",
    "fingerprint",
    "key-name",
    "key-type",
    "tag:",
    "tag-key",
    "tag-value",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeKeyPairs {
    pub key_names: Vec<String>,
    pub key_pair_ids: Vec<String>,
    pub filters: FilterSet,
    pub include_public_key: bool,
    pub dry_run: bool,
}

impl DescribeKeyPairs {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        Ok(Self {
            key_names: p.list("KeyName")?,
            key_pair_ids: p.list("KeyPairId")?,
            filters: filters(p, KEY_PAIR_FILTERS)?,
            include_public_key: p.flag("IncludePublicKey")?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

/// A key pair named by name or by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPairRef {
    Name(String),
    Id(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteKeyPair {
    pub key: KeyPairRef,
    pub dry_run: bool,
}

impl DeleteKeyPair {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        let key = match (p.str("KeyName"), p.str("KeyPairId")) {
            (Some(name), None) => KeyPairRef::Name(name),
            (None, Some(id)) => KeyPairRef::Id(id),
            (None, None) => {
                return Err(Ec2Error::MissingParameter("KeyName or KeyPairId".into()));
            }
            (Some(_), Some(_)) => {
                return Err(Ec2Error::InvalidParameterCombination(
                    "The parameter KeyName cannot be used with the parameter KeyPairId".into(),
                ));
            }
        };
        Ok(Self {
            key,
            dry_run: p.flag("DryRun")?,
        })
    }
}

// --- Security groups -----------------------------------------------------------------

/// A security group named by id or (in the default VPC) by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    Id(String),
    Name(String),
}

impl GroupRef {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        match (p.str("GroupId"), p.str("GroupName")) {
            (Some(id), None) => Ok(Self::Id(group_ids(vec![id])?.remove(0))),
            (None, Some(name)) => Ok(Self::Name(name)),
            (None, None) => Err(Ec2Error::MissingParameter("GroupId or GroupName".into())),
            (Some(_), Some(_)) => Err(Ec2Error::InvalidParameterCombination(
                "The parameter groupName cannot be used with the parameter groupId".into(),
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateSecurityGroup {
    pub group_name: String,
    pub description: String,
    pub vpc_id: Option<String>,
    pub tag_specifications: Vec<TagSpecification>,
    pub dry_run: bool,
}

impl CreateSecurityGroup {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        let group_name = p.required_str("GroupName")?;
        let description = p.required_str("GroupDescription")?;
        for (parameter, value) in [
            ("GroupName", &group_name),
            ("GroupDescription", &description),
        ] {
            if value.is_empty() || value.chars().count() > 255 {
                return Err(Ec2Error::invalid_value(parameter, value));
            }
        }
        if group_name.starts_with("sg-") {
            return Err(Ec2Error::InvalidParameterValue(
                "Group names may not be in the format sg-*".into(),
            ));
        }
        Ok(Self {
            group_name,
            description,
            vpc_id: p.str("VpcId"),
            tag_specifications: TagSpecification::decode_all(p)?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

pub const SECURITY_GROUP_FILTERS: &[&str] = &[
    "description",
    "group-id",
    "group-name",
    "ip-permission.cidr",
    "ip-permission.from-port",
    "ip-permission.group-id",
    "ip-permission.group-name",
    "ip-permission.protocol",
    "ip-permission.to-port",
    "owner-id",
    "vpc-id",
    "tag:",
    "tag-key",
    "tag-value",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeSecurityGroups {
    pub group_ids: Vec<String>,
    pub group_names: Vec<String>,
    pub filters: FilterSet,
    pub page: PageRequest,
    pub dry_run: bool,
}

impl DescribeSecurityGroups {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        let group_ids = group_ids(p.list("GroupId")?)?;
        let group_names = p.list("GroupName")?;
        let has_ids = !group_ids.is_empty() || !group_names.is_empty();
        Ok(Self {
            filters: filters(p, SECURITY_GROUP_FILTERS)?,
            page: page(p, page::DESCRIBE_SECURITY_GROUPS, has_ids)?,
            group_ids,
            group_names,
            dry_run: p.flag("DryRun")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteSecurityGroup {
    pub group: GroupRef,
    pub dry_run: bool,
}

impl DeleteSecurityGroup {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        Ok(Self {
            group: GroupRef::decode(p)?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

/// The rules of an Authorize/Revoke call, from `IpPermissions.N` or the flat form.
fn permissions(p: &mut Params) -> Result<Vec<IpPermission>, Ec2Error> {
    let mut rules = IpPermission::decode_all(p)?;
    rules.extend(IpPermission::decode_flat(p)?);
    Ok(rules)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeSecurityGroupIngress {
    pub group: GroupRef,
    pub ip_permissions: Vec<IpPermission>,
    pub tag_specifications: Vec<TagSpecification>,
    pub dry_run: bool,
}

impl AuthorizeSecurityGroupIngress {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        let group = GroupRef::decode(p)?;
        let ip_permissions = permissions(p)?;
        if ip_permissions.is_empty() {
            return Err(Ec2Error::MissingParameter("IpPermissions".into()));
        }
        Ok(Self {
            group,
            ip_permissions,
            tag_specifications: TagSpecification::decode_all(p)?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeSecurityGroupIngress {
    pub group: GroupRef,
    pub ip_permissions: Vec<IpPermission>,
    pub security_group_rule_ids: Vec<String>,
    pub dry_run: bool,
}

impl RevokeSecurityGroupIngress {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        let group = GroupRef::decode(p)?;
        let ip_permissions = permissions(p)?;
        let security_group_rule_ids = p.list("SecurityGroupRuleId")?;
        if ip_permissions.is_empty() && security_group_rule_ids.is_empty() {
            return Err(Ec2Error::MissingParameter("IpPermissions".into()));
        }
        Ok(Self {
            group,
            ip_permissions,
            security_group_rule_ids,
            dry_run: p.flag("DryRun")?,
        })
    }
}

// --- Tags ----------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTags {
    pub resource_ids: Vec<String>,
    pub tags: Vec<Tag>,
    pub dry_run: bool,
}

impl CreateTags {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        let resource_ids = required_list(p, "ResourceId")?;
        let tags = Tag::decode_all(p, "Tag")?;
        if tags.is_empty() {
            return Err(Ec2Error::MissingParameter("Tag".into()));
        }
        Ok(Self {
            resource_ids,
            tags,
            dry_run: p.flag("DryRun")?,
        })
    }
}

/// A tag to delete: by key, or by key and value (only if the value matches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagToDelete {
    pub key: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteTags {
    pub resource_ids: Vec<String>,
    /// Empty: every tag of the resources.
    pub tags: Vec<TagToDelete>,
    pub dry_run: bool,
}

impl DeleteTags {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        let resource_ids = required_list(p, "ResourceId")?;
        let mut tags = Vec::new();
        for mut t in p.structs("Tag")? {
            tags.push(TagToDelete {
                key: t.required_str("Key")?,
                value: t.str("Value"),
            });
            t.finish()?;
        }
        Ok(Self {
            resource_ids,
            tags,
            dry_run: p.flag("DryRun")?,
        })
    }
}

pub const TAG_DESCRIPTION_FILTERS: &[&str] = &["key", "resource-id", "resource-type", "value"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeTags {
    pub filters: FilterSet,
    pub page: PageRequest,
    pub dry_run: bool,
}

impl DescribeTags {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        Ok(Self {
            filters: filters(p, TAG_DESCRIPTION_FILTERS)?,
            page: page(p, page::DESCRIBE_TAGS, false)?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

// --- Regions, zones, account ---------------------------------------------------------

pub const REGION_FILTERS: &[&str] = &["endpoint", "opt-in-status", "region-name"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeRegions {
    pub region_names: Vec<String>,
    pub filters: FilterSet,
    pub all_regions: bool,
    pub dry_run: bool,
}

impl DescribeRegions {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        Ok(Self {
            region_names: p.list("RegionName")?,
            filters: filters(p, REGION_FILTERS)?,
            all_regions: p.flag("AllRegions")?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

pub const ZONE_FILTERS: &[&str] = &[
    "group-name",
    "opt-in-status",
    "region-name",
    "state",
    "zone-id",
    "zone-name",
    "zone-type",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeAvailabilityZones {
    pub zone_names: Vec<String>,
    pub zone_ids: Vec<String>,
    pub filters: FilterSet,
    pub all_availability_zones: bool,
    pub dry_run: bool,
}

impl DescribeAvailabilityZones {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        Ok(Self {
            zone_names: p.list("ZoneName")?,
            zone_ids: p.list("ZoneId")?,
            filters: filters(p, ZONE_FILTERS)?,
            all_availability_zones: p.flag("AllAvailabilityZones")?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeAccountAttributes {
    /// `max-instances`, `supported-platforms`, `default-vpc`, …; empty: all.
    pub attribute_names: Vec<String>,
    pub dry_run: bool,
}

impl DescribeAccountAttributes {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        Ok(Self {
            attribute_names: p.list("AttributeName")?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

// --- Images --------------------------------------------------------------------------

/// EC2's image-name rule: 3–128 characters of letters, digits and `()[] ./-'@_`.
fn image_name(p: &mut Params) -> Result<String, Ec2Error> {
    let name = p.required_str("Name")?;
    let ok = (3..=128).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "()[] ./-'@_".contains(c));
    if ok {
        Ok(name)
    } else {
        Err(Ec2Error::InvalidParameterValue(format!(
            "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_': {name}"
        )))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterImage {
    pub name: String,
    /// `bucket/key` of the image's object in storage.
    pub image_location: Option<String>,
    pub description: Option<String>,
    pub architecture: Option<String>,
    pub kernel_id: Option<String>,
    pub ramdisk_id: Option<String>,
    pub root_device_name: Option<String>,
    pub virtualization_type: Option<String>,
    pub tag_specifications: Vec<TagSpecification>,
    pub dry_run: bool,
}

impl RegisterImage {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        p.refuse(&[
            "BlockDeviceMapping",
            "BillingProduct",
            "UefiData",
            "TpmSupport",
        ])?;
        p.ignore(&["EnaSupport", "SriovNetSupport", "BootMode", "ImdsSupport"]);
        let architecture = p.str("Architecture");
        if let Some(a) = architecture
            .as_deref()
            .filter(|a| !matches!(*a, "i386" | "x86_64" | "arm64"))
        {
            return Err(Ec2Error::invalid_value("Architecture", a));
        }
        Ok(Self {
            name: image_name(p)?,
            image_location: p.str("ImageLocation"),
            description: p.str("Description"),
            architecture,
            kernel_id: p.str("KernelId").map(image_id).transpose()?,
            ramdisk_id: p.str("RamdiskId").map(image_id).transpose()?,
            root_device_name: p.str("RootDeviceName"),
            virtualization_type: p.str("VirtualizationType"),
            tag_specifications: TagSpecification::decode_all(p)?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

pub const IMAGE_FILTERS: &[&str] = &[
    "architecture",
    "description",
    "hypervisor",
    "image-id",
    "image-type",
    "is-public",
    "kernel-id",
    "manifest-location",
    "name",
    "owner-alias",
    "owner-id",
    "ramdisk-id",
    "root-device-name",
    "root-device-type",
    "state",
    "virtualization-type",
    "tag:",
    "tag-key",
    "tag-value",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeImages {
    pub image_ids: Vec<String>,
    /// Account ids, `self` or `amazon`.
    pub owners: Vec<String>,
    /// Account ids, `self` or `all`.
    pub executable_users: Vec<String>,
    pub filters: FilterSet,
    pub page: PageRequest,
    pub dry_run: bool,
}

impl DescribeImages {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        p.ignore(&["IncludeDeprecated", "IncludeDisabled"]);
        let image_ids = p
            .list("ImageId")?
            .into_iter()
            .map(image_id)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            owners: p.list("Owner")?,
            executable_users: p.list("ExecutableBy")?,
            filters: filters(p, IMAGE_FILTERS)?,
            page: page(p, page::DESCRIBE_IMAGES, !image_ids.is_empty())?,
            image_ids,
            dry_run: p.flag("DryRun")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeregisterImage {
    pub image_id: String,
    pub dry_run: bool,
}

impl DeregisterImage {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        p.ignore(&["DeleteAssociatedSnapshots"]);
        Ok(Self {
            image_id: image_id(p.required_str("ImageId")?)?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

/// The image attributes nomuck keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageAttributeName {
    Description,
    Kernel,
    Ramdisk,
    LaunchPermission,
    ProductCodes,
    BlockDeviceMapping,
}

impl ImageAttributeName {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Description => "description",
            Self::Kernel => "kernel",
            Self::Ramdisk => "ramdisk",
            Self::LaunchPermission => "launchPermission",
            Self::ProductCodes => "productCodes",
            Self::BlockDeviceMapping => "blockDeviceMapping",
        }
    }

    fn parse(value: &str) -> Result<Self, Ec2Error> {
        [
            Self::Description,
            Self::Kernel,
            Self::Ramdisk,
            Self::LaunchPermission,
            Self::ProductCodes,
            Self::BlockDeviceMapping,
        ]
        .into_iter()
        .find(|a| a.as_str() == value)
        .ok_or_else(|| Ec2Error::invalid_value("Attribute", value))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageAttributeChange {
    LaunchPermission {
        add: Vec<LaunchPermission>,
        remove: Vec<LaunchPermission>,
    },
    Description(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModifyImageAttribute {
    pub image_id: String,
    pub change: ImageAttributeChange,
    pub dry_run: bool,
}

impl ModifyImageAttribute {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        p.refuse(&[
            "ProductCode",
            "OrganizationArn",
            "OrganizationalUnitArn",
            "ImdsSupport",
        ])?;
        let image_id = image_id(p.required_str("ImageId")?)?;
        let mut changes = Vec::new();
        // `LaunchPermission.Add.N.UserId` / `.Group`, `LaunchPermission.Remove.N…`.
        if let Some(mut lp) = p.structure("LaunchPermission") {
            let add = LaunchPermission::decode_all(&mut lp, "Add")?;
            let remove = LaunchPermission::decode_all(&mut lp, "Remove")?;
            lp.finish()?;
            changes.push(ImageAttributeChange::LaunchPermission { add, remove });
        }
        if let Some(mut d) = p.structure("Description") {
            changes.push(ImageAttributeChange::Description(d.required_str("Value")?));
            d.finish()?;
        }
        // The original form: `Attribute=launchPermission&OperationType=add&UserId.N=…`,
        // or `Attribute=description&Value=…`.
        let users = p.list("UserId")?;
        let groups = p.list("UserGroup")?;
        let operation = p.str("OperationType");
        match (
            p.str("Attribute").as_deref(),
            users.is_empty() && groups.is_empty(),
        ) {
            (None, true) => {}
            (None | Some("launchPermission"), _) => {
                let mut list: Vec<LaunchPermission> =
                    users.into_iter().map(LaunchPermission::UserId).collect();
                for g in groups {
                    list.push(LaunchPermission::group(&g)?);
                }
                let (add, remove) = match operation.as_deref() {
                    Some("add") => (list, Vec::new()),
                    Some("remove") => (Vec::new(), list),
                    Some(other) => return Err(Ec2Error::invalid_value("OperationType", other)),
                    None => return Err(Ec2Error::MissingParameter("OperationType".into())),
                };
                changes.push(ImageAttributeChange::LaunchPermission { add, remove });
            }
            (Some("description"), true) => {
                changes.push(ImageAttributeChange::Description(p.required_str("Value")?));
            }
            (Some(other), _) => return Err(Ec2Error::invalid_value("Attribute", other)),
        }
        if changes.len() > 1 {
            return Err(Ec2Error::InvalidParameterCombination(
                "Fields for multiple attribute types specified".into(),
            ));
        }
        let change = changes.pop().ok_or_else(|| {
            Ec2Error::InvalidParameterCombination("No attributes specified.".into())
        })?;
        Ok(Self {
            image_id,
            change,
            dry_run: p.flag("DryRun")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeImageAttribute {
    pub image_id: String,
    pub attribute: ImageAttributeName,
    pub dry_run: bool,
}

impl DescribeImageAttribute {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        Ok(Self {
            image_id: image_id(p.required_str("ImageId")?)?,
            attribute: ImageAttributeName::parse(&p.required_str("Attribute")?)?,
            dry_run: p.flag("DryRun")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetImageAttribute {
    pub image_id: String,
    /// Only `launchPermission` can be reset (to private), as in EC2.
    pub attribute: ImageAttributeName,
    pub dry_run: bool,
}

impl ResetImageAttribute {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        let image_id = image_id(p.required_str("ImageId")?)?;
        let attribute = p.required_str("Attribute")?;
        if attribute != "launchPermission" {
            return Err(Ec2Error::invalid_value("Attribute", &attribute));
        }
        Ok(Self {
            image_id,
            attribute: ImageAttributeName::LaunchPermission,
            dry_run: p.flag("DryRun")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateImage {
    pub instance_id: String,
    pub name: String,
    pub description: Option<String>,
    /// Take the image without stopping a running instance first.
    pub no_reboot: bool,
    pub tag_specifications: Vec<TagSpecification>,
    pub dry_run: bool,
}

impl CreateImage {
    fn decode(p: &mut Params) -> Result<Self, Ec2Error> {
        p.refuse(&["BlockDeviceMapping", "SnapshotLocation", "BootModeOverride"])?;
        Ok(Self {
            instance_id: instance_id(p.required_str("InstanceId")?)?,
            name: image_name(p)?,
            description: p.str("Description"),
            no_reboot: p.flag("NoReboot")?,
            tag_specifications: TagSpecification::decode_all(p)?,
            dry_run: p.flag("DryRun")?,
        })
    }
}
