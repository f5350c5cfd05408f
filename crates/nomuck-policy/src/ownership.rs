//! S3 Object Ownership (`x-amz-object-ownership`, OwnershipControls).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::acl::{Acl, CannedAcl, Grantee, Permission};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectOwnership {
    /// ACLs are disabled; the bucket owner owns every object. S3's default
    /// for new buckets since April 2023.
    #[default]
    BucketOwnerEnforced,
    /// The bucket owner owns objects written with `bucket-owner-full-control`.
    BucketOwnerPreferred,
    /// The writer owns what it writes.
    ObjectWriter,
}

impl ObjectOwnership {
    pub const ALL: [ObjectOwnership; 3] = [
        Self::BucketOwnerEnforced,
        Self::BucketOwnerPreferred,
        Self::ObjectWriter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BucketOwnerEnforced => "BucketOwnerEnforced",
            Self::BucketOwnerPreferred => "BucketOwnerPreferred",
            Self::ObjectWriter => "ObjectWriter",
        }
    }

    /// When ACLs are disabled, authorization ignores them entirely.
    pub fn acls_disabled(self) -> bool {
        self == Self::BucketOwnerEnforced
    }

    /// The account that owns an object `writer` creates with `canned` (if any).
    pub fn object_owner<'a>(
        self,
        writer: &'a str,
        bucket_owner: &'a str,
        canned: Option<CannedAcl>,
    ) -> &'a str {
        match self {
            Self::BucketOwnerEnforced => bucket_owner,
            Self::BucketOwnerPreferred if canned == Some(CannedAcl::BucketOwnerFullControl) => {
                bucket_owner
            }
            Self::BucketOwnerPreferred | Self::ObjectWriter => writer,
        }
    }

    /// Whether a request may set `acl`. With ACLs disabled S3 only accepts ACLs
    /// that give the bucket owner full control and nothing else (such as
    /// `bucket-owner-full-control`); others fail with `AccessControlListNotSupported`.
    /// Build `acl` with the owner [`ObjectOwnership::object_owner`] picks, so a
    /// writer's canned ACL expands to grants for the bucket owner.
    pub fn accepts_acl(self, acl: &Acl, bucket_owner: &str) -> bool {
        !self.acls_disabled()
            || acl.grants.iter().all(|g| {
                g.permission == Permission::FullControl && g.grantee == Grantee::user(bucket_owner)
            })
    }
}

impl FromStr for ObjectOwnership {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("unknown object ownership: {s}"))
    }
}

impl fmt::Display for ObjectOwnership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: &str = "111111111111";
    const B: &str = "222222222222";

    #[test]
    fn names() {
        for o in ObjectOwnership::ALL {
            assert_eq!(o.as_str().parse::<ObjectOwnership>(), Ok(o));
        }
        assert!("bucketownerenforced".parse::<ObjectOwnership>().is_err());
        assert!(ObjectOwnership::default().acls_disabled());
    }

    #[test]
    fn owners() {
        use ObjectOwnership::*;
        let bofc = Some(CannedAcl::BucketOwnerFullControl);
        assert_eq!(BucketOwnerEnforced.object_owner(W, B, None), B);
        assert_eq!(BucketOwnerPreferred.object_owner(W, B, bofc), B);
        assert_eq!(BucketOwnerPreferred.object_owner(W, B, None), W);
        assert_eq!(ObjectWriter.object_owner(W, B, bofc), W);
    }

    #[test]
    fn acl_acceptance() {
        let enforced = ObjectOwnership::BucketOwnerEnforced;
        let bofc = Acl::from_canned(CannedAcl::BucketOwnerFullControl, B, B);
        assert!(enforced.accepts_acl(&bofc, B));
        assert!(enforced.accepts_acl(&Acl::private(B), B));
        assert!(!enforced.accepts_acl(&Acl::from_canned(CannedAcl::PublicRead, B, B), B));
        assert!(!enforced.accepts_acl(
            &Acl::from_canned(CannedAcl::BucketOwnerFullControl, W, B),
            B
        ));
        assert!(
            ObjectOwnership::ObjectWriter
                .accepts_acl(&Acl::from_canned(CannedAcl::PublicRead, W, B), B)
        );
    }
}
