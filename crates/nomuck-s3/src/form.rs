//! `multipart/form-data` (RFC 7578) bodies of browser POST uploads (POST Object).
//!
//! S3 reads the text fields up to the `file` field and ignores everything after it, and
//! the file may be gigabytes: [`read_form`] collects the fields (bounded) and hands back
//! the file part as a streaming [`Body`] that ends at the next boundary delimiter.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use http_body::Frame;
use http_body_util::BodyExt;
use nomuck_http::{Body, BodyError};

/// Largest header block of one part; real ones are two short lines.
const MAX_PART_HEADERS: usize = 16 << 10;

/// Linear whitespace inside header values and after a boundary (transport padding).
const WS: [char; 2] = [' ', '\t'];

#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("the request content type is not multipart/form-data")]
    NotMultipart,
    #[error("the multipart/form-data boundary is missing or invalid")]
    BadBoundary,
    #[error("malformed multipart/form-data body: {0}")]
    Malformed(&'static str),
    #[error("the form fields are larger than {limit} bytes")]
    FieldsTooLarge { limit: usize },
    #[error("the form has no file field")]
    MissingFile,
    #[error("the multipart/form-data body ended before its closing boundary")]
    Truncated,
    /// The request body itself failed (client gone, edge limit, bad signature).
    #[error("{0}")]
    Body(BodyError),
}

impl FormError {
    /// This error as a body error, for `nomuck_http::into_rejection`: a failure of the
    /// request body comes back unchanged (so `BodyTooLarge` and `AuthError` are still
    /// recognised), a form error is boxed as itself.
    pub fn into_body_error(self) -> BodyError {
        match self {
            FormError::Body(err) => err,
            other => Box::new(other),
        }
    }
}

/// A text field, name as sent (S3 matches names case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    pub name: String,
    pub value: String,
}

/// What the `file` part says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileHead {
    pub filename: Option<String>,
    pub content_type: Option<String>,
}

/// The boundary of a `multipart/form-data` Content-Type header value.
pub fn boundary(content_type: &str) -> Result<String, FormError> {
    let (media_type, params) =
        content_type.split_at(content_type.find(';').unwrap_or(content_type.len()));
    if !media_type
        .trim_matches(WS)
        .eq_ignore_ascii_case("multipart/form-data")
    {
        return Err(FormError::NotMultipart);
    }
    let params = parse_params(params).map_err(|_| FormError::BadBoundary)?;
    let (_, boundary) = params
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("boundary"))
        .ok_or(FormError::BadBoundary)?;
    // RFC 2046 `boundary`: 1..=70 of `bchars`, not ending in a space.
    let valid = (1..=70).contains(&boundary.len())
        && !boundary.ends_with(' ')
        && boundary
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b));
    if valid {
        Ok(boundary)
    } else {
        Err(FormError::BadBoundary)
    }
}

