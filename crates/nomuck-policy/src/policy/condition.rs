//! The `Condition` element: operators, their parsing, and evaluation.
//!
//! Semantics (IAM's):
//! - operators, and keys under one operator, are ANDed; values of one key are ORed;
//! - a negated operator (`StringNotEquals`, `NotIpAddress`, ...) is the complement
//!   of its positive form, so a key the request lacks makes it *true*;
//! - `...IfExists`: a missing key makes the condition true;
//! - `Null`: `true` tests that the key is absent, `false` that it is present;
//! - `ForAnyValue:` holds when some request value satisfies the operator (false
//!   for a missing key); `ForAllValues:` when every one does (true for a missing key).
//!
//! A request value that does not parse for the operator (a non-number under
//! `NumericEquals`) never matches; policy values are only checked for IP operators,
//! the one type S3 itself validates on `PutBucketPolicy`.

use std::net::IpAddr;

use serde_json::Value;
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::PolicyError;
use crate::context::{ConditionContext, normalize_key};
use crate::ip::Cidr;
use crate::pattern::Pattern;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn test<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Self::Eq => request == policy,
            Self::Lt => request < policy,
            Self::Le => request <= policy,
            Self::Gt => request > policy,
            Self::Ge => request >= policy,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Base {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    BinaryEquals,
    IpAddress,
    /// ArnEquals and ArnLike behave the same in IAM: both take wildcards.
    Arn,
    Null,
}

/// Operator names, their positive form, and whether they are negated.
const OPERATORS: &[(&str, Base, bool)] = &[
    ("StringEquals", Base::StringEquals, false),
    ("StringNotEquals", Base::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        Base::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Base::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", Base::StringLike, false),
    ("StringNotLike", Base::StringLike, true),
    ("NumericEquals", Base::Numeric(Cmp::Eq), false),
    ("NumericNotEquals", Base::Numeric(Cmp::Eq), true),
    ("NumericLessThan", Base::Numeric(Cmp::Lt), false),
    ("NumericLessThanEquals", Base::Numeric(Cmp::Le), false),
    ("NumericGreaterThan", Base::Numeric(Cmp::Gt), false),
    ("NumericGreaterThanEquals", Base::Numeric(Cmp::Ge), false),
    ("DateEquals", Base::Date(Cmp::Eq), false),
    ("DateNotEquals", Base::Date(Cmp::Eq), true),
    ("DateLessThan", Base::Date(Cmp::Lt), false),
    ("DateLessThanEquals", Base::Date(Cmp::Le), false),
    ("DateGreaterThan", Base::Date(Cmp::Gt), false),
    ("DateGreaterThanEquals", Base::Date(Cmp::Ge), false),
    ("Bool", Base::Bool, false),
    ("BinaryEquals", Base::BinaryEquals, false),
    ("IpAddress", Base::IpAddress, false),
    ("NotIpAddress", Base::IpAddress, true),
    ("ArnEquals", Base::Arn, false),
    ("ArnNotEquals", Base::Arn, true),
    ("ArnLike", Base::Arn, false),
    ("ArnNotLike", Base::Arn, true),
    ("Null", Base::Null, false),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SetQualifier {
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    /// String, ARN and binary operators (variables substituted at evaluation).
    Text(Pattern),
    Number(Option<f64>),
    /// Unix time in nanoseconds.
    Date(Option<i128>),
    Bool(Option<bool>),
    Cidr(Cidr),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Condition {
    pub(super) base: Base,
    pub(super) negated: bool,
    pub(super) set: Option<SetQualifier>,
    pub(super) if_exists: bool,
    /// Normalized (see [`normalize_key`]).
    pub(super) key: String,
    operands: Vec<Operand>,
}

/// `ForAnyValue:StringLikeIfExists` -> (qualifier, base, negated, if_exists).
fn parse_operator(name: &str) -> Option<(Option<SetQualifier>, Base, bool, bool)> {
    let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
        (Some(SetQualifier::ForAnyValue), rest)
    } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
        (Some(SetQualifier::ForAllValues), rest)
    } else {
        (None, name)
    };
    let (rest, if_exists) = match rest.strip_suffix("IfExists") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let &(_, base, negated) = OPERATORS.iter().find(|(n, ..)| *n == rest)?;
    // IAM: IfExists applies to every operator but Null.
    if if_exists && base == Base::Null {
        return None;
    }
    Some((set, base, negated, if_exists))
}

/// S3's own condition keys (lowercase), beyond the tag-keyed families below.
const S3_KEYS: &[&str] = &[
    "s3:accesspointnetworkorigin",
    "s3:authtype",
    "s3:dataaccesspointaccount",
    "s3:dataaccesspointarn",
    "s3:delimiter",
    "s3:if-match",
    "s3:if-none-match",
    "s3:locationconstraint",
    "s3:max-keys",
    "s3:object-lock-legal-hold",
    "s3:object-lock-mode",
    "s3:object-lock-remaining-retention-days",
    "s3:object-lock-retain-until-date",
    "s3:objectcreationoperation",
    "s3:prefix",
    "s3:requestobjecttagkeys",
    "s3:resourceaccount",
    "s3:signatureage",
    "s3:signatureversion",
    "s3:tlsversion",
    "s3:versionid",
    "s3:x-amz-acl",
    "s3:x-amz-content-sha256",
    "s3:x-amz-copy-source",
    "s3:x-amz-grant-full-control",
    "s3:x-amz-grant-read",
    "s3:x-amz-grant-read-acp",
    "s3:x-amz-grant-write",
    "s3:x-amz-grant-write-acp",
    "s3:x-amz-metadata-directive",
    "s3:x-amz-object-ownership",
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-server-side-encryption-customer-algorithm",
    "s3:x-amz-storage-class",
    "s3:x-amz-website-redirect-location",
];

/// Keys of the form `s3:ExistingObjectTag/<tag>` (lowercase family names).
const S3_TAG_FAMILIES: &[&str] = &[
    "s3:existingobjecttag",
    "s3:requestobjecttag",
    "s3:buckettag",
];

/// Any `aws:` global key (S3 does not check those), S3's own keys, nothing else.
fn is_valid_key(normalized: &str) -> bool {
    if let Some(rest) = normalized.strip_prefix("aws:") {
        return !rest.is_empty();
    }
    if let Some((family, tag)) = normalized.split_once('/') {
        return !tag.is_empty() && S3_TAG_FAMILIES.contains(&family);
    }
    S3_KEYS.contains(&normalized)
}

/// Condition values: a scalar or a non-empty array of scalars, as strings.
fn scalars(value: &Value) -> Result<Vec<String>, PolicyError> {
    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    match value {
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| scalar(v).ok_or(PolicyError::InvalidSyntax))
            .collect(),
        v => scalar(v).map(|s| vec![s]).ok_or(PolicyError::InvalidSyntax),
    }
}

