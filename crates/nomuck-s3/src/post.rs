//! Browser POST uploads (POST Object): an HTML form posts the object to the
//! bucket URL, with its key and headers as form fields. A form with a
//! `policy` is signed by the uploader's key (SigV4 or SigV2 over the base64
//! policy) and must satisfy the policy's conditions; one without is an
//! anonymous upload the bucket itself must allow. The upload is then a
//! PutObject: the fields become the request's headers, the file the body.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use http_body_util::BodyDataStream;
use nomuck_http::{BodyError, FormAuthenticator, FormSignature};
use nomuck_policy::{FormFields, PostPolicy, PostPolicyError};
use nomuck_storage::{PutObjectRequest, Storage, StorageError};

use crate::form::{self, FormError, FormField};
use crate::{S3Error, S3Request, S3Result, headers, reply, storage_error};

/// Text fields of a form, names and values together.
const FIELDS_LIMIT: usize = 64 << 10;

fn invalid_argument(message: &str) -> S3Error {
    S3Error::invalid_argument().with_message(message)
}

fn malformed_post(why: impl std::fmt::Display) -> S3Error {
    S3Error::new(
        StatusCode::BAD_REQUEST,
        "MalformedPOSTRequest",
        format!("The body of your POST request is not well-formed multipart/form-data: {why}"),
    )
}

fn policy_error(e: PostPolicyError) -> S3Error {
    let status = match e {
        PostPolicyError::InvalidPolicyDocument(_)
        | PostPolicyError::EntityTooSmall { .. }
        | PostPolicyError::EntityTooLarge { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    };
    let mut err = S3Error::new(status, e.code(), e.to_string());
    match e {
        PostPolicyError::EntityTooSmall { proposed, min } => {
            err = err
                .with("ProposedSize", proposed.to_string())
                .with("MinSizeAllowed", min.to_string());
        }
        PostPolicyError::EntityTooLarge { proposed, max } => {
            err = err
                .with("ProposedSize", proposed.to_string())
                .with("MaxSizeAllowed", max.to_string());
        }
        _ => {}
    }
    err
}

/// A failure reading the form, in S3's terms.
fn form_error(e: FormError) -> S3Error {
    match e {
        FormError::Body(body) => crate::rejection_error(nomuck_http::into_rejection(body)),
        FormError::FieldsTooLarge { limit } => S3Error::new(
            StatusCode::BAD_REQUEST,
            "MaxPostPreDataLengthExceeded",
            format!(
                "Your POST request fields preceding the upload file were too large (over {limit} bytes)"
            ),
        ),
        FormError::MissingFile => {
            invalid_argument("POST requires exactly one file upload per request.")
        }
        other => malformed_post(other),
    }
}

/// The field named `name` (names are case-insensitive).
fn field<'a>(fields: &'a [FormField], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name))
        .map(|f| f.value.as_str())
}

fn required<'a>(fields: &'a [FormField], name: &str) -> Result<&'a str, S3Error> {
    field(fields, name).ok_or_else(|| {
        invalid_argument(&format!("Bucket POST must contain a field named '{name}'. If it is specified, please check the order of the fields."))
    })
}

/// The signature fields of a form with a policy.
fn signature(fields: &[FormField]) -> Result<FormSignature, S3Error> {
    let sig = if let Some(sig) = field(fields, "x-amz-signature") {
        FormSignature::v4(
            required(fields, "x-amz-algorithm")?,
            required(fields, "x-amz-credential")?,
            sig,
        )
    } else {
        FormSignature::v2(
            required(fields, "AWSAccessKeyId")?,
            required(fields, "signature")?,
        )
    };
    // A signature that does not even decode cannot match.
    sig.map_err(|e| match e {
        nomuck_http::AuthError::UnsupportedAlgorithm(a) => {
            invalid_argument(&format!("unsupported x-amz-algorithm {a}"))
        }
        e => S3Error::signature_does_not_match().with_message(e.to_string()),
    })
}

