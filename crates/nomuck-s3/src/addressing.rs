//! Which bucket and key a request addresses: virtual-hosted style
//! (`BUCKET.localhost:2006/KEY`) when the Host header ends in one of the configured
//! domains, path style (`/BUCKET/KEY`) otherwise.

use http::StatusCode;
use percent_encoding::percent_decode_str;

use crate::error::S3Error;

/// Longest key S3 accepts, in bytes of UTF-8.
pub const MAX_KEY_LEN: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/`: the service (ListBuckets).
    Service,
    Bucket(String),
    Object {
        bucket: String,
        key: String,
    },
}

impl Target {
    /// The `Resource` of error documents.
    pub fn resource(&self) -> String {
        match self {
            Target::Service => "/".into(),
            Target::Bucket(b) => format!("/{b}"),
            Target::Object { bucket, key } => format!("/{bucket}/{key}"),
        }
    }

    pub fn bucket(&self) -> Option<&str> {
        match self {
            Target::Service => None,
            Target::Bucket(b) | Target::Object { bucket: b, .. } => Some(b),
        }
    }
}

/// Work out the target from the Host header and the raw (still encoded) path.
pub fn parse_target(
    host: Option<&str>,
    raw_path: &str,
    domains: &[String],
) -> Result<Target, S3Error> {
    let vhost_bucket = host.and_then(|h| bucket_from_host(h, domains));
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    match vhost_bucket {
        Some(bucket) => {
            if path.is_empty() {
                Ok(Target::Bucket(bucket))
            } else {
                Ok(Target::Object {
                    bucket,
                    key: decode_key(path)?,
                })
            }
        }
        None => {
            let (bucket, key) = match path.split_once('/') {
                Some((bucket, key)) => (bucket, Some(key)),
                None => (path, None),
            };
            match (bucket.is_empty(), key) {
                (true, None) => return Ok(Target::Service),
                // `//bucket/key`: the first segment names the bucket, and it is
                // empty. Neither ListBuckets (another operation than the one
                // asked for) nor `bucket/key` (S3 keys may begin with `/`).
                (true, Some(_)) => {
                    return Err(S3Error::invalid_bucket_name().with("BucketName", ""));
                }
                (false, _) => {}
            }
            let bucket = decode(bucket)?;
            match key {
                // `/bucket/` addresses the bucket, as AWS treats it.
                None | Some("") => Ok(Target::Bucket(bucket)),
                Some(key) => Ok(Target::Object {
                    bucket,
                    key: decode_key(key)?,
                }),
            }
        }
    }
}

/// Query parameters that are part of a SigV2 canonical resource.
const SIGV2_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// The SigV2 canonical resource: the path as sent, prefixed by the bucket for
/// virtual-hosted requests, plus the signed subresources in name order with their
/// values decoded.
pub fn sigv2_resource(head: &http::request::Parts, domains: &[String]) -> String {
    let host = head
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let mut resource = match host.and_then(|h| bucket_from_host(h, domains)) {
        Some(bucket) => format!("/{bucket}{}", head.uri.path()),
        None => head.uri.path().to_owned(),
    };
    // A bucket is signed as `/bucket/`, whether the client sent `/bucket` or not.
    if resource.len() > 1 && !resource[1..].contains('/') {
        resource.push('/');
    }
    let mut signed: Vec<(&str, Option<String>)> = head
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| {
            let (name, value) = match pair.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (pair, None),
            };
            SIGV2_SUBRESOURCES.contains(&name).then(|| {
                (
                    name,
                    value.map(|v| percent_decode_str(v).decode_utf8_lossy().into_owned()),
                )
            })
        })
        .collect();
    signed.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (name, value)) in signed.iter().enumerate() {
        resource.push(if i == 0 { '?' } else { '&' });
        resource.push_str(name);
        if let Some(value) = value {
            resource.push('=');
            resource.push_str(value);
        }
    }
    resource
}

pub(crate) fn bucket_from_host(host: &str, domains: &[String]) -> Option<String> {
    // Strip the port; IPv6 literals (`[::1]:2006`) never carry a bucket.
    if host.starts_with('[') {
        return None;
    }
    let name = host
        .rsplit_once(':')
        .map_or(host, |(h, _)| h)
        .to_ascii_lowercase();
    domains.iter().find_map(|domain| {
        let bucket = name.strip_suffix(domain.as_str())?.strip_suffix('.')?;
        (!bucket.is_empty()).then(|| bucket.to_owned())
    })
}