/// Parses a `Condition` block; `variables` when the policy is `2012-10-17`.
pub(super) fn parse_block(value: &Value, variables: bool) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(ops) = value else {
        return Err(PolicyError::InvalidSyntax);
    };
    let mut out = Vec::new();
    for (op_name, keys) in ops {
        let (set, base, negated, if_exists) = parse_operator(op_name)
            .ok_or_else(|| PolicyError::InvalidConditionOperator(op_name.clone()))?;
        let Value::Object(keys) = keys else {
            return Err(PolicyError::InvalidSyntax);
        };
        for (key, values) in keys {
            let key = normalize_key(key);
            if !is_valid_key(&key) {
                return Err(PolicyError::InvalidConditionKey);
            }
            let operands = scalars(values)?
                .iter()
                .map(|v| operand(base, v, variables))
                .collect::<Result<_, _>>()?;
            out.push(Condition {
                base,
                negated,
                set,
                if_exists,
                key,
                operands,
            });
        }
    }
    Ok(out)
}

fn operand(base: Base, value: &str, variables: bool) -> Result<Operand, PolicyError> {
    Ok(match base {
        Base::StringEquals | Base::StringEqualsIgnoreCase | Base::StringLike | Base::Arn => {
            Operand::Text(Pattern::parse(value, variables))
        }
        Base::BinaryEquals => Operand::Text(Pattern::parse(value, false)),
        Base::Numeric(_) => Operand::Number(parse_number(value)),
        Base::Date(_) => Operand::Date(parse_date(value)),
        Base::Bool | Base::Null => Operand::Bool(parse_bool(value)),
        Base::IpAddress => Operand::Cidr(Cidr::parse(value).ok_or(PolicyError::InvalidIpAddress)?),
    })
}

/// A plain decimal (`-12`, `3.5`); rejects what `f64::from_str` would also take
/// (`inf`, `NaN`, `1e5`), which IAM's integer-or-decimal values never are.
fn parse_number(s: &str) -> Option<f64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let ok = !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    if ok { s.parse().ok() } else { None }
}

/// ISO 8601 (`2024-01-01T00:00:00Z`, `2024-01-01`) or epoch seconds.
fn parse_date(s: &str) -> Option<i128> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i64 = s.parse().ok()?;
        return Some(i128::from(secs) * 1_000_000_000);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Iso8601::PARSING) {
        return Some(t.unix_timestamp_nanos());
    }
    let date = Date::parse(s, format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp_nanos())
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

