//! Access control lists: canned ACLs, `x-amz-grant-*` headers, and grant checks.
//!
//! The caller parses and renders the XML form (`AccessControlPolicy`) itself and
//! fills in display names; grantees here are by id, and in nomuck the canonical
//! user id is the 12-digit account id. Email grantees are refused.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::context::{Principal, is_account_id};

/// Why an ACL input is refused; each variant names the S3 error it maps to.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AclError {
    /// An `x-amz-acl` value S3 does not define (S3: `InvalidArgument`).
    #[error("unknown canned ACL: {0}")]
    UnknownCannedAcl(String),
    /// A `<Permission>` S3 does not define (S3: `MalformedACLError`).
    #[error("unknown permission: {0}")]
    UnknownPermission(String),
    /// An `emailAddress=` grantee (S3: `UnresolvableGrantByEmailAddress`).
    #[error("grants by email address are not supported")]
    EmailGrantee,
    /// A grantee id that is not an account id (S3: `InvalidArgument`, "Invalid id").
    #[error("Invalid id: {0}")]
    InvalidGranteeId(String),
    /// A group URI S3 does not define (S3: `InvalidArgument`).
    #[error("Invalid group uri: {0}")]
    UnknownGroupUri(String),
    /// An `x-amz-grant-*` value that does not parse (S3: `InvalidArgument`).
    #[error("malformed grant header: {0}")]
    MalformedGrantHeader(String),
}

impl AclError {
    /// The S3 error code to answer with.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownPermission(_) => "MalformedACLError",
            Self::EmailGrantee => "UnresolvableGrantByEmailAddress",
            _ => "InvalidArgument",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    Read,
    Write,
    ReadAcp,
    WriteAcp,
    FullControl,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Self::Read,
        Self::Write,
        Self::ReadAcp,
        Self::WriteAcp,
        Self::FullControl,
    ];

    /// The XML name, e.g. `READ_ACP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "READ",
            Self::Write => "WRITE",
            Self::ReadAcp => "READ_ACP",
            Self::WriteAcp => "WRITE_ACP",
            Self::FullControl => "FULL_CONTROL",
        }
    }

    /// The request header granting it, e.g. `x-amz-grant-read-acp`.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Read => "x-amz-grant-read",
            Self::Write => "x-amz-grant-write",
            Self::ReadAcp => "x-amz-grant-read-acp",
            Self::WriteAcp => "x-amz-grant-write-acp",
            Self::FullControl => "x-amz-grant-full-control",
        }
    }

    /// Parses a header name such as `X-Amz-Grant-Read` (case-insensitive).
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.header_name().eq_ignore_ascii_case(name))
    }

    /// FULL_CONTROL grants every other permission.
    pub fn implies(self, needed: Permission) -> bool {
        self == needed || self == Self::FullControl
    }
}

impl FromStr for Permission {
    type Err = AclError;

    fn from_str(s: &str) -> Result<Self, AclError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| AclError::UnknownPermission(s.to_string()))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// S3's predefined grantee groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Group {
    /// Everyone, anonymous callers included.
    AllUsers,
    /// Any signed request, from any account.
    AuthenticatedUsers,
    /// S3 server access logging; no nomuck caller is this group.
    LogDelivery,
}

impl Group {
    pub const ALL: [Group; 3] = [Self::AllUsers, Self::AuthenticatedUsers, Self::LogDelivery];

    pub fn uri(self) -> &'static str {
        match self {
            Self::AllUsers => "http://acs.amazonaws.com/groups/global/AllUsers",
            Self::AuthenticatedUsers => "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
            Self::LogDelivery => "http://acs.amazonaws.com/groups/s3/LogDelivery",
        }
    }

    pub fn from_uri(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.uri() == uri)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Grantee {
    CanonicalUser {
        /// The 12-digit account id.
        id: String,
        display_name: Option<String>,
    },
    Group(Group),
}

