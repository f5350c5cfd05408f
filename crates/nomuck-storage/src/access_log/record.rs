//! One access log record in S3's documented space-separated format, and the
//! names of delivered log objects.

use std::fmt::Write as _;

use nomuck_meta::Millis;

use super::{KeyFormat, PartitionDateSource};

/// The fields of one record, in the documented order. S3 has since added a
/// 27th (source region); parsers written for 26 (ceph/s3-tests' among them)
/// refuse a longer record, and nomuck could only write `-` there.
/// `None` and empty
/// strings are written `-`, as S3 writes unknown or inapplicable fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessLogRecord {
    /// Canonical id of the source bucket's owner (nomuck's account id).
    pub bucket_owner: String,
    pub bucket: String,
    /// When the request was received.
    pub time: Millis,
    pub remote_ip: String,
    /// The requester's canonical id; `None` for anonymous requests.
    pub requester: Option<String>,
    pub request_id: String,
    /// `REST.GET.OBJECT`, `REST.PUT.OBJECT`, `REST.GET.BUCKET`, …
    pub operation: String,
    /// The object key, unencoded (it is URL-encoded when written).
    pub key: Option<String>,
    /// The request line: `GET /bucket/key?x HTTP/1.1`.
    pub request_uri: String,
    pub status: u16,
    pub error_code: Option<String>,
    /// Response body bytes sent (`-` when zero, as in S3).
    pub bytes_sent: u64,
    pub object_size: Option<u64>,
    pub total_time_ms: u64,
    pub turn_around_ms: Option<u64>,
    pub referer: Option<String>,
    pub user_agent: Option<String>,
    pub version_id: Option<String>,
    /// `x-amz-id-2` of the reply.
    pub host_id: String,
    /// `SigV4`, `SigV2`.
    pub signature_version: Option<&'static str>,
    pub cipher_suite: Option<String>,
    /// `AuthHeader`, `QueryString`.
    pub auth_type: Option<&'static str>,
    pub host_header: Option<String>,
    pub tls_version: Option<String>,
    pub access_point_arn: Option<String>,
    /// Whether an ACL was needed to authorize the request (`Yes`).
    pub acl_required: bool,
}

impl AccessLogRecord {
    /// The record as one line (no newline).
    pub fn to_line(&self) -> String {
        let mut out = String::with_capacity(512);
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let num = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
        let fields: [Field; 26] = [
            Field::Token(self.bucket_owner.clone()),
            Field::Token(self.bucket.clone()),
            Field::Raw(format!("[{}]", clf_time(self.time))),
            Field::Token(self.remote_ip.clone()),
            Field::Token(opt(&self.requester)),
            Field::Token(self.request_id.clone()),
            Field::Token(self.operation.clone()),
            Field::Token(self.key.as_deref().map(url_encode).unwrap_or_default()),
            Field::Quoted(self.request_uri.clone()),
            Field::Token(self.status.to_string()),
            Field::Token(opt(&self.error_code)),
            Field::Token(num(Some(self.bytes_sent).filter(|n| *n > 0))),
            Field::Token(num(self.object_size)),
            Field::Token(self.total_time_ms.to_string()),
            Field::Token(num(self.turn_around_ms)),
            Field::Quoted(opt(&self.referer)),
            Field::Quoted(opt(&self.user_agent)),
            Field::Token(opt(&self.version_id)),
            Field::Token(self.host_id.clone()),
            Field::Token(self.signature_version.unwrap_or_default().to_owned()),
            Field::Token(opt(&self.cipher_suite)),
            Field::Token(self.auth_type.unwrap_or_default().to_owned()),
            Field::Token(opt(&self.host_header)),
            Field::Token(opt(&self.tls_version)),
            Field::Token(opt(&self.access_point_arn)),
            Field::Token(if self.acl_required { "Yes" } else { "" }.to_owned()),
        ];
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            field.write(&mut out);
        }
        out
    }
}

enum Field {
    /// Written as is (the bracketed time).
    Raw(String),
    /// An unquoted field: `-` when empty; spaces, quotes, backslashes and
    /// control characters escaped so the line still splits on spaces.
    Token(String),
    /// A double-quoted field (`"-"` when empty), with `"` and `\` escaped.
    Quoted(String),
}

impl Field {
    fn write(&self, out: &mut String) {
        match self {
            Field::Raw(s) => out.push_str(s),
            Field::Token(s) if s.is_empty() => out.push('-'),
            Field::Token(s) => escape_into(out, s, true),
            Field::Quoted(s) => {
                out.push('"');
                if s.is_empty() {
                    out.push('-');
                } else {
                    escape_into(out, s, false);
                }
                out.push('"');
            }
        }
    }
}

/// `\"`, `\\` and `\xHH` for controls (and, outside quotes, for spaces), so
/// no value can end its field early or forge another record.
fn escape_into(out: &mut String, s: &str, escape_space: bool) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' ' if escape_space => out.push_str("\\x20"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\x{b:02X}");
                }
            }
            c => out.push(c),
        }
    }
}

