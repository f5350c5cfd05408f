//! Object Lock on the wire: `?object-lock` (bucket configuration),
//! `?retention` and `?legal-hold` (per version), the `x-amz-object-lock-*`
//! write headers and the lock headers GET and HEAD return.

use http::{HeaderMap, StatusCode};
use nomuck_storage::{
    DefaultRetention, LockConfig, LockMode, LockRequest, ObjectLock, Retention, RetentionPeriod,
    Storage,
};

use crate::error::S3Error;
use crate::headers;
use crate::reply::{self, iso8601};
use crate::xml::{Element, XmlWriter, parse};
use crate::{S3Request, S3Result, storage_error};

/// `RetainUntilDate` / `x-amz-object-lock-retain-until-date`: ISO 8601.
fn parse_date(text: &str) -> Option<i64> {
    use time::format_description::well_known::Iso8601;
    let at = time::OffsetDateTime::parse(text.trim(), &Iso8601::DEFAULT).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Whole days from now to an ISO 8601 date, rounded up (none for a past or
/// unreadable date): `s3:object-lock-remaining-retention-days`.
pub fn remaining_days(date: &str) -> Option<i64> {
    const DAY_MS: i64 = 86_400_000;
    let until = parse_date(date)?;
    let now =
        i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).ok()?;
    let left = until.checked_sub(now).filter(|ms| *ms > 0)?;
    Some((left + DAY_MS - 1) / DAY_MS)
}

/// The mode as S3 spells it (upper case only; anything else is malformed).
fn parse_mode(text: &str) -> Option<LockMode> {
    LockMode::parse(text.trim())
}

/// `ON` / `OFF`.
fn parse_hold(text: &str) -> Option<bool> {
    match text.trim() {
        "ON" => Some(true),
        "OFF" => Some(false),
        _ => None,
    }
}

/// The `x-amz-object-lock-*` headers of a write: mode and date both or
/// neither, as S3 requires.
pub fn lock_request(h: &HeaderMap) -> Result<LockRequest, S3Error> {
    let text = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
    let invalid = |m: &str| S3Error::invalid_argument().with_message(m.to_owned());
    let retention = match (
        text("x-amz-object-lock-mode"),
        text("x-amz-object-lock-retain-until-date"),
    ) {
        (None, None) => None,
        (Some(m), Some(d)) => Some(Retention {
            mode: parse_mode(m).ok_or_else(|| invalid("Unknown wormMode directive."))?,
            until: parse_date(d).ok_or_else(|| {
                invalid("The retain until date must be provided in ISO 8601 format")
            })?,
        }),
        _ => {
            return Err(invalid(
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ));
        }
    };
    let legal_hold = text("x-amz-object-lock-legal-hold")
        .map(|v| parse_hold(v).ok_or_else(|| invalid("Legal Hold must be either of 'ON' or 'OFF'")))
        .transpose()?;
    Ok(LockRequest {
        retention,
        legal_hold,
    })
}

/// `x-amz-bypass-governance-retention: true`.
pub fn bypass_requested(h: &HeaderMap) -> bool {
    h.get("x-amz-bypass-governance-retention")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The lock headers of GET / HEAD.
pub fn set_lock_headers(response: &mut nomuck_http::Response, lock: &ObjectLock) {
    if let Some(r) = lock.retention {
        reply::set(response, "x-amz-object-lock-mode", r.mode.as_str());
        reply::set(
            response,
            "x-amz-object-lock-retain-until-date",
            &iso8601(r.until),
        );
    }
    if lock.legal_hold {
        reply::set(response, "x-amz-object-lock-legal-hold", "ON");
    }
}

fn number(e: &Element, name: &str) -> Result<Option<i64>, S3Error> {
    e.child_text(name)
        .map(|t| {
            t.trim()
                .parse::<i64>()
                .map_err(|_| S3Error::malformed_xml())
        })
        .transpose()
}

fn invalid_period() -> S3Error {
    S3Error::new(
        StatusCode::BAD_REQUEST,
        "InvalidRetentionPeriod",
        "Default retention period must be a positive integer value.",
    )
}

/// An `ObjectLockConfiguration` document.
fn parse_config(body: &[u8]) -> Result<LockConfig, S3Error> {
    let doc = parse(body)?;
    if doc.name != "ObjectLockConfiguration"
        || doc.child_text("ObjectLockEnabled").map(str::trim) != Some("Enabled")
    {
        return Err(S3Error::malformed_xml());
    }
    let Some(rule) = doc.child("Rule") else {
        return Ok(LockConfig::default());
    };
    let d = rule
        .child("DefaultRetention")
        .ok_or_else(S3Error::malformed_xml)?;
    let mode = d
        .child_text("Mode")
        .and_then(parse_mode)
        .ok_or_else(S3Error::malformed_xml)?;
    let period = match (number(d, "Days")?, number(d, "Years")?) {
        (Some(n), None) => RetentionPeriod::Days(
            u32::try_from(n)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(invalid_period)?,
        ),
        (None, Some(n)) => RetentionPeriod::Years(
            u32::try_from(n)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(invalid_period)?,
        ),
        // Exactly one of the two.
        _ => return Err(S3Error::malformed_xml()),
    };
    Ok(LockConfig {
        default_retention: Some(DefaultRetention { mode, period }),
    })
}

pub async fn put_object_lock_configuration(s: &Storage, req: &mut S3Request) -> S3Result {
    headers::require_body_digest(&req.head.headers)?;
    let config = parse_config(&req.body_bytes().await?)?;
    s.put_object_lock_configuration(&req.caller, req.bucket(), config)
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::OK))
}