impl PartialEq for Grantee {
    /// Display names are presentation only: grantees are equal by id.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::CanonicalUser { id: a, .. }, Self::CanonicalUser { id: b, .. }) => a == b,
            (Self::Group(a), Self::Group(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Grantee {}

impl Grantee {
    pub fn user(id: impl Into<String>) -> Self {
        Self::CanonicalUser {
            id: id.into(),
            display_name: None,
        }
    }

    /// AllUsers or AuthenticatedUsers: what makes an ACL public.
    pub fn is_public(&self) -> bool {
        matches!(
            self,
            Self::Group(Group::AllUsers | Group::AuthenticatedUsers)
        )
    }

    pub fn matches(&self, principal: &Principal) -> bool {
        match (self, principal) {
            (Self::Group(Group::AllUsers), _) => true,
            (Self::Group(Group::AuthenticatedUsers), Principal::Account(_)) => true,
            (Self::CanonicalUser { id, .. }, Principal::Account(caller)) => id == caller,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: Permission,
}

impl Grant {
    pub fn new(grantee: Grantee, permission: Permission) -> Self {
        Self {
            grantee,
            permission,
        }
    }
}

/// The `x-amz-acl` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CannedAcl {
    Private,
    PublicRead,
    PublicReadWrite,
    AuthenticatedRead,
    AwsExecRead,
    BucketOwnerRead,
    BucketOwnerFullControl,
    LogDeliveryWrite,
}

impl CannedAcl {
    pub const ALL: [CannedAcl; 8] = [
        Self::Private,
        Self::PublicRead,
        Self::PublicReadWrite,
        Self::AuthenticatedRead,
        Self::AwsExecRead,
        Self::BucketOwnerRead,
        Self::BucketOwnerFullControl,
        Self::LogDeliveryWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::PublicRead => "public-read",
            Self::PublicReadWrite => "public-read-write",
            Self::AuthenticatedRead => "authenticated-read",
            Self::AwsExecRead => "aws-exec-read",
            Self::BucketOwnerRead => "bucket-owner-read",
            Self::BucketOwnerFullControl => "bucket-owner-full-control",
            Self::LogDeliveryWrite => "log-delivery-write",
        }
    }
}

impl FromStr for CannedAcl {
    type Err = AclError;

    /// Exact match: S3 refuses `Public-Read`.
    fn from_str(s: &str) -> Result<Self, AclError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| AclError::UnknownCannedAcl(s.to_string()))
    }
}

impl fmt::Display for CannedAcl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The ACL of one bucket or object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    /// Owner account id. Owning grants nothing by itself: access comes from grants.
    pub owner: String,
    pub grants: Vec<Grant>,
}

impl Acl {
    /// What S3 creates when no ACL is given: the owner has FULL_CONTROL.
    pub fn private(owner: &str) -> Self {
        Self::from_canned(CannedAcl::Private, owner, owner)
    }

    /// Expands a canned ACL as S3 does. `owner` owns the resource; `bucket_owner`
    /// only matters for the `bucket-owner-*` ACLs on objects. When the two are the
    /// same account (always, for a bucket), those add no second grant.
    /// `aws-exec-read` grants EC2's account READ in S3; nomuck has no such account,
    /// so it is the same as `private`.
    pub fn from_canned(canned: CannedAcl, owner: &str, bucket_owner: &str) -> Self {
        let mut grants = vec![Grant::new(Grantee::user(owner), Permission::FullControl)];
        let group = |g, p| Grant::new(Grantee::Group(g), p);
        match canned {
            CannedAcl::Private | CannedAcl::AwsExecRead => {}
            CannedAcl::PublicRead => grants.push(group(Group::AllUsers, Permission::Read)),
            CannedAcl::PublicReadWrite => {
                grants.push(group(Group::AllUsers, Permission::Read));
                grants.push(group(Group::AllUsers, Permission::Write));
            }
            CannedAcl::AuthenticatedRead => {
                grants.push(group(Group::AuthenticatedUsers, Permission::Read));
            }
            CannedAcl::BucketOwnerRead if bucket_owner != owner => {
                grants.push(Grant::new(Grantee::user(bucket_owner), Permission::Read));
            }
            CannedAcl::BucketOwnerFullControl if bucket_owner != owner => {
                grants.push(Grant::new(
                    Grantee::user(bucket_owner),
                    Permission::FullControl,
                ));
            }
            CannedAcl::BucketOwnerRead | CannedAcl::BucketOwnerFullControl => {}
            CannedAcl::LogDeliveryWrite => {
                grants.push(group(Group::LogDelivery, Permission::Write));
                grants.push(group(Group::LogDelivery, Permission::ReadAcp));
            }
        }
        Self {
            owner: owner.to_string(),
            grants,
        }
    }

    /// Builds an ACL from `x-amz-grant-*` headers, e.g.
    /// `(Permission::Read, r#"id="123456789012", uri="http://acs.amazonaws.com/groups/global/AllUsers""#)`.
    /// As in S3 the ACL holds exactly these grants: the owner gets no implicit one.
    pub fn from_grant_headers(
        owner: &str,
        headers: &[(Permission, &str)],
    ) -> Result<Self, AclError> {
        let mut grants = Vec::new();
        for &(permission, value) in headers {
            for grantee in parse_grantees(value)? {
                grants.push(Grant::new(grantee, permission));
            }
        }
        Ok(Self {
            owner: owner.to_string(),
            grants,
        })
    }

