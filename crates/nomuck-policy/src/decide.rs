//! The authorization decision for one S3 request.
//!
//! A simplified form of S3's evaluation, for a system where every caller is an
//! account (no IAM users, so no identity policies) and the bucket owner controls
//! everything in its bucket:
//!
//! 1. A matching `Deny` in the bucket policy denies, whoever asks, except that
//!    the bucket owner can always Get/Put/DeleteBucketPolicy (S3's protection
//!    against an owner locking itself out).
//! 2. The bucket owner is allowed every bucket and object action, except
//!    reading an object another account owns (with ACLs in force), or its ACL.
//! 3. A matching `Allow` in the bucket policy allows, unless the bucket has
//!    `RestrictPublicBuckets` and the policy is public: then the policy grants
//!    nothing to anyone outside the owner's account. Nor does it grant reads
//!    of objects another account owns: the bucket owner cannot give away
//!    what is not its own.
//! 4. ACLs, unless disabled by `BucketOwnerEnforced`: the grant an action needs,
//!    from the object ACL for reads of an object and its ACL, from the bucket ACL
//!    otherwise (see [`acl_requirement`]). With `IgnorePublicAcls`, grants to
//!    AllUsers / AuthenticatedUsers count for nothing. An object's owner has no
//!    implicit rights: only its grants count (a `private` ACL gives it FULL_CONTROL).
//! 5. Anything else is denied.

use crate::access_block::PublicAccessBlock;
use crate::acl::{Acl, Permission};
use crate::action::{Action, ResourceKind};
use crate::context::{ConditionContext, Principal};
use crate::policy::{Policy, PolicyEffect};

/// What is being asked, and by whom.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    pub action: Action,
    pub bucket: &'a str,
    /// The object key, for object-level actions (`None` reads as the empty key).
    pub key: Option<&'a str>,
    pub context: &'a ConditionContext,
}

impl Request<'_> {
    /// The ARN a policy `Resource` is matched against; `None` for account-level actions.
    pub fn resource_arn(&self) -> Option<String> {
        match self.action.resource_kind() {
            ResourceKind::Object => Some(format!(
                "arn:aws:s3:::{}/{}",
                self.bucket,
                self.key.unwrap_or_default()
            )),
            ResourceKind::Bucket => Some(format!("arn:aws:s3:::{}", self.bucket)),
            ResourceKind::Account => None,
        }
    }
}

/// The access configuration of the bucket (and object) the request is about.
#[derive(Debug, Clone, Copy)]
pub struct Resources<'a> {
    pub bucket_owner: &'a str,
    pub bucket_policy: Option<&'a Policy>,
    pub bucket_acl: Option<&'a Acl>,
    /// The ACL of the existing object an object action is on.
    pub object_acl: Option<&'a Acl>,
    pub access_block: PublicAccessBlock,
    /// Object ownership `BucketOwnerEnforced`.
    pub acls_disabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(DenyReason),
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Self::Allow
    }
}

/// Why a request is denied; all are S3 `AccessDenied`, the reason is for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// A `Deny` statement of the bucket policy matched.
    ExplicitDeny,
    /// The policy would allow, but it is public and the bucket has `RestrictPublicBuckets`.
    PublicPolicyRestricted,
    /// Nothing grants the action.
    NotGranted,
}

/// Which ACL an action is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclTarget {
    Bucket,
    Object,
}

/// The ACL grant that authorizes `action`, per S3's mapping of ACL permissions to
/// actions; `None` when no ACL grant can (tagging, configuration, ...).
pub fn acl_requirement(action: Action) -> Option<(AclTarget, Permission)> {
    use Action::*;
    Some(match action {
        GetObject
        | GetObjectVersion
        | GetObjectAttributes
        | GetObjectVersionAttributes
        | GetObjectTorrent
        | GetObjectVersionTorrent => (AclTarget::Object, Permission::Read),
        GetObjectAcl | GetObjectVersionAcl => (AclTarget::Object, Permission::ReadAcp),
        PutObjectAcl | PutObjectVersionAcl => (AclTarget::Object, Permission::WriteAcp),
        ListBucket | ListBucketVersions | ListBucketMultipartUploads => {
            (AclTarget::Bucket, Permission::Read)
        }
        PutObject | DeleteObject | DeleteObjectVersion | AbortMultipartUpload => {
            (AclTarget::Bucket, Permission::Write)
        }
        GetBucketAcl => (AclTarget::Bucket, Permission::ReadAcp),
        PutBucketAcl => (AclTarget::Bucket, Permission::WriteAcp),
        _ => return None,
    })
}