/// Reads the text fields up to the `file` field (at most `fields_limit` bytes of names
/// and values) and returns them, the file part's headers, and a body streaming exactly
/// the file's content. The file body fails (rather than ending) if the request ends
/// before the delimiter after the file, so a truncated upload is never taken for a
/// whole one; what follows that delimiter is never read.
pub async fn read_form(
    body: Body,
    boundary: &str,
    fields_limit: usize,
) -> Result<(Vec<FormField>, FileHead, Body), FormError> {
    let delimiter = Finder::new(format!("\r\n--{boundary}").into_bytes());
    // The first delimiter may open the body with no CRLF of its own.
    let mut reader = Reader {
        body,
        buf: BytesMut::from(&b"\r\n"[..]),
    };
    // The preamble is skipped, keeping only what may begin the first delimiter.
    loop {
        if let Some(at) = delimiter.find(&reader.buf) {
            reader.buf.advance(at + delimiter.len());
            break;
        }
        let keep = delimiter.partial_suffix(&reader.buf);
        reader.buf.advance(reader.buf.len() - keep);
        reader.fill().await?;
    }
    let mut fields = Vec::new();
    let mut budget = fields_limit;
    loop {
        if reader.after_delimiter().await? == Ending::Close {
            return Err(FormError::MissingFile);
        }
        let part = reader.part_headers().await?;
        if part.name.eq_ignore_ascii_case("file") {
            let head = FileHead {
                filename: part.filename,
                content_type: part.content_type,
            };
            let file = FileBody {
                inner: reader.body,
                delimiter,
                tail: BytesMut::new(),
                input: reader.buf.freeze(),
                state: FileState::Data,
            };
            return Ok((fields, head, file.boxed_unsync()));
        }
        budget = budget
            .checked_sub(part.name.len())
            .ok_or(FormError::FieldsTooLarge {
                limit: fields_limit,
            })?;
        let value = reader.field_value(&delimiter, budget, fields_limit).await?;
        budget -= value.len();
        let value = String::from_utf8(value.into())
            .map_err(|_| FormError::Malformed("a form field value is not UTF-8"))?;
        fields.push(FormField {
            name: part.name,
            value,
        });
    }
}

/// The request body while the fields are read: everything after the latest delimiter
/// or part header block, in memory (bounded by the fields limit).
struct Reader {
    body: Body,
    buf: BytesMut,
}

impl Reader {
    /// Appends the next frame's data; the body ending here means it was cut short.
    async fn fill(&mut self) -> Result<(), FormError> {
        match self.body.frame().await {
            None => Err(FormError::Truncated),
            Some(Err(err)) => Err(FormError::Body(err)),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    self.buf.extend_from_slice(&data);
                }
                Ok(())
            }
        }
    }

    async fn after_delimiter(&mut self) -> Result<Ending, FormError> {
        let mut after = AfterDelimiter::Start;
        loop {
            let (used, ending) = after.scan(&self.buf)?;
            self.buf.advance(used);
            if let Some(ending) = ending {
                return Ok(ending);
            }
            self.fill().await?;
        }
    }

    async fn part_headers(&mut self) -> Result<PartHead, FormError> {
        let mut searched = 0;
        loop {
            let found = self
                .buf
                .get(searched..)
                .and_then(|rest| rest.windows(4).position(|w| w == b"\r\n\r\n"));
            if let Some(at) = found {
                let at = searched + at;
                if at > MAX_PART_HEADERS {
                    break;
                }
                let block = self.buf.split_to(at);
                self.buf.advance(4);
                return parse_part_headers(&block);
            }
            if self.buf.len() > MAX_PART_HEADERS + 3 {
                break;
            }
            searched = self.buf.len().saturating_sub(3);
            self.fill().await?;
        }
        Err(FormError::Malformed("part headers are too large"))
    }

    /// The value of a text field of at most `budget` bytes, and its closing delimiter.
    async fn field_value(
        &mut self,
        delimiter: &Finder,
        budget: usize,
        limit: usize,
    ) -> Result<BytesMut, FormError> {
        let mut searched = 0;
        loop {
            let found = self
                .buf
                .get(searched..)
                .and_then(|rest| delimiter.find(rest));
            if let Some(at) = found {
                let at = searched + at;
                if at > budget {
                    break;
                }
                let value = self.buf.split_to(at);
                self.buf.advance(delimiter.len());
                return Ok(value);
            }
            // All but a possible start of the delimiter is value.
            searched = self.buf.len().saturating_sub(delimiter.len() - 1);
            if searched > budget {
                break;
            }
            self.fill().await?;
        }
        Err(FormError::FieldsTooLarge { limit })
    }
}

struct PartHead {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
}