    /// Grants anything to AllUsers or AuthenticatedUsers (S3's "public ACL").
    pub fn is_public(&self) -> bool {
        self.grants.iter().any(|g| g.grantee.is_public())
    }

    /// Whether some grant gives `principal` `permission` (FULL_CONTROL implies all).
    pub fn allows(&self, principal: &Principal, permission: Permission) -> bool {
        self.allows_with(principal, permission, false)
    }

    /// [`Acl::allows`], optionally skipping public grants (IgnorePublicAcls).
    pub fn allows_with(
        &self,
        principal: &Principal,
        permission: Permission,
        ignore_public: bool,
    ) -> bool {
        self.grants.iter().any(|g| {
            g.permission.implies(permission)
                && !(ignore_public && g.grantee.is_public())
                && g.grantee.matches(principal)
        })
    }
}

/// `id="…", uri="…"`: comma-separated `type=value` pairs, values usually quoted.
fn parse_grantees(header: &str) -> Result<Vec<Grantee>, AclError> {
    let malformed = || AclError::MalformedGrantHeader(header.to_string());
    let mut out = Vec::new();
    let mut rest = header.trim();
    if rest.is_empty() {
        return Err(malformed());
    }
    loop {
        let (kind, after) = rest.split_once('=').ok_or_else(malformed)?;
        let after = after.trim_start();
        let (value, remaining) = match after.strip_prefix('"') {
            Some(quoted) => quoted.split_once('"').ok_or_else(malformed)?,
            None => after.split_at(after.find(',').unwrap_or(after.len())),
        };
        out.push(grantee(kind.trim(), value.trim())?);
        let remaining = remaining.trim_start();
        if remaining.is_empty() {
            return Ok(out);
        }
        rest = remaining
            .strip_prefix(',')
            .ok_or_else(malformed)?
            .trim_start();
        if rest.is_empty() {
            return Err(malformed());
        }
    }
}

