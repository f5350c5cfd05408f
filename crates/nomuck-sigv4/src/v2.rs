//! AWS Signature Version 2, as S3 still accepts it for older clients (aws-cli v1's
//! `s3 presign`, s3cmd, old SDKs): `Authorization: AWS KEY:SIGNATURE` or the presigned
//! query `AWSAccessKeyId`/`Expires`/`Signature`. HMAC-SHA1 over a string that names the
//! method, Content-MD5, Content-Type, the date (or expiry), the `x-amz-*` headers and
//! the canonical resource. The resource depends on S3's addressing, so the caller
//! supplies it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Method, Uri};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::{AuthError, AuthKind, MAX_CLOCK_SKEW};

/// The SigV2 credentials found in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Request {
    pub kind: AuthKind,
    pub access_key_id: String,
    pub signature: Vec<u8>,
    /// Presigned: the `Expires` epoch seconds.
    pub expires: Option<i64>,
}

/// `None` when the request carries no SigV2 credentials.
pub fn parse_v2(uri: &Uri, headers: &HeaderMap) -> Result<Option<V2Request>, AuthError> {
    let malformed = |why: &str| AuthError::MalformedAuthorization(why.to_owned());
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| malformed("not ASCII"))?;
        let Some(credential) = value.strip_prefix("AWS ") else {
            return Ok(None);
        };
        let (key, signature) = credential
            .trim()
            .rsplit_once(':')
            .ok_or_else(|| malformed("expected AWS KEY:SIGNATURE"))?;
        let signature = STANDARD
            .decode(signature)
            .map_err(|_| malformed("signature is not base64"))?;
        return Ok(Some(V2Request {
            kind: AuthKind::Header,
            access_key_id: key.to_owned(),
            signature,
            expires: None,
        }));
    }
    let Some(query) = uri.query() else {
        return Ok(None);
    };
    let (mut key, mut signature, mut expires) = (None, None, None);
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "AWSAccessKeyId" => key = Some(v.into_owned()),
            "Signature" => signature = Some(v.into_owned()),
            "Expires" => expires = Some(v.into_owned()),
            _ => {}
        }
    }
    let bad_query = |why: &str| AuthError::MalformedQuery(why.to_owned());
    match (key, signature, expires) {
        (None, None, _) => Ok(None),
        (Some(key), Some(signature), Some(expires)) => Ok(Some(V2Request {
            kind: AuthKind::Presigned,
            access_key_id: key,
            signature: STANDARD
                .decode(signature)
                .map_err(|_| bad_query("Signature is not base64"))?,
            expires: Some(
                expires
                    .parse()
                    .map_err(|_| bad_query("Expires is not a number"))?,
            ),
        })),
        _ => Err(bad_query(
            "AWSAccessKeyId, Signature and Expires are all required",
        )),
    }
}

/// The string a SigV2 client signs.
pub fn string_to_sign(
    req: &V2Request,
    method: &Method,
    headers: &HeaderMap,
    resource: &str,
) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim()
    };
    let date = match req.expires {
        Some(expires) => expires.to_string(),
        // With x-amz-date the date line is empty: the header is signed below instead.
        None if headers.contains_key("x-amz-date") => String::new(),
        None => header("date").to_owned(),
    };
    let mut amz: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let name = name.as_str();
        if !name.starts_with("x-amz-") {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes())
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        match amz.iter_mut().find(|(n, _)| n == name) {
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            None => amz.push((name.to_owned(), value)),
        }
    }
    amz.sort();
    let mut out = format!(
        "{method}\n{}\n{}\n{date}\n",
        header("content-md5"),
        header("content-type")
    );
    for (name, value) in amz {
        out.push_str(&name);
        out.push(':');
        out.push_str(&value);
        out.push('\n');
    }
    out.push_str(resource);
    out
}

