//! Decoding real boto3 request bodies (tests/fixtures/botocore_requests.tsv, captured
//! from boto3 by tests/fixtures/capture_botocore_requests.py) into typed requests, and
//! EC2's refusals of malformed ones.

use nomuck_ec2::request::*;
use nomuck_ec2::types::{IpPermission, IpRange, UserIdGroupPair};
use nomuck_ec2::{
    Ec2Error, Ec2Request, KeyType, LaunchPermission, ShutdownBehavior, Tag, TagSpecification,
    decode_params,
};

const I1: &str = "i-0123456789abcdef0";
const I2: &str = "i-12345678";
const SG1: &str = "sg-0123456789abcdef0";
const SG2: &str = "sg-12345678";
const AMI: &str = "ami-0123456789abcdef0";

fn parse(body: &str) -> Result<Ec2Request, Ec2Error> {
    decode_params(
        form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect(),
    )
}

/// Every fixture, decoded, in file order.
fn fixtures() -> Vec<(String, Ec2Request)> {
    include_str!("fixtures/botocore_requests.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let (op, body) = line.split_once('\t').expect("operation<TAB>body");
            let request = parse(body).unwrap_or_else(|e| panic!("{op}: {e:?}"));
            (op.to_owned(), request)
        })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_action_decodes_from_boto3s_bodies() {
    let all = fixtures();
    let decoded: std::collections::BTreeSet<&str> = all.iter().map(|(_, r)| r.action()).collect();
    let expected: std::collections::BTreeSet<&str> = ACTIONS.iter().copied().collect();
    assert_eq!(decoded, expected, "a fixture for every action");
    for (op, request) in &all {
        // boto3's snake_case name is the action's.
        let snake: String = request
            .action()
            .chars()
            .enumerate()
            .flat_map(|(i, c)| {
                let sep = (i > 0 && c.is_ascii_uppercase()).then_some('_');
                sep.into_iter()
                    .chain(std::iter::once(c.to_ascii_lowercase()))
            })
            .collect();
        assert_eq!(&snake, op);
    }
}

#[test]
fn instance_requests_carry_every_parameter() {
    for (_, request) in fixtures() {
        match request {
            Ec2Request::RunInstances(r) => {
                assert_eq!(r.image_id, AMI);
                assert_eq!(r.instance_type.as_deref(), Some("t3.micro"));
                assert_eq!((r.min_count, r.max_count), (1, 2));
                assert_eq!(r.key_name.as_deref(), Some("k1"));
                assert_eq!(r.security_group_ids, strings(&[SG1, SG2]));
                assert_eq!(r.security_groups, strings(&["default"]));
                // boto3 base64-encodes UserData; the request carries the raw script.
                assert_eq!(r.user_data.as_deref(), Some(&b"#!/bin/sh\necho hi\n"[..]));
                assert_eq!(r.client_token.as_deref(), Some("tok"));
                assert_eq!(
                    r.instance_initiated_shutdown_behavior,
                    Some(ShutdownBehavior::Terminate)
                );
                assert_eq!(
                    r.tag_specifications,
                    [TagSpecification {
                        resource_type: "instance".into(),
                        tags: vec![Tag::new("Name", "web"), Tag::new("env", "")],
                    }]
                );
                assert!(!r.dry_run);
            }
            Ec2Request::DescribeInstances(r) if r.filters.is_empty() => {
                assert_eq!(r.instance_ids, strings(&[I1, I2]));
            }
            Ec2Request::DescribeInstances(r) => {
                // The second page of five, after I1.
                assert_eq!(r.page.max_results, Some(5));
                assert_eq!(r.page.after.as_deref(), Some(I1));
                let filters = r.filters.filters();
                assert_eq!(filters[0].name, "instance-state-name");
                assert_eq!(filters[0].values, strings(&["running", "pending"]));
                assert_eq!(filters[1].name, "tag:Name");
                assert_eq!(filters[1].values, strings(&["web*"]));
            }
            Ec2Request::DescribeInstanceStatus(r) => {
                assert_eq!(r.instance_ids, strings(&[I1]));
                assert!(r.include_all_instances);
            }
            Ec2Request::DescribeInstanceAttribute(r) => {
                assert_eq!(r.instance_id, I1);
                assert_eq!(r.attribute, InstanceAttributeName::UserData);
            }
            Ec2Request::ModifyInstanceAttribute(r) => {
                assert_eq!(r.instance_id, I1);
                assert!(
                    matches!(
                        r.change,
                        InstanceAttributeChange::InstanceType(ref t) if t == "m5.large"
                    ) || r.change == InstanceAttributeChange::UserData(b"#!/bin/sh\n".to_vec())
                );
            }
            Ec2Request::TerminateInstances(r) => {
                assert_eq!(r.instance_ids, strings(&[I1, I2]))
            }
            Ec2Request::StopInstances(r) => {
                assert_eq!(r.instance_ids, strings(&[I1]));
                assert!(r.force);
            }
            Ec2Request::StartInstances(r) => assert_eq!(r.instance_ids, strings(&[I1])),
            Ec2Request::RebootInstances(r) => {
                assert_eq!(r.instance_ids, strings(&[I1]));
                assert!(r.dry_run);
            }
            Ec2Request::GetConsoleOutput(r) => {
                assert_eq!(r.instance_id, I1);
                assert!(r.latest);
            }
            Ec2Request::DescribeInstanceTypes(r) => {
                assert_eq!(r.instance_types, strings(&["m1.small", "t3.micro"]))
            }
            _ => {}
        }
    }
}