/// Decides one request (see the module documentation for the rules).
pub fn decide(req: &Request, res: &Resources) -> Decision {
    let is_owner = req.principal.account() == Some(res.bucket_owner);
    let policy = res
        .bucket_policy
        .map_or(PolicyEffect::NoMatch, |p| p.evaluate(req));

    if policy == PolicyEffect::ExplicitDeny && !(is_owner && req.action.is_policy_management()) {
        return Decision::Deny(DenyReason::ExplicitDeny);
    }
    // An object another account wrote (ACLs in force) is that account's:
    // reading it or its ACL takes a grant in its own ACL, which neither the
    // bucket owner's rights nor the bucket policy stand in for, as in S3.
    let foreign_object = !res.acls_disabled
        && matches!(acl_requirement(req.action), Some((AclTarget::Object, _)))
        && res
            .object_acl
            .is_some_and(|acl| acl.owner != res.bucket_owner);
    if is_owner && !foreign_object {
        return Decision::Allow;
    }

    let restricted = policy == PolicyEffect::Allow
        && res.access_block.restrict_public_buckets
        && res.bucket_policy.is_some_and(Policy::is_public);
    if policy == PolicyEffect::Allow && !restricted && !foreign_object {
        return Decision::Allow;
    }

    if !res.acls_disabled && acl_allows(req, res) {
        return Decision::Allow;
    }
    Decision::Deny(if restricted {
        DenyReason::PublicPolicyRestricted
    } else {
        DenyReason::NotGranted
    })
}

