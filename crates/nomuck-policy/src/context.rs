//! Who is asking, and the condition keys a request carries.

use std::collections::BTreeMap;

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// An unsigned request.
    Anonymous,
    /// A signed request, by 12-digit account id (also the ACL canonical user id).
    Account(String),
}

impl Principal {
    pub fn account(&self) -> Option<&str> {
        match self {
            Self::Anonymous => None,
            Self::Account(id) => Some(id),
        }
    }
}

/// Twelve ASCII digits: the form of every nomuck account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Standard condition keys the caller fills in (names as AWS spells them; lookups
/// ignore case anyway).
pub mod keys {
    pub const SOURCE_IP: &str = "aws:SourceIp";
    /// `"true"` or `"false"`.
    pub const SECURE_TRANSPORT: &str = "aws:SecureTransport";
    /// ISO 8601, e.g. `2024-05-01T12:00:00Z`.
    pub const CURRENT_TIME: &str = "aws:CurrentTime";
    /// Seconds since the Unix epoch.
    pub const EPOCH_TIME: &str = "aws:EpochTime";
    pub const PRINCIPAL_ACCOUNT: &str = "aws:PrincipalAccount";
    /// `"Account"` or `"Anonymous"`.
    pub const PRINCIPAL_TYPE: &str = "aws:PrincipalType";
    pub const USER_ID: &str = "aws:userid";
    pub const REFERER: &str = "aws:Referer";
    pub const USER_AGENT: &str = "aws:UserAgent";
    pub const PREFIX: &str = "s3:prefix";
    pub const DELIMITER: &str = "s3:delimiter";
    pub const MAX_KEYS: &str = "s3:max-keys";
    pub const X_AMZ_ACL: &str = "s3:x-amz-acl";
    pub const X_AMZ_CONTENT_SHA256: &str = "s3:x-amz-content-sha256";
    /// `AWS` (SigV2) or `AWS4-HMAC-SHA256`.
    pub const SIGNATURE_VERSION: &str = "s3:signatureversion";
    /// `REST-HEADER`, `REST-QUERY-STRING` or `POST`.
    pub const AUTH_TYPE: &str = "s3:authType";
    pub const VERSION_ID: &str = "s3:VersionId";
    pub const REQUEST_OBJECT_TAG_KEYS: &str = "s3:RequestObjectTagKeys";
    pub const X_AMZ_SERVER_SIDE_ENCRYPTION: &str = "s3:x-amz-server-side-encryption";
    pub const X_AMZ_SERVER_SIDE_ENCRYPTION_KMS_KEY_ID: &str =
        "s3:x-amz-server-side-encryption-aws-kms-key-id";
    pub const X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_ALGORITHM: &str =
        "s3:x-amz-server-side-encryption-customer-algorithm";
    /// `bucket/key` of a copy, URL-decoded, without a leading `/`.
    pub const X_AMZ_COPY_SOURCE: &str = "s3:x-amz-copy-source";
    pub const X_AMZ_METADATA_DIRECTIVE: &str = "s3:x-amz-metadata-directive";
    pub const X_AMZ_STORAGE_CLASS: &str = "s3:x-amz-storage-class";
    pub const X_AMZ_GRANT_READ: &str = "s3:x-amz-grant-read";
    pub const X_AMZ_GRANT_WRITE: &str = "s3:x-amz-grant-write";
    pub const X_AMZ_GRANT_READ_ACP: &str = "s3:x-amz-grant-read-acp";
    pub const X_AMZ_GRANT_WRITE_ACP: &str = "s3:x-amz-grant-write-acp";
    pub const X_AMZ_GRANT_FULL_CONTROL: &str = "s3:x-amz-grant-full-control";
    /// Object lock headers of a write: `GOVERNANCE` / `COMPLIANCE`, the
    /// ISO 8601 date as sent, `ON` / `OFF`, and the whole days from now to
    /// that date (rounded up).
    pub const OBJECT_LOCK_MODE: &str = "s3:object-lock-mode";
    pub const OBJECT_LOCK_RETAIN_UNTIL_DATE: &str = "s3:object-lock-retain-until-date";
    pub const OBJECT_LOCK_LEGAL_HOLD: &str = "s3:object-lock-legal-hold";
    pub const OBJECT_LOCK_REMAINING_RETENTION_DAYS: &str =
        "s3:object-lock-remaining-retention-days";

