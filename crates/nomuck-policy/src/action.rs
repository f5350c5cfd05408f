//! The S3 IAM actions a request can need, and the resource each one acts on.
//!
//! Names are IAM action names (`s3:GetBucketCORS`), not API operation names: several
//! operations share one action (DeleteBucketCors needs `s3:PutBucketCORS`, UploadPart
//! needs `s3:PutObject`). The list is also what `PutBucketPolicy` validates against, so
//! it holds every bucket- and object-level S3 action a policy copied from AWS is likely
//! to name, including some nomuck does not serve.

/// What an action's ARN names, which decides how a policy `Resource` is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// `arn:aws:s3:::bucket/key`
    Object,
    /// `arn:aws:s3:::bucket`
    Bucket,
    /// No bucket at all (ListAllMyBuckets); bucket policies never apply.
    Account,
}

macro_rules! actions {
    ($($variant:ident: $kind:ident,)*) => {
        /// An S3 IAM action.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $($variant,)*
        }

        impl Action {
            /// Every action, in declaration order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The IAM name, e.g. `s3:GetObject`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Action::$variant => concat!("s3:", stringify!($variant)),)*
                }
            }

            pub fn resource_kind(self) -> ResourceKind {
                match self {
                    $(Action::$variant => ResourceKind::$kind,)*
                }
            }
        }
    };
}

actions! {
    // Object level.
    AbortMultipartUpload: Object,
    BypassGovernanceRetention: Object,
    DeleteObject: Object,
    DeleteObjectTagging: Object,
    DeleteObjectVersion: Object,
    DeleteObjectVersionTagging: Object,
    GetObject: Object,
    GetObjectAcl: Object,
    GetObjectAttributes: Object,
    GetObjectLegalHold: Object,
    GetObjectRetention: Object,
    GetObjectTagging: Object,
    GetObjectTorrent: Object,
    GetObjectVersion: Object,
    GetObjectVersionAcl: Object,
    GetObjectVersionAttributes: Object,
    GetObjectVersionForReplication: Object,
    GetObjectVersionTagging: Object,
    GetObjectVersionTorrent: Object,
    ListMultipartUploadParts: Object,
    ObjectOwnerOverrideToBucketOwner: Object,
    PutObject: Object,
    PutObjectAcl: Object,
    PutObjectLegalHold: Object,
    PutObjectRetention: Object,
    PutObjectTagging: Object,
    PutObjectVersionAcl: Object,
    PutObjectVersionTagging: Object,
    ReplicateDelete: Object,
    ReplicateObject: Object,
    ReplicateTags: Object,
    RestoreObject: Object,
    // Bucket level.
    CreateBucket: Bucket,
    DeleteBucket: Bucket,
    DeleteBucketPolicy: Bucket,
    DeleteBucketWebsite: Bucket,
    GetAccelerateConfiguration: Bucket,
    GetAnalyticsConfiguration: Bucket,
    GetBucketAcl: Bucket,
    GetBucketCORS: Bucket,
    GetBucketLocation: Bucket,
    GetBucketLogging: Bucket,
    GetBucketNotification: Bucket,
    GetBucketObjectLockConfiguration: Bucket,
    GetBucketOwnershipControls: Bucket,
    GetBucketPolicy: Bucket,
    GetBucketPolicyStatus: Bucket,
    GetBucketPublicAccessBlock: Bucket,
    GetBucketRequestPayment: Bucket,
    GetBucketTagging: Bucket,
    GetBucketVersioning: Bucket,
    GetBucketWebsite: Bucket,
    GetEncryptionConfiguration: Bucket,
    GetIntelligentTieringConfiguration: Bucket,
    GetInventoryConfiguration: Bucket,
    GetLifecycleConfiguration: Bucket,
    GetMetricsConfiguration: Bucket,
    GetReplicationConfiguration: Bucket,
    ListBucket: Bucket,
    ListBucketMultipartUploads: Bucket,
    ListBucketVersions: Bucket,
    PutAccelerateConfiguration: Bucket,
    PutAnalyticsConfiguration: Bucket,
    PutBucketAcl: Bucket,
    PutBucketCORS: Bucket,
    PutBucketLogging: Bucket,
    PutBucketNotification: Bucket,
    PutBucketObjectLockConfiguration: Bucket,
    PutBucketOwnershipControls: Bucket,
    PutBucketPolicy: Bucket,
    PutBucketPublicAccessBlock: Bucket,
    PutBucketRequestPayment: Bucket,
    PutBucketTagging: Bucket,
    PutBucketVersioning: Bucket,
    PutBucketWebsite: Bucket,
    PutEncryptionConfiguration: Bucket,
    PutIntelligentTieringConfiguration: Bucket,
    PutInventoryConfiguration: Bucket,
    PutLifecycleConfiguration: Bucket,
    PutMetricsConfiguration: Bucket,
    PutReplicationConfiguration: Bucket,
    // Account level.
    GetAccountPublicAccessBlock: Account,
    ListAllMyBuckets: Account,
    PutAccountPublicAccessBlock: Account,
}