fn parse_part_headers(block: &[u8]) -> Result<PartHead, FormError> {
    let block = std::str::from_utf8(block)
        .map_err(|_| FormError::Malformed("part headers are not UTF-8"))?;
    let mut headers: Vec<(&str, String)> = Vec::new();
    for line in block.split("\r\n").filter(|_| !block.is_empty()) {
        if line.starts_with(WS) {
            // Obsolete line folding: a continuation of the previous header.
            let (_, value) = headers.last_mut().ok_or(FormError::Malformed(
                "part headers start with a folded line",
            ))?;
            value.push(' ');
            value.push_str(line.trim_matches(WS));
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(FormError::Malformed("a part header line has no colon"))?;
        headers.push((name.trim_matches(WS), value.trim_matches(WS).to_owned()));
    }
    let header = |wanted: &str| {
        headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value.as_str())
    };
    let disposition = header("content-disposition")
        .ok_or(FormError::Malformed("a part has no Content-Disposition"))?;
    let (kind, params) = disposition.split_at(disposition.find(';').unwrap_or(disposition.len()));
    if !kind.trim_matches(WS).eq_ignore_ascii_case("form-data") {
        return Err(FormError::Malformed("a part is not form-data"));
    }
    let mut name = None;
    let mut filename = None;
    for (param, value) in parse_params(params)? {
        if param.eq_ignore_ascii_case("name") {
            name.get_or_insert(value);
        } else if param.eq_ignore_ascii_case("filename") {
            filename.get_or_insert(value);
        }
    }
    Ok(PartHead {
        name: name.ok_or(FormError::Malformed("a part has no name"))?,
        filename,
        content_type: header("content-type").map(str::to_owned),
    })
}

/// `; name=value` parameters (values tokens or quoted strings) of a header value,
/// starting at the first `;`. Parameters without a value are skipped.
fn parse_params(mut rest: &str) -> Result<Vec<(&str, String)>, FormError> {
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(WS);
        if rest.is_empty() {
            return Ok(params);
        }
        rest = rest
            .strip_prefix(';')
            .ok_or(FormError::Malformed("junk after a header parameter"))?
            .trim_start_matches(WS);
        let end = rest.find([';', '=']).unwrap_or(rest.len());
        let (name, after) = rest.split_at(end);
        let Some(after) = after.strip_prefix('=') else {
            rest = after;
            continue;
        };
        let name = name.trim_end_matches(WS);
        if name.is_empty() {
            return Err(FormError::Malformed("a header parameter has no name"));
        }
        let after = after.trim_start_matches(WS);
        let value = if let Some(quoted) = after.strip_prefix('"') {
            let (value, after) = quoted_string(quoted)?;
            rest = after;
            value
        } else {
            let end = after.find(';').unwrap_or(after.len());
            let (value, after) = after.split_at(end);
            rest = after;
            value.trim_end_matches(WS).to_owned()
        };
        params.push((name, value));
    }
}

/// A quoted string after its opening quote, and what follows its closing quote.
/// Only `\"` and `\\` are escapes: browsers send Windows paths with bare backslashes.
fn quoted_string(s: &str) -> Result<(String, &str), FormError> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &s[at + 1..])),
            '\\' if matches!(s[at + 1..].chars().next(), Some('"' | '\\')) => {
                if let Some((_, escaped)) = chars.next() {
                    value.push(escaped);
                }
            }
            c => value.push(c),
        }
    }
    Err(FormError::Malformed("unterminated quoted string"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// `--`: the close delimiter, the end of the form.
    Close,
    /// CRLF: another part follows.
    Next,
}

/// What follows a delimiter, read a byte at a time so that nothing is buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterDelimiter {
    Start,
    Dash,
    Padding,
    Cr,
}

impl AfterDelimiter {
    /// Consumes from `bytes` until decided; returns the bytes used and the ending, if
    /// `bytes` held enough to decide.
    fn scan(&mut self, bytes: &[u8]) -> Result<(usize, Option<Ending>), FormError> {
        use AfterDelimiter::*;
        for (at, &b) in bytes.iter().enumerate() {
            *self = match (*self, b) {
                (Start, b'-') => Dash,
                (Dash, b'-') => return Ok((at + 1, Some(Ending::Close))),
                (Start | Padding, b' ' | b'\t') => Padding,
                (Start | Padding, b'\r') => Cr,
                (Cr, b'\n') => return Ok((at + 1, Some(Ending::Next))),
                _ => {
                    return Err(FormError::Malformed(
                        "a boundary delimiter is followed by neither CRLF nor --",
                    ));
                }
            };
        }
        Ok((bytes.len(), None))
    }
}

