//! Rendered replies against golden XML in tests/golden/. The same golden files are fed
//! through botocore's own EC2 response parser by tests/e2e/test_ec2_codec.py, so
//! together the two tests prove that what the renderer writes is what boto3 reads.
//! After a deliberate change: `UPDATE_GOLDEN=1 cargo test -p nomuck-ec2 --test render`,
//! then run the pytest file.

use nomuck_ec2::request::{ImageAttributeName, InstanceAttributeName};
use nomuck_ec2::response::*;
use nomuck_ec2::types::{IpPermission, IpRange, UserIdGroupPair};
use nomuck_ec2::{Ec2Error, InstanceStateName, KeyType, LaunchPermission, Reply, Tag};
use time::macros::datetime;

const REQUEST_ID: &str = "59dbff89-35bd-4eac-99ed-be587EXAMPLE";

fn check(name: &str, xml: &str) {
    let path = format!("{}/tests/golden/{name}.xml", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, xml).unwrap();
        return;
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(xml, golden, "{name} differs from its golden file");
}

fn golden(reply: &impl Reply) {
    check(reply.action(), &reply.to_xml(REQUEST_ID));
}

fn group() -> GroupIdentifier {
    GroupIdentifier {
        group_id: "sg-0123456789abcdef0".into(),
        group_name: "default".into(),
    }
}

fn instance(index: u32, state: InstanceStateName) -> Instance {
    Instance {
        instance_id: format!("i-0123456789abcdef{index}"),
        image_id: "ami-0123456789abcdef0".into(),
        state,
        private_dns_name: "ip-172-31-0-5.ec2.internal".into(),
        dns_name: String::new(),
        reason: if state == InstanceStateName::Stopped {
            "User initiated (2026-12-03 15:10:00 GMT)".into()
        } else {
            String::new()
        },
        key_name: Some("k1".into()),
        ami_launch_index: index,
        instance_type: "m1.small".into(),
        launch_time: datetime!(2026-12-03 15:04:05.678 UTC),
        availability_zone: "us-east-1a".into(),
        kernel_id: Some("aki-12345678".into()),
        ramdisk_id: None,
        subnet_id: Some("subnet-12345678".into()),
        vpc_id: Some("vpc-12345678".into()),
        private_ip_address: Some("172.31.0.5".into()),
        ip_address: Some("127.0.0.1".into()),
        groups: vec![group()],
        state_reason: (state == InstanceStateName::Stopped).then(|| StateReason {
            code: "Client.UserInitiatedShutdown".into(),
            message: "Client.UserInitiatedShutdown: User initiated shutdown".into(),
        }),
        architecture: "x86_64".into(),
        root_device_type: "instance-store".into(),
        root_device_name: None,
        hypervisor: "xen".into(),
        virtualization_type: "hvm".into(),
        client_token: Some("tok".into()),
        tags: if index == 0 {
            vec![Tag::new("Name", "web & <db>"), Tag::new("env", "")]
        } else {
            vec![]
        },
        metadata_http_tokens: "required".into(),
        metadata_http_endpoint: "enabled".into(),
    }
}

fn reservation() -> Reservation {
    Reservation {
        reservation_id: "r-0123456789abcdef0".into(),
        owner_id: "111122223333".into(),
        groups: vec![],
        instances: vec![
            instance(0, InstanceStateName::Running),
            instance(1, InstanceStateName::Stopped),
        ],
    }
}

#[test]
fn instances() {
    golden(&reservation());
    golden(&DescribeInstancesOutput {
        reservations: vec![reservation()],
        next_token: Some("MTppLTE".into()),
    });
    golden(&InstanceStateChanges {
        action: "TerminateInstances",
        changes: vec![InstanceStateChange {
            instance_id: "i-0123456789abcdef0".into(),
            current: InstanceStateName::ShuttingDown,
            previous: InstanceStateName::Running,
        }],
    });
    golden(&ReturnTrue("RebootInstances"));
    golden(&DescribeInstanceStatusOutput {
        statuses: vec![InstanceStatus {
            instance_id: "i-0123456789abcdef0".into(),
            availability_zone: "us-east-1a".into(),
            state: InstanceStateName::Running,
            system_status: "ok".into(),
            instance_status: "initializing".into(),
        }],
        next_token: None,
    });
    golden(&DescribeInstanceAttributeOutput {
        instance_id: "i-0123456789abcdef0".into(),
        attribute: InstanceAttributeName::UserData,
        value: InstanceAttributeValue::UserData(Some(b"#!/bin/sh\necho hi\n".to_vec())),
    });
    golden(&GetConsoleOutputOutput {
        instance_id: "i-0123456789abcdef0".into(),
        timestamp: datetime!(2026-12-03 15:05:00 UTC),
        output: b"Linux version 6.1\r\nhello from user-data\r\n".to_vec(),
    });
    golden(&DescribeInstanceTypesOutput {
        instance_types: vec![InstanceTypeInfo {
            instance_type: "m1.small".into(),
            vcpus: 1,
            memory_mib: 1740,
            current_generation: false,
            free_tier_eligible: false,
            burstable: false,
            hypervisor: "xen".into(),
            architectures: vec!["i386".into(), "x86_64".into()],
        }],
        next_token: None,
    });
}