#[test]
fn key_group_tag_and_region_requests_carry_every_parameter() {
    for (_, request) in fixtures() {
        match request {
            Ec2Request::CreateKeyPair(r) => {
                assert_eq!((r.key_name.as_str(), r.key_type), ("k", KeyType::Ed25519))
            }
            Ec2Request::ImportKeyPair(r) => {
                assert_eq!(r.key_name, "k");
                assert_eq!(r.public_key_material, b"ssh-ed25519 AAAA x");
            }
            Ec2Request::DescribeKeyPairs(r) => {
                assert_eq!(r.key_names, strings(&["k"]));
                assert!(r.include_public_key);
            }
            Ec2Request::DeleteKeyPair(r) => assert_eq!(r.key, KeyPairRef::Name("k".into())),
            Ec2Request::CreateSecurityGroup(r) => {
                assert_eq!(
                    (r.group_name.as_str(), r.description.as_str()),
                    ("web", "web servers")
                )
            }
            Ec2Request::DescribeSecurityGroups(r) => {
                assert_eq!(r.group_ids, strings(&[SG1]));
                assert_eq!(r.group_names, strings(&["default"]));
            }
            Ec2Request::DeleteSecurityGroup(r) => assert_eq!(r.group, GroupRef::Id(SG1.into())),
            Ec2Request::AuthorizeSecurityGroupIngress(r) => {
                assert_eq!(r.group, GroupRef::Id(SG1.into()));
                assert_eq!(
                    r.ip_permissions,
                    [IpPermission {
                        ip_protocol: "tcp".into(),
                        from_port: Some(22),
                        to_port: Some(22),
                        ip_ranges: vec![IpRange {
                            cidr_ip: "0.0.0.0/0".into(),
                            description: Some("ssh".into()),
                        }],
                        groups: vec![UserIdGroupPair {
                            group_id: Some(SG2.into()),
                            ..Default::default()
                        }],
                    }]
                );
            }
            Ec2Request::RevokeSecurityGroupIngress(r) => {
                // The flat, pre-IpPermissions form.
                assert_eq!(r.group, GroupRef::Name("web".into()));
                assert_eq!(r.ip_permissions.len(), 1);
                let rule = &r.ip_permissions[0];
                assert_eq!((rule.from_port, rule.to_port), (Some(80), Some(80)));
                assert_eq!(rule.ip_ranges[0].cidr_ip, "10.0.0.0/8");
            }
            Ec2Request::CreateTags(r) => {
                assert_eq!(r.resource_ids, strings(&[I1, "ami-12345678"]));
                assert_eq!(r.tags, [Tag::new("a", "b")]);
            }
            Ec2Request::DeleteTags(r) => assert_eq!(
                r.tags,
                [TagToDelete {
                    key: "a".into(),
                    value: None
                }]
            ),
            Ec2Request::DescribeTags(r) => {
                assert_eq!(r.filters.filters()[0].name, "resource-id");
                assert_eq!(r.page.max_results, Some(10));
            }
            Ec2Request::DescribeRegions(r) => assert_eq!(r.region_names, strings(&["us-east-1"])),
            Ec2Request::DescribeAvailabilityZones(r) => {
                assert_eq!(r.zone_names, strings(&["us-east-1a"]))
            }
            Ec2Request::DescribeAccountAttributes(r) => {
                assert_eq!(r.attribute_names, strings(&["max-instances"]))
            }
            _ => {}
        }
    }
}