impl Condition {
    pub(super) fn holds(&self, ctx: &ConditionContext) -> bool {
        let values = ctx.get_normalized(&self.key);
        if self.base == Base::Null {
            let absent = values.is_none();
            return self.operands.contains(&Operand::Bool(Some(absent)));
        }
        let Some(values) = values else {
            return self.if_exists
                || match self.set {
                    Some(SetQualifier::ForAllValues) => true,
                    Some(SetQualifier::ForAnyValue) => false,
                    None => self.negated,
                };
        };
        match self.set {
            // Unqualified: the negated operator is the complement of the positive
            // one over all values, which is what makes a missing key true above.
            None => values.iter().any(|v| self.matches_one(v, ctx)) != self.negated,
            Some(SetQualifier::ForAnyValue) => values
                .iter()
                .any(|v| self.matches_one(v, ctx) != self.negated),
            Some(SetQualifier::ForAllValues) => values
                .iter()
                .all(|v| self.matches_one(v, ctx) != self.negated),
        }
    }

    /// Whether one request value matches any policy value under the positive operator.
    fn matches_one(&self, value: &str, ctx: &ConditionContext) -> bool {
        match self.base {
            Base::StringEquals | Base::BinaryEquals => self
                .texts()
                .any(|p| p.literal(ctx).is_some_and(|l| l == value)),
            Base::StringEqualsIgnoreCase => {
                let value = value.to_lowercase();
                self.texts()
                    .any(|p| p.literal(ctx).is_some_and(|l| l.to_lowercase() == value))
            }
            Base::StringLike => self.texts().any(|p| p.matches(value, ctx)),
            Base::Arn => self.texts().any(|p| p.matches_arn(value, ctx)),
            Base::Numeric(cmp) => parse_number(value).is_some_and(|v| {
                self.operands
                    .iter()
                    .any(|o| matches!(o, Operand::Number(Some(p)) if cmp.test(v, *p)))
            }),
            Base::Date(cmp) => parse_date(value).is_some_and(|v| {
                self.operands
                    .iter()
                    .any(|o| matches!(o, Operand::Date(Some(p)) if cmp.test(v, *p)))
            }),
            Base::Bool => {
                parse_bool(value).is_some_and(|v| self.operands.contains(&Operand::Bool(Some(v))))
            }
            Base::IpAddress => value.trim().parse::<IpAddr>().is_ok_and(|ip| {
                self.operands
                    .iter()
                    .any(|o| matches!(o, Operand::Cidr(c) if c.contains(ip)))
            }),
            Base::Null => false,
        }
    }

    fn texts(&self) -> impl Iterator<Item = &Pattern> {
        self.operands.iter().filter_map(|o| match o {
            Operand::Text(p) => Some(p),
            _ => None,
        })
    }

    /// Every value is a CIDR satisfying `narrow` (for the "public" test).
    pub(super) fn all_cidrs(&self, narrow: impl Fn(Cidr) -> bool) -> bool {
        self.operands
            .iter()
            .all(|o| matches!(o, Operand::Cidr(c) if narrow(*c)))
    }

