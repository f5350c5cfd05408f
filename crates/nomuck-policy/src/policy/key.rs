//! KMS key policies: the same IAM grammar as bucket policies (one parser, one
//! evaluator), with `kms:` actions and the key's ARN as the resource.
//!
//! AWS evaluates a key policy on its own for a key's use: no IAM policy can
//! grant what it does not (nomuck has no IAM policies), so a caller is allowed
//! exactly when a statement allows it and none denies it.

use super::parse::{self, Dialect};
use super::{Policy, PolicyEffect, PolicyError, PolicyVersion};
use crate::context::{ConditionContext, Principal};

/// KMS's limit on a key policy document (32 KiB).
pub const MAX_KEY_POLICY_SIZE: usize = 32 * 1024;

/// Every KMS action a key policy may name (AWS's `kms:` action names).
pub const KMS_ACTIONS: &[&str] = &[
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:CreateKey",
    "kms:Decrypt",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeys",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
];

/// A validated key policy, keeping the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyPolicy(Policy);

impl KeyPolicy {
    /// Validates `json` as `PutKeyPolicy` does (IAM grammar, `kms:` actions).
    pub fn parse(json: &str) -> Result<Self, PolicyError> {
        parse::parse(json, Dialect::Key).map(Self)
    }

    /// The default policy AWS gives a key: its account's root may do
    /// everything with it (`kms:*`).
    pub fn default_for(account_id: &str) -> String {
        format!(
            "{{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {{\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {{\n      \"AWS\" : \"arn:aws:iam::{account_id}:root\"\n    }},\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }} ]\n}}"
        )
    }

    /// The document exactly as it was put (what `GetKeyPolicy` returns).
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn version(&self) -> PolicyVersion {
        self.0.version()
    }

    /// Every account the policy names as a principal.
    pub fn principal_accounts(&self) -> impl Iterator<Item = &str> {
        self.0.principal_accounts()
    }

    /// Whether `principal` may do `action` (`kms:Encrypt`) on the key `key_arn`:
    /// explicit deny wins over allow.
    pub fn evaluate(
        &self,
        principal: &Principal,
        action: &str,
        key_arn: &str,
        context: &ConditionContext,
    ) -> PolicyEffect {
        let action = action.to_ascii_lowercase();
        let mut allowed = false;
        for statement in &self.0.statements {
            if statement.applies_to(principal, context, &action, key_arn) {
                match statement.effect {
                    super::Effect::Deny => return PolicyEffect::ExplicitDeny,
                    super::Effect::Allow => allowed = true,
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

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn eval(p: &KeyPolicy, account: &str, action: &str) -> PolicyEffect {
        p.evaluate(
            &Principal::Account(account.into()),
            action,
            ARN,
            &ConditionContext::new(),
        )
    }

    #[test]
    fn default_policy_gives_the_owner_everything_and_no_one_else_anything() {
        let p = KeyPolicy::parse(&KeyPolicy::default_for("111122223333")).unwrap();
        assert_eq!(eval(&p, "111122223333", "kms:Decrypt"), PolicyEffect::Allow);
        assert_eq!(
            eval(&p, "111122223333", "kms:PutKeyPolicy"),
            PolicyEffect::Allow
        );
        assert_eq!(
            eval(&p, "444455556666", "kms:Decrypt"),
            PolicyEffect::NoMatch
        );
    }

    #[test]
    fn deny_wins_and_grants_name_other_accounts_by_arn() {
        let p = KeyPolicy::parse(
            r#"{"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
              {"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"kms:Encrypt","Resource":"*"},
              {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::444455556666:root"]},
               "Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*"}]}"#,
        )
        .unwrap();
        assert_eq!(
            eval(&p, "111122223333", "kms:Encrypt"),
            PolicyEffect::ExplicitDeny
        );
        assert_eq!(eval(&p, "111122223333", "kms:Decrypt"), PolicyEffect::Allow);
        assert_eq!(eval(&p, "444455556666", "kms:decrypt"), PolicyEffect::Allow);
        assert_eq!(
            eval(&p, "444455556666", "kms:GenerateDataKeyWithoutPlaintext"),
            PolicyEffect::Allow
        );
        assert_eq!(
            eval(&p, "444455556666", "kms:Encrypt"),
            PolicyEffect::NoMatch
        );
        assert_eq!(
            p.principal_accounts().collect::<Vec<_>>(),
            ["111122223333", "111122223333", "444455556666"]
        );
    }

    #[test]
    fn malformed_key_policies_are_refused() {
        for bad in [
            "not json",
            r#"{"Statement":[]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Nope","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"kms:Decrypt","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":""}]}"#,
        ] {
            assert!(KeyPolicy::parse(bad).is_err(), "{bad}");
        }
        let big = format!(
            r#"{{"Statement":[{{"Sid":"{}","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}}]}}"#,
            "x".repeat(MAX_KEY_POLICY_SIZE)
        );
        assert_eq!(KeyPolicy::parse(&big), Err(PolicyError::TooLarge));
    }
}
