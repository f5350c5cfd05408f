//! Bucket lifecycle configuration: the `LifecycleConfiguration` document in
//! and out, and the `x-amz-expiration` header. The rules themselves, and the
//! background pass that applies them, live in `nomuck_storage::lifecycle`.

use http::StatusCode;
use nomuck_meta::Millis;
use nomuck_storage::Storage;
use nomuck_storage::lifecycle::{
    Expiration, Filter, FilterForm, Lifecycle, NoncurrentExpiration, Rule,
};

use crate::xml::{Element, XmlWriter, parse};
use crate::{S3Error, S3Request, S3Result, reply, storage_error};

const MS_PER_DAY: Millis = 86_400_000;

fn malformed() -> S3Error {
    S3Error::malformed_xml()
}

fn number<T: std::str::FromStr>(e: &Element, name: &str) -> Result<Option<T>, S3Error> {
    e.child_text(name)
        .map(|t| t.trim().parse().map_err(|_| malformed()))
        .transpose()
}

/// `Date`: midnight UTC, as `2030-01-01` or an ISO 8601 timestamp.
fn parse_date(text: &str) -> Result<Millis, S3Error> {
    use time::format_description::well_known::Rfc3339;
    let text = text.trim();
    let at = match time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    ) {
        Ok(d) => d.midnight().assume_utc(),
        Err(_) => time::OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
            S3Error::invalid_argument().with_message("'Date' must be in ISO 8601 format")
        })?,
    };
    let ms = i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| S3Error::invalid_argument().with_message("'Date' is out of range"))?;
    if ms % MS_PER_DAY != 0 {
        return Err(S3Error::invalid_argument().with_message("'Date' must be at midnight GMT"));
    }
    Ok(ms)
}

fn parse_tag(e: &Element) -> Result<(String, String), S3Error> {
    Ok((
        e.child_text("Key").ok_or_else(malformed)?.to_owned(),
        e.child_text("Value").unwrap_or("").to_owned(),
    ))
}

/// The conditions of a `<Filter>` or of its `<And>`.
fn parse_conditions(e: &Element, filter: &mut Filter) -> Result<(), S3Error> {
    if let Some(p) = e.child_text("Prefix") {
        filter.prefix = Some(p.to_owned());
    }
    for tag in e.children_named("Tag") {
        filter.tags.push(parse_tag(tag)?);
    }
    filter.size_greater_than = number(e, "ObjectSizeGreaterThan")?;
    filter.size_less_than = number(e, "ObjectSizeLessThan")?;
    Ok(())
}

fn parse_filter(rule: &Element) -> Result<Filter, S3Error> {
    match (rule.child("Filter"), rule.child_text("Prefix")) {
        (Some(_), Some(_)) => Err(malformed()),
        (None, Some(prefix)) => Ok(Filter {
            prefix: Some(prefix.to_owned()),
            form: FilterForm::RulePrefix,
            ..Filter::default()
        }),
        (None, None) => Err(malformed()),
        (Some(f), None) => {
            let mut filter = Filter::default();
            if let Some(and) = f.child("And") {
                if f.children.len() > 1 {
                    return Err(malformed());
                }
                filter.form = FilterForm::And;
                parse_conditions(and, &mut filter)?;
            } else {
                parse_conditions(f, &mut filter)?;
            }
            Ok(filter)
        }
    }
}

/// The storage classes a lifecycle transition may name in S3.
const TRANSITION_CLASSES: &[&str] = &[
    "GLACIER",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
];

/// A `<Transition>` (`days_name` = `Days`) or `<NoncurrentVersionTransition>`
/// (`NoncurrentDays`) as S3 validates it: a known storage class and exactly one time.
fn validate_transition(t: &Element, days_name: &str) -> Result<(), S3Error> {
    let class = t.child_text("StorageClass").map(str::trim);
    if !class.is_some_and(|c| TRANSITION_CLASSES.contains(&c)) {
        return Err(
            S3Error::invalid_argument().with_message("Invalid storage class in a transition")
        );
    }
    let days: Option<u32> = number(t, days_name)?;
    let date = match (days_name, t.child_text("Date")) {
        ("Days", Some(text)) => Some(parse_date(text)?),
        _ => None,
    };
    match (days, date) {
        (Some(_), None) | (None, Some(_)) => Ok(()),
        _ => Err(malformed()),
    }
}

