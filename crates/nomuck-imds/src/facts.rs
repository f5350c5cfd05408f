//! What the metadata service knows about its instance, and where it gets it.

use std::net::Ipv4Addr;

use async_trait::async_trait;
use bytes::Bytes;
use time::OffsetDateTime;

/// Whether the instance may read its metadata without a session token
/// (EC2's `HttpTokens` instance metadata option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpTokens {
    /// IMDSv1 and IMDSv2 both work; a token, when sent, must still be valid.
    #[default]
    Optional,
    /// Every request but the token PUT must carry a valid token.
    Required,
}

/// A key pair's public half, as `public-keys/N` serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub name: String,
    /// The OpenSSH line (`ssh-ed25519 AAAA… name`), served byte for byte.
    pub openssh_key: String,
}

/// The instance's place on its account's private network, when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub subnet_id: String,
    pub vpc_id: String,
    /// e.g. `172.31.0.0/20`
    pub ipv4_cidr_block: String,
    /// e.g. `172.31.0.0/16`
    pub vpc_ipv4_cidr_block: String,
}

/// The instance's current facts: what every path of the tree is rendered from. Fetched
/// anew for each request, so a change (a new security group, user-data modified while
/// stopped) shows on the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFacts {
    pub instance_id: String,
    pub ami_id: String,
    /// `aki-…`, when the instance boots with a registered kernel image.
    pub kernel_id: Option<String>,
    /// `ari-…`, when the instance boots with a registered ramdisk image.
    pub ramdisk_id: Option<String>,
    pub instance_type: String,
    /// `i386`, `x86_64` or `arm64`, as the identity document names it.
    pub architecture: String,
    pub reservation_id: String,
    /// The instance's index among those one RunInstances call started.
    pub launch_index: u32,
    /// The private DNS name (`ip-172-31-1-2.ec2.internal`); see [`ec2_hostname`].
    pub local_hostname: String,
    pub local_ipv4: Ipv4Addr,
    /// The primary interface's MAC, lowercase with colons (`02:00:00:ab:cd:ef`).
    pub mac: String,
    pub subnet: Option<Subnet>,
    pub public_keys: Vec<PublicKey>,
    pub availability_zone: String,
    pub region: String,
    /// The 12-digit id of the account that launched the instance.
    pub account_id: String,
    /// Security group names, in the order the instance has them.
    pub security_groups: Vec<String>,
    /// The same groups' ids (`sg-…`), for the network interface's `security-group-ids`.
    pub security_group_ids: Vec<String>,
    /// Raw user-data (already base64-decoded); `None` serves 404 as EC2 does.
    pub user_data: Option<Bytes>,
    /// When the instance was launched: the identity document's `pendingTime`.
    pub launch_time: OffsetDateTime,
    pub http_tokens: HttpTokens,
}

/// Where the service gets its instance's facts. One source per socket, so the source,
/// not the request, decides which instance is asked about.
#[async_trait]
pub trait MetadataSource: Send + Sync {
    /// The instance's facts now, or `None` when it no longer exists (every request then
    /// answers 404 and the connection closes).
    async fn facts(&self) -> Option<InstanceFacts>;
}

/// EC2's private DNS name for `ip` in `region`: `ip-172-31-1-2.ec2.internal` in
/// us-east-1, `ip-172-31-1-2.REGION.compute.internal` elsewhere.
pub fn ec2_hostname(ip: Ipv4Addr, region: &str) -> String {
    let [a, b, c, d] = ip.octets();
    if region == "us-east-1" {
        format!("ip-{a}-{b}-{c}-{d}.ec2.internal")
    } else {
        format!("ip-{a}-{b}-{c}-{d}.{region}.compute.internal")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_follow_ec2s_two_forms() {
        let ip = Ipv4Addr::new(172, 31, 7, 42);
        assert_eq!(ec2_hostname(ip, "us-east-1"), "ip-172-31-7-42.ec2.internal");
        assert_eq!(
            ec2_hostname(ip, "eu-west-1"),
            "ip-172-31-7-42.eu-west-1.compute.internal"
        );
    }
}