/// A path segment, percent-decoded. Not UTF-8, or holding NUL or a C1
/// control character (U+0080 to U+009F, which no text key contains and AWS
/// refuses), is `InvalidURI`.
fn decode(segment: &str) -> Result<String, S3Error> {
    percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .filter(|s| {
            !s.chars()
                .any(|c| c == '\0' || ('\u{80}'..='\u{9f}').contains(&c))
        })
        .map(|s| s.into_owned())
        .ok_or_else(|| {
            S3Error::new(
                StatusCode::BAD_REQUEST,
                "InvalidURI",
                "Couldn't parse the specified URI.",
            )
        })
}

fn decode_key(raw: &str) -> Result<String, S3Error> {
    let key = decode(raw)?;
    if key.len() > MAX_KEY_LEN {
        return Err(S3Error::key_too_long()
            .with("Size", key.len().to_string())
            .with("MaxSizeAllowed", MAX_KEY_LEN.to_string()));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains() -> Vec<String> {
        vec!["localhost".into(), "s3.example.test".into()]
    }

    #[test]
    fn path_style() {
        let d = domains();
        assert_eq!(
            parse_target(Some("127.0.0.1:2006"), "/", &d).unwrap(),
            Target::Service
        );
        assert_eq!(
            parse_target(Some("localhost:2006"), "/b", &d).unwrap(),
            Target::Bucket("b".into())
        );
        assert_eq!(
            parse_target(None, "/b/", &d).unwrap(),
            Target::Bucket("b".into())
        );
        assert_eq!(
            parse_target(None, "/b/dir/a%20b+c%2Bd%E2%82%AC//x", &d).unwrap(),
            Target::Object {
                bucket: "b".into(),
                key: "dir/a b+c+d€//x".into()
            }
        );
        // An empty first segment is no bucket, and never ListBuckets.
        for path in ["//b/k", "//", "//b"] {
            assert_eq!(
                parse_target(Some("127.0.0.1:2006"), path, &d)
                    .unwrap_err()
                    .code,
                "InvalidBucketName",
                "{path}"
            );
        }
    }

    #[test]
    fn virtual_hosted_style() {
        let d = domains();
        assert_eq!(
            parse_target(Some("photos.localhost:2006"), "/", &d).unwrap(),
            Target::Bucket("photos".into())
        );
        assert_eq!(
            parse_target(Some("my.bucket.s3.example.test"), "/k%2F1", &d).unwrap(),
            Target::Object {
                bucket: "my.bucket".into(),
                key: "k/1".into()
            }
        );
        // A key starting with a slash survives in virtual-hosted style.
        assert_eq!(
            parse_target(Some("b.localhost"), "//lead", &d).unwrap(),
            Target::Object {
                bucket: "b".into(),
                key: "/lead".into()
            }
        );
        assert_eq!(
            parse_target(Some("[::1]:2006"), "/b", &d).unwrap(),
            Target::Bucket("b".into())
        );
    }

    #[test]
    fn sigv2_resources() {
        let head = |host: &str, uri: &str| {
            let (parts, ()) = http::Request::builder()
                .uri(uri)
                .header("host", host)
                .body(())
                .unwrap()
                .into_parts();
            parts
        };
        let d = domains();
        assert_eq!(
            sigv2_resource(&head("127.0.0.1", "/b/a%20b?x=1"), &d),
            "/b/a%20b"
        );
        assert_eq!(
            sigv2_resource(
                &head("b.localhost", "/k?uploadId=u%2B1&partNumber=2&foo=bar"),
                &d
            ),
            "/b/k?partNumber=2&uploadId=u+1"
        );
        assert_eq!(sigv2_resource(&head("localhost", "/b?acl"), &d), "/b/?acl");
        assert_eq!(sigv2_resource(&head("b.localhost", "/"), &d), "/b/");
        assert_eq!(sigv2_resource(&head("localhost", "/"), &d), "/");
    }

    #[test]
    fn bad_keys() {
        let d = domains();
        assert_eq!(
            parse_target(None, "/b/%FF", &d).unwrap_err().code,
            "InvalidURI"
        );
        assert_eq!(
            parse_target(None, "/b/%C2%AE%C2%8A-", &d).unwrap_err().code,
            "InvalidURI"
        );
        assert!(parse_target(None, "/b/%C2%AE-%01", &d).is_ok());
        let long = format!("/b/{}", "k".repeat(1025));
        assert_eq!(
            parse_target(None, &long, &d).unwrap_err().code,
            "KeyTooLongError"
        );
    }
}