fn acl_allows(req: &Request, res: &Resources) -> bool {
    let Some((target, permission)) = acl_requirement(req.action) else {
        return false;
    };
    let acl = match target {
        AclTarget::Bucket => res.bucket_acl,
        AclTarget::Object => res.object_acl,
    };
    acl.is_some_and(|acl| {
        acl.allows_with(
            req.principal,
            permission,
            res.access_block.ignore_public_acls,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{CannedAcl, Grant, Grantee, Group};

    const BUCKET: &str = "b";
    const OWNER: &str = "111111111111";
    const OTHER: &str = "222222222222";
    const THIRD: &str = "333333333333";

    fn policy(statements: &str) -> Policy {
        Policy::parse(
            &format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#),
            BUCKET,
        )
        .unwrap()
    }

    fn resources<'a>() -> Resources<'a> {
        Resources {
            bucket_owner: OWNER,
            bucket_policy: None,
            bucket_acl: None,
            object_acl: None,
            access_block: PublicAccessBlock::default(),
            acls_disabled: false,
        }
    }

    fn ask(who: &Principal, action: Action, key: Option<&str>, res: &Resources) -> Decision {
        let ctx = ConditionContext::new();
        decide(
            &Request {
                principal: who,
                action,
                bucket: BUCKET,
                key,
                context: &ctx,
            },
            res,
        )
    }

    fn acct(id: &str) -> Principal {
        Principal::Account(id.into())
    }

    const NOT_GRANTED: Decision = Decision::Deny(DenyReason::NotGranted);
    const EXPLICIT: Decision = Decision::Deny(DenyReason::ExplicitDeny);

    #[test]
    fn owner_controls_its_bucket() {
        let res = resources();
        for &action in Action::ALL {
            assert_eq!(
                ask(&acct(OWNER), action, Some("k"), &res),
                Decision::Allow,
                "{action}"
            );
        }
        assert_eq!(
            ask(&acct(OTHER), Action::GetObject, Some("k"), &res),
            NOT_GRANTED
        );
        assert_eq!(
            ask(&Principal::Anonymous, Action::ListBucket, None, &res),
            NOT_GRANTED
        );
    }

    #[test]
    fn objects_another_account_wrote_are_its_own() {
        let p = policy(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
        );
        let theirs = Acl::private(OTHER);
        let res = Resources {
            bucket_policy: Some(&p),
            object_acl: Some(&theirs),
            ..resources()
        };
        // Neither the bucket owner nor its policy reads what OTHER wrote...
        for action in [
            Action::GetObject,
            Action::GetObjectAcl,
            Action::PutObjectAcl,
        ] {
            assert_eq!(
                ask(&acct(OWNER), action, Some("k"), &res),
                NOT_GRANTED,
                "{action}"
            );
        }
        assert_eq!(
            ask(&acct(THIRD), Action::GetObject, Some("k"), &res),
            NOT_GRANTED
        );
        // ...but the owner still deletes it, and the writer reads it.
        assert_eq!(
            ask(&acct(OWNER), Action::DeleteObject, Some("k"), &res),
            Decision::Allow
        );
        assert_eq!(
            ask(&acct(OTHER), Action::GetObject, Some("k"), &res),
            Decision::Allow
        );
        // A grant in the object's ACL lets the bucket owner in.
        let mut shared = Acl::private(OTHER);
        shared
            .grants
            .push(Grant::new(Grantee::user(OWNER), Permission::Read));
        let res = Resources {
            object_acl: Some(&shared),
            ..res
        };
        assert_eq!(
            ask(&acct(OWNER), Action::GetObject, Some("k"), &res),
            Decision::Allow
        );
        // With ACLs disabled every object is the bucket owner's.
        let res = Resources {
            object_acl: Some(&theirs),
            acls_disabled: true,
            ..res
        };
        assert_eq!(
            ask(&acct(OWNER), Action::GetObject, Some("k"), &res),
            Decision::Allow
        );
    }

    #[test]
    fn explicit_deny_binds_the_owner_except_for_policy_management() {
        let p = policy(
            r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}"#,
        );
        let res = Resources {
            bucket_policy: Some(&p),
            ..resources()
        };
        assert_eq!(
            ask(&acct(OWNER), Action::GetObject, Some("k"), &res),
            EXPLICIT
        );
        assert_eq!(
            ask(&acct(OWNER), Action::DeleteBucket, None, &res),
            EXPLICIT
        );
        for action in [
            Action::GetBucketPolicy,
            Action::PutBucketPolicy,
            Action::DeleteBucketPolicy,
        ] {
            assert_eq!(ask(&acct(OWNER), action, None, &res), Decision::Allow);
            assert_eq!(ask(&acct(OTHER), action, None, &res), EXPLICIT);
        }
    }

    #[test]
    fn explicit_deny_beats_acl_grants() {
        let p = policy(
            r#"{"Effect":"Deny","Principal":{"AWS":"222222222222"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
        );
        let acl = Acl::from_canned(CannedAcl::PublicRead, OWNER, OWNER);
        let res = Resources {
            bucket_policy: Some(&p),
            object_acl: Some(&acl),
            ..resources()
        };
        assert_eq!(
            ask(&acct(OTHER), Action::GetObject, Some("k"), &res),
            EXPLICIT
        );
        assert_eq!(
            ask(&acct(THIRD), Action::GetObject, Some("k"), &res),
            Decision::Allow
        );
    }

    #[test]
    fn restrict_public_buckets() {
        let public = policy(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
        );
        let cross = policy(
            r#"{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
        );
        let block = PublicAccessBlock {
            restrict_public_buckets: true,
            ..PublicAccessBlock::default()
        };
        let with = |p| Resources {
            bucket_policy: Some(p),
            access_block: block,
            ..resources()
        };
        let anon = Principal::Anonymous;
        let open = Resources {
            bucket_policy: Some(&public),
            ..resources()
        };
        assert_eq!(
            ask(&anon, Action::GetObject, Some("k"), &open),
            Decision::Allow
        );
        let restricted = Decision::Deny(DenyReason::PublicPolicyRestricted);
        assert_eq!(
            ask(&anon, Action::GetObject, Some("k"), &with(&public)),
            restricted
        );
        assert_eq!(
            ask(&acct(OTHER), Action::GetObject, Some("k"), &with(&public)),
            restricted
        );
        assert_eq!(
            ask(&acct(OWNER), Action::GetObject, Some("k"), &with(&public)),
            Decision::Allow
        );
        // A non-public policy keeps granting.
        assert_eq!(
            ask(&acct(OTHER), Action::GetObject, Some("k"), &with(&cross)),
            Decision::Allow
        );
        // ACLs still apply under a restricted policy.
        let acl = Acl::from_canned(CannedAcl::PublicRead, OWNER, OWNER);
        let res = Resources {
            object_acl: Some(&acl),
            ..with(&public)
        };
        assert_eq!(
            ask(&anon, Action::GetObject, Some("k"), &res),
            Decision::Allow
        );
    }

    #[test]
    fn object_acls() {
        let acl = Acl::from_canned(CannedAcl::PublicRead, OTHER, OWNER);
        let res = Resources {
            object_acl: Some(&acl),
            ..resources()
        };
        let anon = Principal::Anonymous;
        assert_eq!(
            ask(&anon, Action::GetObject, Some("k"), &res),
            Decision::Allow
        );
        assert_eq!(
            ask(&anon, Action::GetObjectVersion, Some("k"), &res),
            Decision::Allow
        );
        assert_eq!(
            ask(&anon, Action::GetObjectAcl, Some("k"), &res),
            NOT_GRANTED
        );
        assert_eq!(ask(&anon, Action::PutObject, Some("k"), &res), NOT_GRANTED);
        // The object's owner holds FULL_CONTROL through its grant, not through owning.
        assert_eq!(
            ask(&acct(OTHER), Action::PutObjectAcl, Some("k"), &res),
            Decision::Allow
        );
        assert_eq!(
            ask(&acct(OTHER), Action::GetObjectTagging, Some("k"), &res),
            NOT_GRANTED
        );
        let stripped = Acl {
            owner: OTHER.into(),
            grants: vec![],
        };
        let res2 = Resources {
            object_acl: Some(&stripped),
            ..resources()
        };
        assert_eq!(
            ask(&acct(OTHER), Action::GetObjectAcl, Some("k"), &res2),
            NOT_GRANTED
        );
        // Ignored public grants, and disabled ACLs.
        let ignoring = Resources {
            access_block: PublicAccessBlock {
                ignore_public_acls: true,
                ..PublicAccessBlock::default()
            },
            ..res
        };
        assert_eq!(
            ask(&anon, Action::GetObject, Some("k"), &ignoring),
            NOT_GRANTED
        );
        assert_eq!(
            ask(&acct(OTHER), Action::GetObject, Some("k"), &ignoring),
            Decision::Allow
        );
        let disabled = Resources {
            acls_disabled: true,
            ..res
        };
        assert_eq!(
            ask(&anon, Action::GetObject, Some("k"), &disabled),
            NOT_GRANTED
        );
        assert_eq!(
            ask(&acct(OTHER), Action::GetObject, Some("k"), &disabled),
            NOT_GRANTED
        );
    }

    #[test]
    fn bucket_acls() {
        let acl = Acl {
            owner: OWNER.into(),
            grants: vec![
                Grant::new(Grantee::user(OWNER), Permission::FullControl),
                Grant::new(Grantee::user(OTHER), Permission::Write),
                Grant::new(Grantee::Group(Group::AuthenticatedUsers), Permission::Read),
                Grant::new(Grantee::user(THIRD), Permission::ReadAcp),
            ],
        };
        let res = Resources {
            bucket_acl: Some(&acl),
            ..resources()
        };
        let anon = Principal::Anonymous;
        assert_eq!(
            ask(&acct(OTHER), Action::PutObject, Some("k"), &res),
            Decision::Allow
        );
        assert_eq!(
            ask(&acct(OTHER), Action::DeleteObjectVersion, Some("k"), &res),
            Decision::Allow
        );
        assert_eq!(
            ask(&acct(OTHER), Action::AbortMultipartUpload, Some("k"), &res),
            Decision::Allow
        );
        assert_eq!(
            ask(&acct(THIRD), Action::PutObject, Some("k"), &res),
            NOT_GRANTED
        );
        assert_eq!(
            ask(&acct(THIRD), Action::ListBucketVersions, None, &res),
            Decision::Allow
        );
        assert_eq!(ask(&anon, Action::ListBucket, None, &res), NOT_GRANTED);
        assert_eq!(
            ask(&acct(THIRD), Action::GetBucketAcl, None, &res),
            Decision::Allow
        );
        assert_eq!(
            ask(&acct(THIRD), Action::PutBucketAcl, None, &res),
            NOT_GRANTED
        );
        assert_eq!(
            ask(&acct(THIRD), Action::GetBucketPolicy, None, &res),
            NOT_GRANTED
        );
        // Object reads need the object ACL, not the bucket's.
        assert_eq!(
            ask(&acct(THIRD), Action::GetObject, Some("k"), &res),
            NOT_GRANTED
        );
    }

    #[test]
    fn requirements() {
        assert_eq!(
            acl_requirement(Action::GetObjectAttributes),
            Some((AclTarget::Object, Permission::Read))
        );
        assert_eq!(
            acl_requirement(Action::PutObjectVersionAcl),
            Some((AclTarget::Object, Permission::WriteAcp))
        );
        assert_eq!(acl_requirement(Action::PutObjectTagging), None);
        assert_eq!(acl_requirement(Action::ListMultipartUploadParts), None);
        assert!(Decision::Allow.is_allowed());
        assert!(!NOT_GRANTED.is_allowed());
    }
}
