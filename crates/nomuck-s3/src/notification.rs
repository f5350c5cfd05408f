//! Event notifications: the `NotificationConfiguration` document in and out,
//! and the S3 event message (`{"Records": [...]}`) each delivery carries.
//! Destinations are SNS topics (`arn:aws:sns:REGION:ACCOUNT:NAME`) of the
//! bucket owner, created through nomuck's SNS API with a `push-endpoint`.

use http::StatusCode;
use nomuck_storage::Storage;
use nomuck_storage::notify::{
    Destination, EventRenderer, NotificationRule, Notifications, ObjectEvent,
};
use serde_json::json;

use crate::xml::{Element, XmlWriter, parse};
use crate::{S3Error, S3Request, S3Result, reply, storage_error};

fn malformed() -> S3Error {
    S3Error::malformed_xml()
}

fn invalid(message: impl Into<String>) -> S3Error {
    S3Error::invalid_argument().with_message(message)
}

/// The configuration kinds and the element naming each one's destination.
const KINDS: [(&str, &str); 3] = [
    ("TopicConfiguration", "Topic"),
    ("QueueConfiguration", "Queue"),
    ("CloudFunctionConfiguration", "CloudFunction"),
];

fn parse_rule(
    e: &Element,
    kind: &str,
    arn_tag: &str,
    n: usize,
) -> Result<NotificationRule, S3Error> {
    let arn = e
        .child_text(arn_tag)
        .ok_or_else(malformed)?
        .trim()
        .to_owned();
    let Some((account, name)) = nomuck_webhook::parse_arn(&arn) else {
        return Err(invalid(format!(
            "Unable to validate the following destination configurations: {arn} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
        )));
    };
    let (topic_account, topic_name) = (account.to_owned(), name.to_owned());
    let destination = match kind {
        "QueueConfiguration" => Destination::Queue(arn),
        "CloudFunctionConfiguration" => Destination::CloudFunction(arn),
        _ => Destination::Topic(arn),
    };
    let events: Vec<String> = e
        .children_named("Event")
        .map(|ev| ev.text.trim().to_owned())
        .collect();
    let (mut prefix, mut suffix) = (None, None);
    if let Some(key) = e.child("Filter").and_then(|f| f.child("S3Key")) {
        for rule in key.children_named("FilterRule") {
            let value = rule.child_text("Value").unwrap_or("").to_owned();
            let slot = match rule
                .child_text("Name")
                .map(|n| n.trim().to_ascii_lowercase())
                .as_deref()
            {
                Some("prefix") => &mut prefix,
                Some("suffix") => &mut suffix,
                _ => return Err(invalid("filter rule name must be either prefix or suffix")),
            };
            if slot.replace(value).is_some() {
                return Err(invalid(
                    "Cannot specify more than one prefix or suffix rule in a filter.",
                ));
            }
        }
    }
    Ok(NotificationRule {
        id: e
            .child_text("Id")
            .map(str::to_owned)
            .unwrap_or_else(|| format!("notification-{}", n + 1)),
        destination,
        topic_account,
        topic_name,
        events,
        prefix,
        suffix,
    })
}

/// S3's limit on the event notification configurations of a bucket.
const MAX_CONFIGURATIONS: usize = 100;

pub fn parse_notifications(body: &[u8]) -> Result<Notifications, S3Error> {
    let doc = parse(body)?;
    if doc.name != "NotificationConfiguration" {
        return Err(malformed());
    }
    if doc.child("EventBridgeConfiguration").is_some() {
        return Err(S3Error::not_implemented()
            .with_message("EventBridge is not available; use a TopicConfiguration"));
    }
    let mut rules = Vec::new();
    for e in &doc.children {
        let Some((kind, arn_tag)) = KINDS.iter().find(|(k, _)| *k == e.name) else {
            return Err(malformed());
        };
        rules.push(parse_rule(e, kind, arn_tag, rules.len())?);
    }
    if rules.len() > MAX_CONFIGURATIONS {
        return Err(S3Error::invalid_argument().with_message(format!(
            "A bucket can have at most {MAX_CONFIGURATIONS} event notification configurations"
        )));
    }
    Ok(Notifications { rules })
}

pub fn render_notifications(n: &Notifications) -> String {
    let mut w = XmlWriter::new("NotificationConfiguration");
    for r in &n.rules {
        let (kind, arn_tag, arn) = match &r.destination {
            Destination::Topic(a) => ("TopicConfiguration", "Topic", a),
            Destination::Queue(a) => ("QueueConfiguration", "Queue", a),
            Destination::CloudFunction(a) => ("CloudFunctionConfiguration", "CloudFunction", a),
        };
        w.open(kind).elem("Id", &r.id).elem(arn_tag, arn);
        for e in &r.events {
            w.elem("Event", e);
        }
        if r.prefix.is_some() || r.suffix.is_some() {
            w.open("Filter").open("S3Key");
            for (name, value) in [("prefix", &r.prefix), ("suffix", &r.suffix)] {
                if let Some(v) = value {
                    w.open("FilterRule")
                        .elem("Name", name)
                        .elem("Value", v)
                        .close("FilterRule");
                }
            }
            w.close("S3Key").close("Filter");
        }
        w.close(kind);
    }
    w.finish("NotificationConfiguration")
}