impl Action {
    /// Parses an IAM name such as `s3:GetObject`; like IAM, case-insensitive.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// Whether the action's ARN is `bucket/key` rather than `bucket`.
    pub fn is_object_level(self) -> bool {
        self.resource_kind() == ResourceKind::Object
    }

    /// The action a request needs when it does (`versioned`) or does not name a
    /// version: an object request with a `versionId` (or a copy source naming one)
    /// is authorized as S3 does, by the version action, so a policy that denies
    /// `s3:GetObjectVersion` keeps old versions unreadable even to callers allowed
    /// `s3:GetObject`. Every call site names the plain action and goes through here.
    pub fn for_version(self, versioned: bool) -> Self {
        if !versioned {
            return self;
        }
        match self {
            Self::GetObject => Self::GetObjectVersion,
            Self::GetObjectAcl => Self::GetObjectVersionAcl,
            Self::GetObjectAttributes => Self::GetObjectVersionAttributes,
            Self::GetObjectTagging => Self::GetObjectVersionTagging,
            Self::GetObjectTorrent => Self::GetObjectVersionTorrent,
            Self::PutObjectAcl => Self::PutObjectVersionAcl,
            Self::PutObjectTagging => Self::PutObjectVersionTagging,
            Self::DeleteObject => Self::DeleteObjectVersion,
            Self::DeleteObjectTagging => Self::DeleteObjectVersionTagging,
            other => other,
        }
    }

    /// The actions the bucket owner keeps even when its own policy denies them,
    /// so it can never lock itself out of its bucket.
    pub fn is_policy_management(self) -> bool {
        matches!(
            self,
            Self::GetBucketPolicy | Self::PutBucketPolicy | Self::DeleteBucketPolicy
        )
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_case_insensitively() {
        for &a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(a));
            assert_eq!(Action::from_name(&a.name().to_uppercase()), Some(a));
        }
        assert_eq!(Action::GetBucketCORS.name(), "s3:GetBucketCORS");
        assert_eq!(Action::from_name("s3:getobject"), Some(Action::GetObject));
        assert_eq!(Action::from_name("GetObject"), None);
        assert_eq!(Action::from_name("s3:Nope"), None);
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = Action::ALL.iter().map(|a| a.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }

    #[test]
    fn a_named_version_needs_the_version_action() {
        use Action as A;
        for (plain, version) in [
            (A::GetObject, A::GetObjectVersion),
            (A::GetObjectAcl, A::GetObjectVersionAcl),
            (A::GetObjectAttributes, A::GetObjectVersionAttributes),
            (A::GetObjectTagging, A::GetObjectVersionTagging),
            (A::GetObjectTorrent, A::GetObjectVersionTorrent),
            (A::PutObjectAcl, A::PutObjectVersionAcl),
            (A::PutObjectTagging, A::PutObjectVersionTagging),
            (A::DeleteObject, A::DeleteObjectVersion),
            (A::DeleteObjectTagging, A::DeleteObjectVersionTagging),
        ] {
            assert_eq!(plain.for_version(true), version);
            assert_eq!(plain.for_version(false), plain);
        }
        // Writes create versions rather than name them; bucket actions have none.
        for a in [A::PutObject, A::ListBucket, A::AbortMultipartUpload] {
            assert_eq!(a.for_version(true), a);
        }
        // Complete: wherever IAM has a version twin of an action
        // (`s3:GetObjectX` / `s3:GetObjectVersionX`), a named version maps to it.
        for &a in Action::ALL {
            if let Some(twin) = Action::from_name(&a.name().replacen("Object", "ObjectVersion", 1))
            {
                assert_eq!(a.for_version(true), twin, "{a}");
            }
        }
    }

    #[test]
    fn resource_kinds() {
        assert!(Action::GetObject.is_object_level());
        assert!(Action::ListMultipartUploadParts.is_object_level());
        assert!(!Action::ListBucket.is_object_level());
        assert_eq!(
            Action::ListAllMyBuckets.resource_kind(),
            ResourceKind::Account
        );
    }
}