fn parse_rule(e: &Element, n: usize) -> Result<Rule, S3Error> {
    let enabled = match e.child_text("Status").map(str::trim) {
        Some("Enabled") => true,
        Some("Disabled") => false,
        _ => return Err(malformed()),
    };
    // A transition is refused as not built, but only once it is valid: a malformed
    // one gets the error S3 would give it, so a client learns what is wrong first.
    let transitions = e.children_named("Transition").map(|t| (t, "Days"));
    let noncurrent = e
        .children_named("NoncurrentVersionTransition")
        .map(|t| (t, "NoncurrentDays"));
    let mut any_transition = false;
    for (t, days_name) in transitions.chain(noncurrent) {
        validate_transition(t, days_name)?;
        any_transition = true;
    }
    if any_transition {
        return Err(S3Error::not_implemented()
            .with_message("Transitions are not supported: nomuck has a single storage class"));
    }
    let expiration = match e.child("Expiration") {
        None => None,
        Some(x) => {
            let days: Option<u32> = number(x, "Days")?;
            let date = x.child_text("Date").map(parse_date).transpose()?;
            let marker = match x.child_text("ExpiredObjectDeleteMarker").map(str::trim) {
                Some("true") => true,
                Some("false") | None => false,
                Some(_) => return Err(malformed()),
            };
            match (days, date, marker) {
                (Some(d), None, false) => Some(Expiration::Days(d)),
                (None, Some(at), false) => Some(Expiration::Date(at)),
                (None, None, true) => Some(Expiration::ExpiredObjectDeleteMarker),
                // `<ExpiredObjectDeleteMarker>false` alone asks for nothing.
                (None, None, false) => None,
                _ => return Err(malformed()),
            }
        }
    };
    let noncurrent = match e.child("NoncurrentVersionExpiration") {
        None => None,
        Some(x) => Some(NoncurrentExpiration {
            days: number(x, "NoncurrentDays")?.ok_or_else(malformed)?,
            newer_versions_kept: number(x, "NewerNoncurrentVersions")?,
        }),
    };
    let abort_incomplete_after_days = match e.child("AbortIncompleteMultipartUpload") {
        None => None,
        Some(x) => Some(number(x, "DaysAfterInitiation")?.ok_or_else(malformed)?),
    };
    Ok(Rule {
        // S3 names unnamed rules itself.
        id: match e.child_text("ID") {
            Some(id) => id.to_owned(),
            None => format!("rule-{}", n + 1),
        },
        enabled,
        filter: parse_filter(e)?,
        expiration,
        noncurrent,
        abort_incomplete_after_days,
    })
}

pub fn parse_lifecycle(body: &[u8]) -> Result<Lifecycle, S3Error> {
    let doc = parse(body)?;
    if doc.name != "LifecycleConfiguration" {
        return Err(malformed());
    }
    let rules = doc
        .children_named("Rule")
        .enumerate()
        .map(|(n, r)| parse_rule(r, n))
        .collect::<Result<Vec<_>, _>>()?;
    if rules.is_empty() {
        return Err(malformed());
    }
    Ok(Lifecycle { rules })
}

fn write_conditions(w: &mut XmlWriter, f: &Filter) {
    w.opt("Prefix", f.prefix.as_deref());
    for (k, v) in &f.tags {
        w.open("Tag").elem("Key", k).elem("Value", v).close("Tag");
    }
    if let Some(n) = f.size_greater_than {
        w.elem("ObjectSizeGreaterThan", &n.to_string());
    }
    if let Some(n) = f.size_less_than {
        w.elem("ObjectSizeLessThan", &n.to_string());
    }
}

pub fn render_lifecycle(lc: &Lifecycle) -> String {
    let mut w = XmlWriter::new("LifecycleConfiguration");
    for r in &lc.rules {
        w.open("Rule").elem("ID", &r.id);
        match r.filter.form {
            FilterForm::RulePrefix => {
                w.elem("Prefix", r.filter.prefix());
            }
            FilterForm::Filter => {
                w.open("Filter");
                write_conditions(&mut w, &r.filter);
                w.close("Filter");
            }
            FilterForm::And => {
                w.open("Filter").open("And");
                write_conditions(&mut w, &r.filter);
                w.close("And").close("Filter");
            }
        }
        w.elem("Status", if r.enabled { "Enabled" } else { "Disabled" });
        if let Some(x) = &r.expiration {
            w.open("Expiration");
            match x {
                Expiration::Days(d) => w.elem("Days", &d.to_string()),
                Expiration::Date(at) => w.elem("Date", &reply::iso8601(*at)),
                Expiration::ExpiredObjectDeleteMarker => {
                    w.elem("ExpiredObjectDeleteMarker", "true")
                }
            };
            w.close("Expiration");
        }
        if let Some(nc) = &r.noncurrent {
            w.open("NoncurrentVersionExpiration")
                .elem("NoncurrentDays", &nc.days.to_string());
            if let Some(n) = nc.newer_versions_kept {
                w.elem("NewerNoncurrentVersions", &n.to_string());
            }
            w.close("NoncurrentVersionExpiration");
        }
        if let Some(d) = r.abort_incomplete_after_days {
            w.open("AbortIncompleteMultipartUpload")
                .elem("DaysAfterInitiation", &d.to_string())
                .close("AbortIncompleteMultipartUpload");
        }
        w.close("Rule");
    }
    w.finish("LifecycleConfiguration")
}