#[test]
fn keys_groups_tags_regions() {
    golden(&CreateKeyPairOutput {
        key_pair_id: "key-0123456789abcdef0".into(),
        key_name: "k1".into(),
        key_fingerprint: "SHA256:abc=".into(),
        key_material:
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\n".into(),
        tags: vec![],
    });
    golden(&ImportKeyPairOutput {
        key_pair_id: "key-0123456789abcdef1".into(),
        key_name: "k2".into(),
        key_fingerprint: "1f:51:ae:28".into(),
        tags: vec![Tag::new("team", "a")],
    });
    golden(&DescribeKeyPairsOutput {
        key_pairs: vec![KeyPairInfo {
            key_pair_id: "key-0123456789abcdef0".into(),
            key_name: "k1".into(),
            key_fingerprint: "SHA256:abc=".into(),
            key_type: KeyType::Ed25519,
            public_key: Some("ssh-ed25519 AAAA k1".into()),
            create_time: datetime!(2026-12-03 15:00:00 UTC),
            tags: vec![],
        }],
    });
    golden(&CreateSecurityGroupOutput {
        group_id: "sg-0123456789abcdef1".into(),
        tags: vec![],
    });
    golden(&DescribeSecurityGroupsOutput {
        security_groups: vec![SecurityGroup {
            group_id: "sg-0123456789abcdef0".into(),
            group_name: "default".into(),
            description: "default VPC security group".into(),
            owner_id: "111122223333".into(),
            vpc_id: Some("vpc-12345678".into()),
            ip_permissions: vec![IpPermission {
                ip_protocol: "tcp".into(),
                from_port: Some(22),
                to_port: Some(22),
                ip_ranges: vec![IpRange {
                    cidr_ip: "0.0.0.0/0".into(),
                    description: Some("ssh".into()),
                }],
                groups: vec![],
            }],
            ip_permissions_egress: vec![IpPermission {
                ip_protocol: "-1".into(),
                groups: vec![UserIdGroupPair {
                    user_id: Some("111122223333".into()),
                    group_id: Some("sg-0123456789abcdef0".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            tags: vec![],
        }],
        next_token: None,
    });
    golden(&DescribeTagsOutput {
        tags: vec![TagDescription {
            resource_id: "i-0123456789abcdef0".into(),
            resource_type: "instance".into(),
            key: "Name".into(),
            value: "web".into(),
        }],
        next_token: None,
    });
    golden(&DescribeRegionsOutput {
        regions: vec![Region {
            region_name: "us-east-1".into(),
            endpoint: "127.0.0.1:9000".into(),
        }],
    });
    golden(&DescribeAvailabilityZonesOutput {
        zones: vec![AvailabilityZone {
            zone_name: "us-east-1a".into(),
            zone_id: "use1-az1".into(),
            region_name: "us-east-1".into(),
            state: "available".into(),
        }],
    });
    golden(&DescribeAccountAttributesOutput {
        attributes: vec![AccountAttribute {
            name: "max-instances".into(),
            values: vec!["20".into()],
        }],
    });
}

#[test]
fn images() {
    golden(&ImageIdOutput {
        action: "RegisterImage",
        image_id: "ami-0123456789abcdef0".into(),
    });
    golden(&DescribeImagesOutput {
        images: vec![Image {
            image_id: "ami-0123456789abcdef0".into(),
            image_location: "nomuck-images/default/root.img".into(),
            image_state: "available".into(),
            owner_id: "000000000000".into(),
            owner_alias: Some("amazon".into()),
            is_public: true,
            architecture: "x86_64".into(),
            image_type: "machine".into(),
            kernel_id: Some("aki-12345678".into()),
            ramdisk_id: Some("ari-12345678".into()),
            name: "nomuck-default".into(),
            description: Some("Debian kernel, busybox, dropbear".into()),
            root_device_type: "instance-store".into(),
            root_device_name: None,
            virtualization_type: "hvm".into(),
            hypervisor: "xen".into(),
            creation_date: datetime!(2026-12-01 00:00:00 UTC),
            state_reason: None,
            tags: vec![],
        }],
        next_token: None,
    });
    golden(&DescribeImageAttributeOutput {
        image_id: "ami-0123456789abcdef0".into(),
        attribute: ImageAttributeName::LaunchPermission,
        value: ImageAttributeValue::LaunchPermissions(vec![
            LaunchPermission::UserId("444455556666".into()),
            LaunchPermission::All,
        ]),
    });
}

#[test]
fn errors() {
    check(
        "Error",
        &Ec2Error::InvalidInstanceIdNotFound(vec!["i-0123456789abcdef0".into()]).to_xml(REQUEST_ID),
    );
}
