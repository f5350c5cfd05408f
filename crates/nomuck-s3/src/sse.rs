//! Server-side encryption on the wire: the `x-amz-server-side-encryption*`
//! request headers (and POST form fields), the response headers that say how
//! an object is encrypted, and Put/Get/DeleteBucketEncryption.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, StatusCode};
use nomuck_storage::kms::EncryptionContext;
use nomuck_storage::sse::{AES256, AWS_KMS, BucketEncryption};
use nomuck_storage::{CustomerKey, SseInfo, SseRequest, Storage};

use crate::error::S3Error;
use crate::xml::{XmlWriter, parse};
use crate::{S3Request, S3Result, reply, storage_error};

const SSE: &str = "x-amz-server-side-encryption";
const KMS_KEY: &str = "x-amz-server-side-encryption-aws-kms-key-id";
const CONTEXT: &str = "x-amz-server-side-encryption-context";
const BUCKET_KEY: &str = "x-amz-server-side-encryption-bucket-key-enabled";
/// Prefix of the SSE-C headers of the object written or read.
pub(crate) const CUSTOMER: &str = "x-amz-server-side-encryption-customer-";
/// Prefix of the SSE-C headers of a copy source.
pub(crate) const COPY_SOURCE_CUSTOMER: &str = "x-amz-copy-source-server-side-encryption-customer-";

fn invalid(message: &str) -> S3Error {
    S3Error::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
}

/// A request value by name: a header, or a POST form field.
pub(crate) trait Fields {
    fn field(&self, name: &str) -> Option<&str>;
}

