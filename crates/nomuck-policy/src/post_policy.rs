//! Browser-based upload (POST Object) policy documents, SigV4 and SigV2 alike.
//!
//! The form's `policy` field is base64 JSON: `expiration` (ISO 8601) and
//! `conditions`, each one of
//! - `{"field": "value"}`: the field equals the value;
//! - `["eq", "$field", "value"]` / `["starts-with", "$field", "prefix"]`
//!   (`starts-with` with `""` allows any value);
//! - `["content-length-range", min, max]`, numbers or numeric strings.
//!
//! Field names compare case-insensitively and a missing field reads as empty.
//! `$bucket` is the request's bucket. Every form field must be named by some
//! condition, except `policy`, `file`, the signature fields (`x-amz-signature`,
//! `signature`, `AWSAccessKeyId`) and `x-ignore-*`; the bucket counts as a field,
//! so a policy without a bucket condition fails too.
//!
//! Messages are S3's; [`PostPolicyError::code`] gives the S3 error code.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde_json::Value;
use thiserror::Error;
use time::OffsetDateTime;
use time::format_description::well_known::{Iso8601, Rfc3339};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PostPolicyError {
    /// The document does not parse (S3: `InvalidPolicyDocument`, 400).
    #[error("Invalid Policy: {0}")]
    InvalidPolicyDocument(String),
    /// S3: `AccessDenied`, 403.
    #[error("Invalid according to Policy: Policy expired.")]
    Expired,
    /// A form field no condition names (S3: `AccessDenied`, 403).
    #[error("Invalid according to Policy: Extra input fields: {0}")]
    ExtraInputField(String),
    /// The failing condition, as JSON (S3: `AccessDenied`, 403).
    #[error("Invalid according to Policy: Policy Condition failed: {0}")]
    ConditionFailed(String),
    /// S3: `EntityTooSmall`, with `ProposedSize` and `MinSizeAllowed`.
    #[error("Your proposed upload is smaller than the minimum allowed size")]
    EntityTooSmall { proposed: u64, min: u64 },
    /// S3: `EntityTooLarge`, with `ProposedSize` and `MaxSizeAllowed`.
    #[error("Your proposed upload exceeds the maximum allowed size")]
    EntityTooLarge { proposed: u64, max: u64 },
}

impl PostPolicyError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidPolicyDocument(_) => "InvalidPolicyDocument",
            Self::Expired | Self::ExtraInputField(_) | Self::ConditionFailed(_) => "AccessDenied",
            Self::EntityTooSmall { .. } => "EntityTooSmall",
            Self::EntityTooLarge { .. } => "EntityTooLarge",
        }
    }

    fn invalid(msg: &str) -> Self {
        Self::InvalidPolicyDocument(msg.to_string())
    }
}

/// One policy condition. Field names are lowercase, without the `$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostCondition {
    Eq { field: String, value: String },
    StartsWith { field: String, prefix: String },
    ContentLengthRange { min: u64, max: u64 },
}

impl PostCondition {
    fn field(&self) -> Option<&str> {
        match self {
            Self::Eq { field, .. } | Self::StartsWith { field, .. } => Some(field),
            Self::ContentLengthRange { .. } => None,
        }
    }
}

/// The form fields of a POST upload: names case-insensitive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormFields {
    fields: BTreeMap<String, String>,
}

impl FormFields {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a field; the key must already have `${filename}` substituted.
    pub fn insert(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.fields.insert(name.to_ascii_lowercase(), value.into());
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// Lowercase names and values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: AsRef<str>, V: Into<String>> FromIterator<(K, V)> for FormFields {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut fields = Self::new();
        for (k, v) in iter {
            fields.insert(k.as_ref(), v);
        }
        fields
    }
}

