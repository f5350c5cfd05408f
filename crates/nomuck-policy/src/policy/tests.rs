use super::*;
use crate::action::Action;
use crate::context::ConditionContext;

const BUCKET: &str = "amzn-s3-demo-bucket";
const A: &str = "111122223333";
const B: &str = "444455556666";

fn parse(json: &str) -> Result<Policy, PolicyError> {
    Policy::parse(json, BUCKET)
}

fn err(json: &str) -> String {
    parse(json).unwrap_err().to_string()
}

/// A one-statement policy with the given statement members.
fn stmt(members: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{{{members}}}]}}"#)
}

fn eval(
    policy: &Policy,
    who: &Principal,
    action: Action,
    key: &str,
    ctx: &[(&str, &str)],
) -> PolicyEffect {
    let ctx: ConditionContext = ctx.iter().copied().collect();
    policy.evaluate(&Request {
        principal: who,
        action,
        bucket: BUCKET,
        key: Some(key),
        context: &ctx,
    })
}

fn acct(id: &str) -> Principal {
    Principal::Account(id.into())
}

// AWS documentation examples ------------------------------------------------

#[test]
fn public_read_of_a_prefix() {
    let p = parse(
        r#"{
          "Version": "2012-10-17",
          "Statement": [{
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket/public/*"]
          }]
        }"#,
    )
    .unwrap();
    let anon = Principal::Anonymous;
    assert_eq!(
        eval(&p, &anon, Action::GetObject, "public/a.html", &[]),
        PolicyEffect::Allow
    );
    assert_eq!(
        eval(&p, &acct(A), Action::GetObjectVersion, "public/x/y", &[]),
        PolicyEffect::Allow
    );
    assert_eq!(
        eval(&p, &anon, Action::GetObject, "private/a", &[]),
        PolicyEffect::NoMatch
    );
    assert_eq!(
        eval(&p, &anon, Action::PutObject, "public/a", &[]),
        PolicyEffect::NoMatch
    );
    assert_eq!(
        eval(&p, &anon, Action::ListBucket, "", &[]),
        PolicyEffect::NoMatch
    );
    assert!(p.is_public());
    assert_eq!(p.sids().collect::<Vec<_>>(), vec![Some("PublicRead")]);
}

#[test]
fn cross_account_grant() {
    let p = parse(&stmt(
        r#""Sid": "CrossAccount", "Effect": "Allow",
           "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
           "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
           "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket", "arn:aws:s3:::amzn-s3-demo-bucket/*"]"#,
    ))
    .unwrap();
    assert_eq!(
        eval(&p, &acct(A), Action::PutObject, "k", &[]),
        PolicyEffect::Allow
    );
    assert_eq!(
        eval(&p, &acct(A), Action::ListBucket, "", &[]),
        PolicyEffect::Allow
    );
    assert_eq!(
        eval(&p, &acct(A), Action::DeleteObject, "k", &[]),
        PolicyEffect::NoMatch
    );
    assert_eq!(
        eval(&p, &acct(B), Action::GetObject, "k", &[]),
        PolicyEffect::NoMatch
    );
    assert_eq!(
        eval(&p, &Principal::Anonymous, Action::GetObject, "k", &[]),
        PolicyEffect::NoMatch
    );
    assert!(!p.is_public());
    assert_eq!(p.principal_accounts().collect::<Vec<_>>(), vec![A]);
}

#[test]
fn put_bucket_policy_sample_2008_with_account_list() {
    let text = r#"{"Version":"2008-10-17","Id":"aaaa-bbbb-cccc-dddd","Statement":[{"Effect":"Allow","Sid":"1","Principal":{"AWS":["111122223333","444455556666"]},"Action":["s3:*"],"Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#;
    let p = parse(text).unwrap();
    assert_eq!(p.as_str(), text);
    assert_eq!(p.to_string(), text);
    assert_eq!(p.id(), Some("aaaa-bbbb-cccc-dddd"));
    assert_eq!(p.version(), PolicyVersion::V2008_10_17);
    assert_eq!(
        eval(&p, &acct(B), Action::DeleteObject, "k", &[]),
        PolicyEffect::Allow
    );
    // Object resources only: bucket actions do not match.
    assert_eq!(
        eval(&p, &acct(B), Action::ListBucket, "", &[]),
        PolicyEffect::NoMatch
    );
}

#[test]
fn deny_unless_secure_transport() {
    let p = parse(&stmt(
        r#""Sid": "RestrictToTLSRequestsOnly", "Action": "s3:*", "Effect": "Deny",
           "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket", "arn:aws:s3:::amzn-s3-demo-bucket/*"],
           "Condition": {"Bool": {"aws:SecureTransport": "false"}},
           "Principal": "*""#,
    ))
    .unwrap();
    let insecure = [("aws:SecureTransport", "false")];
    let secure = [("aws:SecureTransport", "true")];
    assert_eq!(
        eval(&p, &acct(A), Action::GetObject, "k", &insecure),
        PolicyEffect::ExplicitDeny
    );
    assert_eq!(
        eval(&p, &acct(A), Action::ListBucket, "", &insecure),
        PolicyEffect::ExplicitDeny
    );
    assert_eq!(
        eval(&p, &acct(A), Action::GetObject, "k", &secure),
        PolicyEffect::NoMatch
    );
    assert!(!p.is_public(), "a Deny is never public");
}

#[test]
fn ip_restricted() {
    let p = parse(
        r#"{
          "Version": "2012-10-17",
          "Id": "S3PolicyId1",
          "Statement": [{
            "Sid": "IPAllow",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket", "arn:aws:s3:::amzn-s3-demo-bucket/*"],
            "Condition": {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}
          }, {
            "Sid": "Mixed",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*",
            "Condition": {
              "IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:DB8:1234:5678::/64"]},
              "NotIpAddress": {"aws:SourceIp": ["192.0.2.188/32", "2001:DB8:1234:5678:ABCD::/80"]}
            }
          }]
        }"#,
    )
    .unwrap();
    let anon = Principal::Anonymous;
    let get = |ip| eval(&p, &anon, Action::GetObject, "k", &[("aws:SourceIp", ip)]);
    assert_eq!(get("192.0.2.1"), PolicyEffect::Allow);
    assert_eq!(get("192.0.2.188"), PolicyEffect::NoMatch);
    assert_eq!(get("203.0.113.9"), PolicyEffect::ExplicitDeny);
    // The IPv6 range is outside the Deny's IPv4-only NotIpAddress, so denied.
    assert_eq!(get("2001:db8:1234:5678::1"), PolicyEffect::ExplicitDeny);
    // No source IP at all: NotIpAddress holds, so denied.
    assert_eq!(
        eval(&p, &anon, Action::GetObject, "k", &[]),
        PolicyEffect::ExplicitDeny
    );
    assert!(!p.is_public());
}

#[test]
fn list_bucket_restricted_by_prefix() {
    let p = parse(
        r#"{
          "Version": "2012-10-17",
          "Statement": [{
            "Sid": "AllowListingOfProjects",
            "Effect": "Allow",
            "Principal": {"AWS": "111122223333"},
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::amzn-s3-demo-bucket",
            "Condition": {"StringLike": {"s3:prefix": ["projects/*", ""]}}
          }, {
            "Sid": "DenyDeepListing",
            "Effect": "Deny",
            "Principal": {"AWS": "111122223333"},
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::amzn-s3-demo-bucket",
            "Condition": {"StringNotEquals": {"s3:delimiter": "/"}}
          }]
        }"#,
    )
    .unwrap();
    let list = |ctx: &[(&str, &str)]| eval(&p, &acct(A), Action::ListBucket, "", ctx);
    assert_eq!(
        list(&[("s3:prefix", "projects/x"), ("s3:delimiter", "/")]),
        PolicyEffect::Allow
    );
    assert_eq!(
        list(&[("s3:prefix", ""), ("s3:delimiter", "/")]),
        PolicyEffect::Allow
    );
    assert_eq!(
        list(&[("s3:prefix", "secret/"), ("s3:delimiter", "/")]),
        PolicyEffect::NoMatch
    );
    assert_eq!(
        list(&[("s3:prefix", "projects/")]),
        PolicyEffect::ExplicitDeny
    );
    assert_eq!(list(&[("s3:delimiter", "/")]), PolicyEffect::NoMatch);
}

// Grammar accepted ---------------------------------------------------------

#[test]
fn accepted_variants() {
    for members in [
        r#""Effect":"Allow","Principal":{"AWS":"*"},"Action":"*","Resource":"arn:aws:s3:::*""#,
        r#""Effect":"Allow","Principal":"*","Action":"s3:Get*","Resource":"arn:aws:s3:::*/*""#,
        r#""Effect":"Allow","Principal":"*","Action":"S3:GETOBJECT","Resource":"arn:aws:s3:::amzn-*/x""#,
        r#""Effect":"Allow","Principal":"*","Action":"s3:List?ucket","Resource":"arn:aws:s3:::amzn-s3-demo-bucket""#,
        r#""Effect":"Allow","Principal":{"Service":"cloudfront.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*""#,
        r#""Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/alice","arn:aws:sts::444455556666:assumed-role/r/s"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*""#,
        r#""Effect":"Allow","Principal":{"CanonicalUser":"111122223333"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*""#,
        r#""Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"NotAction":"s3:GetObject","NotResource":"arn:aws:s3:::amzn-s3-demo-bucket/public/*""#,
        // Wildcard actions are not checked against the resource kinds.
        r#""Effect":"Allow","Principal":"*","Action":"s3:Put*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket""#,
        r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::*""#,
        r#""Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::amzn-s3-demo-bucket","Condition":{"NumericLessThan":{"s3:max-keys":"not-checked"}}"#,
    ] {
        parse(&stmt(members)).unwrap_or_else(|e| panic!("{members}: {e}"));
    }
    // A single statement object and no Version.
    parse(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}}"#).unwrap();
}

// Grammar refused, with S3's messages --------------------------------------------

#[test]
fn malformed_documents() {
    let cases: &[(&str, &str)] = &[
        (
            "",
            "Policies must be valid JSON and the first byte must be '{'",
        ),
        (
            "invalid json",
            "Policies must be valid JSON and the first byte must be '{'",
        ),
        (
            " {}",
            "Policies must be valid JSON and the first byte must be '{'",
        ),
        ("{", "This policy contains invalid Json"),
        ("{\"Statement\": [}", "This policy contains invalid Json"),
        ("{}", "Missing required field Statement"),
        (
            r#"{"Statement":[]}"#,
            "Could not parse the policy: Statement is empty!",
        ),
        (r#"{"Statement":"x"}"#, "Invalid policy syntax."),
        (r#"{"Statement":["x"]}"#, "Invalid policy syntax."),
        (
            r#"{"Version":"2010-01-01","Statement":[]}"#,
            "The policy must contain a valid version string",
        ),
        (
            r#"{"Version":1,"Statement":[]}"#,
            "The policy must contain a valid version string",
        ),
        (r#"{"Foo":1,"Statement":[]}"#, "Unknown field Foo"),
        (r#"{"Id":1,"Statement":[{}]}"#, "Invalid policy syntax."),
    ];
    for (json, msg) in cases {
        assert_eq!(&err(json), msg, "{json}");
    }
}

#[test]
fn malformed_statements() {
    let obj = r#""Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*""#;
    let all = format!(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject",{obj}"#);
    let cases: Vec<(String, &str)> = vec![
        (format!(r#"{all},"Actions":"s3:GetObject""#), "Unknown field Actions"),
        (format!(r#""Principal":"*","Action":"s3:GetObject",{obj}"#), "Missing required field Effect"),
        (format!(r#""Effect":"Allow","Action":"s3:GetObject",{obj}"#), "Missing required field Principal"),
        (format!(r#""Effect":"Allow","Principal":"*",{obj}"#), "Missing required field Action"),
        (r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject""#.into(), "Missing required field Resource"),
        (format!(r#""Effect":"hello","Principal":"*","Action":"s3:GetObject",{obj}"#), "Invalid effect: hello"),
        (format!(r#""Effect":"allow","Principal":"*","Action":"s3:GetObject",{obj}"#), "Invalid effect: allow"),
        (format!(r#""Effect":true,"Principal":"*","Action":"s3:GetObject",{obj}"#), "Invalid policy syntax."),
        (format!(r#"{all},"Sid":7"#), "Invalid policy syntax."),
        // Principals.
        (format!(r#""Effect":"Allow","Principal":{{"AWS":"user"}},"Action":"s3:GetObject",{obj}"#), "Invalid principal in policy"),
        (format!(r#""Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::123:root"}},"Action":"s3:GetObject",{obj}"#), "Invalid principal in policy"),
        (format!(r#""Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:user/*"}},"Action":"s3:GetObject",{obj}"#), "Invalid principal in policy"),
        (format!(r#""Effect":"Allow","Principal":{{"AWS":[]}},"Action":"s3:GetObject",{obj}"#), "Invalid principal in policy"),
        (format!(r#""Effect":"Allow","Principal":{{}},"Action":"s3:GetObject",{obj}"#), "Invalid principal in policy"),
        (format!(r#""Effect":"Allow","Principal":"someone","Action":"s3:GetObject",{obj}"#), "Invalid principal in policy"),
        (format!(r#""Effect":"Allow","Principal":{{"Foo":"x"}},"Action":"s3:GetObject",{obj}"#), "Invalid principal in policy"),
        (format!(r#""Effect":"Allow","Principal":{{"Service":"*"}},"Action":"s3:GetObject",{obj}"#), "Invalid principal in policy"),
        (format!(r#""Effect":"Allow","Principal":{{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}},"Action":"s3:GetObject",{obj}"#), "Invalid principal in policy"),
        (format!(r#""Effect":"Allow","NotPrincipal":{{"AWS":"111122223333"}},"Action":"s3:GetObject",{obj}"#), "Invalid principal in policy"),
        (format!(r#""Effect":"Deny","Principal":"*","NotPrincipal":"*","Action":"s3:GetObject",{obj}"#), "Invalid policy syntax."),
        // Actions.
        (format!(r#""Effect":"Allow","Principal":"*","Action":"invalid_action",{obj}"#), "Policy has invalid action"),
        (format!(r#""Effect":"Allow","Principal":"*","Action":"iam:*",{obj}"#), "Policy has invalid action"),
        (format!(r#""Effect":"Allow","Principal":"*","Action":"s3:Foo*",{obj}"#), "Policy has invalid action"),
        (format!(r#""Effect":"Allow","Principal":"*","Action":"s3:PutObjectLockConfiguration",{obj}"#), "Policy has invalid action"),
        (format!(r#""Effect":"Allow","Principal":"*","Action":[],{obj}"#), "Policy has invalid action"),
        (format!(r#""Effect":"Allow","Principal":"*","Action":null,{obj}"#), "Invalid policy syntax."),
        (format!(r#""Effect":"Allow","Principal":"*","Action":["s3:GetObject",1],{obj}"#), "Invalid policy syntax."),
        (format!(r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","NotAction":"s3:PutObject",{obj}"#), "Invalid policy syntax."),
        // Resources.
        (r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other-bucket/*""#.into(), "Policy has invalid resource"),
        (r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":["*"]"#.into(), "Policy has invalid resource"),
        (r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"amzn-s3-demo-bucket/*""#.into(), "Policy has invalid resource"),
        (r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::/x""#.into(), "Policy has invalid resource"),
        (r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":[]"#.into(), "Policy has invalid resource"),
        (r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:iam::111122223333:root""#.into(), "Policy has invalid resource"),
        // Actions against resource kinds.
        (r#""Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket""#.into(), "Action does not apply to any resource(s) in statement"),
        (format!(r#""Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],{obj}"#), "Action does not apply to any resource(s) in statement"),
        (r#""Effect":"Allow","Principal":"*","Action":"s3:ListAllMyBuckets","Resource":"arn:aws:s3:::*""#.into(), "Action does not apply to any resource(s) in statement"),
        // Conditions.
        (format!(r#"{all},"Condition":{{"StringEqualz":{{"s3:prefix":"a"}}}}"#), "Invalid Condition type : StringEqualz"),
        (format!(r#"{all},"Condition":{{"NullIfExists":{{"s3:prefix":"true"}}}}"#), "Invalid Condition type : NullIfExists"),
        (format!(r#"{all},"Condition":{{"StringEquals":{{"s3:VersionStatus":"a"}}}}"#), "Policy has an invalid condition key"),
        (format!(r#"{all},"Condition":{{"StringEquals":{{"kms:ViaService":"a"}}}}"#), "Policy has an invalid condition key"),
        (format!(r#"{all},"Condition":{{"IpAddress":{{"aws:SourceIp":"10.0.0.0/33"}}}}"#), "Invalid IP address in Conditions"),
        (format!(r#"{all},"Condition":"x""#), "Invalid policy syntax."),
    ];
    for (members, msg) in cases {
        assert_eq!(err(&stmt(&members)), msg, "{members}");
    }
}

#[test]
fn size_limit_counts_normalized_text() {
    let statement = r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}"#;
    let many = |n| vec![statement; n].join(",");
    let n = MAX_POLICY_SIZE / (statement.len() + 1);
    let fits = format!(r#"{{"Statement":[{}]}}"#, many(n - 1));
    assert!(fits.len() <= MAX_POLICY_SIZE);
    parse(&fits).unwrap();
    // Indentation does not count...
    let padded = fits.replace(',', ",\n        ");
    assert!(padded.len() > MAX_POLICY_SIZE);
    parse(&padded).unwrap();
    // ...but content does, including spaces inside strings.
    let too_big = format!(r#"{{"Statement":[{}]}}"#, many(n + 1));
    assert_eq!(parse(&too_big).unwrap_err(), PolicyError::TooLarge);
    assert_eq!(
        PolicyError::TooLarge.to_string(),
        "Normalized policy document exceeds the maximum allowed size of 20480 bytes"
    );
    assert_eq!(
        normalized("{ \"a b\" : [ 1 , \"\\\" x\" ] }"),
        "{\"a b\":[1,\"\\\" x\"]}".len()
    );
}

fn normalized(s: &str) -> usize {
    super::parse::normalized_len(s)
}

// Evaluation ---------------------------------------------------------------

#[test]
fn deny_overrides_allow_in_any_order() {
    let p = parse(
        r#"{"Statement":[
          {"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"},
          {"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}
        ]}"#,
    )
    .unwrap();
    assert_eq!(
        eval(&p, &acct(A), Action::DeleteObject, "k", &[]),
        PolicyEffect::ExplicitDeny
    );
    assert_eq!(
        eval(&p, &acct(A), Action::PutObject, "k", &[]),
        PolicyEffect::Allow
    );
}

#[test]
fn not_elements() {
    let p = parse(&stmt(
        r#""Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"NotAction":["s3:Get*","s3:List*"],
           "NotResource":"arn:aws:s3:::amzn-s3-demo-bucket/public/*""#,
    ))
    .unwrap();
    // B writing outside public/: every Not* element excludes nothing it asks for.
    assert_eq!(
        eval(&p, &acct(B), Action::PutObject, "private/x", &[]),
        PolicyEffect::ExplicitDeny
    );
    assert_eq!(
        eval(&p, &Principal::Anonymous, Action::PutObject, "x", &[]),
        PolicyEffect::ExplicitDeny
    );
    assert_eq!(
        eval(&p, &acct(A), Action::PutObject, "private/x", &[]),
        PolicyEffect::NoMatch
    );
    assert_eq!(
        eval(&p, &acct(B), Action::GetObject, "private/x", &[]),
        PolicyEffect::NoMatch
    );
    assert_eq!(
        eval(&p, &acct(B), Action::PutObject, "public/x", &[]),
        PolicyEffect::NoMatch
    );
}

#[test]
fn resource_wildcards_and_case() {
    let p = parse(&stmt(
        r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject",
           "Resource":["arn:aws:s3:::amzn-s3-demo-bucket/*.jpg","arn:aws:s3:::amzn-s3-demo-bucket/doc?.txt"]"#,
    ))
    .unwrap();
    let anon = Principal::Anonymous;
    assert_eq!(
        eval(&p, &anon, Action::GetObject, "a/b.jpg", &[]),
        PolicyEffect::Allow
    );
    assert_eq!(
        eval(&p, &anon, Action::GetObject, "a/b.JPG", &[]),
        PolicyEffect::NoMatch
    );
    assert_eq!(
        eval(&p, &anon, Action::GetObject, "doc1.txt", &[]),
        PolicyEffect::Allow
    );
    assert_eq!(
        eval(&p, &anon, Action::GetObject, "doc12.txt", &[]),
        PolicyEffect::NoMatch
    );
}

#[test]
fn policy_variables_follow_the_version() {
    let members = r#""Effect":"Allow","Principal":"*","Action":"s3:PutObject",
        "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:userid}/*""#;
    let v2012 = parse(&stmt(members)).unwrap();
    let v2008 = parse(&format!(
        r#"{{"Version":"2008-10-17","Statement":[{{{members}}}]}}"#
    ))
    .unwrap();
    let me = [("aws:userid", A)];
    let key = format!("home/{A}/f");
    assert_eq!(
        eval(&v2012, &acct(A), Action::PutObject, &key, &me),
        PolicyEffect::Allow
    );
    assert_eq!(
        eval(&v2012, &acct(A), Action::PutObject, "home/x/f", &me),
        PolicyEffect::NoMatch
    );
    assert_eq!(
        eval(&v2008, &acct(A), Action::PutObject, &key, &me),
        PolicyEffect::NoMatch
    );
    assert_eq!(
        eval(
            &v2008,
            &acct(A),
            Action::PutObject,
            "home/${aws:userid}/f",
            &me
        ),
        PolicyEffect::Allow
    );
}

#[test]
fn account_level_actions_never_match() {
    let p = parse(&stmt(
        r#""Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::*""#,
    ))
    .unwrap();
    assert_eq!(
        eval(&p, &acct(A), Action::ListAllMyBuckets, "", &[]),
        PolicyEffect::NoMatch
    );
    assert_eq!(
        eval(&p, &acct(A), Action::CreateBucket, "", &[]),
        PolicyEffect::Allow
    );
}

// Public -------------------------------------------------------------------

#[test]
fn public_definition() {
    let public = |members: &str| parse(&stmt(members)).unwrap().is_public();
    let base = r#""Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*""#;
    let with = |cond: &str| format!(r#"{base},"Condition":{cond}"#);
    assert!(public(base));
    assert!(public(
        &base.replace(r#""*""#, r#"{"AWS":["111122223333","*"]}"#)
    ));
    assert!(!public(
        &base.replace(r#""*""#, r#"{"AWS":"111122223333"}"#)
    ));
    assert!(!public(&base.replace("Allow", "Deny")));
    // Pinned to networks.
    assert!(!public(&with(
        r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/32"}}"#
    )));
    assert!(!public(&with(
        r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}"#
    )));
    assert!(public(&with(
        r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#
    )));
    assert!(public(&with(
        r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/1"}}"#
    )));
    assert!(public(&with(
        r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001::/16"]}}"#
    )));
    assert!(public(&with(
        r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#
    )));
    assert!(public(&with(
        r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#
    )));
    // Pinned to fixed callers.
    assert!(!public(&with(
        r#"{"StringEquals":{"aws:SourceAccount":"111122223333"}}"#
    )));
    assert!(!public(&with(
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::src"}}"#
    )));
    assert!(!public(&with(
        r#"{"StringEquals":{"aws:PrincipalOrgID":"o-abc"}}"#
    )));
    assert!(!public(&with(
        r#"{"StringEquals":{"aws:PrincipalAccount":["111122223333"]}}"#
    )));
    assert!(!public(&with(
        r#"{"StringEquals":{"aws:userid":"111122223333"}}"#
    )));
    assert!(!public(&with(
        r#"{"StringEquals":{"s3:x-amz-server-side-encryption-aws-kms-key-id":"k"}}"#
    )));
    assert!(public(&with(
        r#"{"StringLike":{"aws:SourceArn":"arn:aws:s3:::*"}}"#
    )));
    assert!(public(&with(
        r#"{"StringEquals":{"aws:userid":"${aws:userid}"}}"#
    )));
    assert!(public(&with(
        r#"{"StringNotEquals":{"aws:SourceAccount":"111122223333"}}"#
    )));
    assert!(public(&with(
        r#"{"ForAllValues:StringEquals":{"aws:SourceAccount":"111122223333"}}"#
    )));
    // Conditions on other keys do not make it private.
    assert!(public(&with(r#"{"Bool":{"aws:SecureTransport":"true"}}"#)));
    assert!(public(&with(
        r#"{"StringEquals":{"aws:Referer":"https://example.com"}}"#
    )));
    // One public statement is enough.
    let two = format!(
        r#"{{"Statement":[{{{}}},{{{base}}}]}}"#,
        base.replace(r#""*""#, r#"{"AWS":"111122223333"}"#)
    );
    assert!(parse(&two).unwrap().is_public());
}

#[test]
fn error_code() {
    assert_eq!(PolicyError::InvalidAction.code(), "MalformedPolicy");
}
