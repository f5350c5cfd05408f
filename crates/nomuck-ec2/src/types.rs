//! Values that appear in both requests and responses.

use crate::{Ec2Error, Params};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }

    /// `Tag.N.Key` / `Tag.N.Value`; a missing value is the empty string, as in EC2.
    pub(crate) fn decode_all(p: &mut Params, name: &str) -> Result<Vec<Tag>, Ec2Error> {
        let mut tags = Vec::new();
        for mut t in p.structs(name)? {
            let key = t.required_str("Key")?;
            let value = t.str("Value").unwrap_or_default();
            t.finish()?;
            validate_tag(&key, &value)?;
            tags.push(Tag { key, value });
        }
        Ok(tags)
    }
}

/// EC2's tag limits: keys 1–128 characters, not starting with `aws:`; values up to 256.
fn validate_tag(key: &str, value: &str) -> Result<(), Ec2Error> {
    let key_len = key.chars().count();
    if key_len == 0 || key_len > 128 {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Tag key must be between 1 and 128 characters: '{key}'"
        )));
    }
    if key.starts_with("aws:") {
        return Err(Ec2Error::InvalidParameterValue(
            "Tag keys starting with 'aws:' are reserved for internal use".into(),
        ));
    }
    if value.chars().count() > 256 {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Tag value exceeds the maximum length of 256 characters for key '{key}'"
        )));
    }
    Ok(())
}

/// Tags to put on resources a call creates (`TagSpecification.N`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagSpecification {
    /// `instance`, `key-pair`, `security-group`, `image`, …
    pub resource_type: String,
    pub tags: Vec<Tag>,
}

impl TagSpecification {
    pub(crate) fn decode_all(p: &mut Params) -> Result<Vec<Self>, Ec2Error> {
        let mut specs = Vec::new();
        for mut s in p.structs("TagSpecification")? {
            let resource_type = s.required_str("ResourceType")?;
            let tags = Tag::decode_all(&mut s, "Tag")?;
            s.finish()?;
            specs.push(Self {
                resource_type,
                tags,
            });
        }
        Ok(specs)
    }

    /// The tags of every specification for `resource_type`.
    pub fn tags_for(specs: &[Self], resource_type: &str) -> Vec<Tag> {
        specs
            .iter()
            .filter(|s| s.resource_type == resource_type)
            .flat_map(|s| s.tags.iter().cloned())
            .collect()
    }
}

/// What a guest's own shutdown does to its instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShutdownBehavior {
    #[default]
    Stop,
    Terminate,
}

impl ShutdownBehavior {
    pub fn parse(parameter: &str, value: &str) -> Result<Self, Ec2Error> {
        match value {
            "stop" => Ok(Self::Stop),
            "terminate" => Ok(Self::Terminate),
            other => Err(Ec2Error::invalid_value(parameter, other)),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Terminate => "terminate",
        }
    }
}

/// EC2's instance states, with the codes EC2 gives them (the low byte of
/// `instanceState/code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceStateName {
    Pending,
    Running,
    ShuttingDown,
    Terminated,
    Stopping,
    Stopped,
}