/// Fields that become request headers of the PutObject the form stands for.
fn is_header_field(name: &str) -> bool {
    const HEADERS: &[&str] = &[
        "cache-control",
        "content-type",
        "content-disposition",
        "content-encoding",
        "content-language",
        "expires",
    ];
    HEADERS.contains(&name)
        || name.starts_with("x-amz-meta-")
        || name.starts_with("x-amz-checksum-")
        || name.starts_with("x-amz-grant-")
        || name.starts_with("x-amz-server-side-encryption")
        || name.starts_with("x-amz-object-lock-")
        || name == "x-amz-website-redirect-location"
        || name == "x-amz-storage-class"
        || name == "x-amz-acl"
}

/// A file stream that fails, before it ends, when its length is outside the
/// policy's `content-length-range`: the upload is then never committed.
struct LengthChecked<S> {
    inner: S,
    policy: Option<PostPolicy>,
    seen: u64,
}

impl<S> Stream for LengthChecked<S>
where
    S: Stream<Item = Result<Bytes, BodyError>> + Unpin,
{
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(policy) = &this.policy else {
            return Pin::new(&mut this.inner).poll_next(cx);
        };
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.seen += chunk.len() as u64;
                match policy.max_length() {
                    Some(max) if this.seen > max => {
                        Poll::Ready(Some(Err(Box::new(PostPolicyError::EntityTooLarge {
                            proposed: this.seen,
                            max,
                        }))))
                    }
                    _ => Poll::Ready(Some(Ok(chunk))),
                }
            }
            Poll::Ready(None) => match policy.check_length(this.seen) {
                Ok(()) => Poll::Ready(None),
                Err(e) => Poll::Ready(Some(Err(Box::new(e)))),
            },
            other => other,
        }
    }
}

/// `?bucket=…&key=…&etag=…` appended to a redirect URL.
fn redirect_location(target: &str, bucket: &str, key: &str, etag: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("bucket", bucket)
        .append_pair("key", key)
        .append_pair("etag", &format!("\"{etag}\""))
        .finish();
    let sep = if target.contains('?') { '&' } else { '?' };
    format!("{target}{sep}{query}")
}