#[test]
fn image_requests_carry_every_parameter() {
    let mut launch_permission_forms = 0;
    for (_, request) in fixtures() {
        match request {
            Ec2Request::RegisterImage(r) => {
                assert_eq!(r.name, "img");
                assert_eq!(r.image_location.as_deref(), Some("bucket/key"));
                assert_eq!(r.kernel_id.as_deref(), Some("aki-12345678"));
                assert_eq!(r.ramdisk_id.as_deref(), Some("ari-12345678"));
                assert_eq!(r.architecture.as_deref(), Some("x86_64"));
            }
            Ec2Request::DescribeImages(r) => {
                assert_eq!(r.owners, strings(&["self", "amazon"]));
                assert_eq!(r.executable_users, strings(&["all"]));
                assert_eq!(r.image_ids, strings(&[AMI]));
            }
            Ec2Request::DeregisterImage(r) => assert_eq!(r.image_id, AMI),
            Ec2Request::ModifyImageAttribute(r) => {
                launch_permission_forms += 1;
                let expected = if launch_permission_forms == 1 {
                    ImageAttributeChange::LaunchPermission {
                        add: vec![
                            LaunchPermission::UserId("111122223333".into()),
                            LaunchPermission::All,
                        ],
                        remove: vec![],
                    }
                } else {
                    ImageAttributeChange::LaunchPermission {
                        add: vec![],
                        remove: vec![LaunchPermission::UserId("111122223333".into())],
                    }
                };
                assert_eq!(r.change, expected);
            }
            Ec2Request::DescribeImageAttribute(r) => {
                assert_eq!(r.attribute, ImageAttributeName::LaunchPermission)
            }
            Ec2Request::ResetImageAttribute(r) => assert_eq!(r.image_id, AMI),
            Ec2Request::CreateImage(r) => {
                assert_eq!((r.instance_id.as_str(), r.name.as_str()), (I1, "snap"));
                assert!(r.no_reboot);
            }
            _ => {}
        }
    }
    assert_eq!(launch_permission_forms, 2);
}

fn err(body: &str) -> Ec2Error {
    parse(body).expect_err(body)
}

#[test]
fn malformed_requests_get_ec2s_errors() {
    let run = "Action=RunInstances&ImageId=ami-12345678&MinCount=1&MaxCount=1";
    assert!(parse(run).is_ok(), "Version may be left out");
    assert_eq!(err("Version=2016-11-15"), Ec2Error::MissingAction);
    assert_eq!(
        err("Action=LaunchRocket&Version=2016-11-15"),
        Ec2Error::InvalidAction("LaunchRocket".into())
    );
    assert_eq!(
        err("Action=DescribeInstances&Version=2014-10-01"),
        Ec2Error::NoSuchVersion("2014-10-01".into())
    );
    assert_eq!(
        err("Action=RunInstances&MinCount=1&MaxCount=1"),
        Ec2Error::MissingParameter("ImageId".into())
    );
    assert_eq!(
        err(&format!("{run}&Colour=blue")),
        Ec2Error::UnknownParameter("Colour".into())
    );
    assert_eq!(
        err(&format!(
            "{run}&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=a&TagSpecification.1.Tag.1.Colour=x"
        )),
        Ec2Error::UnknownParameter("TagSpecification.1.Tag.1.Colour".into())
    );
    assert_eq!(
        err("Action=RunInstances&ImageId=ami-12345678&MinCount=one&MaxCount=1"),
        Ec2Error::invalid_value("MinCount", "one")
    );
    assert!(matches!(
        err("Action=RunInstances&ImageId=ami-12345678&MinCount=2&MaxCount=1"),
        Ec2Error::InvalidParameterValue(_)
    ));
    assert!(matches!(
        err("Action=RunInstances&ImageId=ami-12345678&MinCount=0&MaxCount=1"),
        Ec2Error::InvalidParameterValue(_)
    ));
    assert_eq!(
        err("Action=RunInstances&ImageId=ubuntu&MinCount=1&MaxCount=1"),
        Ec2Error::InvalidAmiIdMalformed("ubuntu".into())
    );
    assert_eq!(
        err("Action=TerminateInstances&InstanceId.1=i-nothex00"),
        Ec2Error::InvalidInstanceIdMalformed("i-nothex00".into())
    );
    assert_eq!(
        err("Action=TerminateInstances"),
        Ec2Error::MissingParameter("InstanceId".into())
    );
    assert!(matches!(
        err(&format!("{run}&InstanceInitiatedShutdownBehavior=explode")),
        Ec2Error::InvalidParameterValue(_)
    ));
    assert!(matches!(
        err(&format!("{run}&BlockDeviceMapping.1.DeviceName=/dev/sda1")),
        Ec2Error::Unsupported(_)
    ));
    assert!(matches!(
        err("Action=DescribeInstances&Filter.1.Name=colour&Filter.1.Value.1=red"),
        Ec2Error::InvalidParameterValue(m) if m == "The filter 'colour' is invalid"
    ));
    assert!(matches!(
        err(&format!(
            "Action=DescribeInstances&InstanceId.1={I1}&MaxResults=5"
        )),
        Ec2Error::InvalidParameterCombination(_)
    ));
    assert!(matches!(
        err("Action=AuthorizeSecurityGroupIngress&GroupName=web&IpProtocol=tcp&FromPort=22&ToPort=22&CidrIp=10.0.0/8"),
        Ec2Error::InvalidParameterValue(m) if m == "CIDR block 10.0.0/8 is malformed"
    ));
    assert!(matches!(
        err("Action=DeleteSecurityGroup&GroupId=sg-1"),
        Ec2Error::InvalidGroupIdMalformed(_)
    ));
    assert!(matches!(
        err(&format!(
            "Action=ModifyInstanceAttribute&InstanceId={I1}&InstanceType.Value=m1.small&Kernel.Value=aki-12345678"
        )),
        Ec2Error::InvalidParameterCombination(_)
    ));
    // Query-string authentication parameters are not unknown parameters.
    assert!(
        parse(&format!(
            "{run}&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab"
        ))
        .is_ok()
    );
}