pub fn sign_v2(secret_access_key: &str, string_to_sign: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret_access_key.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Check the signature, the request date (15 minutes of skew) or the expiry.
pub fn verify_v2(
    req: &V2Request,
    method: &Method,
    headers: &HeaderMap,
    resource: &str,
    secret_access_key: &str,
    now: OffsetDateTime,
) -> Result<(), AuthError> {
    match req.expires {
        Some(expires) => {
            if now.unix_timestamp() > expires {
                return Err(AuthError::PresignExpired);
            }
        }
        None => {
            let date = headers
                .get("x-amz-date")
                .or_else(|| headers.get(http::header::DATE))
                .and_then(|v| v.to_str().ok())
                .and_then(|d| {
                    crate::timefmt::parse_http_date(d)
                        .or_else(|| crate::timefmt::parse_amz_date(d))
                        .or_else(|| {
                            OffsetDateTime::parse(d, &time::format_description::well_known::Rfc2822)
                                .ok()
                        })
                })
                .ok_or_else(|| {
                    AuthError::InvalidDate(
                        "a SigV2 request needs a Date or x-amz-date header".into(),
                    )
                })?;
            if (date - now).abs() > MAX_CLOCK_SKEW {
                return Err(AuthError::RequestTimeTooSkewed {
                    request_time: date,
                    server_time: now,
                });
            }
        }
    }
    let string_to_sign = string_to_sign(req, method, headers, resource);
    let expected = sign_v2(secret_access_key, &string_to_sign);
    if bool::from(expected.ct_eq(&req.signature)) {
        Ok(())
    } else {
        Err(AuthError::SignatureMismatch {
            string_to_sign,
            canonical_request: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the S3 documentation ("Signing and Authenticating REST Requests").
    #[test]
    fn aws_documentation_example() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let mut headers = HeaderMap::new();
        headers.insert("date", "Tue, 27 Mar 2007 19:36:42 +0000".parse().unwrap());
        let req = V2Request {
            kind: AuthKind::Header,
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            signature: STANDARD.decode("qgk2+6Sv9/oM7G3qLEjTH1a1l1g=").unwrap(),
            expires: None,
        };
        let sts = string_to_sign(
            &req,
            &Method::GET,
            &headers,
            "/awsexamplebucket1/photos/puppy.jpg",
        );
        assert_eq!(
            sts,
            "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"
        );
        assert_eq!(
            STANDARD.encode(sign_v2(secret, &sts)),
            "qgk2+6Sv9/oM7G3qLEjTH1a1l1g="
        );
        let then = OffsetDateTime::from_unix_timestamp(1_175_024_202).unwrap();
        verify_v2(
            &req,
            &Method::GET,
            &headers,
            "/awsexamplebucket1/photos/puppy.jpg",
            secret,
            then,
        )
        .unwrap();
        assert!(matches!(
            verify_v2(
                &req,
                &Method::GET,
                &headers,
                "/awsexamplebucket1/photos/kitten.jpg",
                secret,
                then
            ),
            Err(AuthError::SignatureMismatch { .. })
        ));
        let later = then + time::Duration::minutes(16);
        assert!(matches!(
            verify_v2(
                &req,
                &Method::GET,
                &headers,
                "/awsexamplebucket1/photos/puppy.jpg",
                secret,
                later
            ),
            Err(AuthError::RequestTimeTooSkewed { .. })
        ));
    }

    #[test]
    fn parses_header_and_query_forms() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "AWS AKID:c2ln".parse().unwrap());
        let uri: Uri = "/b/k".parse().unwrap();
        assert_eq!(parse_v2(&uri, &headers).unwrap().unwrap().signature, b"sig");
        let uri: Uri = "/b/k?AWSAccessKeyId=AKID&Expires=1700000000&Signature=c2lnbg%3D%3D"
            .parse()
            .unwrap();
        let q = parse_v2(&uri, &HeaderMap::new()).unwrap().unwrap();
        assert_eq!(
            (q.kind, q.expires),
            (AuthKind::Presigned, Some(1_700_000_000))
        );
        let uri: Uri = "/b/k?AWSAccessKeyId=AKID".parse().unwrap();
        assert!(parse_v2(&uri, &HeaderMap::new()).is_err());
        assert!(
            parse_v2(&"/b/k?x=1".parse().unwrap(), &HeaderMap::new())
                .unwrap()
                .is_none()
        );
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=x".parse().unwrap(),
        );
        assert!(parse_v2(&"/".parse().unwrap(), &headers).unwrap().is_none());
    }
}