    /// `s3:ExistingObjectTag/<tag>`: a tag of the object as stored.
    pub fn existing_object_tag(tag: &str) -> String {
        format!("s3:ExistingObjectTag/{tag}")
    }

    /// `s3:RequestObjectTag/<tag>`: a tag the request sets.
    pub fn request_object_tag(tag: &str) -> String {
        format!("s3:RequestObjectTag/{tag}")
    }
}

/// Condition-key values of one request.
///
/// Key names are case-insensitive, except for the part after the first `/`
/// (`s3:ExistingObjectTag/Project`): tag keys are case-sensitive in S3.
/// A key with no values is treated as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConditionContext {
    values: BTreeMap<String, Vec<String>>,
}

/// The canonical spelling used for lookups (see [`ConditionContext`]).
pub(crate) fn normalize_key(key: &str) -> String {
    match key.split_once('/') {
        Some((name, tag)) => format!("{}/{tag}", name.to_ascii_lowercase()),
        None => key.to_ascii_lowercase(),
    }
}

impl ConditionContext {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value to `key` (keys such as `s3:RequestObjectTagKeys` hold several).
    pub fn insert(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.values
            .entry(normalize_key(key))
            .or_default()
            .push(value.into());
        self
    }

    /// Replaces every value of `key`.
    pub fn set(&mut self, key: &str, values: Vec<String>) -> &mut Self {
        self.values.insert(normalize_key(key), values);
        self
    }

    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.values.remove(&normalize_key(key));
        self
    }

    /// The values of `key`, or `None` when the request does not carry it.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.get_normalized(&normalize_key(key))
    }

    pub(crate) fn get_normalized(&self, key: &str) -> Option<&[String]> {
        self.values
            .get(key)
            .map(Vec::as_slice)
            .filter(|v| !v.is_empty())
    }

    /// Sets `aws:PrincipalType`, and `aws:PrincipalAccount` and `aws:userid`
    /// for signed requests (`aws:userid` is `anonymous` otherwise, as in S3).
    pub fn insert_principal(&mut self, principal: &Principal) -> &mut Self {
        match principal {
            Principal::Anonymous => {
                self.set(keys::PRINCIPAL_TYPE, vec!["Anonymous".into()]);
                self.remove(keys::PRINCIPAL_ACCOUNT);
                self.set(keys::USER_ID, vec!["anonymous".into()]);
            }
            Principal::Account(id) => {
                self.set(keys::PRINCIPAL_TYPE, vec!["Account".into()]);
                self.set(keys::PRINCIPAL_ACCOUNT, vec![id.clone()]);
                self.set(keys::USER_ID, vec![id.clone()]);
            }
        }
        self
    }
}

impl<K: AsRef<str>, V: Into<String>> FromIterator<(K, V)> for ConditionContext {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut ctx = Self::new();
        for (k, v) in iter {
            ctx.insert(k.as_ref(), v);
        }
        ctx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_but_tag_keys_do_not() {
        let ctx: ConditionContext = [
            ("AWS:SourceIP", "10.0.0.1"),
            ("s3:ExistingObjectTag/Project", "x"),
        ]
        .into_iter()
        .collect();
        assert_eq!(ctx.get("aws:sourceip"), Some(&["10.0.0.1".to_string()][..]));
        assert!(ctx.get("S3:EXISTINGOBJECTTAG/Project").is_some());
        assert!(ctx.get("s3:ExistingObjectTag/project").is_none());
    }

    #[test]
    fn empty_values_are_absent_and_insert_appends() {
        let mut ctx = ConditionContext::new();
        ctx.set("s3:prefix", vec![]);
        assert!(ctx.get("s3:prefix").is_none());
        ctx.insert(keys::REQUEST_OBJECT_TAG_KEYS, "a")
            .insert(keys::REQUEST_OBJECT_TAG_KEYS, "b");
        assert_eq!(
            ctx.get(keys::REQUEST_OBJECT_TAG_KEYS).map(<[_]>::len),
            Some(2)
        );
    }

    #[test]
    fn principal_keys() {
        let mut ctx = ConditionContext::new();
        ctx.insert_principal(&Principal::Account("123456789012".into()));
        assert_eq!(
            ctx.get("aws:PrincipalType"),
            Some(&["Account".to_string()][..])
        );
        ctx.insert_principal(&Principal::Anonymous);
        assert!(ctx.get("aws:PrincipalAccount").is_none());
        assert_eq!(ctx.get("aws:userid"), Some(&["anonymous".to_string()][..]));
    }
}