pub(crate) async fn put_bucket_lifecycle(s: &Storage, req: &mut S3Request) -> S3Result {
    let lifecycle = parse_lifecycle(&req.body_bytes().await?)?;
    s.put_bucket_lifecycle(&req.caller, req.bucket(), &lifecycle)
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::OK))
}

pub(crate) async fn get_bucket_lifecycle(s: &Storage, req: &mut S3Request) -> S3Result {
    let lifecycle = s
        .get_bucket_lifecycle(&req.caller, req.bucket())
        .await
        .map_err(storage_error)?;
    Ok(reply::xml(StatusCode::OK, render_lifecycle(&lifecycle)))
}

pub(crate) async fn delete_bucket_lifecycle(s: &Storage, req: &mut S3Request) -> S3Result {
    s.delete_bucket_lifecycle(&req.caller, req.bucket())
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

/// `x-amz-expiration: expiry-date="…", rule-id="…"`.
pub(crate) fn set_expiration(
    response: &mut nomuck_http::Response,
    expiry: Option<&nomuck_storage::Expiry>,
) {
    if let Some(e) = expiry {
        let rule_id = e.rule_id.replace('\\', "\\\\").replace('"', "\\\"");
        let value = format!(
            "expiry-date=\"{}\", rule-id=\"{rule_id}\"",
            reply::http_date(e.at)
        );
        reply::set(response, "x-amz-expiration", &value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
      <Rule><ID>legacy</ID><Prefix>logs/</Prefix><Status>Enabled</Status>
        <Expiration><Days>30</Days></Expiration></Rule>
      <Rule><ID>and</ID><Filter><And><Prefix>a/</Prefix>
          <Tag><Key>k</Key><Value>v</Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan>
        </And></Filter><Status>Disabled</Status>
        <NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays>
          <NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration>
        <AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload>
      </Rule>
      <Rule><Filter></Filter><Status>Enabled</Status>
        <Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration></Rule>
    </LifecycleConfiguration>"#;

    #[test]
    fn round_trips_every_form() {
        let lc = parse_lifecycle(DOC.as_bytes()).unwrap();
        assert_eq!(lc.rules.len(), 3);
        assert_eq!(lc.rules[0].filter.form, FilterForm::RulePrefix);
        assert_eq!(
            lc.rules[1].filter.tags,
            [("k".to_string(), "v".to_string())]
        );
        assert_eq!(lc.rules[1].filter.size_greater_than, Some(10));
        assert_eq!(lc.rules[2].id, "rule-3");
        assert_eq!(
            lc.rules[2].expiration,
            Some(Expiration::Date(1_893_456_000_000))
        );
        let again = parse_lifecycle(render_lifecycle(&lc).as_bytes()).unwrap();
        assert_eq!(again, lc);
    }

    #[test]
    fn refuses_what_s3_refuses() {
        let code = |doc: &str| parse_lifecycle(doc.as_bytes()).unwrap_err().code;
        let rule = |inner: &str| {
            format!("<LifecycleConfiguration><Rule>{inner}</Rule></LifecycleConfiguration>")
        };
        assert_eq!(
            code(&rule(
                "<Prefix/><Status>enabled</Status><Expiration><Days>1</Days></Expiration>"
            )),
            "MalformedXML"
        );
        assert_eq!(
            code(&rule(
                "<Prefix/><Status>Enabled</Status><Expiration><Date>2020-01-01T05:00:00Z</Date></Expiration>"
            )),
            "InvalidArgument"
        );
        assert_eq!(
            code(&rule(
                "<Status>Enabled</Status><Expiration><Days>1</Days></Expiration>"
            )),
            "MalformedXML"
        );
        assert_eq!(
            code(&rule(
                "<Prefix/><Status>Enabled</Status><Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition>"
            )),
            "NotImplemented"
        );
        // An invalid transition gets S3's error, not NotImplemented.
        for (transition, expected) in [
            (
                "<Transition><Date>1970-08-23T00:55:27Z</Date><StorageClass>GLACIER</StorageClass></Transition>",
                "InvalidArgument",
            ),
            (
                "<Transition><Days>1</Days><StorageClass>PLATINUM</StorageClass></Transition>",
                "InvalidArgument",
            ),
            (
                "<Transition><StorageClass>GLACIER</StorageClass></Transition>",
                "MalformedXML",
            ),
            (
                "<NoncurrentVersionTransition><StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition>",
                "MalformedXML",
            ),
        ] {
            assert_eq!(
                code(&rule(&format!(
                    "<Prefix/><Status>Enabled</Status>{transition}"
                ))),
                expected,
                "{transition}"
            );
        }
        assert_eq!(code("<LifecycleConfiguration/>"), "MalformedXML");
    }
}