pub(crate) async fn post_object(
    s: &Storage,
    forms: Option<&dyn FormAuthenticator>,
    req: &mut S3Request,
) -> S3Result {
    let content_type = req.header("content-type").unwrap_or("");
    let boundary = form::boundary(content_type).map_err(|_| {
        S3Error::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "Bucket POST must be of the enclosure-type multipart/form-data",
        )
    })?;
    let body = std::mem::replace(&mut req.body, nomuck_http::empty_body());
    let (fields, file, file_body) = form::read_form(body, &boundary, FIELDS_LIMIT)
        .await
        .map_err(form_error)?;
    let bucket = req.bucket().to_owned();
    let key =
        required(&fields, "key")?.replace("${filename}", file.filename.as_deref().unwrap_or(""));
    if key.is_empty() {
        return Err(invalid_argument(
            "User key must have a length greater than 0.",
        ));
    }

    // Who uploads: the policy's signer, or anyone the bucket lets write.
    let policy = match field(&fields, "policy") {
        None => None,
        Some(encoded) => {
            let sig = signature(&fields)?;
            let forms = forms.ok_or_else(|| {
                S3Error::access_denied().with_message("signed POST uploads are not enabled")
            })?;
            let principal = forms
                .authenticate_form(&sig, encoded)
                .await
                .map_err(crate::rejection_error)?;
            let policy = PostPolicy::parse(encoded).map_err(policy_error)?;
            let mut checked = FormFields::new();
            for f in &fields {
                let value = if f.name.eq_ignore_ascii_case("key") {
                    key.as_str()
                } else {
                    &f.value
                };
                checked.insert(&f.name, value);
            }
            policy
                .check(time::OffsetDateTime::now_utc(), &bucket, &checked, None)
                .map_err(policy_error)?;
            req.caller.account_id = Some(principal.account_id);
            Some(policy)
        }
    };

    // The fields are this upload's object headers; the request's own (its
    // multipart Content-Type and length) describe the form, not the object.
    // They stay on the request, which CORS still answers by its Origin.
    let mut form_headers = HeaderMap::new();
    for f in &fields {
        let name = f.name.to_ascii_lowercase();
        let name = if name == "acl" {
            "x-amz-acl".to_owned()
        } else {
            name
        };
        if !is_header_field(&name) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&f.value),
        ) {
            form_headers.append(n, v);
        }
    }
    if !form_headers.contains_key(http::header::CONTENT_TYPE)
        && let Some(ct) = file
            .content_type
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
    {
        form_headers.insert(http::header::CONTENT_TYPE, ct);
    }
    if let Some(err) = headers::refused("PostObject", &form_headers) {
        return Err(err);
    }
    let tags = match field(&fields, "tagging") {
        Some(doc) => crate::xml::parse_tagging(doc.as_bytes())?,
        None => Vec::new(),
    };
    let put = PutObjectRequest {
        acl: crate::access::requested_acl(&form_headers, None)?,
        checksum: headers::checksum_request(&form_headers)?,
        headers: headers::object_headers(&form_headers),
        storage_class: headers::text(&form_headers, "x-amz-storage-class").map(str::to_owned),
        tags,
        form_upload: true,
        lock: crate::lock::lock_request(&form_headers)?,
        sse: crate::sse::sse_request(&form_headers)?,
        ..PutObjectRequest::default()
    };
    let stream = LengthChecked {
        inner: BodyDataStream::new(file_body),
        policy,
        seen: 0,
    };
    let out = match s.put_object(&req.caller, &bucket, &key, put, stream).await {
        Ok(out) => out,
        Err(StorageError::Body(e)) => {
            return Err(match e.downcast::<PostPolicyError>() {
                Ok(size) => policy_error(*size),
                Err(e) => match e.downcast::<FormError>() {
                    Ok(form) => form_error(*form),
                    Err(e) => storage_error(StorageError::Body(e)),
                },
            });
        }
        Err(e) => return Err(storage_error(e)),
    };

    let host = req.header("host").unwrap_or("localhost");
    let location = format!(
        "http://{host}/{bucket}/{}",
        percent_encoding::utf8_percent_encode(&key, crate::buckets::URL_SAFE)
    );
    let etag = format!("\"{}\"", out.etag);
    let redirect = field(&fields, "success_action_redirect").or_else(|| field(&fields, "redirect"));
    let mut response =
        match redirect.filter(|r| r.starts_with("http://") || r.starts_with("https://")) {
            Some(target) => {
                let mut r = reply::empty(StatusCode::SEE_OTHER);
                reply::set(
                    &mut r,
                    "location",
                    &redirect_location(target, &bucket, &key, &out.etag),
                );
                r
            }
            None => match field(&fields, "success_action_status") {
                Some("200") => reply::empty(StatusCode::OK),
                Some("201") => {
                    // S3 writes this document without a namespace.
                    let esc = nomuck_http::xml::escape;
                    let doc = format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse>\
                         <Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key>\
                         <ETag>{}</ETag></PostResponse>",
                        esc(&location),
                        esc(&bucket),
                        esc(&key),
                        esc(&etag)
                    );
                    let mut r = reply::xml(StatusCode::CREATED, doc);
                    reply::set(&mut r, "location", &location);
                    r
                }
                _ => reply::empty(StatusCode::NO_CONTENT),
            },
        };
    reply::set(&mut response, "etag", &etag);
    if response.status() != StatusCode::CREATED && response.status() != StatusCode::SEE_OTHER {
        reply::set(&mut response, "location", &location);
    }
    if let Some(v) = &out.version_id {
        reply::set(&mut response, "x-amz-version-id", v);
    }
    crate::sse::set_headers(&mut response, out.sse.as_ref());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_carry_bucket_key_and_quoted_etag() {
        assert_eq!(
            redirect_location("http://example.com/done", "b", "a b/c", "abc"),
            "http://example.com/done?bucket=b&key=a+b%2Fc&etag=%22abc%22"
        );
        assert_eq!(
            redirect_location("http://example.com/done?x=1", "b", "k", "e"),
            "http://example.com/done?x=1&bucket=b&key=k&etag=%22e%22"
        );
    }

    #[test]
    fn only_object_header_fields_become_headers() {
        for h in [
            "content-type",
            "x-amz-meta-a",
            "x-amz-acl",
            "x-amz-checksum-crc32",
        ] {
            assert!(is_header_field(h), "{h}");
        }
        for f in [
            "policy",
            "key",
            "x-amz-signature",
            "authorization",
            "host",
            "file",
        ] {
            assert!(!is_header_field(f), "{f}");
        }
    }
}
