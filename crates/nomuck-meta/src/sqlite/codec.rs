//! JSON encodings of the object columns that hold structured values
//! (`headers`, `tags`). JSON so the database stays inspectable and new header
//! fields can be added without a migration (absent fields decode as `None`).

use serde::{Deserialize, Serialize};

use crate::MetaError;
use crate::storage::{LockMode, ObjectHeaders, ObjectLock, Retention};

#[derive(Serialize, Deserialize, Default)]
struct HeadersDoc {
    #[serde(rename = "ct", default, skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    #[serde(rename = "ce", default, skip_serializing_if = "Option::is_none")]
    content_encoding: Option<String>,
    #[serde(rename = "cd", default, skip_serializing_if = "Option::is_none")]
    content_disposition: Option<String>,
    #[serde(rename = "cl", default, skip_serializing_if = "Option::is_none")]
    content_language: Option<String>,
    #[serde(rename = "cc", default, skip_serializing_if = "Option::is_none")]
    cache_control: Option<String>,
    #[serde(rename = "ex", default, skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
    /// Pairs, not a map: order is preserved.
    #[serde(rename = "um", default, skip_serializing_if = "Vec::is_empty")]
    user_metadata: Vec<(String, String)>,
}

fn corrupt(what: &str, e: serde_json::Error) -> MetaError {
    MetaError::Corrupt(format!("stored {what} do not decode: {e}"))
}

pub(super) fn encode_headers(h: &ObjectHeaders) -> Result<String, MetaError> {
    let doc = HeadersDoc {
        content_type: h.content_type.clone(),
        content_encoding: h.content_encoding.clone(),
        content_disposition: h.content_disposition.clone(),
        content_language: h.content_language.clone(),
        cache_control: h.cache_control.clone(),
        expires: h.expires.clone(),
        user_metadata: h.user_metadata.clone(),
    };
    serde_json::to_string(&doc).map_err(|e| MetaError::Internal(e.to_string()))
}

pub(super) fn decode_headers(s: &str) -> Result<ObjectHeaders, MetaError> {
    let d: HeadersDoc = serde_json::from_str(s).map_err(|e| corrupt("headers", e))?;
    Ok(ObjectHeaders {
        content_type: d.content_type,
        content_encoding: d.content_encoding,
        content_disposition: d.content_disposition,
        content_language: d.content_language,
        cache_control: d.cache_control,
        expires: d.expires,
        user_metadata: d.user_metadata,
    })
}

/// `None` for no tags, so untagged rows store NULL.
pub(super) fn encode_tags(tags: &[(String, String)]) -> Result<Option<String>, MetaError> {
    if tags.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(tags)
        .map(Some)
        .map_err(|e| MetaError::Internal(e.to_string()))
}

pub(super) fn decode_tags(s: Option<&str>) -> Result<Vec<(String, String)>, MetaError> {
    match s {
        None => Ok(Vec::new()),
        Some(s) => serde_json::from_str(s).map_err(|e| corrupt("tags", e)),
    }
}

/// The `(lock_mode, lock_until, legal_hold)` columns of an object or upload.
pub(super) type LockCols = (Option<String>, Option<i64>, bool);

pub(super) fn encode_lock(l: &ObjectLock) -> (Option<&'static str>, Option<i64>, bool) {
    (
        l.retention.map(|r| r.mode.as_str()),
        l.retention.map(|r| r.until),
        l.legal_hold,
    )
}

pub(super) fn decode_lock((mode, until, legal_hold): LockCols) -> Result<ObjectLock, MetaError> {
    let retention = match (mode, until) {
        (None, _) => None,
        (Some(m), Some(until)) => Some(Retention {
            mode: LockMode::parse(&m)
                .ok_or_else(|| MetaError::Corrupt(format!("stored lock mode {m:?} is unknown")))?,
            until,
        }),
        (Some(_), None) => {
            return Err(MetaError::Corrupt(
                "stored lock mode has no retain-until date".into(),
            ));
        }
    };
    Ok(ObjectLock {
        retention,
        legal_hold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_stay_small() {
        let empty = ObjectHeaders::default();
        assert_eq!(encode_headers(&empty).unwrap(), "{}");
        let h = ObjectHeaders {
            content_type: Some("text/plain; charset=utf-8".into()),
            expires: Some("Thu, 01 Dec 1994 16:00:00 GMT".into()),
            user_metadata: vec![("z".into(), "1".into()), ("a".into(), "ü \"q\"".into())],
            ..ObjectHeaders::default()
        };
        assert_eq!(decode_headers(&encode_headers(&h).unwrap()).unwrap(), h);
        assert!(matches!(decode_headers("nope"), Err(MetaError::Corrupt(_))));
    }

    #[test]
    fn tags_round_trip() {
        assert_eq!(encode_tags(&[]).unwrap(), None);
        let t = vec![
            ("k".to_owned(), "v".to_owned()),
            ("a".into(), String::new()),
        ];
        let enc = encode_tags(&t).unwrap();
        assert_eq!(decode_tags(enc.as_deref()).unwrap(), t);
        assert_eq!(decode_tags(None).unwrap(), vec![]);
    }
}