pub(crate) async fn put_bucket_notification(s: &Storage, req: &mut S3Request) -> S3Result {
    let config = parse_notifications(&req.body_bytes().await?)?;
    s.put_bucket_notifications(&req.caller, req.bucket(), &config)
        .await
        .map_err(storage_error)?;
    Ok(reply::empty(StatusCode::OK))
}

pub(crate) async fn get_bucket_notification(s: &Storage, req: &mut S3Request) -> S3Result {
    let config = s
        .get_bucket_notifications(&req.caller, req.bucket())
        .await
        .map_err(storage_error)?;
    Ok(reply::xml(StatusCode::OK, render_notifications(&config)))
}

/// Writes S3 event messages, as S3 sends them to SNS, SQS and Lambda.
pub struct S3EventRenderer {
    pub region: String,
}

impl EventRenderer for S3EventRenderer {
    fn render(&self, e: &ObjectEvent<'_>) -> Vec<u8> {
        // As S3 writes it: form-encoded (a space is `+`) with `/` kept.
        let key = percent_encoding::utf8_percent_encode(e.key, crate::buckets::URL_SAFE)
            .to_string()
            .replace("%20", "+");
        let mut object = json!({ "key": key, "sequencer": e.sequencer });
        if let Some(size) = e.size {
            object["size"] = json!(size);
        }
        if let Some(etag) = e.etag {
            object["eTag"] = json!(etag);
        }
        if let Some(v) = e.version_id {
            object["versionId"] = json!(v);
        }
        let record = json!({
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": self.region,
            "eventTime": reply::iso8601(e.time),
            "eventName": e.name,
            "userIdentity": { "principalId": e.principal.unwrap_or(if e.name.starts_with("Lifecycle") { "s3.amazonaws.com" } else { "Anonymous" }) },
            "requestParameters": { "sourceIPAddress": e.source_ip.map(|ip| ip.to_string()).unwrap_or_default() },
            "responseElements": { "x-amz-request-id": e.request_id, "x-amz-id-2": e.request_id },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": e.configuration_id,
                "bucket": {
                    "name": e.bucket.name,
                    "ownerIdentity": { "principalId": e.bucket.owner },
                    "arn": format!("arn:aws:s3:::{}", e.bucket.name),
                },
                "object": object,
            },
        });
        serde_json::to_vec(&json!({ "Records": [record] })).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_round_trip() {
        let doc = br#"<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <TopicConfiguration><Id>images</Id><Topic>arn:aws:sns:us-east-1:111111111111:uploads</Topic>
            <Event>s3:ObjectCreated:*</Event><Event>s3:ObjectRemoved:Delete</Event>
            <Filter><S3Key><FilterRule><Name>Prefix</Name><Value>img/</Value></FilterRule>
              <FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter>
          </TopicConfiguration>
          <QueueConfiguration><Queue>arn:aws:sns:us-east-1:111111111111:q</Queue><Event>s3:ObjectCreated:Put</Event></QueueConfiguration>
        </NotificationConfiguration>"#;
        let n = parse_notifications(doc).unwrap();
        assert_eq!(n.rules.len(), 2);
        assert_eq!(n.rules[0].prefix.as_deref(), Some("img/"));
        assert_eq!(n.rules[0].topic_name, "uploads");
        assert_eq!(n.rules[1].id, "notification-2");
        assert_eq!(
            parse_notifications(render_notifications(&n).as_bytes()).unwrap(),
            n
        );
        assert_eq!(
            parse_notifications(b"<NotificationConfiguration/>")
                .unwrap()
                .rules
                .len(),
            0
        );
    }

    #[test]
    fn at_most_100_configurations() {
        let doc = |n: usize| {
            let one = "<TopicConfiguration><Topic>arn:aws:sns:us-east-1:111111111111:t</Topic>\
                       <Event>s3:ObjectCreated:*</Event></TopicConfiguration>";
            format!(
                "<NotificationConfiguration>{}</NotificationConfiguration>",
                one.repeat(n)
            )
        };
        assert_eq!(
            parse_notifications(doc(100).as_bytes())
                .unwrap()
                .rules
                .len(),
            100
        );
        assert_eq!(
            parse_notifications(doc(101).as_bytes()).unwrap_err().code,
            "InvalidArgument"
        );
    }

    #[test]
    fn refuses_other_destinations_and_bad_filters() {
        let code = |d: &str| parse_notifications(d.as_bytes()).unwrap_err().code;
        assert_eq!(
            code(
                "<NotificationConfiguration><QueueConfiguration><Queue>arn:aws:sqs:us-east-1:1:q</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration></NotificationConfiguration>"
            ),
            "InvalidArgument"
        );
        assert_eq!(
            code(
                "<NotificationConfiguration><TopicConfiguration><Topic>arn:aws:sns:r:1:t</Topic><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>a</Value></FilterRule><FilterRule><Name>prefix</Name><Value>b</Value></FilterRule></S3Key></Filter></TopicConfiguration></NotificationConfiguration>"
            ),
            "InvalidArgument"
        );
        assert_eq!(
            code("<NotificationConfiguration><Other/></NotificationConfiguration>"),
            "MalformedXML"
        );
    }
}
