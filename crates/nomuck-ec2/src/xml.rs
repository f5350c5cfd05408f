//! Writing EC2's XML: `<{Action}Response xmlns=…><requestId/>…` with lowerCamelCase
//! element names, lists as `<nameSet><item>…</item></nameSet>`, timestamps in ISO 8601
//! with milliseconds, and errors as `<Response><Errors><Error>…`.

use std::fmt::Display;

use nomuck_http::xml::escape;
use time::OffsetDateTime;

use crate::{Ec2Error, NAMESPACE};

/// An XML element writer; text is escaped, names are trusted constants.
#[derive(Debug, Default)]
pub struct Xml {
    out: String,
}

impl Xml {
    pub fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    pub fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name>text</name>`, or `<name/>` for empty text.
    pub fn text(&mut self, name: &str, text: &str) {
        if text.is_empty() {
            self.out.push('<');
            self.out.push_str(name);
            self.out.push_str("/>");
            return;
        }
        self.open(name);
        self.out.push_str(&escape(text));
        self.close(name);
    }

    /// An element only when there is a value.
    pub fn opt(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.text(name, text);
        }
    }

    /// Numbers and booleans (`true`/`false`, as EC2 writes them).
    pub fn value(&mut self, name: &str, value: impl Display) {
        self.text(name, &value.to_string());
    }

    /// ISO 8601 in UTC with milliseconds: `2026-12-03T15:04:05.000Z`.
    pub fn time(&mut self, name: &str, at: OffsetDateTime) {
        self.text(name, &timestamp(at));
    }

    pub fn node(&mut self, name: &str, body: impl FnOnce(&mut Self)) {
        self.open(name);
        body(self);
        self.close(name);
    }

    /// `<name><item>…</item>…</name>`; `<name/>` when there are none.
    pub fn set<T>(
        &mut self,
        name: &str,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Self, T),
    ) {
        let mut items = items.into_iter().peekable();
        if items.peek().is_none() {
            self.text(name, "");
            return;
        }
        self.open(name);
        for item in items {
            self.node("item", |x| each(x, item));
        }
        self.close(name);
    }

    /// A list of scalars: `<name><item>text</item>…</name>`.
    pub fn text_set<'a>(&mut self, name: &str, items: impl IntoIterator<Item = &'a String>) {
        self.set(name, items, |x, text| x.out.push_str(&escape(text)));
    }

    pub fn into_string(self) -> String {
        self.out
    }
}

pub fn timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// A whole success reply: `<{action}Response xmlns=…><requestId>…</requestId>{body}…`.
pub fn envelope(action: &str, request_id: &str, body: impl FnOnce(&mut Xml)) -> String {
    let mut x = Xml::default();
    x.out
        .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
    x.out.push_str(action);
    x.out.push_str("Response xmlns=\"");
    x.out.push_str(NAMESPACE);
    x.out.push_str("\">");
    x.text("requestId", request_id);
    body(&mut x);
    x.out.push_str("</");
    x.out.push_str(action);
    x.out.push_str("Response>");
    x.out
}

/// An error reply body, as EC2 writes it (note `RequestID`, not `RequestId`).
pub fn error_body(code: &str, message: &str, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code>\
<Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>",
        escape(code),
        escape(message),
        escape(request_id)
    )
}

impl Ec2Error {
    /// This error's reply body.
    pub fn to_xml(&self, request_id: &str) -> String {
        error_body(self.code(), &self.to_string(), request_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_escape_text_and_collapse_empties() {
        let mut x = Xml::default();
        x.text("a", "1<2 & 'x'");
        x.text("b", "");
        x.set("groupSet", Vec::<&str>::new(), |_, _| {});
        x.set("s", ["p", "q"], |x, v| x.text("v", v));
        assert_eq!(
            x.into_string(),
            "<a>1&lt;2 &amp; &apos;x&apos;</a><b/><groupSet/><s><item><v>p</v></item><item><v>q</v></item></s>"
        );
    }

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        let at = time::macros::datetime!(2026-12-03 16:04:05.123456 +01:00);
        assert_eq!(timestamp(at), "2026-12-03T15:04:05.123Z");
    }

    #[test]
    fn errors_use_ec2s_envelope() {
        let body = Ec2Error::MissingParameter("ImageId".into()).to_xml("req-1");
        assert!(body.ends_with(
            "<Response><Errors><Error><Code>MissingParameter</Code><Message>The request must contain \
the parameter ImageId</Message></Error></Errors><RequestID>req-1</RequestID></Response>"
        ));
    }
}
