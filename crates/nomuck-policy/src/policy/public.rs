//! S3's "public" test for bucket policies (GetBucketPolicyStatus, BlockPublicPolicy,
//! RestrictPublicBuckets).
//!
//! S3 starts from "public" and calls an `Allow` statement non-public only when it
//! grants to fixed principals, or is pinned by a condition to fixed values of
//! keys that identify the caller or its network: `aws:SourceIp` CIDRs no broader
//! than /8 (IPv4) or /32 (IPv6), or fixed `aws:SourceArn`, `aws:SourceVpc(e)`,
//! `aws:SourceAccount`, `aws:SourceOwner`, `aws:PrincipalAccount`,
//! `aws:PrincipalOrgID`, `aws:PrincipalArn`, `aws:userid`, `s3:DataAccessPoint*`
//! or `s3:x-amz-server-side-encryption-aws-kms-key-id`. Fixed means no wildcard
//! and no policy variable. `Deny` statements are never public.

use super::condition::{Base, Condition, SetQualifier};
use super::{Effect, PrincipalSpec, Statement};

const PINNING_KEYS: &[&str] = &[
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceowner",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:userid",
    "s3:dataaccesspointaccount",
    "s3:dataaccesspointarn",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
];

pub(super) fn is_public_statement(s: &Statement) -> bool {
    let everyone = s.principal.negated
        || s.principal
            .items
            .iter()
            .any(|p| matches!(p, PrincipalSpec::Any));
    s.effect == Effect::Allow && everyone && !s.conditions.iter().any(pins)
}

/// Whether the condition restricts the statement to fixed callers. It must
/// hold only for the listed values: not negated, not satisfied by a missing
/// key (`IfExists`, `ForAllValues`).
fn pins(c: &Condition) -> bool {
    if c.negated || c.if_exists || c.set == Some(SetQualifier::ForAllValues) {
        return false;
    }
    match c.base {
        Base::IpAddress => {
            c.key == "aws:sourceip"
                && c.all_cidrs(|cidr| cidr.prefix() >= if cidr.is_v4() { 8 } else { 32 })
        }
        Base::StringEquals | Base::StringEqualsIgnoreCase | Base::StringLike | Base::Arn => {
            PINNING_KEYS.contains(&c.key.as_str()) && c.all_fixed_text()
        }
        _ => false,
    }
}