#[test]
fn user_data_is_base64_and_at_most_16_kib() {
    use base64::Engine as _;
    let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![b'x'; n]);
    let run = |data: &str| {
        parse(&format!(
            "Action=RunInstances&ImageId=ami-12345678&MinCount=1&MaxCount=1&UserData={}",
            form_urlencoded::byte_serialize(data.as_bytes()).collect::<String>()
        ))
    };
    match run(&b64(16 * 1024)).unwrap() {
        Ec2Request::RunInstances(r) => assert_eq!(r.user_data.unwrap().len(), 16 * 1024),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        run(&b64(16 * 1024 + 1)).unwrap_err(),
        Ec2Error::InvalidParameterValue("User data is limited to 16384 bytes".into())
    );
    assert_eq!(
        run("not base64!").unwrap_err(),
        Ec2Error::InvalidParameterValue("Invalid BASE64 encoding of user data.".into())
    );
}

#[test]
fn dry_run_is_visible_on_every_request() {
    let r = parse(&format!(
        "Action=StopInstances&InstanceId.1={I1}&DryRun=true"
    ))
    .unwrap();
    assert!(r.dry_run());
    assert_eq!(r.action(), "StopInstances");
}

proptest::proptest! {
    /// Arbitrary bytes as a form body: an error or a request, never a panic.
    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let _ = decode_params(form_urlencoded::parse(&body).into_owned().collect());
    }

    /// Plausible EC2 parameters in arbitrary combinations and indices.
    #[test]
    fn plausible_parameters_never_panic(
        action in proptest::sample::select(ACTIONS),
        pairs in proptest::collection::vec(
            (
                proptest::sample::select(&[
                    "InstanceId", "Filter", "TagSpecification", "IpPermissions",
                    "LaunchPermission", "MinCount", "MaxCount", "ImageId", "UserData",
                    "MaxResults", "NextToken", "GroupId", "Attribute", "Value",
                    "InstanceType", "KeyName", "Tag", "ResourceId", "DryRun",
                ][..]),
                proptest::sample::select(&["", ".1", ".0", ".2.Name", ".1.Value.1", ".1.Tag.1.Key",
                    ".1.IpRanges.1.CidrIp", ".Add.1.Group", ".Value", ".x"][..]),
                "[ -~]{0,12}",
            ),
            0..12,
        ),
    ) {
        let mut params = vec![("Action".to_owned(), action.to_owned())];
        params.extend(pairs.into_iter().map(|(k, suffix, v)| (format!("{k}{suffix}"), v)));
        let _ = decode_params(params);
    }
}