pub async fn get_object_lock_configuration(s: &Storage, req: &mut S3Request) -> S3Result {
    let config = s
        .get_object_lock_configuration(&req.caller, req.bucket())
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("ObjectLockConfiguration");
    w.elem("ObjectLockEnabled", "Enabled");
    if let Some(d) = config.default_retention {
        w.open("Rule")
            .open("DefaultRetention")
            .elem("Mode", d.mode.as_str());
        match d.period {
            RetentionPeriod::Days(n) => w.elem("Days", &n.to_string()),
            RetentionPeriod::Years(n) => w.elem("Years", &n.to_string()),
        };
        w.close("DefaultRetention").close("Rule");
    }
    Ok(reply::xml(
        StatusCode::OK,
        w.finish("ObjectLockConfiguration"),
    ))
}

fn with_version(
    mut response: nomuck_http::Response,
    version: Option<&str>,
) -> nomuck_http::Response {
    if let Some(v) = version {
        reply::set(&mut response, "x-amz-version-id", v);
    }
    response
}

pub async fn put_object_retention(s: &Storage, req: &mut S3Request) -> S3Result {
    headers::require_body_digest(&req.head.headers)?;
    let doc = parse(&req.body_bytes().await?)?;
    if doc.name != "Retention" {
        return Err(S3Error::malformed_xml());
    }
    // An empty Retention removes it (GOVERNANCE with bypass only).
    let retention = match (doc.child_text("Mode"), doc.child_text("RetainUntilDate")) {
        (None, None) => None,
        (Some(m), Some(d)) => Some(Retention {
            mode: parse_mode(m).ok_or_else(S3Error::malformed_xml)?,
            until: parse_date(d).ok_or_else(S3Error::malformed_xml)?,
        }),
        _ => return Err(S3Error::malformed_xml()),
    };
    let bypass = bypass_requested(&req.head.headers);
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let version = s
        .put_object_retention(
            &req.caller,
            &bucket,
            &key,
            req.param("versionId"),
            retention,
            bypass,
        )
        .await
        .map_err(storage_error)?;
    Ok(with_version(
        reply::empty(StatusCode::OK),
        version.as_deref(),
    ))
}