/// Fields no condition has to name.
fn is_exempt(field: &str) -> bool {
    matches!(
        field,
        "policy" | "file" | "x-amz-signature" | "signature" | "awsaccesskeyid"
    ) || field.starts_with("x-ignore-")
        // A checksum only makes the upload safer; S3 takes it unnamed.
        || field.starts_with("x-amz-checksum-")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPolicy {
    expiration: OffsetDateTime,
    conditions: Vec<PostCondition>,
}

impl PostPolicy {
    /// Decodes and parses the form's `policy` field.
    pub fn parse(base64_policy: &str) -> Result<Self, PostPolicyError> {
        // Line-wrapped base64 (as some encoders emit) decodes as the joined text.
        let compact: String = base64_policy
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        if compact.is_empty() {
            return Err(PostPolicyError::invalid(
                "Expecting '{' but found End-of-Input",
            ));
        }
        let json = STANDARD
            .decode(&compact)
            .or_else(|_| STANDARD_NO_PAD.decode(&compact))
            .map_err(|_| PostPolicyError::invalid("invalid Base64 encoding."))?;
        let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(&json) else {
            return Err(PostPolicyError::invalid("Invalid JSON."));
        };
        if let Some(field) = doc
            .keys()
            .find(|k| !matches!(k.as_str(), "expiration" | "conditions"))
        {
            return Err(PostPolicyError::InvalidPolicyDocument(format!(
                "Unexpected: \"{field}\""
            )));
        }
        let expiration = match doc.get("expiration") {
            None => return Err(PostPolicyError::invalid("Policy missing expiration.")),
            Some(Value::String(s)) => parse_expiration(s).ok_or_else(|| {
                PostPolicyError::InvalidPolicyDocument(format!("Invalid 'expiration' value: '{s}'"))
            })?,
            Some(_) => return Err(PostPolicyError::invalid("Invalid JSON.")),
        };
        let conditions = match doc.get("conditions") {
            None => return Err(PostPolicyError::invalid("Policy missing conditions.")),
            Some(Value::Array(list)) => list.iter().map(condition).collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(PostPolicyError::invalid(
                    "Invalid 'conditions' value: must be a List.",
                ));
            }
        };
        Ok(Self {
            expiration,
            conditions,
        })
    }

    pub fn expiration(&self) -> OffsetDateTime {
        self.expiration
    }

    pub fn conditions(&self) -> &[PostCondition] {
        &self.conditions
    }

    /// The largest size every `content-length-range` allows, to cap the upload
    /// stream before reading it; `None` without a range.
    pub fn max_length(&self) -> Option<u64> {
        self.ranges().map(|(_, max)| max).min()
    }

    /// The smallest size every `content-length-range` allows.
    pub fn min_length(&self) -> Option<u64> {
        self.ranges().map(|(min, _)| min).max()
    }

    fn ranges(&self) -> impl Iterator<Item = (u64, u64)> {
        self.conditions.iter().filter_map(|c| match c {
            PostCondition::ContentLengthRange { min, max } => Some((*min, *max)),
            _ => None,
        })
    }

    /// Checks the final upload size against every `content-length-range`.
    pub fn check_length(&self, len: u64) -> Result<(), PostPolicyError> {
        for (min, max) in self.ranges() {
            if len > max {
                return Err(PostPolicyError::EntityTooLarge { proposed: len, max });
            }
            if len < min {
                return Err(PostPolicyError::EntityTooSmall { proposed: len, min });
            }
        }
        Ok(())
    }

    /// Checks the form against the policy at `now`: expiry, then that every field
    /// is covered, then each condition in order, then `content_length` if known
    /// (the caller can instead call [`PostPolicy::check_length`] after streaming).
    pub fn check(
        &self,
        now: OffsetDateTime,
        bucket: &str,
        fields: &FormFields,
        content_length: Option<u64>,
    ) -> Result<(), PostPolicyError> {
        if now > self.expiration {
            return Err(PostPolicyError::Expired);
        }
        let covered = |name: &str| self.conditions.iter().any(|c| c.field() == Some(name));
        if !covered("bucket") {
            return Err(PostPolicyError::ExtraInputField("bucket".into()));
        }
        if let Some((name, _)) = fields
            .iter()
            .find(|(name, _)| *name != "bucket" && !is_exempt(name) && !covered(name))
        {
            return Err(PostPolicyError::ExtraInputField(name.to_string()));
        }
        let value_of = |field: &str| {
            if field == "bucket" {
                bucket
            } else {
                fields.get(field).unwrap_or_default()
            }
        };
        for c in &self.conditions {
            let ok = match c {
                PostCondition::Eq { field, value } => value_of(field) == value,
                PostCondition::StartsWith { field, prefix } => {
                    starts_with(field, value_of(field), prefix)
                }
                PostCondition::ContentLengthRange { .. } => true,
            };
            if !ok {
                return Err(PostPolicyError::ConditionFailed(describe(c)));
            }
        }
        match content_length {
            Some(len) => self.check_length(len),
            None => Ok(()),
        }
    }
}

/// S3 reads a `Content-Type` holding several comma-separated types as a list,
/// each of which must have the prefix.
fn starts_with(field: &str, value: &str, prefix: &str) -> bool {
    if field == "content-type" && value.contains(',') {
        value.split(',').all(|v| v.trim().starts_with(prefix))
    } else {
        value.starts_with(prefix)
    }
}

