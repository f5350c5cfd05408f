//! The metadata tree as EC2 serves it, rendered from an instance's facts.
//!
//! The tree is built per request from [`InstanceFacts`] and then walked, so a directory
//! listing always names exactly the entries that answer: an entry without an honest
//! value (no key pair, no user-data, no kernel image) is absent from both.

use bytes::Bytes;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::facts::InstanceFacts;

/// The metadata versions EC2 lists at `/`; each serves the same tree here (nomuck has
/// nothing that only an older version would hide), so a client that pins one, as
/// cloud-init pins `2009-04-04`, finds it.
pub const VERSIONS: &[&str] = &[
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
    "2011-01-01",
    "2011-05-01",
    "2012-01-12",
    "2014-02-25",
    "2014-11-05",
    "2015-10-20",
    "2016-04-19",
    "2016-06-30",
    "2016-09-02",
    "2018-03-28",
    "2018-08-17",
    "2018-09-24",
    "2019-10-01",
    "2020-10-27",
    "2021-01-03",
    "2021-03-23",
    "2021-07-15",
    "latest",
];

pub const TEXT: &str = "text/plain";
pub const JSON: &str = "application/json";
pub const OCTETS: &str = "application/octet-stream";

/// What a path resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub body: Bytes,
    pub content_type: &'static str,
}

enum Node {
    Leaf(Bytes, &'static str),
    /// Entries in listing order; `listing` replaces the generated listing where EC2
    /// lists something other than the entry names (`public-keys/`: `0=name`).
    Dir {
        entries: Vec<(String, Node)>,
        listing: Option<String>,
    },
}

fn text(s: impl Into<String>) -> Node {
    Node::Leaf(Bytes::from(s.into()), TEXT)
}

fn dir(entries: Vec<(String, Node)>) -> Node {
    Node::Dir {
        entries,
        listing: None,
    }
}

fn entry(name: &str, node: Node) -> (String, Node) {
    (name.to_owned(), node)
}

impl Node {
    fn render(self) -> Found {
        match self {
            Node::Leaf(body, content_type) => Found { body, content_type },
            Node::Dir { entries, listing } => {
                let listing = listing.unwrap_or_else(|| {
                    let names: Vec<String> = entries
                        .iter()
                        .map(|(name, node)| match node {
                            Node::Dir { .. } => format!("{name}/"),
                            Node::Leaf(..) => name.clone(),
                        })
                        .collect();
                    names.join("\n")
                });
                Found {
                    body: Bytes::from(listing),
                    content_type: TEXT,
                }
            }
        }
    }

    fn walk<'a>(self, segments: impl Iterator<Item = &'a str>) -> Option<Node> {
        let mut node = self;
        for segment in segments {
            let Node::Dir { entries, .. } = node else {
                return None;
            };
            node = entries.into_iter().find(|(name, _)| name == segment)?.1;
        }
        Some(node)
    }
}

/// Resolves `path` (the request path, without query) for `facts`. Empty segments are
/// ignored, so `/latest/meta-data` and `/latest/meta-data/` both list the directory.
pub fn lookup(facts: &InstanceFacts, path: &str) -> Option<Found> {
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let Some(version) = segments.next() else {
        return Some(Found {
            body: Bytes::from(VERSIONS.join("\n")),
            content_type: TEXT,
        });
    };
    if !VERSIONS.contains(&version) {
        return None;
    }
    version_tree(facts).walk(segments).map(Node::render)
}

fn version_tree(facts: &InstanceFacts) -> Node {
    let mut entries = vec![
        entry(
            "dynamic",
            dir(vec![entry(
                "instance-identity",
                dir(vec![entry(
                    "document",
                    Node::Leaf(Bytes::from(identity_document(facts)), JSON),
                )]),
            )]),
        ),
        entry("meta-data", meta_data(facts)),
    ];
    if let Some(user_data) = &facts.user_data {
        entries.push(entry("user-data", Node::Leaf(user_data.clone(), OCTETS)));
    }
    dir(entries)
}

fn lines(items: &[String]) -> Node {
    text(items.join("\n"))
}