impl Fields for HeaderMap {
    fn field(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The SSE-C key named by the three headers under `prefix`, if any of them
/// is sent (all three are needed, as S3 says).
pub(crate) fn customer_key(
    fields: &impl Fields,
    prefix: &str,
) -> Result<Option<CustomerKey>, S3Error> {
    let get = |suffix: &str| fields.field(&format!("{prefix}{suffix}"));
    match (get("algorithm"), get("key"), get("key-md5")) {
        (None, None, None) => Ok(None),
        (Some(alg), Some(key), Some(md5)) => CustomerKey::parse(alg, key, md5)
            .map(Some)
            .map_err(storage_error),
        (None, ..) => Err(invalid(
            "Requests specifying Server Side Encryption with Customer provided keys must \
             provide a valid encryption algorithm.",
        )),
        (_, None, _) => Err(invalid(
            "Requests specifying Server Side Encryption with Customer provided keys must \
             provide an appropriate secret key.",
        )),
        (_, _, None) => Err(invalid(
            "Requests specifying Server Side Encryption with Customer provided keys must \
             provide the client calculated MD5 of the secret key.",
        )),
    }
}

/// The encryption a write asks for (`None`: the bucket's default).
pub(crate) fn sse_request(fields: &impl Fields) -> Result<Option<SseRequest>, S3Error> {
    let customer = customer_key(fields, CUSTOMER)?;
    let bucket_key = match fields.field(BUCKET_KEY) {
        None => None,
        Some(v) if v.eq_ignore_ascii_case("true") => Some(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Some(false),
        Some(_) => {
            return Err(invalid(
                "The x-amz-server-side-encryption-bucket-key-enabled header is not valid",
            ));
        }
    };
    let kms_key = fields.field(KMS_KEY);
    let context = fields.field(CONTEXT);
    match (fields.field(SSE), customer) {
        (Some(_), Some(_)) => Err(invalid(
            "Server Side Encryption with Customer provided key is incompatible with the \
             encryption method specified",
        )),
        (None, Some(c)) => Ok(Some(SseRequest::Customer(c))),
        (Some(AES256), None) => {
            if kms_key.is_some() || context.is_some() {
                return Err(invalid(
                    "Server Side Encryption with AWS KMS managed key requires HTTP header \
                     x-amz-server-side-encryption : aws:kms",
                ));
            }
            Ok(Some(SseRequest::S3 {
                bucket_key: bucket_key.unwrap_or(false),
            }))
        }
        (Some(AWS_KMS), None) => Ok(Some(SseRequest::Kms {
            key_id: kms_key.map(str::to_owned),
            context: context.map(parse_context).transpose()?.unwrap_or_default(),
            bucket_key: bucket_key.unwrap_or(false),
        })),
        (Some(_), None) => Err(invalid("The encryption method specified is not supported")),
        (None, None) if kms_key.is_some() || context.is_some() => Err(invalid(
            "Server Side Encryption with AWS KMS managed key requires HTTP header \
             x-amz-server-side-encryption : aws:kms",
        )),
        (None, None) => Ok(None),
    }
}

/// `x-amz-server-side-encryption-context`: base64 of a JSON object of strings.
fn parse_context(b64: &str) -> Result<EncryptionContext, S3Error> {
    B64.decode(b64.trim())
        .ok()
        .and_then(|json| serde_json::from_slice::<EncryptionContext>(&json).ok())
        .ok_or_else(|| invalid("The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map"))
}

/// The response headers S3 sends about an object's encryption.
pub(crate) fn set_headers(response: &mut nomuck_http::Response, info: Option<&SseInfo>) {
    let Some(info) = info else { return };
    match info {
        SseInfo::S3 { .. } => reply::set(response, SSE, AES256),
        SseInfo::Kms {
            key_id, context, ..
        } => {
            reply::set(response, SSE, AWS_KMS);
            reply::set(response, KMS_KEY, key_id);
            // S3 echoes the context only when the request gave pairs of its own.
            if context.len() > 1
                && let Ok(json) = serde_json::to_string(context)
            {
                reply::set(response, CONTEXT, &B64.encode(json));
            }
        }
        SseInfo::Customer { key_md5 } => {
            reply::set(
                response,
                "x-amz-server-side-encryption-customer-algorithm",
                AES256,
            );
            reply::set(
                response,
                "x-amz-server-side-encryption-customer-key-md5",
                key_md5,
            );
        }
    }
    if info.bucket_key() {
        reply::set(response, BUCKET_KEY, "true");
    }
}

pub(crate) async fn get_bucket_encryption(s: &Storage, req: &mut S3Request) -> S3Result {
    let cfg = s
        .get_bucket_encryption(&req.caller, req.bucket())
        .await
        .map_err(storage_error)?;
    let mut w = XmlWriter::new("ServerSideEncryptionConfiguration");
    w.open("Rule")
        .open("ApplyServerSideEncryptionByDefault")
        .elem("SSEAlgorithm", &cfg.algorithm)
        .opt("KMSMasterKeyID", cfg.kms_key_id.as_deref())
        .close("ApplyServerSideEncryptionByDefault")
        .elem(
            "BucketKeyEnabled",
            if cfg.bucket_key_enabled {
                "true"
            } else {
                "false"
            },
        )
        .close("Rule");
    Ok(reply::xml(
        StatusCode::OK,
        w.finish("ServerSideEncryptionConfiguration"),
    ))
}

pub(crate) async fn put_bucket_encryption(s: &Storage, req: &mut S3Request) -> S3Result {
    let cfg = parse_bucket_encryption(&req.body_bytes().await?)?;
    s.put_bucket_encryption(&req.caller, req.bucket(), &cfg)
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::OK))
}

pub(crate) async fn delete_bucket_encryption(s: &Storage, req: &mut S3Request) -> S3Result {
    s.delete_bucket_encryption(&req.caller, req.bucket())
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

fn parse_bucket_encryption(body: &[u8]) -> Result<BucketEncryption, S3Error> {
    let doc = parse(body)?;
    let malformed = || S3Error::malformed_xml();
    let rule = doc.child("Rule").ok_or_else(malformed)?;
    let by_default = rule
        .child("ApplyServerSideEncryptionByDefault")
        .ok_or_else(malformed)?;
    let algorithm = by_default
        .child_text("SSEAlgorithm")
        .ok_or_else(malformed)?;
    let kms_key_id = by_default
        .child_text("KMSMasterKeyID")
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    match algorithm {
        AES256 if kms_key_id.is_some() => {
            return Err(invalid(
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms",
            ));
        }
        AES256 | AWS_KMS => {}
        _ => return Err(malformed()),
    }
    let bucket_key_enabled = match rule.child_text("BucketKeyEnabled") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(malformed()),
    };
    Ok(BucketEncryption {
        algorithm: algorithm.to_owned(),
        kms_key_id,
        bucket_key_enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn requests_parse_as_s3_reads_them() {
        assert_eq!(sse_request(&headers(&[])).unwrap(), None);
        assert_eq!(
            sse_request(&headers(&[(SSE, "AES256")])).unwrap(),
            Some(SseRequest::S3 { bucket_key: false })
        );
        let ctx = B64.encode(r#"{"a":"b"}"#);
        match sse_request(&headers(&[
            (SSE, "aws:kms"),
            (KMS_KEY, "alias/x"),
            (CONTEXT, &ctx),
            (BUCKET_KEY, "true"),
        ]))
        .unwrap()
        {
            Some(SseRequest::Kms {
                key_id,
                context,
                bucket_key,
            }) => {
                assert_eq!(key_id.as_deref(), Some("alias/x"));
                assert_eq!(context["a"], "b");
                assert!(bucket_key);
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            &[(SSE, "AES512")][..],
            &[(SSE, "AES256"), (KMS_KEY, "k")],
            &[(KMS_KEY, "k")],
            &[(SSE, "aws:kms"), (CONTEXT, "not json")],
            &[(SSE, "AES256"), (BUCKET_KEY, "maybe")],
            &[("x-amz-server-side-encryption-customer-algorithm", "AES256")],
        ] {
            let e = sse_request(&headers(bad)).unwrap_err();
            assert_eq!(e.code, "InvalidArgument", "{bad:?}");
        }
    }

    #[test]
    fn customer_keys_need_all_three_headers_and_a_matching_md5() {
        let key = B64.encode([1u8; 32]);
        let mut h = nomuck_checksum::Md5Hasher::new();
        h.update(&[1u8; 32]);
        let md5 = B64.encode(h.finalize());
        let full = headers(&[
            ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
            ("x-amz-server-side-encryption-customer-key", &key),
            ("x-amz-server-side-encryption-customer-key-md5", &md5),
        ]);
        let ck = customer_key(&full, CUSTOMER).unwrap().unwrap();
        assert_eq!(ck.key_md5(), md5);
        assert!(matches!(
            sse_request(&full).unwrap(),
            Some(SseRequest::Customer(_))
        ));
        let wrong_md5 = headers(&[
            ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
            ("x-amz-server-side-encryption-customer-key", &key),
            (
                "x-amz-server-side-encryption-customer-key-md5",
                "AAAAAAAAAAAAAAAAAAAAAA==",
            ),
        ]);
        let e = customer_key(&wrong_md5, CUSTOMER).unwrap_err();
        assert_eq!((e.code, e.status.as_u16()), ("InvalidArgument", 400));
        assert!(!e.message.contains(&key));
    }

    #[test]
    fn bucket_configurations_parse() {
        let doc = br#"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>
            <SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>alias/k</KMSMasterKeyID>
            </ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule>
            </ServerSideEncryptionConfiguration>"#;
        let c = parse_bucket_encryption(doc).unwrap();
        assert_eq!(c.algorithm, "aws:kms");
        assert_eq!(c.kms_key_id.as_deref(), Some("alias/k"));
        assert!(c.bucket_key_enabled);
        assert!(parse_bucket_encryption(b"<ServerSideEncryptionConfiguration/>").is_err());
    }
}