    /// Every value is fixed text: no wildcard, no variable (for the "public" test).
    pub(super) fn all_fixed_text(&self) -> bool {
        self.operands
            .iter()
            .all(|o| matches!(o, Operand::Text(p) if p.is_fixed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(block: Value) -> Vec<Condition> {
        parse_block(&block, true).unwrap()
    }

    fn holds(block: Value, ctx: &[(&str, &str)]) -> bool {
        let ctx: ConditionContext = ctx.iter().copied().collect();
        cond(block).iter().all(|c| c.holds(&ctx))
    }

    #[test]
    fn operator_names() {
        assert!(parse_operator("StringEquals").is_some());
        assert!(parse_operator("ForAnyValue:StringLikeIfExists").is_some());
        assert!(parse_operator("NullIfExists").is_none());
        assert!(parse_operator("stringequals").is_none());
        assert!(parse_operator("ForSomeValues:StringLike").is_none());
        let err = parse_block(&json!({"StringEqualz": {"s3:prefix": "a"}}), true).unwrap_err();
        assert_eq!(err.to_string(), "Invalid Condition type : StringEqualz");
    }

    #[test]
    fn keys() {
        for k in [
            "aws:SourceIp",
            "AWS:sourceip",
            "aws:PrincipalTag/team",
            "s3:prefix",
            "S3:Max-Keys",
            "s3:ExistingObjectTag/Project",
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
        ] {
            assert!(is_valid_key(&normalize_key(k)), "{k}");
        }
        for k in [
            "aws:",
            "s3:VersionStatus",
            "s3:ExistingObjectTag/",
            "kms:ViaService",
            "prefix",
        ] {
            assert!(!is_valid_key(&normalize_key(k)), "{k}");
        }
    }

    #[test]
    fn string_operators() {
        let eq = json!({"StringEquals": {"s3:prefix": ["home/", "pub/"]}});
        assert!(holds(eq.clone(), &[("s3:prefix", "pub/")]));
        assert!(!holds(eq.clone(), &[("s3:prefix", "PUB/")]));
        assert!(!holds(eq, &[]));
        let ne = json!({"StringNotEquals": {"s3:prefix": ["home/"]}});
        assert!(holds(ne.clone(), &[("s3:prefix", "x")]));
        assert!(!holds(ne.clone(), &[("s3:prefix", "home/")]));
        assert!(
            holds(ne, &[]),
            "negated operator with a missing key is true"
        );
        let ic = json!({"StringEqualsIgnoreCase": {"aws:UserAgent": "CURL"}});
        assert!(holds(ic, &[("aws:useragent", "curl")]));
        let like = json!({"StringLike": {"s3:prefix": "home/*"}});
        assert!(holds(like.clone(), &[("s3:prefix", "home/a/b")]));
        assert!(!holds(like, &[("s3:prefix", "homes")]));
        let not_like = json!({"StringNotLike": {"aws:Referer": "https://example.com/*"}});
        assert!(holds(
            not_like.clone(),
            &[("aws:Referer", "https://evil.com/")]
        ));
        assert!(!holds(
            not_like,
            &[("aws:Referer", "https://example.com/x")]
        ));
        // StringEquals compares literally: `*` is not a wildcard there.
        let lit = json!({"StringEquals": {"s3:prefix": "a*"}});
        assert!(holds(lit.clone(), &[("s3:prefix", "a*")]));
        assert!(!holds(lit, &[("s3:prefix", "ab")]));
    }

    #[test]
    fn if_exists_and_null() {
        let c = json!({"StringEqualsIfExists": {"s3:x-amz-acl": "private"}});
        assert!(holds(c.clone(), &[]));
        assert!(holds(c.clone(), &[("s3:x-amz-acl", "private")]));
        assert!(!holds(c, &[("s3:x-amz-acl", "public-read")]));
        let absent = json!({"Null": {"s3:x-amz-server-side-encryption": "true"}});
        assert!(holds(absent.clone(), &[]));
        assert!(!holds(
            absent,
            &[("s3:x-amz-server-side-encryption", "AES256")]
        ));
        let present = json!({"Null": {"s3:x-amz-server-side-encryption": false}});
        assert!(holds(
            present,
            &[("s3:x-amz-server-side-encryption", "AES256")]
        ));
    }

    #[test]
    fn numeric_date_bool() {
        let n = json!({"NumericLessThanEquals": {"s3:max-keys": "10"}});
        assert!(holds(n.clone(), &[("s3:max-keys", "10")]));
        assert!(holds(n.clone(), &[("s3:max-keys", "2.5")]));
        assert!(!holds(n.clone(), &[("s3:max-keys", "11")]));
        assert!(!holds(n, &[("s3:max-keys", "NaN")]));
        let nn = json!({"NumericNotEquals": {"s3:max-keys": 5}});
        assert!(holds(nn.clone(), &[("s3:max-keys", "6")]));
        assert!(!holds(nn, &[("s3:max-keys", "5.0")]));
        let d = json!({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}});
        assert!(holds(
            d.clone(),
            &[("aws:CurrentTime", "2029-12-31T23:59:59Z")]
        ));
        assert!(!holds(
            d.clone(),
            &[("aws:CurrentTime", "2030-01-01T00:00:00Z")]
        ));
        assert!(holds(d, &[("aws:CurrentTime", "2029-12-31")]));
        let epoch = json!({"DateGreaterThan": {"aws:EpochTime": "1700000000"}});
        assert!(holds(epoch.clone(), &[("aws:EpochTime", "1700000001")]));
        assert!(!holds(
            epoch,
            &[("aws:EpochTime", "2000-01-01T00:00:00+01:00")]
        ));
        let b = json!({"Bool": {"aws:SecureTransport": "false"}});
        assert!(holds(b.clone(), &[("aws:SecureTransport", "false")]));
        assert!(holds(b.clone(), &[("aws:SecureTransport", "FALSE")]));
        assert!(!holds(b.clone(), &[("aws:SecureTransport", "true")]));
        assert!(!holds(b, &[]));
    }

    #[test]
    fn ip_and_arn() {
        let ip = json!({"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}});
        assert!(holds(ip.clone(), &[("aws:SourceIp", "192.0.2.7")]));
        assert!(holds(ip.clone(), &[("aws:SourceIp", "2001:db8::9")]));
        assert!(!holds(ip.clone(), &[("aws:SourceIp", "198.51.100.1")]));
        assert!(!holds(ip, &[("aws:SourceIp", "not-an-ip")]));
        let not_ip = json!({"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}});
        assert!(holds(not_ip.clone(), &[("aws:SourceIp", "198.51.100.1")]));
        assert!(!holds(not_ip, &[("aws:SourceIp", "192.0.2.1")]));
        let err = parse_block(&json!({"IpAddress": {"aws:SourceIp": "300.0.0.0/8"}}), true);
        assert_eq!(err.unwrap_err(), PolicyError::InvalidIpAddress);
        let arn = json!({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::src-*"}});
        assert!(holds(
            arn.clone(),
            &[("aws:SourceArn", "arn:aws:s3:::src-bucket")]
        ));
        assert!(!holds(arn, &[("aws:SourceArn", "arn:aws:s3:::other")]));
        let arn_ne =
            json!({"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:root"}});
        assert!(holds(
            arn_ne.clone(),
            &[("aws:PrincipalArn", "arn:aws:iam::444455556666:root")]
        ));
        assert!(!holds(
            arn_ne,
            &[("aws:PrincipalArn", "arn:aws:iam::111122223333:root")]
        ));
    }

    #[test]
    fn set_qualifiers() {
        let any = json!({"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["a", "b"]}});
        assert!(holds(
            any.clone(),
            &[
                ("s3:RequestObjectTagKeys", "x"),
                ("s3:RequestObjectTagKeys", "b")
            ]
        ));
        assert!(!holds(any.clone(), &[("s3:RequestObjectTagKeys", "x")]));
        assert!(!holds(any, &[]));
        let all = json!({"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["a", "b"]}});
        assert!(holds(
            all.clone(),
            &[
                ("s3:RequestObjectTagKeys", "a"),
                ("s3:RequestObjectTagKeys", "b")
            ]
        ));
        assert!(!holds(
            all.clone(),
            &[
                ("s3:RequestObjectTagKeys", "a"),
                ("s3:RequestObjectTagKeys", "c")
            ]
        ));
        assert!(holds(all, &[]));
        let all_not =
            json!({"ForAllValues:StringNotEquals": {"s3:RequestObjectTagKeys": "secret"}});
        assert!(holds(all_not.clone(), &[("s3:RequestObjectTagKeys", "a")]));
        assert!(!holds(
            all_not,
            &[
                ("s3:RequestObjectTagKeys", "a"),
                ("s3:RequestObjectTagKeys", "secret")
            ]
        ));
    }

    #[test]
    fn several_operators_and_keys_are_anded() {
        let c = json!({
            "StringEquals": {"s3:prefix": "a", "s3:delimiter": "/"},
            "Bool": {"aws:SecureTransport": true}
        });
        let all = [
            ("s3:prefix", "a"),
            ("s3:delimiter", "/"),
            ("aws:SecureTransport", "true"),
        ];
        assert!(holds(c.clone(), &all));
        assert!(!holds(c, &all[..2]));
    }

    #[test]
    fn variables_in_values() {
        let c = json!({"StringLike": {"s3:prefix": "home/${aws:userid}/*"}});
        assert!(holds(
            c.clone(),
            &[
                ("aws:userid", "123456789012"),
                ("s3:prefix", "home/123456789012/x")
            ]
        ));
        assert!(!holds(c, &[("aws:userid", "1"), ("s3:prefix", "home/2/x")]));
    }

    #[test]
    fn bad_values() {
        for block in [
            json!([]),
            json!({"StringEquals": "x"}),
            json!({"StringEquals": {"s3:prefix": null}}),
            json!({"StringEquals": {"s3:prefix": []}}),
            json!({"StringEquals": {"s3:prefix": [{"a": 1}]}}),
        ] {
            assert_eq!(
                parse_block(&block, true).unwrap_err(),
                PolicyError::InvalidSyntax,
                "{block}"
            );
        }
        assert_eq!(
            parse_block(&json!({"StringEquals": {"s3:VersionStatus": "x"}}), true).unwrap_err(),
            PolicyError::InvalidConditionKey
        );
    }
}
