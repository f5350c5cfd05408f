//! XML in and out. Replies are written with a small builder (fast, no allocation per
//! element beyond the output); request documents are parsed with quick-xml into plain
//! structs, and anything malformed is `MalformedXML`.

use nomuck_http::xml::escape;
use quick_xml::Reader;
use quick_xml::events::Event;

use crate::error::S3Error;

pub const S3_NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Builds an XML reply document.
pub struct XmlWriter {
    buf: String,
}

impl XmlWriter {
    /// A document whose root element carries the S3 namespace.
    pub fn new(root: &str) -> Self {
        let mut buf = String::with_capacity(1024);
        buf.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        buf.push_str(root);
        buf.push_str(" xmlns=\"");
        buf.push_str(S3_NAMESPACE);
        buf.push_str("\">");
        Self { buf }
    }

    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// Appends markup as is (an element with attributes; never user text).
    pub fn raw(&mut self, markup: &str) -> &mut Self {
        self.buf.push_str(markup);
        self
    }

    pub fn elem(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        self.buf.push_str(&escape(text));
        self.close(tag)
    }

    pub fn opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.elem(tag, text);
        }
        self
    }

    pub fn finish(mut self, root: &str) -> String {
        self.close(root);
        self.buf
    }
}

/// A parsed element tree: enough for S3's small request documents.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

/// Deepest nesting accepted; S3 documents are at most four levels deep.
const MAX_DEPTH: usize = 16;

/// Parse a document; namespaces are ignored, as S3 does.
pub fn parse(body: &[u8]) -> Result<Element, S3Error> {
    let malformed = S3Error::malformed_xml;
    let mut reader = Reader::from_reader(body);
    // Text is kept exactly: keys such as " " or "trail " are legal and must survive.
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).map_err(|_| malformed())? {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH || root.is_some() {
                    return Err(malformed());
                }
                let name = String::from_utf8(start.local_name().as_ref().to_vec())
                    .map_err(|_| malformed())?;
                stack.push(Element {
                    name,
                    ..Element::default()
                });
            }
            Event::Empty(empty) => {
                let name = String::from_utf8(empty.local_name().as_ref().to_vec())
                    .map_err(|_| malformed())?;
                let element = Element {
                    name,
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None if root.is_none() => root = Some(element),
                    None => return Err(malformed()),
                }
            }
            Event::Text(text) => {
                let text = text.unescape().map_err(|_| malformed())?;
                match stack.last_mut() {
                    Some(parent) => parent.text.push_str(&text),
                    // Whitespace around the root element is not content.
                    None if text.trim().is_empty() => {}
                    None => return Err(malformed()),
                }
            }
            Event::CData(data) => {
                let text = std::str::from_utf8(&data).map_err(|_| malformed())?;
                let parent = stack.last_mut().ok_or_else(malformed)?;
                parent.text.push_str(text);
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(malformed)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(malformed());
    }
    root.ok_or_else(malformed)
}

/// `<Tagging><TagSet><Tag><Key/><Value/></Tag>…</TagSet></Tagging>`
pub fn parse_tagging(body: &[u8]) -> Result<Vec<(String, String)>, S3Error> {
    let doc = parse(body)?;
    if doc.name != "Tagging" {
        return Err(S3Error::malformed_xml());
    }
    let set = doc.child("TagSet").ok_or_else(S3Error::malformed_xml)?;
    set.children_named("Tag")
        .map(|tag| {
            let key = tag.child_text("Key").ok_or_else(S3Error::malformed_xml)?;
            let value = tag.child_text("Value").unwrap_or("");
            Ok((key.to_owned(), value.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documents_with_namespaces_entities_and_cdata() {
        let doc = parse(
            br#"<?xml version="1.0"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
            <Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object><Object><Key><![CDATA[c<d]]></Key><VersionId/></Object></Delete>"#,
        )
        .unwrap();
        assert_eq!(doc.name, "Delete");
        let keys: Vec<_> = doc
            .children_named("Object")
            .map(|o| o.child_text("Key").unwrap())
            .collect();
        assert_eq!(keys, ["a&b", "c<d"]);
        assert_eq!(doc.child_text("Quiet"), Some("true"));
    }

    #[test]
    fn leaf_text_keeps_its_whitespace() {
        let doc = parse(b"<?xml version=\"1.0\"?>\n<Delete>\n  <Object><Key> </Key></Object>\n  <Object><Key>trail </Key></Object>\n</Delete>\n").unwrap();
        let keys: Vec<_> = doc
            .children_named("Object")
            .map(|o| o.child_text("Key").unwrap())
            .collect();
        assert_eq!(keys, [" ", "trail "]);
    }

    #[test]
    fn malformed_documents_are_errors() {
        for bad in [
            &b""[..],
            b"<a>",
            b"<a></b>",
            b"</a>",
            b"<a/><b/>",
            b"text",
            b"<a>&bogus;</a>",
        ] {
            assert_eq!(
                parse(bad).unwrap_err().code,
                "MalformedXML",
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn writes_escaped_documents() {
        let mut w = XmlWriter::new("Root");
        w.elem("Key", "a<b")
            .opt("Missing", None)
            .opt("Here", Some("x"));
        assert_eq!(
            w.finish("Root"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Root xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Key>a&lt;b</Key><Here>x</Here></Root>"
        );
    }

    #[test]
    fn tagging() {
        let tags = parse_tagging(b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag><Tag><Key>e</Key><Value></Value></Tag></TagSet></Tagging>").unwrap();
        assert_eq!(
            tags,
            [
                ("k".to_owned(), "v".to_owned()),
                ("e".to_owned(), String::new())
            ]
        );
        assert!(parse_tagging(b"<Tagging/>").is_err());
    }
}