impl InstanceStateName {
    pub fn code(self) -> u16 {
        match self {
            Self::Pending => 0,
            Self::Running => 16,
            Self::ShuttingDown => 32,
            Self::Terminated => 48,
            Self::Stopping => 64,
            Self::Stopped => 80,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::ShuttingDown => "shutting-down",
            Self::Terminated => "terminated",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Running,
            Self::ShuttingDown,
            Self::Terminated,
            Self::Stopping,
            Self::Stopped,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyType {
    #[default]
    Rsa,
    Ed25519,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa => "rsa",
            Self::Ed25519 => "ed25519",
        }
    }
}

/// One ingress rule as `IpPermissions.N` carries it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpPermission {
    /// `tcp`, `udp`, `icmp`, or `-1` (all), lowercased; protocol numbers stay numbers.
    pub ip_protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub ip_ranges: Vec<IpRange>,
    pub groups: Vec<UserIdGroupPair>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpRange {
    pub cidr_ip: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserIdGroupPair {
    pub group_id: Option<String>,
    pub group_name: Option<String>,
    pub user_id: Option<String>,
    pub description: Option<String>,
}

impl IpPermission {
    pub(crate) fn decode_all(p: &mut Params) -> Result<Vec<Self>, Ec2Error> {
        let mut out = Vec::new();
        for mut s in p.structs("IpPermissions")? {
            s.refuse(&["Ipv6Ranges", "PrefixListIds"])?;
            let ip_protocol = protocol(&s.required_str("IpProtocol")?)?;
            let from_port = s.opt_int("FromPort")?;
            let to_port = s.opt_int("ToPort")?;
            let mut ip_ranges = Vec::new();
            for mut r in s.structs("IpRanges")? {
                let cidr_ip = cidr(&r.required_str("CidrIp")?)?;
                let description = r.str("Description");
                r.finish()?;
                ip_ranges.push(IpRange {
                    cidr_ip,
                    description,
                });
            }
            let mut groups = Vec::new();
            for mut g in s.structs("Groups")? {
                groups.push(UserIdGroupPair {
                    group_id: g.str("GroupId"),
                    group_name: g.str("GroupName"),
                    user_id: g.str("UserId"),
                    description: g.str("Description"),
                });
                g.ignore(&["VpcId", "VpcPeeringConnectionId", "PeeringStatus"]);
                g.finish()?;
            }
            s.finish()?;
            let permission = Self {
                ip_protocol,
                from_port,
                to_port,
                ip_ranges,
                groups,
            };
            permission.validate_ports()?;
            out.push(permission);
        }
        Ok(out)
    }

    /// The pre-2011 form: one rule in top-level `IpProtocol`, `FromPort`, `ToPort`,
    /// `CidrIp`, `SourceSecurityGroupName`.
    pub(crate) fn decode_flat(p: &mut Params) -> Result<Option<Self>, Ec2Error> {
        let cidr_ip = p.str("CidrIp");
        let source = p.str("SourceSecurityGroupName");
        let owner = p.str("SourceSecurityGroupOwnerId");
        let from_port = p.opt_int("FromPort")?;
        let to_port = p.opt_int("ToPort")?;
        let Some(raw_protocol) = p.str("IpProtocol") else {
            if cidr_ip.is_some() || from_port.is_some() || to_port.is_some() {
                return Err(Ec2Error::MissingParameter("IpProtocol".into()));
            }
            // A source group alone allows all traffic from it, as EC2 does.
            return Ok(source.map(|name| Self {
                ip_protocol: "-1".into(),
                groups: vec![UserIdGroupPair {
                    group_name: Some(name),
                    user_id: owner,
                    ..Default::default()
                }],
                ..Default::default()
            }));
        };
        let permission = Self {
            ip_protocol: protocol(&raw_protocol)?,
            from_port,
            to_port,
            ip_ranges: cidr_ip
                .map(|c| cidr(&c))
                .transpose()?
                .map(|cidr_ip| IpRange {
                    cidr_ip,
                    description: None,
                })
                .into_iter()
                .collect(),
            groups: source
                .map(|name| UserIdGroupPair {
                    group_name: Some(name),
                    user_id: owner,
                    ..Default::default()
                })
                .into_iter()
                .collect(),
        };
        permission.validate_ports()?;
        Ok(Some(permission))
    }

    /// TCP and UDP rules need a port range within 0–65535 (`-1` to `-1` is all ports
    /// only for the all-protocols rule and ICMP, where the "ports" are type and code).
    fn validate_ports(&self) -> Result<(), Ec2Error> {
        if matches!(self.ip_protocol.as_str(), "tcp" | "udp") {
            let (Some(from), Some(to)) = (self.from_port, self.to_port) else {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Invalid value 'null' for {} port range",
                    self.ip_protocol.to_uppercase()
                )));
            };
            if !(0..=65535).contains(&from) || !(0..=65535).contains(&to) || from > to {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Invalid {} port range: {from}-{to}",
                    self.ip_protocol.to_uppercase()
                )));
            }
        }
        Ok(())
    }
}

/// EC2 takes protocol names or numbers; `all` is not a name it knows (`-1` is).
fn protocol(value: &str) -> Result<String, Ec2Error> {
    let lower = value.to_ascii_lowercase();
    match lower.as_str() {
        "tcp" | "6" => Ok("tcp".into()),
        "udp" | "17" => Ok("udp".into()),
        "icmp" | "1" => Ok("icmp".into()),
        "-1" => Ok("-1".into()),
        n if n.parse::<u8>().is_ok() => Ok(n.into()),
        _ => Err(Ec2Error::InvalidParameterValue(format!(
            "Invalid value '{value}' for IP protocol. Unknown protocol."
        ))),
    }
}

/// An IPv4 CIDR block, as EC2 checks it.
fn cidr(value: &str) -> Result<String, Ec2Error> {
    let ok = value.split_once('/').is_some_and(|(addr, len)| {
        addr.parse::<std::net::Ipv4Addr>().is_ok()
            && len.bytes().all(|b| b.is_ascii_digit())
            && len.parse::<u8>().is_ok_and(|n| n <= 32)
    });
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Ec2Error::InvalidParameterValue(format!(
            "CIDR block {value} is malformed"
        )))
    }
}

/// Who may launch an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchPermission {
    /// Another account.
    UserId(String),
    /// `Group=all`: every account (the image is public).
    All,
}

impl LaunchPermission {
    pub(crate) fn decode_all(p: &mut Params, name: &str) -> Result<Vec<Self>, Ec2Error> {
        let mut out = Vec::new();
        for mut s in p.structs(name)? {
            s.refuse(&["OrganizationArn", "OrganizationalUnitArn"])?;
            let user = s.str("UserId");
            let group = s.str("Group");
            s.finish()?;
            out.push(match (user, group) {
                (Some(user), None) => Self::UserId(user),
                (None, Some(group)) => Self::group(&group)?,
                _ => {
                    return Err(Ec2Error::InvalidParameterCombination(
                        "A launch permission names either a UserId or a Group".into(),
                    ));
                }
            });
        }
        Ok(out)
    }

    pub(crate) fn group(value: &str) -> Result<Self, Ec2Error> {
        if value == "all" {
            Ok(Self::All)
        } else {
            Err(Ec2Error::InvalidParameterValue(format!(
                "Invalid value '{value}' for userGroup"
            )))
        }
    }
}