/// Substring search for the delimiter (Horspool: the delimiter is long and rare, so
/// most of a file's bytes are skipped, not compared).
struct Finder {
    needle: Box<[u8]>,
    skip: [usize; 256],
}

impl Finder {
    /// `needle` is `\r\n--boundary`, never empty.
    fn new(needle: Vec<u8>) -> Self {
        let n = needle.len();
        let mut skip = [n; 256];
        for (at, &b) in needle.iter().enumerate().take(n.saturating_sub(1)) {
            skip[usize::from(b)] = n - 1 - at;
        }
        Self {
            needle: needle.into(),
            skip,
        }
    }

    fn len(&self) -> usize {
        self.needle.len()
    }

    fn find(&self, hay: &[u8]) -> Option<usize> {
        let n = self.needle.len();
        let last = *self.needle.last()?;
        let mut at = 0;
        while let Some(window) = hay.get(at..at + n) {
            let end = *window.last()?;
            if end == last && *window == *self.needle {
                return Some(at);
            }
            at += self.skip[usize::from(end)];
        }
        None
    }

    /// Length of the longest end of `hay` that may begin the delimiter: the bytes to
    /// hold back until more arrive.
    fn partial_suffix(&self, hay: &[u8]) -> usize {
        let start = hay
            .len()
            .saturating_sub(self.needle.len().saturating_sub(1));
        (start..hay.len())
            .find(|&at| self.needle.starts_with(&hay[at..]))
            .map_or(0, |at| hay.len() - at)
    }
}

#[derive(Debug, Clone, Copy)]
enum FileState {
    Data,
    Ending(AfterDelimiter),
    Done,
}

/// The file part's content; ends once the delimiter after it (and what follows the
/// delimiter) has been seen.
struct FileBody {
    inner: Body,
    delimiter: Finder,
    /// Examined bytes that may be the start of the delimiter (shorter than it).
    tail: BytesMut,
    /// Received bytes not examined yet.
    input: Bytes,
    state: FileState,
}

impl FileBody {
    /// File content from `input` that cannot belong to the delimiter (maybe empty).
    fn scan_data(&mut self) -> Bytes {
        let n = self.delimiter.len();
        if self.tail.is_empty() {
            let data = std::mem::take(&mut self.input);
            if let Some(at) = self.delimiter.find(&data) {
                self.input = data.slice(at + n..);
                self.state = FileState::Ending(AfterDelimiter::Start);
                return data.slice(..at);
            }
            let cut = data.len() - self.delimiter.partial_suffix(&data);
            self.tail.extend_from_slice(&data[cut..]);
            return data.slice(..cut);
        }
        // A delimiter may straddle the tail and the input: look at both together,
        // copying at most one delimiter's worth of the input.
        let held = self.tail.len();
        let took = self.input.len().min(n - 1);
        self.tail.extend_from_slice(&self.input[..took]);
        let window = self.tail.split().freeze();
        if let Some(at) = self.delimiter.find(&window) {
            // The tail is shorter than the delimiter, so it ends in the input.
            let used = (at + n).saturating_sub(held).min(self.input.len());
            self.input.advance(used);
            self.state = FileState::Ending(AfterDelimiter::Start);
            return window.slice(..at);
        }
        let keep = self.delimiter.partial_suffix(&window);
        if keep <= took {
            // Leave those bytes in the input, to be scanned without copying.
            self.input.advance(took - keep);
        } else {
            self.input.advance(took);
            self.tail.extend_from_slice(&window[window.len() - keep..]);
        }
        window.slice(..window.len() - keep)
    }

