//! S3 Block Public Access settings of one bucket.
//!
//! Two settings act when a configuration is written ([`PublicAccessBlock::refuses_acl`],
//! [`PublicAccessBlock::refuses_policy`], both S3 `AccessDenied`), two when a request
//! is authorized (`IgnorePublicAcls`, `RestrictPublicBuckets`, applied by
//! [`crate::decide()`]). None of them changes stored ACLs or policies.

use serde::{Deserialize, Serialize};

use crate::acl::Acl;
use crate::policy::Policy;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    /// Refuse PutBucketAcl / PutObjectAcl / PutObject / CreateBucket with a public ACL.
    pub block_public_acls: bool,
    /// Grants to AllUsers / AuthenticatedUsers count for nothing.
    pub ignore_public_acls: bool,
    /// Refuse PutBucketPolicy with a public policy.
    pub block_public_policy: bool,
    /// While the policy is public, it grants nothing to anyone outside the bucket
    /// owner's account, anonymous callers included.
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// Every setting on: what S3 applies to new buckets since April 2023.
    pub const ALL: Self = Self {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    /// Whether setting `acl` must be refused (BlockPublicAcls).
    pub fn refuses_acl(&self, acl: &Acl) -> bool {
        self.block_public_acls && acl.is_public()
    }

    /// Whether putting `policy` must be refused (BlockPublicPolicy).
    pub fn refuses_policy(&self, policy: &Policy) -> bool {
        self.block_public_policy && policy.is_public()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::CannedAcl;

    #[test]
    fn write_time_checks() {
        let public_acl = Acl::from_canned(CannedAcl::PublicRead, "111111111111", "111111111111");
        let private_acl = Acl::private("111111111111");
        let public_policy = Policy::parse(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
            "b",
        )
        .unwrap();
        let off = PublicAccessBlock::default();
        assert!(!off.refuses_acl(&public_acl));
        assert!(!off.refuses_policy(&public_policy));
        let on = PublicAccessBlock::ALL;
        assert!(on.refuses_acl(&public_acl));
        assert!(!on.refuses_acl(&private_acl));
        assert!(on.refuses_policy(&public_policy));
    }
}
