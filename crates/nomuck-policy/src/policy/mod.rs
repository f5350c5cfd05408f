//! Bucket policies: AWS IAM policy JSON, validated as `PutBucketPolicy` does and
//! evaluated against one request.
//!
//! Error messages are the ones S3 answers with in a `MalformedPolicy` error
//! ([`PolicyError::code`]), so the caller can pass [`PolicyError`]'s `Display`
//! straight through.

mod condition;
mod key;
mod parse;
mod public;

pub use key::{KMS_ACTIONS, KeyPolicy};

use thiserror::Error;

use crate::context::Principal;
use crate::decide::Request;
use crate::pattern::Pattern;
use condition::Condition;

/// S3's limit on a policy document, counted without insignificant whitespace.
pub const MAX_POLICY_SIZE: usize = 20 * 1024;

/// Why `PutBucketPolicy` refuses a document. `Display` is S3's message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    #[error("Normalized policy document exceeds the maximum allowed size of 20480 bytes")]
    TooLarge,
    #[error("Policies must be valid JSON and the first byte must be '{{'")]
    NotAnObject,
    #[error("This policy contains invalid Json")]
    InvalidJson,
    /// A policy element of the wrong JSON type (`"Action": null`, `"Sid": 5`), or
    /// a mutually exclusive pair such as `Action` with `NotAction`.
    #[error("Invalid policy syntax.")]
    InvalidSyntax,
    #[error("The policy must contain a valid version string")]
    InvalidVersion,
    #[error("Unknown field {0}")]
    UnknownField(String),
    #[error("Missing required field {0}")]
    MissingField(&'static str),
    #[error("Could not parse the policy: Statement is empty!")]
    EmptyStatement,
    #[error("Invalid effect: {0}")]
    InvalidEffect(String),
    /// Also returned by the caller for an account id that does not exist
    /// (see [`Policy::principal_accounts`]).
    #[error("Invalid principal in policy")]
    InvalidPrincipal,
    #[error("Policy has invalid action")]
    InvalidAction,
    #[error("Policy has invalid resource")]
    InvalidResource,
    #[error("Action does not apply to any resource(s) in statement")]
    ActionResourceMismatch,
    #[error("Invalid Condition type : {0}")]
    InvalidConditionOperator(String),
    #[error("Policy has an invalid condition key")]
    InvalidConditionKey,
    #[error("Invalid IP address in Conditions")]
    InvalidIpAddress,
}

impl PolicyError {
    /// The S3 error code: always `MalformedPolicy` (HTTP 400).
    pub fn code(&self) -> &'static str {
        "MalformedPolicy"
    }
}

/// The outcome of evaluating one policy against one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyEffect {
    /// A matching `Deny` statement: overrides every grant.
    ExplicitDeny,
    /// A matching `Allow` statement and no matching `Deny`.
    Allow,
    /// No statement applies.
    NoMatch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyVersion {
    /// The default; policy variables are literal text.
    V2008_10_17,
    /// Policy variables (`${aws:userid}`) are substituted.
    V2012_10_17,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// One entry of a `Principal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PrincipalSpec {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous callers included.
    Any,
    /// An account id, account ARN, IAM user/role ARN or canonical user id; all
    /// stand for the account in nomuck, which has no IAM users.
    Account(String),
    /// `Service` / `Federated` principals: accepted, but no nomuck caller is one.
    Other,
}

impl PrincipalSpec {
    fn matches(&self, principal: &Principal) -> bool {
        match (self, principal) {
            (Self::Any, _) => true,
            (Self::Account(id), Principal::Account(caller)) => id == caller,
            _ => false,
        }
    }
}

/// A policy element and its `Not...` form (`Action` / `NotAction`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Element<T> {
    negated: bool,
    items: Vec<T>,
}

impl<T> Element<T> {
    fn matches(&self, hit: impl FnMut(&T) -> bool) -> bool {
        self.items.iter().any(hit) != self.negated
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    sid: Option<String>,
    effect: Effect,
    principal: Element<PrincipalSpec>,
    /// Lowercased patterns: action names are case-insensitive.
    action: Element<Pattern>,
    resource: Element<Pattern>,
    conditions: Vec<Condition>,
}

impl Statement {
    fn applies(&self, req: &Request, action_name: &str, arn: &str) -> bool {
        self.applies_to(req.principal, req.context, action_name, arn)
    }

    /// `action_name` lowercased.
    fn applies_to(
        &self,
        principal: &Principal,
        context: &crate::context::ConditionContext,
        action_name: &str,
        arn: &str,
    ) -> bool {
        self.principal.matches(|p| p.matches(principal))
            && self
                .action
                .matches(|pattern| pattern.matches(action_name, context))
            && self
                .resource
                .matches(|pattern| pattern.matches(arn, context))
            && self.conditions.iter().all(|c| c.holds(context))
    }
}

/// A validated bucket policy, keeping the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    text: String,
    version: PolicyVersion,
    id: Option<String>,
    statements: Vec<Statement>,
    public: bool,
}

impl Policy {
    /// Validates `json` as `PutBucketPolicy` on `bucket` does.
    pub fn parse(json: &str, bucket: &str) -> Result<Self, PolicyError> {
        parse::parse(json, parse::Dialect::Bucket(bucket))
    }

    /// The document exactly as it was put (what `GetBucketPolicy` returns).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn version(&self) -> PolicyVersion {
        self.version
    }

    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Statement ids, in document order (`None` where a statement has none).
    pub fn sids(&self) -> impl Iterator<Item = Option<&str>> {
        self.statements.iter().map(|s| s.sid.as_deref())
    }

    /// Every account the policy names as a principal, so the caller can refuse
    /// unknown ones with [`PolicyError::InvalidPrincipal`] as S3 does.
    pub fn principal_accounts(&self) -> impl Iterator<Item = &str> {
        self.statements
            .iter()
            .flat_map(|s| &s.principal.items)
            .filter_map(|p| match p {
                PrincipalSpec::Account(id) => Some(id.as_str()),
                _ => None,
            })
    }

    /// Whether S3 would call this policy public (`GetBucketPolicyStatus`,
    /// `BlockPublicPolicy`, `RestrictPublicBuckets`); see the `public` module.
    pub fn is_public(&self) -> bool {
        self.public
    }

    /// Explicit deny wins over allow; no applicable statement is [`PolicyEffect::NoMatch`].
    /// Account-level actions (ListAllMyBuckets) are never governed by a bucket policy.
    pub fn evaluate(&self, req: &Request) -> PolicyEffect {
        let Some(arn) = req.resource_arn() else {
            return PolicyEffect::NoMatch;
        };
        let action_name = req.action.name().to_ascii_lowercase();
        let mut allowed = false;
        for statement in &self.statements {
            if statement.applies(req, &action_name, &arn) {
                match statement.effect {
                    Effect::Deny => return PolicyEffect::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed {
            PolicyEffect::Allow
        } else {
            PolicyEffect::NoMatch
        }
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests;