/// The key as S3 logs it: percent-encoded, `/` and unreserved kept.
fn url_encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn utc(ms: Millis) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// `06/Feb/2019:00:00:38 +0000`.
fn clf_time(ms: Millis) -> String {
    let t = utc(ms);
    let month = MONTHS
        .get(usize::from(u8::from(t.month())) - 1)
        .copied()
        .unwrap_or("Jan");
    format!(
        "{:02}/{month}/{:04}:{:02}:{:02}:{:02} +0000",
        t.day(),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `2019-02-06-00-00-38`.
fn key_time(ms: Millis) -> String {
    let t = utc(ms);
    format!(
        "{:04}-{:02}-{:02}-{:02}-{:02}-{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The key of a delivered log object. `delivered` names the file
/// (`…YYYY-mm-DD-HH-MM-SS-UniqueString`), `first_event` the date directories
/// of the partitioned form when they follow the event time.
pub fn log_object_key(
    prefix: &str,
    format: KeyFormat,
    source: (&str, &str, &str),
    first_event: Millis,
    delivered: Millis,
    unique: &str,
) -> String {
    let name = format!("{}-{unique}", key_time(delivered));
    match format {
        KeyFormat::Simple => format!("{prefix}{name}"),
        KeyFormat::Partitioned(date_source) => {
            let (account, region, bucket) = source;
            let day = utc(match date_source {
                PartitionDateSource::EventTime => first_event,
                PartitionDateSource::DeliveryTime => delivered,
            });
            format!(
                "{prefix}{account}/{region}/{bucket}/{:04}/{:02}/{:02}/{name}",
                day.year(),
                u8::from(day.month()),
                day.day()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AccessLogRecord {
        AccessLogRecord {
            bucket_owner: "123456789012".into(),
            bucket: "src".into(),
            // 2019-02-06T00:00:38.5Z
            time: 1_549_411_238_500,
            remote_ip: "192.0.2.3".into(),
            requester: Some("123456789012".into()),
            request_id: "3E57427F3EXAMPLE".into(),
            operation: "REST.GET.OBJECT".into(),
            key: Some("dir/my file+ä.txt".into()),
            request_uri: "GET /src/dir/my%20file%2B%C3%A4.txt?x=1 HTTP/1.1".into(),
            status: 200,
            bytes_sent: 113,
            object_size: Some(113),
            total_time_ms: 7,
            turn_around_ms: Some(3),
            user_agent: Some("aws-cli/2.15 \"quoted\" back\\slash".into()),
            host_id: "HOSTID".into(),
            signature_version: Some("SigV4"),
            auth_type: Some("AuthHeader"),
            host_header: Some("localhost:9000".into()),
            ..AccessLogRecord::default()
        }
    }

    #[test]
    fn writes_every_field_in_the_documented_order() {
        assert_eq!(
            record().to_line(),
            "123456789012 src [06/Feb/2019:00:00:38 +0000] 192.0.2.3 123456789012 \
             3E57427F3EXAMPLE REST.GET.OBJECT dir/my%20file%2B%C3%A4.txt \
             \"GET /src/dir/my%20file%2B%C3%A4.txt?x=1 HTTP/1.1\" 200 - 113 113 7 3 \"-\" \
             \"aws-cli/2.15 \\\"quoted\\\" back\\\\slash\" - HOSTID SigV4 - AuthHeader \
             localhost:9000 - - -"
        );
    }

    #[test]
    fn unknown_fields_are_dashes_and_zero_bytes_sent_is_a_dash() {
        let r = AccessLogRecord {
            bucket_owner: "o".into(),
            bucket: "b".into(),
            request_uri: "HEAD /b HTTP/1.1".into(),
            status: 404,
            error_code: Some("NoSuchBucket".into()),
            acl_required: true,
            ..AccessLogRecord::default()
        };
        let line = r.to_line();
        // The time and the request line hold spaces: 2 and 3 pieces.
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields[5], "-", "anonymous requester");
        assert_eq!(fields[8], "-", "no key");
        assert_eq!(&fields[12..15], ["404", "NoSuchBucket", "-"]);
        assert_eq!(line.matches("\"-\"").count(), 2, "referer and user agent");
        assert!(line.ends_with(" - Yes"), "{line}");
    }

    #[test]
    fn values_cannot_break_the_line_or_its_fields() {
        let r = AccessLogRecord {
            user_agent: Some("evil\"\n123 fake [record]".into()),
            host_header: Some("a b".into()),
            referer: Some("http://x/\ty".into()),
            ..record()
        };
        let line = r.to_line();
        assert!(!line.contains('\n') && !line.contains('\t'));
        assert!(
            line.contains("\"evil\\\"\\x0A123 fake [record]\""),
            "{line}"
        );
        assert!(line.contains(" a\\x20b "), "{line}");
        assert!(line.contains("\"http://x/\\x09y\""), "{line}");
    }

    #[test]
    fn object_keys_follow_s3s_two_forms() {
        let src = ("123456789012", "us-east-1", "src");
        // Event 2019-02-05T23:59:59Z, delivered 2019-02-06T00:00:38Z.
        let (event, delivered) = (1_549_411_199_000, 1_549_411_238_000);
        assert_eq!(
            log_object_key(
                "logs/",
                KeyFormat::Simple,
                src,
                event,
                delivered,
                "ABCDEF0123456789"
            ),
            "logs/2019-02-06-00-00-38-ABCDEF0123456789"
        );
        assert_eq!(
            log_object_key(
                "logs/",
                KeyFormat::Partitioned(PartitionDateSource::EventTime),
                src,
                event,
                delivered,
                "U"
            ),
            "logs/123456789012/us-east-1/src/2019/02/05/2019-02-06-00-00-38-U"
        );
        assert_eq!(
            log_object_key(
                "",
                KeyFormat::Partitioned(PartitionDateSource::DeliveryTime),
                src,
                event,
                delivered,
                "U"
            ),
            "123456789012/us-east-1/src/2019/02/06/2019-02-06-00-00-38-U"
        );
    }
}