/// The condition as S3 quotes it in a failure: `["eq", "$key", "x"]`.
fn describe(c: &PostCondition) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    match c {
        PostCondition::Eq { field, value } => {
            format!("[\"eq\", {}, {}]", q(&format!("${field}")), q(value))
        }
        PostCondition::StartsWith { field, prefix } => {
            format!(
                "[\"starts-with\", {}, {}]",
                q(&format!("${field}")),
                q(prefix)
            )
        }
        PostCondition::ContentLengthRange { min, max } => {
            format!("[\"content-length-range\", {min}, {max}]")
        }
    }
}

fn parse_expiration(s: &str) -> Option<OffsetDateTime> {
    // ISO 8601 proper: `2030-01-01 00:00:00` (Python's str() of a datetime) is refused.
    if !s.contains('T') {
        return None;
    }
    OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(s, &Iso8601::PARSING))
        .ok()
}

fn condition(value: &Value) -> Result<PostCondition, PostPolicyError> {
    match value {
        Value::Object(map) => {
            let mut entries = map.iter();
            let (Some((field, value)), None) = (entries.next(), entries.next()) else {
                return Err(PostPolicyError::invalid(
                    "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
                ));
            };
            let Value::String(value) = value else {
                return Err(PostPolicyError::invalid(
                    "Invalid Simple-Condition: value must be a string.",
                ));
            };
            Ok(PostCondition::Eq {
                field: field.trim_start_matches('$').to_ascii_lowercase(),
                value: value.clone(),
            })
        }
        Value::Array(items) => array_condition(items),
        _ => Err(PostPolicyError::invalid(
            "Invalid condition test: must be a List or Object.",
        )),
    }
}

fn array_condition(items: &[Value]) -> Result<PostCondition, PostPolicyError> {
    let Some(op) = items.first() else {
        return Err(PostPolicyError::invalid(
            "Invalid Condition: missing operation identifier.",
        ));
    };
    let Value::String(op) = op else {
        return Err(PostPolicyError::invalid("Invalid JSON."));
    };
    let op = op.to_ascii_lowercase();
    let [_, first, second] = items else {
        return Err(PostPolicyError::InvalidPolicyDocument(
            if matches!(op.as_str(), "eq" | "starts-with" | "content-length-range") {
                format!("Invalid {op}: wrong number of arguments.")
            } else {
                format!("Invalid Condition: unknown operation '{op}'.")
            },
        ));
    };
    match op.as_str() {
        "eq" | "starts-with" => {
            let field = match first {
                Value::String(f) if f.len() > 1 && f.starts_with('$') => {
                    f.get(1..).unwrap_or_default().to_ascii_lowercase()
                }
                _ => {
                    return Err(PostPolicyError::InvalidPolicyDocument(format!(
                        "Invalid {op}: the first argument must be a field reference starting with '$'."
                    )));
                }
            };
            let value = match second {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(PostPolicyError::invalid("Invalid JSON.")),
            };
            Ok(if op == "eq" {
                PostCondition::Eq { field, value }
            } else {
                PostCondition::StartsWith {
                    field,
                    prefix: value,
                }
            })
        }
        "content-length-range" => Ok(PostCondition::ContentLengthRange {
            min: length(first)?,
            max: length(second)?,
        }),
        _ => Err(PostPolicyError::InvalidPolicyDocument(format!(
            "Invalid Condition: unknown operation '{op}'."
        ))),
    }
}