fn meta_data(f: &InstanceFacts) -> Node {
    let mut entries = vec![
        entry("ami-id", text(&f.ami_id)),
        entry("ami-launch-index", text(f.launch_index.to_string())),
        entry("hostname", text(&f.local_hostname)),
        // No pending reboot, stop or termination is ever scheduled by the provider.
        entry("instance-action", text("none")),
        entry("instance-id", text(&f.instance_id)),
        entry("instance-life-cycle", text("on-demand")),
        entry("instance-type", text(&f.instance_type)),
    ];
    if let Some(kernel_id) = &f.kernel_id {
        entries.push(entry("kernel-id", text(kernel_id)));
    }
    entries.extend([
        entry("local-hostname", text(&f.local_hostname)),
        entry("local-ipv4", text(f.local_ipv4.to_string())),
        entry("mac", text(&f.mac)),
        entry(
            "network",
            dir(vec![entry(
                "interfaces",
                dir(vec![entry(
                    "macs",
                    dir(vec![(f.mac.clone(), interface(f))]),
                )]),
            )]),
        ),
        entry(
            "placement",
            dir(vec![
                entry("availability-zone", text(&f.availability_zone)),
                entry("region", text(&f.region)),
            ]),
        ),
    ]);
    if !f.public_keys.is_empty() {
        let keys = f
            .public_keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                (
                    i.to_string(),
                    dir(vec![entry("openssh-key", text(&key.openssh_key))]),
                )
            })
            .collect();
        let listing = f
            .public_keys
            .iter()
            .enumerate()
            .map(|(i, key)| format!("{i}={}", key.name))
            .collect::<Vec<_>>()
            .join("\n");
        entries.push(entry(
            "public-keys",
            Node::Dir {
                entries: keys,
                listing: Some(listing),
            },
        ));
    }
    if let Some(ramdisk_id) = &f.ramdisk_id {
        entries.push(entry("ramdisk-id", text(ramdisk_id)));
    }
    entries.extend([
        entry("reservation-id", text(&f.reservation_id)),
        entry("security-groups", lines(&f.security_groups)),
    ]);
    dir(entries)
}

/// `network/interfaces/macs/MAC/`: the primary (and only user-mode) interface.
fn interface(f: &InstanceFacts) -> Node {
    let mut entries = vec![
        entry("device-number", text("0")),
        entry("local-hostname", text(&f.local_hostname)),
        entry("local-ipv4s", text(f.local_ipv4.to_string())),
        entry("mac", text(&f.mac)),
        entry("owner-id", text(&f.account_id)),
    ];
    if !f.security_group_ids.is_empty() {
        entries.push(entry("security-group-ids", lines(&f.security_group_ids)));
    }
    entries.push(entry("security-groups", lines(&f.security_groups)));
    if let Some(subnet) = &f.subnet {
        entries.extend([
            entry("subnet-id", text(&subnet.subnet_id)),
            entry("subnet-ipv4-cidr-block", text(&subnet.ipv4_cidr_block)),
            entry("vpc-id", text(&subnet.vpc_id)),
            entry("vpc-ipv4-cidr-block", text(&subnet.vpc_ipv4_cidr_block)),
            entry("vpc-ipv4-cidr-blocks", text(&subnet.vpc_ipv4_cidr_block)),
        ]);
    }
    dir(entries)
}

/// `dynamic/instance-identity/document`: the keys EC2 documents, unsigned (nomuck has
/// no signing certificate a guest could check the pkcs7/signature entries against,
/// so those are not served). Absent ids are `null`, as EC2 writes them.
pub fn identity_document(f: &InstanceFacts) -> String {
    let document = serde_json::json!({
        "accountId": f.account_id,
        "architecture": f.architecture,
        "availabilityZone": f.availability_zone,
        "billingProducts": null,
        "devpayProductCodes": null,
        "marketplaceProductCodes": null,
        "imageId": f.ami_id,
        "instanceId": f.instance_id,
        "instanceType": f.instance_type,
        "kernelId": f.kernel_id,
        "pendingTime": pending_time(f.launch_time),
        "privateIp": f.local_ipv4.to_string(),
        "ramdiskId": f.ramdisk_id,
        "region": f.region,
        "version": "2017-09-30",
    });
    serde_json::to_string_pretty(&document).unwrap_or_default()
}

/// `2018-03-07T16:26:04Z`: whole seconds, UTC.
fn pending_time(t: OffsetDateTime) -> String {
    let utc = t.to_offset(time::UtcOffset::UTC);
    utc.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .unwrap_or_default()
}