pub async fn get_object_retention(s: &Storage, req: &mut S3Request) -> S3Result {
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let r = s
        .get_object_retention(&req.caller, &bucket, &key, req.param("versionId"))
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("Retention");
    w.elem("Mode", r.mode.as_str())
        .elem("RetainUntilDate", &iso8601(r.until));
    Ok(reply::xml(StatusCode::OK, w.finish("Retention")))
}

pub async fn put_object_legal_hold(s: &Storage, req: &mut S3Request) -> S3Result {
    headers::require_body_digest(&req.head.headers)?;
    let doc = parse(&req.body_bytes().await?)?;
    if doc.name != "LegalHold" {
        return Err(S3Error::malformed_xml());
    }
    let on = doc
        .child_text("Status")
        .and_then(parse_hold)
        .ok_or_else(S3Error::malformed_xml)?;
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let version = s
        .put_object_legal_hold(&req.caller, &bucket, &key, req.param("versionId"), on)
        .await
        .map_err(storage_error)?;
    Ok(with_version(
        reply::empty(StatusCode::OK),
        version.as_deref(),
    ))
}

pub async fn get_object_legal_hold(s: &Storage, req: &mut S3Request) -> S3Result {
    let (bucket, key) = (req.bucket().to_owned(), req.key().to_owned());
    let on = s
        .get_object_legal_hold(&req.caller, &bucket, &key, req.param("versionId"))
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("LegalHold");
    w.elem("Status", if on { "ON" } else { "OFF" });
    Ok(reply::xml(StatusCode::OK, w.finish("LegalHold")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn heads(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(*n, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn write_headers_need_mode_and_date_together() {
        assert!(lock_request(&heads(&[])).unwrap().is_empty());
        let r = lock_request(&heads(&[
            ("x-amz-object-lock-mode", "COMPLIANCE"),
            (
                "x-amz-object-lock-retain-until-date",
                "2030-01-01T00:00:00Z",
            ),
            ("x-amz-object-lock-legal-hold", "ON"),
        ]))
        .unwrap();
        assert_eq!(r.retention.unwrap().mode, LockMode::Compliance);
        assert_eq!(r.retention.unwrap().until, 1_893_456_000_000);
        assert_eq!(r.legal_hold, Some(true));
        assert!(lock_request(&heads(&[("x-amz-object-lock-mode", "GOVERNANCE")])).is_err());
        assert!(
            lock_request(&heads(&[
                ("x-amz-object-lock-mode", "governance"),
                (
                    "x-amz-object-lock-retain-until-date",
                    "2030-01-01T00:00:00Z"
                ),
            ]))
            .is_err()
        );
        assert!(lock_request(&heads(&[("x-amz-object-lock-legal-hold", "on")])).is_err());
    }

    #[test]
    fn configuration_documents() {
        let doc = |rule: &str| {
            format!(
                "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>{rule}</ObjectLockConfiguration>"
            )
        };
        assert_eq!(
            parse_config(doc("").as_bytes()).unwrap(),
            LockConfig::default()
        );
        let c = parse_config(
            doc("<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule>")
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            c.default_retention.unwrap().period,
            RetentionPeriod::Days(1)
        );
        let code = |rule: &str| parse_config(doc(rule).as_bytes()).unwrap_err().code;
        assert_eq!(
            code(
                "<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule>"
            ),
            "MalformedXML"
        );
        assert_eq!(
            code(
                "<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>0</Days></DefaultRetention></Rule>"
            ),
            "InvalidRetentionPeriod"
        );
        assert_eq!(
            code(
                "<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Years>-1</Years></DefaultRetention></Rule>"
            ),
            "InvalidRetentionPeriod"
        );
        assert_eq!(
            code(
                "<Rule><DefaultRetention><Mode>abc</Mode><Years>1</Years></DefaultRetention></Rule>"
            ),
            "MalformedXML"
        );
        let disabled = "<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>";
        assert_eq!(
            parse_config(disabled.as_bytes()).unwrap_err().code,
            "MalformedXML"
        );
    }
}