fn grantee(kind: &str, value: &str) -> Result<Grantee, AclError> {
    if kind.eq_ignore_ascii_case("id") {
        if is_account_id(value) {
            Ok(Grantee::user(value))
        } else {
            Err(AclError::InvalidGranteeId(value.to_string()))
        }
    } else if kind.eq_ignore_ascii_case("uri") {
        Group::from_uri(value)
            .map(Grantee::Group)
            .ok_or_else(|| AclError::UnknownGroupUri(value.to_string()))
    } else if kind.eq_ignore_ascii_case("emailAddress") {
        Err(AclError::EmailGrantee)
    } else {
        Err(AclError::MalformedGrantHeader(format!("{kind}={value}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: &str = "111111111111";
    const BUCKET_OWNER: &str = "222222222222";
    const OTHER: &str = "333333333333";

    fn acct(id: &str) -> Principal {
        Principal::Account(id.into())
    }

    fn grants(acl: &Acl) -> Vec<(Grantee, Permission)> {
        acl.grants
            .iter()
            .map(|g| (g.grantee.clone(), g.permission))
            .collect()
    }

    #[test]
    fn names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>().unwrap(), p);
            assert_eq!(
                Permission::from_header_name(&p.header_name().to_uppercase()),
                Some(p)
            );
        }
        assert!("read".parse::<Permission>().is_err());
        for c in CannedAcl::ALL {
            assert_eq!(c.as_str().parse::<CannedAcl>().unwrap(), c);
        }
        let err = "Public-Read".parse::<CannedAcl>().unwrap_err();
        assert_eq!(err, AclError::UnknownCannedAcl("Public-Read".into()));
        assert_eq!(err.code(), "InvalidArgument");
        for g in Group::ALL {
            assert_eq!(Group::from_uri(g.uri()), Some(g));
        }
        assert_eq!(
            Group::LogDelivery.uri(),
            "http://acs.amazonaws.com/groups/s3/LogDelivery"
        );
    }

    #[test]
    fn canned_expansions() {
        use Permission::*;
        let fc = (Grantee::user(OWNER), FullControl);
        let all = |p| (Grantee::Group(Group::AllUsers), p);
        let case = |c| grants(&Acl::from_canned(c, OWNER, BUCKET_OWNER));
        assert_eq!(case(CannedAcl::Private), vec![fc.clone()]);
        assert_eq!(case(CannedAcl::PublicRead), vec![fc.clone(), all(Read)]);
        assert_eq!(
            case(CannedAcl::PublicReadWrite),
            vec![fc.clone(), all(Read), all(Write)]
        );
        assert_eq!(
            case(CannedAcl::AuthenticatedRead),
            vec![
                fc.clone(),
                (Grantee::Group(Group::AuthenticatedUsers), Read)
            ]
        );
        assert_eq!(case(CannedAcl::AwsExecRead), vec![fc.clone()]);
        assert_eq!(
            case(CannedAcl::BucketOwnerRead),
            vec![fc.clone(), (Grantee::user(BUCKET_OWNER), Read)]
        );
        assert_eq!(
            case(CannedAcl::BucketOwnerFullControl),
            vec![fc.clone(), (Grantee::user(BUCKET_OWNER), FullControl)]
        );
        assert_eq!(
            case(CannedAcl::LogDeliveryWrite),
            vec![
                fc.clone(),
                (Grantee::Group(Group::LogDelivery), Write),
                (Grantee::Group(Group::LogDelivery), ReadAcp)
            ]
        );
        // Same owner: no duplicate grant.
        let same = Acl::from_canned(CannedAcl::BucketOwnerFullControl, OWNER, OWNER);
        assert_eq!(grants(&same), vec![fc]);
        assert_eq!(
            Acl::private(OWNER),
            Acl::from_canned(CannedAcl::Private, OWNER, OTHER)
        );
    }

    #[test]
    fn grant_headers() {
        let acl = Acl::from_grant_headers(
            OWNER,
            &[
                (
                    Permission::Read,
                    r#"id="222222222222", uri="http://acs.amazonaws.com/groups/global/AllUsers""#,
                ),
                (Permission::FullControl, "ID=333333333333"),
            ],
        )
        .unwrap();
        assert_eq!(
            grants(&acl),
            vec![
                (Grantee::user(BUCKET_OWNER), Permission::Read),
                (Grantee::Group(Group::AllUsers), Permission::Read),
                (Grantee::user(OTHER), Permission::FullControl),
            ]
        );
        assert_eq!(acl.owner, OWNER);
        assert!(acl.is_public());
        assert!(
            !acl.allows(&acct(OWNER), Permission::WriteAcp),
            "no implicit owner grant"
        );
    }

    #[test]
    fn grant_header_errors() {
        let parse = |v| Acl::from_grant_headers(OWNER, &[(Permission::Read, v)]).unwrap_err();
        assert_eq!(
            parse(r#"emailAddress="a@example.com""#),
            AclError::EmailGrantee
        );
        assert_eq!(
            parse(r#"id="abc""#),
            AclError::InvalidGranteeId("abc".into())
        );
        assert_eq!(
            parse(r#"uri="http://acs.amazonaws.com/groups/global/Nobody""#),
            AclError::UnknownGroupUri("http://acs.amazonaws.com/groups/global/Nobody".into())
        );
        for bad in [
            "",
            "   ",
            "id",
            r#"id="111111111111"#,
            r#"id="111111111111","#,
            r#"id="111111111111" x"#,
            r#"foo="bar""#,
        ] {
            assert!(
                matches!(parse(bad), AclError::MalformedGrantHeader(_)),
                "{bad:?}"
            );
        }
        assert_eq!(
            AclError::EmailGrantee.code(),
            "UnresolvableGrantByEmailAddress"
        );
    }

    #[test]
    fn allows() {
        let acl = Acl {
            owner: OWNER.into(),
            grants: vec![
                Grant::new(Grantee::user(OWNER), Permission::FullControl),
                Grant::new(Grantee::user(OTHER), Permission::ReadAcp),
                Grant::new(Grantee::Group(Group::AuthenticatedUsers), Permission::Read),
                Grant::new(Grantee::Group(Group::LogDelivery), Permission::Write),
            ],
        };
        for p in Permission::ALL {
            assert!(acl.allows(&acct(OWNER), p));
        }
        assert!(acl.allows(&acct(OTHER), Permission::ReadAcp));
        assert!(!acl.allows(&acct(OTHER), Permission::WriteAcp));
        assert!(acl.allows(&acct(BUCKET_OWNER), Permission::Read));
        assert!(!acl.allows(&Principal::Anonymous, Permission::Read));
        assert!(!acl.allows(&acct(BUCKET_OWNER), Permission::Write));
        assert!(!acl.allows_with(&acct(BUCKET_OWNER), Permission::Read, true));
        assert!(acl.allows_with(&acct(OWNER), Permission::Read, true));

        let public = Acl::from_canned(CannedAcl::PublicRead, OWNER, OWNER);
        assert!(public.allows(&Principal::Anonymous, Permission::Read));
        assert!(!public.allows(&Principal::Anonymous, Permission::ReadAcp));
        assert!(!Acl::private(OWNER).is_public());
    }

    #[test]
    fn grantee_equality_ignores_display_name() {
        let named = Grantee::CanonicalUser {
            id: OWNER.into(),
            display_name: Some("alice".into()),
        };
        assert_eq!(named, Grantee::user(OWNER));
        assert_ne!(named, Grantee::user(OTHER));
    }
}