/// A non-negative integer, as a JSON number or a numeric string.
fn length(v: &Value) -> Result<u64, PostPolicyError> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
    .ok_or_else(|| PostPolicyError::invalid("Invalid JSON."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2024-06-01 12:00 UTC);

    fn encode(json: &str) -> String {
        STANDARD.encode(json)
    }

    fn policy(conditions: &str) -> PostPolicy {
        PostPolicy::parse(&encode(&format!(
            r#"{{"expiration":"2024-06-02T00:00:00.000Z","conditions":[{conditions}]}}"#
        )))
        .unwrap()
    }

    fn form(pairs: &[(&str, &str)]) -> FormFields {
        pairs.iter().copied().collect()
    }

    /// The AWS documentation example (SigV4 upload form), trimmed.
    fn example() -> PostPolicy {
        policy(
            r#"{"bucket": "sigv4examplebucket"},
               ["starts-with", "$key", "user/user1/"],
               {"acl": "public-read"},
               {"success_action_redirect": "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html"},
               ["starts-with", "$Content-Type", "image/"],
               {"x-amz-meta-uuid": "14365123651274"},
               {"x-amz-server-side-encryption": "AES256"},
               ["starts-with", "$x-amz-meta-tag", ""],
               {"x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"},
               {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
               {"x-amz-date": "20151229T000000Z" },
               ["content-length-range", 1, "1048576"]"#,
        )
    }

    fn example_form() -> FormFields {
        form(&[
            ("key", "user/user1/photo.jpg"),
            ("acl", "public-read"),
            (
                "success_action_redirect",
                "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html",
            ),
            ("Content-Type", "image/jpeg"),
            ("x-amz-meta-uuid", "14365123651274"),
            ("x-amz-server-side-encryption", "AES256"),
            (
                "X-Amz-Credential",
                "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request",
            ),
            ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
            ("x-amz-date", "20151229T000000Z"),
            ("x-amz-meta-tag", ""),
            ("x-amz-signature", "sig"),
            ("policy", "ignored"),
            ("x-ignore-anything", "1"),
        ])
    }

    #[test]
    fn valid_upload() {
        let p = example();
        assert_eq!(p.expiration(), datetime!(2024-06-02 0:00 UTC));
        assert_eq!(p.conditions().len(), 12);
        assert_eq!(
            p.conditions().first(),
            Some(&PostCondition::Eq {
                field: "bucket".into(),
                value: "sigv4examplebucket".into()
            })
        );
        assert_eq!(p.max_length(), Some(1_048_576));
        assert_eq!(p.min_length(), Some(1));
        p.check(NOW, "sigv4examplebucket", &example_form(), Some(10))
            .unwrap();
        p.check(NOW, "sigv4examplebucket", &example_form(), None)
            .unwrap();
    }

    #[test]
    fn expired() {
        let err = example()
            .check(
                datetime!(2024-06-02 0:00:01 UTC),
                "sigv4examplebucket",
                &example_form(),
                None,
            )
            .unwrap_err();
        assert_eq!(err, PostPolicyError::Expired);
        assert_eq!(
            err.to_string(),
            "Invalid according to Policy: Policy expired."
        );
        assert_eq!(err.code(), "AccessDenied");
    }

    #[test]
    fn extra_field() {
        let mut fields = example_form();
        fields.insert("x-amz-meta-extra", "1");
        let err = example()
            .check(NOW, "sigv4examplebucket", &fields, None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid according to Policy: Extra input fields: x-amz-meta-extra"
        );
        // The bucket itself must be covered.
        let err = policy(r#"["starts-with", "$key", ""]"#)
            .check(NOW, "b", &form(&[("key", "k")]), None)
            .unwrap_err();
        assert_eq!(err, PostPolicyError::ExtraInputField("bucket".into()));
    }

    #[test]
    fn condition_failures() {
        let p = example();
        let check = |name: &str, value: &str| {
            let mut fields = example_form();
            fields.insert(name, value);
            p.check(NOW, "sigv4examplebucket", &fields, None)
        };
        assert_eq!(
            check("key", "user/user2/x").unwrap_err().to_string(),
            r#"Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/user1/"]"#
        );
        assert_eq!(
            check("acl", "private").unwrap_err().to_string(),
            r#"Invalid according to Policy: Policy Condition failed: ["eq", "$acl", "public-read"]"#
        );
        assert_eq!(
            check("content-type", "text/plain").unwrap_err(),
            PostPolicyError::ConditionFailed(
                r#"["starts-with", "$content-type", "image/"]"#.into()
            )
        );
        // A Content-Type list must match entry by entry.
        assert!(check("content-type", "image/png, image/gif").is_ok());
        assert!(check("content-type", "image/png, text/plain").is_err());
        // starts-with "" takes anything; a missing field reads as empty.
        assert!(check("x-amz-meta-tag", "whatever").is_ok());
        let mut missing = example_form();
        missing.insert("x-amz-meta-uuid", "");
        assert!(p.check(NOW, "sigv4examplebucket", &missing, None).is_err());
    }

    #[test]
    fn bucket_mismatch() {
        let err = example()
            .check(NOW, "otherbucket", &example_form(), None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "sigv4examplebucket"]"#
        );
        // A `bucket` form field does not override the request's bucket.
        let mut fields = example_form();
        fields.insert("bucket", "sigv4examplebucket");
        assert!(example().check(NOW, "otherbucket", &fields, None).is_err());
    }

    #[test]
    fn content_length_range() {
        let p = example();
        let f = example_form();
        assert_eq!(
            p.check(NOW, "sigv4examplebucket", &f, Some(0)).unwrap_err(),
            PostPolicyError::EntityTooSmall {
                proposed: 0,
                min: 1
            }
        );
        let too_large = p
            .check(NOW, "sigv4examplebucket", &f, Some(1_048_577))
            .unwrap_err();
        assert_eq!(
            too_large,
            PostPolicyError::EntityTooLarge {
                proposed: 1_048_577,
                max: 1_048_576
            }
        );
        assert_eq!(too_large.code(), "EntityTooLarge");
        assert!(p.check_length(1_048_576).is_ok());
        assert_eq!(p.check_length(0).unwrap_err().code(), "EntityTooSmall");
        // Several ranges: all apply.
        let two = policy(
            r#"{"bucket":"b"},["content-length-range",0,100],["content-length-range","10","1000"]"#,
        );
        assert_eq!(two.max_length(), Some(100));
        assert_eq!(two.min_length(), Some(10));
        assert!(two.check_length(5).is_err());
        assert!(two.check_length(50).is_ok());
        assert_eq!(policy(r#"{"bucket":"b"}"#).max_length(), None);
    }

    #[test]
    fn operators_and_field_names_ignore_case() {
        let p = policy(r#"{"Bucket":"b"},["EQ","$Key","k"]"#);
        p.check(NOW, "b", &form(&[("KEY", "k")]), None).unwrap();
        assert!(p.check(NOW, "b", &form(&[("key", "K")]), None).is_err());
    }

    #[test]
    fn unparsable_documents() {
        let bad = |json: &str| PostPolicy::parse(&encode(json)).unwrap_err().to_string();
        assert_eq!(
            PostPolicy::parse("").unwrap_err().to_string(),
            "Invalid Policy: Expecting '{' but found End-of-Input"
        );
        assert_eq!(
            PostPolicy::parse("!!not base64!!").unwrap_err().to_string(),
            "Invalid Policy: invalid Base64 encoding."
        );
        assert_eq!(
            PostPolicy::parse("!!").unwrap_err().code(),
            "InvalidPolicyDocument"
        );
        assert_eq!(bad("not json"), "Invalid Policy: Invalid JSON.");
        assert_eq!(bad("[]"), "Invalid Policy: Invalid JSON.");
        assert_eq!(
            bad(r#"{"conditions":[]}"#),
            "Invalid Policy: Policy missing expiration."
        );
        assert_eq!(
            bad(r#"{"expiration":"2024-06-02T00:00:00Z"}"#),
            "Invalid Policy: Policy missing conditions."
        );
        assert_eq!(
            bad(r#"{"expiration":"tomorrow","conditions":[]}"#),
            "Invalid Policy: Invalid 'expiration' value: 'tomorrow'"
        );
        assert_eq!(
            bad(r#"{"expiration":"2024-06-02T00:00:00Z","conditions":{}}"#),
            "Invalid Policy: Invalid 'conditions' value: must be a List."
        );
        assert_eq!(
            bad(r#"{"expiration":"2024-06-02T00:00:00Z","conditions":[],"x":1}"#),
            r#"Invalid Policy: Unexpected: "x""#
        );
        let cond = |c: &str| {
            bad(&format!(
                r#"{{"expiration":"2024-06-02T00:00:00Z","conditions":[{c}]}}"#
            ))
        };
        assert_eq!(
            cond(r#""x""#),
            "Invalid Policy: Invalid condition test: must be a List or Object."
        );
        assert_eq!(
            cond("[]"),
            "Invalid Policy: Invalid Condition: missing operation identifier."
        );
        assert_eq!(
            cond(r#"["eq","$key"]"#),
            "Invalid Policy: Invalid eq: wrong number of arguments."
        );
        assert_eq!(
            cond(r#"["in","$key","a"]"#),
            "Invalid Policy: Invalid Condition: unknown operation 'in'."
        );
        assert!(cond(r#"["eq","key","a"]"#).contains("field reference"));
        assert_eq!(
            cond(r#"["content-length-range",-1,5]"#),
            "Invalid Policy: Invalid JSON."
        );
        assert_eq!(
            cond(r#"["content-length-range","x",5]"#),
            "Invalid Policy: Invalid JSON."
        );
        assert_eq!(
            cond(r#"{"a":"1","b":"2"}"#),
            "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified."
        );
        assert_eq!(
            cond(r#"{"a":1}"#),
            "Invalid Policy: Invalid Simple-Condition: value must be a string."
        );
    }

    #[test]
    fn base64_variants() {
        let json = r#"{"expiration":"2024-06-02T00:00:00Z","conditions":[{"bucket":"b"}]}"#;
        let padded = STANDARD.encode(json);
        let unpadded = STANDARD_NO_PAD.encode(json);
        let wrapped = padded
            .as_bytes()
            .chunks(20)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\r\n");
        for s in [padded, unpadded, wrapped] {
            PostPolicy::parse(&s).unwrap();
        }
    }
}
