//! `PutBucketPolicy` validation: JSON text to [`Policy`].
//!
//! Checks run in document structure order (size, first byte, JSON, top-level
//! fields, then each statement's fields, effect, principal, action, resource,
//! condition, and finally whether the actions fit the resources), so a document
//! with several faults reports the first one met.

use serde_json::{Map, Value};

use super::condition;
use super::{
    Effect, Element, MAX_POLICY_SIZE, Policy, PolicyError, PolicyVersion, PrincipalSpec, Statement,
    public,
};
use crate::action::{Action, ResourceKind};
use crate::context::is_account_id;
use crate::pattern::{Pattern, glob};

const S3_ARN_PREFIX: &str = "arn:aws:s3:::";

const STATEMENT_FIELDS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// Which kind of resource policy is parsed: the grammar is IAM's for both,
/// the actions and resources each may name differ.
#[derive(Debug, Clone, Copy)]
pub(super) enum Dialect<'a> {
    /// A bucket policy of this bucket: S3 actions on its ARNs.
    Bucket(&'a str),
    /// A KMS key policy: `kms:` actions on any resource (`*` in practice).
    Key,
}

pub(super) fn parse(text: &str, dialect: Dialect<'_>) -> Result<Policy, PolicyError> {
    let max = match dialect {
        Dialect::Bucket(_) => MAX_POLICY_SIZE,
        Dialect::Key => super::key::MAX_KEY_POLICY_SIZE,
    };
    if normalized_len(text) > max {
        return Err(PolicyError::TooLarge);
    }
    if !text.starts_with('{') {
        return Err(PolicyError::NotAnObject);
    }
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(text) else {
        return Err(PolicyError::InvalidJson);
    };
    if let Some(field) = doc
        .keys()
        .find(|k| !matches!(k.as_str(), "Version" | "Id" | "Statement"))
    {
        return Err(PolicyError::UnknownField(field.clone()));
    }
    let version = match doc.get("Version") {
        None => PolicyVersion::V2008_10_17,
        Some(Value::String(v)) if v == "2008-10-17" => PolicyVersion::V2008_10_17,
        Some(Value::String(v)) if v == "2012-10-17" => PolicyVersion::V2012_10_17,
        Some(_) => return Err(PolicyError::InvalidVersion),
    };
    let id = match doc.get("Id") {
        None => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(PolicyError::InvalidSyntax),
    };
    let raw_statements = match doc.get("Statement") {
        None => return Err(PolicyError::MissingField("Statement")),
        Some(Value::Array(list)) if list.is_empty() => return Err(PolicyError::EmptyStatement),
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        Some(_) => return Err(PolicyError::InvalidSyntax),
    };
    let variables = version == PolicyVersion::V2012_10_17;
    let statements = raw_statements
        .into_iter()
        .map(|s| match s {
            Value::Object(map) => statement(map, dialect, variables),
            _ => Err(PolicyError::InvalidSyntax),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let public = statements.iter().any(public::is_public_statement);
    Ok(Policy {
        text: text.to_string(),
        version,
        id,
        statements,
        public,
    })
}

/// Byte length without JSON whitespace outside strings: S3 limits the size of
/// the normalized document, so indentation does not count.
pub(super) fn normalized_len(text: &str) -> usize {
    let (mut len, mut in_string, mut escaped) = (0usize, false, false);
    for b in text.bytes() {
        if in_string {
            len += 1;
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            len += 1;
            in_string = b == b'"';
        }
    }
    len
}

/// The element under `name` or its `Not` form; both at once is a syntax error.
fn either<'a>(
    map: &'a Map<String, Value>,
    name: &'static str,
    not_name: &str,
) -> Result<(bool, &'a Value), PolicyError> {
    match (map.get(name), map.get(not_name)) {
        (Some(v), None) => Ok((false, v)),
        (None, Some(v)) => Ok((true, v)),
        (Some(_), Some(_)) => Err(PolicyError::InvalidSyntax),
        (None, None) => Err(PolicyError::MissingField(name)),
    }
}

/// A string or a list of strings; `None` for any other JSON type.
fn strings(value: &Value) -> Option<Vec<&str>> {
    match value {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(items) => items.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

fn statement(
    map: &Map<String, Value>,
    dialect: Dialect<'_>,
    variables: bool,
) -> Result<Statement, PolicyError> {
    if let Some(field) = map.keys().find(|k| !STATEMENT_FIELDS.contains(&k.as_str())) {
        return Err(PolicyError::UnknownField(field.clone()));
    }
    let sid = match map.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(PolicyError::InvalidSyntax),
    };
    let effect = match map.get("Effect") {
        None => return Err(PolicyError::MissingField("Effect")),
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(Value::String(e)) => return Err(PolicyError::InvalidEffect(e.clone())),
        Some(_) => return Err(PolicyError::InvalidSyntax),
    };

    let (negated, value) = either(map, "Principal", "NotPrincipal")?;
    // S3 refuses NotPrincipal with Allow: it would grant everyone else.
    if negated && effect == Effect::Allow {
        return Err(PolicyError::InvalidPrincipal);
    }
    let principal = Element {
        negated,
        items: principals(value)?,
    };

    let (negated, value) = either(map, "Action", "NotAction")?;
    let actions = strings(value).ok_or(PolicyError::InvalidSyntax)?;
    if actions.is_empty() {
        return Err(PolicyError::InvalidAction);
    }
    let action_names: Vec<String> = actions.iter().map(|a| a.to_ascii_lowercase()).collect();
    if !action_names.iter().all(|a| names_an_action(a, dialect)) {
        return Err(PolicyError::InvalidAction);
    }
    let action_negated = negated;

    let (negated, value) = either(map, "Resource", "NotResource")?;
    let resources = strings(value).ok_or(PolicyError::InvalidSyntax)?;
    if resources.is_empty() {
        return Err(PolicyError::InvalidResource);
    }
    match dialect {
        Dialect::Bucket(bucket) => {
            let mut tails = Vec::with_capacity(resources.len());
            for r in &resources {
                tails.push(resource_tail(r, bucket).ok_or(PolicyError::InvalidResource)?);
            }
            if !action_negated && !negated {
                check_applicable(&action_names, &tails)?;
            }
        }
        // A key policy's resource is the key it is attached to; AWS accepts
        // `*` or an ARN, and matches it against the key's ARN.
        Dialect::Key => {
            if resources.iter().any(|r| r.is_empty()) {
                return Err(PolicyError::InvalidResource);
            }
        }
    }
    let resource = Element {
        negated,
        items: resources
            .iter()
            .map(|r| Pattern::parse(r, variables))
            .collect(),
    };

    let conditions = match map.get("Condition") {
        None => Vec::new(),
        Some(block) => condition::parse_block(block, variables)?,
    };

    Ok(Statement {
        sid,
        effect,
        principal,
        action: Element {
            negated: action_negated,
            items: action_names
                .iter()
                .map(|a| Pattern::parse(a, false))
                .collect(),
        },
        resource,
        conditions,
    })
}

/// Whether a lowercase action pattern names at least one known action of the
/// policy's service.
fn names_an_action(pattern: &str, dialect: Dialect<'_>) -> bool {
    match dialect {
        Dialect::Bucket(_) => Action::ALL
            .iter()
            .any(|a| glob(pattern, &a.name().to_ascii_lowercase())),
        Dialect::Key => super::key::KMS_ACTIONS
            .iter()
            .any(|a| glob(pattern, &a.to_ascii_lowercase())),
    }
}

fn principals(value: &Value) -> Result<Vec<PrincipalSpec>, PolicyError> {
    let map = match value {
        Value::String(s) if s == "*" => return Ok(vec![PrincipalSpec::Any]),
        Value::Object(map) if !map.is_empty() => map,
        _ => return Err(PolicyError::InvalidPrincipal),
    };
    let mut out = Vec::new();
    for (kind, ids) in map {
        let ids = strings(ids)
            .filter(|ids| !ids.is_empty())
            .ok_or(PolicyError::InvalidPrincipal)?;
        for id in ids {
            out.push(match kind.as_str() {
                "AWS" if id == "*" => PrincipalSpec::Any,
                "AWS" => aws_principal(id)
                    .map(|acct| PrincipalSpec::Account(acct.to_string()))
                    .ok_or(PolicyError::InvalidPrincipal)?,
                // nomuck's canonical user id is the account id.
                "CanonicalUser" if is_account_id(id) => PrincipalSpec::Account(id.to_string()),
                "Service" | "Federated" if !id.is_empty() && !id.contains(['*', '?']) => {
                    PrincipalSpec::Other
                }
                _ => return Err(PolicyError::InvalidPrincipal),
            });
        }
    }
    Ok(out)
}

/// `123456789012`, `arn:aws:iam::123456789012:root`, or any IAM / STS ARN in that
/// account (users, roles, sessions): all mean the account, as nomuck has no users.
fn aws_principal(s: &str) -> Option<&str> {
    if is_account_id(s) {
        return Some(s);
    }
    let rest = s
        .strip_prefix("arn:aws:iam::")
        .or_else(|| s.strip_prefix("arn:aws:sts::"))?;
    let (account, name) = rest.split_once(':')?;
    // IAM: a wildcard cannot match part of a principal.
    (is_account_id(account) && !name.is_empty() && !name.contains(['*', '?'])).then_some(account)
}

/// The part after `arn:aws:s3:::`, if the resource is in `bucket` (its bucket
/// part, before the first `/`, may be a wildcard matching the bucket).
fn resource_tail<'a>(resource: &'a str, bucket: &str) -> Option<&'a str> {
    let tail = resource.strip_prefix(S3_ARN_PREFIX)?;
    let bucket_part = tail.split('/').next().unwrap_or_default();
    (!bucket_part.is_empty() && glob(bucket_part, bucket)).then_some(tail)
}

/// S3 refuses a statement naming an action none of its resources can be: an
/// object action needs an object ARN (`bucket/...`, or `*`), a bucket action a
/// bucket ARN, and account actions never fit a bucket policy. Wildcard actions
/// are not checked.
fn check_applicable(actions: &[String], tails: &[&str]) -> Result<(), PolicyError> {
    let has_object = tails.iter().any(|t| *t == "*" || t.contains('/'));
    let has_bucket = tails.iter().any(|t| !t.contains('/'));
    for name in actions.iter().filter(|a| !a.contains(['*', '?'])) {
        let fits = match Action::from_name(name).map(Action::resource_kind) {
            Some(ResourceKind::Object) => has_object,
            Some(ResourceKind::Bucket) => has_bucket,
            Some(ResourceKind::Account) | None => false,
        };
        if !fits {
            return Err(PolicyError::ActionResourceMismatch);
        }
    }
    Ok(())
}
