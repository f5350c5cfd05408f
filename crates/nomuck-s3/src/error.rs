//! S3 errors as the wire shows them: an HTTP status, a code, a message and the
//! `<Error>` XML document (no body for HEAD).

use http::StatusCode;
use nomuck_http::xml::escape;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra elements AWS adds for some codes (`BucketName`, `Key`, `Region`, ...).
    pub fields: Vec<(&'static str, String)>,
    /// Response headers that go with the error (`x-amz-delete-marker`, ...).
    pub headers: Vec<(&'static str, String)>,
}

impl S3Error {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.fields.push((name, value.into()));
        self
    }

    /// `<Error>` document for this error on `resource`.
    pub fn to_xml(&self, resource: &str, request_id: &str) -> String {
        let mut xml = String::with_capacity(256);
        xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
        xml.push_str(self.code);
        xml.push_str("</Code><Message>");
        xml.push_str(&escape(&self.message));
        xml.push_str("</Message>");
        for (name, value) in &self.fields {
            xml.push_str(&format!("<{name}>{}</{name}>", escape(value)));
        }
        xml.push_str("<Resource>");
        xml.push_str(&escape(resource));
        xml.push_str("</Resource><RequestId>");
        xml.push_str(&escape(request_id));
        xml.push_str("</RequestId><HostId>");
        xml.push_str(&escape(request_id));
        xml.push_str("</HostId></Error>");
        xml
    }
}

macro_rules! s3_errors {
    ($($fn_name:ident => ($status:ident, $code:literal, $message:literal);)*) => {
        impl S3Error {
            $(
                pub fn $fn_name() -> Self {
                    Self::new(StatusCode::$status, $code, $message)
                }
            )*
        }
    };
}

s3_errors! {
    access_denied => (FORBIDDEN, "AccessDenied", "Access Denied");
    bucket_already_exists => (CONFLICT, "BucketAlreadyExists", "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.");
    bucket_already_owned_by_you => (CONFLICT, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.");
    bucket_not_empty => (CONFLICT, "BucketNotEmpty", "The bucket you tried to delete is not empty");
    bad_digest => (BAD_REQUEST, "BadDigest", "The Content-MD5 or checksum value that you specified did not match what the server received.");
    entity_too_small => (BAD_REQUEST, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.");
    entity_too_large => (BAD_REQUEST, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.");
    incomplete_body => (BAD_REQUEST, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.");
    internal_error => (INTERNAL_SERVER_ERROR, "InternalError", "We encountered an internal error. Please try again.");
    invalid_argument => (BAD_REQUEST, "InvalidArgument", "Invalid Argument");
    invalid_bucket_name => (BAD_REQUEST, "InvalidBucketName", "The specified bucket is not valid.");
    invalid_digest => (BAD_REQUEST, "InvalidDigest", "The Content-MD5 or checksum value that you specified is not valid.");
    invalid_part => (BAD_REQUEST, "InvalidPart", "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.");
    invalid_part_order => (BAD_REQUEST, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.");
    invalid_range => (RANGE_NOT_SATISFIABLE, "InvalidRange", "The requested range is not satisfiable");
    invalid_request => (BAD_REQUEST, "InvalidRequest", "Invalid Request");
    key_too_long => (BAD_REQUEST, "KeyTooLongError", "Your key is too long");
    malformed_xml => (BAD_REQUEST, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.");
    method_not_allowed => (METHOD_NOT_ALLOWED, "MethodNotAllowed", "The specified method is not allowed against this resource.");
    missing_content_length => (LENGTH_REQUIRED, "MissingContentLength", "You must provide the Content-Length HTTP header.");
    no_such_bucket => (NOT_FOUND, "NoSuchBucket", "The specified bucket does not exist");
    no_such_key => (NOT_FOUND, "NoSuchKey", "The specified key does not exist.");
    no_such_upload => (NOT_FOUND, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.");
    no_such_tag_set => (NOT_FOUND, "NoSuchTagSet", "The TagSet does not exist");
    not_implemented => (NOT_IMPLEMENTED, "NotImplemented", "A header you provided implies functionality that is not implemented");
    not_modified => (NOT_MODIFIED, "NotModified", "Not Modified");
    precondition_failed => (PRECONDITION_FAILED, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold");
    conditional_request_conflict => (CONFLICT, "ConditionalRequestConflict", "The conditional request cannot succeed due to a conflicting operation against this resource.");
    request_timeout => (BAD_REQUEST, "RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period.");
    signature_does_not_match => (FORBIDDEN, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.");
    invalid_access_key_id => (FORBIDDEN, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
    request_time_too_skewed => (FORBIDDEN, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.");
    x_amz_content_sha256_mismatch => (BAD_REQUEST, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.");
    invalid_tag => (BAD_REQUEST, "InvalidTag", "The tag provided was not a valid tag.");
    too_many_parts => (BAD_REQUEST, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive");
    slow_down => (SERVICE_UNAVAILABLE, "SlowDown", "Please reduce your request rate.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_aws_error_document() {
        let xml = S3Error::no_such_key()
            .with("Key", "a&b")
            .to_xml("/bucket/a&b", "REQ1");
        assert!(xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
        ));
        assert!(xml.contains(
            "<Key>a&amp;b</Key><Resource>/bucket/a&amp;b</Resource><RequestId>REQ1</RequestId>"
        ));
    }
}
