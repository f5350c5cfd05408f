//! Browser POST upload forms (`multipart/form-data`) from untrusted bytes in
//! arbitrary splits: errors, never panics, bounded fields; plus a differential mode
//! where a valid form built from the input must give back its file exactly.
#![no_main]

use bytes::Bytes;
use futures_util::FutureExt;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use libfuzzer_sys::fuzz_target;
use nomuck_s3::form::{FormError, read_form};

type BodyError = Box<dyn std::error::Error + Send + Sync>;

const FIELDS_LIMIT: usize = 256;

/// `bytes` as a request body in pieces of `chunk` bytes.
fn body(
    bytes: &[u8],
    chunk: usize,
) -> http_body_util::combinators::UnsyncBoxBody<Bytes, BodyError> {
    let frames: Vec<Result<Frame<Bytes>, BodyError>> = bytes
        .chunks(chunk.max(1))
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync()
}

/// The form's fields and file, or `None` if it was refused. The test bodies are
/// always ready, so every future finishes on its first poll.
fn parse(bytes: &[u8], boundary: &str, chunk: usize) -> Option<(Vec<(String, String)>, Vec<u8>)> {
    let read = read_form(body(bytes, chunk), boundary, FIELDS_LIMIT)
        .now_or_never()
        .expect("ready body");
    let (fields, _head, mut file) = match read {
        Ok(form) => form,
        Err(FormError::Body(_)) => panic!("the test body never fails"),
        Err(_) => return None,
    };
    let total: usize = fields.iter().map(|f| f.name.len() + f.value.len()).sum();
    assert!(total <= FIELDS_LIMIT);
    let mut content = Vec::new();
    loop {
        match file.frame().now_or_never().expect("ready body") {
            None => break,
            Some(Ok(frame)) => {
                let data = frame.into_data().expect("data frames only");
                assert!(!data.is_empty());
                content.extend_from_slice(&data);
            }
            Some(Err(err)) => {
                assert!(err.downcast_ref::<FormError>().is_some());
                return None;
            }
        }
    }
    let fields = fields.into_iter().map(|f| (f.name, f.value)).collect();
    Some((fields, content))
}

fuzz_target!(|input: &[u8]| {
    let [mode, chunk, boundary_len, rest @ ..] = input else {
        return;
    };
    let (boundary, data) = rest.split_at(usize::from(*boundary_len % 72).min(rest.len()));
    let Ok(boundary) = std::str::from_utf8(boundary) else {
        return;
    };
    let chunk = usize::from(*chunk);
    if mode & 1 == 0 {
        // Raw bytes.
        let _ = parse(data, boundary, chunk);
        return;
    }
    // Differential: a well-formed form whose file is `data`.
    let delimiter = format!("\r\n--{boundary}");
    if boundary.is_empty()
        || data
            .windows(delimiter.len())
            .any(|w| w == delimiter.as_bytes())
    {
        return;
    }
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nuploads/x\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(data);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let (fields, content) = parse(&form, boundary, chunk).expect("valid form refused");
    assert_eq!(fields, [("key".to_owned(), "uploads/x".to_owned())]);
    assert_eq!(content, data);
});