    fn fail(&mut self, err: BodyError) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.state = FileState::Done;
        self.input = Bytes::new();
        Poll::Ready(Some(Err(err)))
    }
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        loop {
            match this.state {
                FileState::Done => return Poll::Ready(None),
                FileState::Data if !this.input.is_empty() => {
                    let data = this.scan_data();
                    if !data.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                FileState::Ending(mut after) if !this.input.is_empty() => {
                    match after.scan(&this.input) {
                        Ok((_, Some(_))) => {
                            this.state = FileState::Done;
                            this.input = Bytes::new();
                        }
                        Ok((used, None)) => {
                            this.input.advance(used);
                            this.state = FileState::Ending(after);
                        }
                        Err(err) => return this.fail(Box::new(err)),
                    }
                }
                _ => match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            this.input = data;
                        }
                    }
                    Some(Err(err)) => return this.fail(err),
                    None => return this.fail(Box::new(FormError::Truncated)),
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, FileState::Done)
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use futures_util::{FutureExt, StreamExt};
    use http_body_util::StreamBody;
    use nomuck_http::BodyTooLarge;
    use proptest::prelude::*;

    use super::*;

    const B: &str = "----WebKitFormBoundary7MA4YWxkTrZu0gW";

    /// Test bodies never wait, so their futures finish on the first poll.
    fn run<F: Future>(future: F) -> F::Output {
        future.now_or_never().expect("test bodies are always ready")
    }

    fn body_of(chunks: Vec<Vec<u8>>) -> Body {
        let frames = chunks
            .into_iter()
            .map(|c| Ok::<_, BodyError>(Frame::data(Bytes::from(c))));
        StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync()
    }

    /// `bytes` in pieces of the given sizes (cycled).
    fn split(bytes: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
        let mut chunks = Vec::new();
        let mut rest = bytes;
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, after) = rest.split_at((*size).clamp(1, rest.len()));
            chunks.push(chunk.to_vec());
            rest = after;
        }
        chunks
    }

    async fn drain(mut body: Body) -> Result<Vec<u8>, BodyError> {
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                assert!(!data.is_empty(), "empty data frame");
                out.extend_from_slice(&data);
            }
        }
        Ok(out)
    }

    fn quote(s: &str) -> String {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }

    fn field(boundary: &str, name: &str, value: &[u8]) -> Vec<u8> {
        let mut part = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name={}\r\n\r\n",
            quote(name)
        )
        .into_bytes();
        part.extend_from_slice(value);
        part.extend_from_slice(b"\r\n");
        part
    }

    fn file(boundary: &str, content: &[u8]) -> Vec<u8> {
        let mut part = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        )
        .into_bytes();
        part.extend_from_slice(content);
        part.extend_from_slice(b"\r\n");
        part
    }

    fn close(boundary: &str) -> Vec<u8> {
        format!("--{boundary}--\r\n").into_bytes()
    }

    type Drained = Result<Vec<u8>, BodyError>;

    fn read_all(
        bytes: &[u8],
        sizes: &[usize],
        limit: usize,
    ) -> Result<(Vec<FormField>, FileHead, Drained), FormError> {
        run(async {
            let (fields, head, file) = read_form(body_of(split(bytes, sizes)), B, limit).await?;
            Ok((fields, head, drain(file).await))
        })
    }

    fn presigned_post(content: &[u8]) -> Vec<u8> {
        let mut body = b"preamble to ignore\r\n".to_vec();
        for (name, value) in [
            ("key", "uploads/${filename}"),
            ("AWSAccessKeyId", "AKIDEXAMPLE"),
            ("x-amz-meta-owner", "ünïcode"),
            (
                "policy",
                "eyJleHBpcmF0aW9uIjogIjIwMzAtMDEtMDFUMDA6MDA6MDBaIn0=",
            ),
            ("signature", "0RavWzkygo6QX9caELEqKi9kDbU="),
        ] {
            body.extend(field(B, name, value.as_bytes()));
        }
        body.extend(file(B, content));
        body.extend(field(B, "ignored-after-file", b"x"));
        body.extend(close(B));
        body.extend_from_slice(b"epilogue");
        body
    }

    #[test]
    fn boundary_from_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=----abc").unwrap(),
            "----abc"
        );
        assert_eq!(
            boundary("Multipart/Form-Data ; charset=utf-8;BOUNDARY=\"a b:c\"").unwrap(),
            "a b:c"
        );
        assert!(matches!(
            boundary("application/x-www-form-urlencoded"),
            Err(FormError::NotMultipart)
        ));
        assert!(matches!(
            boundary("multipart/mixed; boundary=x"),
            Err(FormError::NotMultipart)
        ));
        for bad in [
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=\"\"",
            "multipart/form-data; boundary=\"ends with space \"",
            "multipart/form-data; boundary=\"unterminated",
            "multipart/form-data; boundary=a\u{e9}",
        ] {
            assert!(
                matches!(boundary(bad), Err(FormError::BadBoundary)),
                "{bad}"
            );
        }
        let long = format!("multipart/form-data; boundary={}", "x".repeat(71));
        assert!(matches!(boundary(&long), Err(FormError::BadBoundary)));
    }

    #[test]
    fn presigned_post_form() {
        let content = b"\xff\xd8\xff\xe0 binary \0 jpeg";
        for sizes in [&[usize::MAX][..], &[1], &[3, 7, 1, 100]] {
            let (fields, head, data) = read_all(&presigned_post(content), sizes, 20_000).unwrap();
            let names: Vec<_> = fields.iter().map(|f| f.name.as_str()).collect();
            assert_eq!(
                names,
                [
                    "key",
                    "AWSAccessKeyId",
                    "x-amz-meta-owner",
                    "policy",
                    "signature"
                ]
            );
            assert_eq!(fields[2].value, "ünïcode");
            assert_eq!(head.filename.as_deref(), Some("photo.jpg"));
            assert_eq!(head.content_type.as_deref(), Some("image/jpeg"));
            assert_eq!(data.unwrap(), content);
        }
    }

    #[test]
    fn empty_file_and_close_right_after() {
        let mut body = field(B, "key", b"k");
        body.extend(file(B, b""));
        body.extend(format!("--{B}--").into_bytes());
        let (fields, _, data) = read_all(&body, &[1], 100).unwrap();
        assert_eq!(fields.len(), 1);
        assert_eq!(data.unwrap(), b"");
    }

    #[test]
    fn file_content_resembling_the_delimiter() {
        let short = &B[..B.len() - 1];
        let content = format!("\r\n--\r\n--{short}\r\n\r\n-{B}\r\n--X{B}\r\n\r\r\n--{short}\r");
        let mut body = file(B, content.as_bytes());
        body.extend(close(B));
        for sizes in [&[usize::MAX][..], &[1], &[2], &[5, 1, 13], &[B.len() + 3]] {
            let (_, _, data) = read_all(&body, sizes, 0).unwrap();
            assert_eq!(data.unwrap(), content.as_bytes());
        }
    }

    #[test]
    fn header_variants() {
        let body = format!(
            "--{B}  \t\r\ncontent-disposition: Form-Data; name=plain ; x; other=\"a;b\"\r\n\r\nv\r\n\
             --{B}\r\nContent-Disposition: form-data;\r\n name=\"q\\\"uote\"\r\n\r\nw\r\n\
             --{B}\r\nCONTENT-DISPOSITION: form-data; name=FILE; filename=\"C:\\dir\\a \\\"b\\\".txt\"\r\n\r\n\
             data\r\n--{B}--"
        );
        let (fields, head, data) = read_all(body.as_bytes(), &[usize::MAX], 100).unwrap();
        assert_eq!(
            fields,
            [
                FormField {
                    name: "plain".into(),
                    value: "v".into()
                },
                FormField {
                    name: "q\"uote".into(),
                    value: "w".into()
                }
            ]
        );
        assert_eq!(head.filename.as_deref(), Some("C:\\dir\\a \"b\".txt"));
        assert_eq!(head.content_type, None);
        assert_eq!(data.unwrap(), b"data");
    }

    #[test]
    fn streams_before_the_body_ends() {
        let mut head = file(B, b"first bytes");
        head.truncate(head.len() - 2);
        let frames =
            futures_util::stream::iter([Ok::<_, BodyError>(Frame::data(Bytes::from(head)))])
                .chain(futures_util::stream::pending());
        let body = StreamBody::new(frames).boxed_unsync();
        let (_, _, mut file) = run(read_form(body, B, 0)).unwrap();
        let frame = run(file.frame()).unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "first bytes");
        assert!(file.frame().now_or_never().is_none(), "waits for more");
    }

    #[test]
    fn truncated_upload_fails() {
        let mut body = field(B, "key", b"k");
        body.extend(file(B, b"partial content"));
        // Cut anywhere inside the file part or its delimiter.
        let file_start = body.len() - b"partial content\r\n".len();
        for cut in file_start..body.len() + B.len() + 2 {
            let mut cut_body = body.clone();
            cut_body.extend(format!("--{B}").into_bytes());
            cut_body.truncate(cut);
            let (_, _, data) = read_all(&cut_body, &[4], 100).unwrap();
            let err = data.unwrap_err();
            assert!(
                matches!(err.downcast_ref::<FormError>(), Some(FormError::Truncated)),
                "cut at {cut}: {err}"
            );
        }
        // Cut before the file part: no file at all.
        for cut in 0..file_start {
            let result = read_all(&body[..cut], &[4], 100);
            assert!(matches!(result, Err(FormError::Truncated)), "cut at {cut}");
        }
    }

    #[test]
    fn delimiter_followed_by_junk() {
        let mut body = file(B, b"abc");
        body.extend(format!("--{B}junk").into_bytes());
        let (_, _, data) = read_all(&body, &[1], 0).unwrap();
        let err = data.unwrap_err();
        assert!(matches!(
            err.downcast_ref::<FormError>(),
            Some(FormError::Malformed(_))
        ));
    }

    #[test]
    fn form_errors() {
        let mut no_file = field(B, "key", b"k");
        no_file.extend(close(B));
        assert!(matches!(
            read_all(&no_file, &[usize::MAX], 100),
            Err(FormError::MissingFile)
        ));

        let mut big = field(B, "key", &[b'k'; 100]);
        big.extend(file(B, b""));
        assert!(read_all(&big, &[usize::MAX], 103).is_ok());
        for sizes in [&[usize::MAX][..], &[1]] {
            assert!(matches!(
                read_all(&big, sizes, 102),
                Err(FormError::FieldsTooLarge { limit: 102 })
            ));
        }

        for bad in [
            format!("--{B}\r\nContent-Type: text/plain\r\n\r\nv\r\n"),
            format!("--{B}\r\nContent-Disposition: attachment; name=a\r\n\r\nv\r\n"),
            format!("--{B}\r\nContent-Disposition: form-data; filename=a\r\n\r\nv\r\n"),
            format!("--{B}\r\nContent-Disposition: form-data; name=\"a\r\n\r\nv\r\n"),
            format!("--{B}\r\n\r\nv\r\n"),
            format!("--{B}\r\nno colon\r\n\r\nv\r\n"),
            format!("--{B}\r\n folded\r\n\r\nv\r\n"),
            format!("--{B}\n\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n"),
            format!("--{B}x\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n"),
        ] {
            let mut body = bad.into_bytes();
            body.extend(file(B, b""));
            let result = read_all(&body, &[usize::MAX], 1000);
            assert!(
                matches!(result, Err(FormError::Malformed(_))),
                "{:?}: {:?}",
                String::from_utf8_lossy(&body),
                result.map(|(f, ..)| f)
            );
        }

        let mut not_utf8 = field(B, "key", b"\xff");
        not_utf8.extend(file(B, b""));
        assert!(matches!(
            read_all(&not_utf8, &[usize::MAX], 100),
            Err(FormError::Malformed(_))
        ));

        let huge_headers = format!("--{B}\r\nX: {}\r\n\r\n", "h".repeat(MAX_PART_HEADERS));
        assert!(matches!(
            read_all(huge_headers.as_bytes(), &[1000], 1000),
            Err(FormError::Malformed(_))
        ));
    }

    #[test]
    fn body_errors_pass_through() {
        let with_failure = |bytes: Vec<u8>| {
            let failure: BodyError = Box::new(BodyTooLarge { limit: 7 });
            let frames = [Ok(Frame::data(Bytes::from(bytes))), Err(failure)];
            StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync()
        };
        // While the fields are read.
        let err = run(read_form(with_failure(field(B, "key", b"k")), B, 100))
            .map(|_| ())
            .unwrap_err()
            .into_body_error();
        assert!(err.downcast_ref::<BodyTooLarge>().is_some());
        // While the file is read.
        let (_, _, file_body) = run(read_form(with_failure(file(B, b"abc")), B, 0)).unwrap();
        let err = run(drain(file_body)).unwrap_err();
        assert!(err.downcast_ref::<BodyTooLarge>().is_some());
        // After the file and its delimiter: never read.
        let mut whole = file(B, b"abc");
        whole.extend(format!("--{B}\r\n").into_bytes());
        let (_, _, file_body) = run(read_form(with_failure(whole), B, 0)).unwrap();
        assert_eq!(run(drain(file_body)).unwrap(), b"abc");
    }

    fn file_bytes() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            Just(b"\r\n".to_vec()),
            Just(b"\r\n--".to_vec()),
            (0..B.len()).prop_map(|n| format!("\r\n--{}", &B[..n]).into_bytes()),
            (0..B.len()).prop_map(|n| B.as_bytes()[..n].to_vec()),
        ];
        prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn round_trip(
            before in prop::collection::vec(("[a-zA-Z0-9_\"\\\\ -]{0,20}", ".{0,40}"), 0..6),
            after in prop::collection::vec(("[a-z]{1,5}", ".{0,10}"), 0..3),
            content in file_bytes(),
            preamble in "[a-z\r\n]{0,20}",
            sizes in prop::collection::vec(1usize..80, 1..20),
            one_byte in any::<bool>(),
        ) {
            let delimiter = format!("\r\n--{B}");
            let mut body = preamble.into_bytes();
            body.extend_from_slice(b"\r\n");
            for (name, value) in &before {
                prop_assume!(!name.eq_ignore_ascii_case("file"));
                prop_assume!(!format!("\r\n{value}\r\n").contains(&delimiter[2..]));
                body.extend(field(B, name, value.as_bytes()));
            }
            prop_assume!(!content.windows(delimiter.len()).any(|w| w == delimiter.as_bytes()));
            body.extend(file(B, &content));
            for (name, value) in &after {
                body.extend(field(B, name, value.as_bytes()));
            }
            body.extend(close(B));
            let sizes = if one_byte { vec![1] } else { sizes };
            let (fields, head, data) = read_all(&body, &sizes, usize::MAX).unwrap();
            let expected: Vec<_> = before
                .iter()
                .map(|(name, value)| FormField { name: name.clone(), value: value.clone() })
                .collect();
            prop_assert_eq!(fields, expected);
            prop_assert_eq!(head.filename.as_deref(), Some("photo.jpg"));
            prop_assert_eq!(data.unwrap(), content);
        }

        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512), size in 1usize..40) {
            let _ = read_all(&bytes, &[size], 64);
        }
    }
}
