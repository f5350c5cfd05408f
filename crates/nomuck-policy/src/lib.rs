//! The authorization decision for S3 requests, as a pure function.
//!
//! - [`Policy`]: bucket policies, validated as `PutBucketPolicy` does and evaluated
//!   per request; [`Policy::is_public`] for Block Public Access and policy status.
//! - [`Acl`], [`CannedAcl`]: ACLs from canned values or `x-amz-grant-*` headers.
//! - [`PublicAccessBlock`], [`ObjectOwnership`]: bucket settings that restrict them.
//! - [`decide()`]: combines all of the above for one [`Request`].
//! - [`PostPolicy`]: browser POST upload policy documents.
//!
//! No I/O and no XML: the caller parses requests and stored configuration into
//! these types, and maps the errors (each says which S3 error code it is) back.
//!
//! ```
//! use nomuck_policy::*;
//!
//! let policy = Policy::parse(
//!     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",
//!         "Action":"s3:GetObject","Resource":"arn:aws:s3:::site/public/*"}]}"#,
//!     "site",
//! )?;
//! let anyone = Principal::Anonymous;
//! let ctx = ConditionContext::new();
//! let req = Request {
//!     principal: &anyone,
//!     action: Action::GetObject,
//!     bucket: "site",
//!     key: Some("public/index.html"),
//!     context: &ctx,
//! };
//! let res = Resources {
//!     bucket_owner: "123456789012",
//!     bucket_policy: Some(&policy),
//!     bucket_acl: None,
//!     object_acl: None,
//!     access_block: PublicAccessBlock::default(),
//!     acls_disabled: true,
//! };
//! assert_eq!(decide(&req, &res), Decision::Allow);
//! # Ok::<(), PolicyError>(())
//! ```
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod access_block;
mod acl;
mod action;
mod context;
mod decide;
mod ip;
mod ownership;
mod pattern;
mod policy;
mod post_policy;

pub use access_block::PublicAccessBlock;
pub use acl::{Acl, AclError, CannedAcl, Grant, Grantee, Group, Permission};
pub use action::{Action, ResourceKind};
pub use context::{ConditionContext, Principal, is_account_id, keys};
pub use decide::{AclTarget, Decision, DenyReason, Request, Resources, acl_requirement, decide};
pub use ownership::ObjectOwnership;
pub use policy::{
    KMS_ACTIONS, KeyPolicy, MAX_POLICY_SIZE, Policy, PolicyEffect, PolicyError, PolicyVersion,
};
pub use post_policy::{FormFields, PostCondition, PostPolicy, PostPolicyError};
