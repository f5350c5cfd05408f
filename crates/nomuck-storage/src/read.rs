//! Serving object bytes: conditional-request evaluation, range and part
//! resolution, and the byte stream over inline data or blob segments.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use nomuck_blob::{BlobId, BlobStore};
use nomuck_meta::{Millis, ObjectData, ObjectVersion, Segment};

use crate::StorageError;
use crate::sse::DataKeyBytes;
use crate::sse::segments::{self, HEADER, Opener, Tampered};
use crate::types::{ByteRange, ByteStream, Conditions, ContentRange};

/// Whether `etag` is named by an `If-Match` / `If-None-Match` value.
pub(crate) fn etag_listed(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|candidate| {
        let c = candidate.strip_prefix("W/").unwrap_or(candidate);
        c == "*" || nomuck_meta::multipart::unquote_etag(c) == etag
    })
}

/// HTTP dates have second precision; compare at that precision.
fn secs(m: Millis) -> i64 {
    m.div_euclid(1000)
}

/// S3's evaluation order: If-Match beats If-Unmodified-Since, If-None-Match
/// beats If-Modified-Since; 412 is checked before 304.
pub(crate) fn check_conditions(
    c: &Conditions,
    etag: &str,
    last_modified: Millis,
) -> Result<(), StorageError> {
    match (&c.if_match, c.if_unmodified_since) {
        (Some(m), _) if !etag_listed(m, etag) => return Err(StorageError::PreconditionFailed),
        (None, Some(t)) if secs(last_modified) > secs(t) => {
            return Err(StorageError::PreconditionFailed);
        }
        _ => {}
    }
    let not_modified = match (&c.if_none_match, c.if_modified_since) {
        (Some(n), _) => etag_listed(n, etag),
        (None, Some(t)) => secs(last_modified) <= secs(t),
        _ => false,
    };
    if not_modified {
        return Err(StorageError::NotModified {
            etag: etag.to_owned(),
            last_modified,
        });
    }
    Ok(())
}

/// The half-open byte range a `Range` header selects, or `InvalidRange`.
pub(crate) fn resolve_range(r: ByteRange, size: u64) -> Result<Range<u64>, StorageError> {
    let invalid = || StorageError::InvalidRange { size };
    let (start, end_incl) = match r {
        ByteRange::FromTo(a, b) if a <= b => (a, b.min(size.saturating_sub(1))),
        ByteRange::FromTo(..) => return Err(invalid()),
        ByteRange::From(a) => (a, size.saturating_sub(1)),
        ByteRange::Suffix(0) => return Err(invalid()),
        ByteRange::Suffix(n) => (size.saturating_sub(n), size.saturating_sub(1)),
    };
    if size == 0 || start >= size {
        return Err(invalid());
    }
    Ok(start..end_incl + 1)
}

/// The byte range of part `n` within the object, and the parts count.
pub(crate) fn part_range(v: &ObjectVersion, n: u32) -> Result<(Range<u64>, u32), StorageError> {
    let parts = v.parts();
    if parts.is_empty() {
        // A single-part object is its own part 1.
        return match n {
            1 => Ok((0..v.size, 1)),
            _ => Err(StorageError::InvalidPartNumber { parts_count: 1 }),
        };
    }
    let count = u32::try_from(parts.len()).unwrap_or(u32::MAX);
    let mut start = 0;
    for p in &parts {
        if p.part_number == n {
            return Ok((start..start + p.size, count));
        }
        start += p.size;
    }
    Err(StorageError::InvalidPartNumber { parts_count: count })
}

pub(crate) fn content_range(r: &Range<u64>, total: u64) -> ContentRange {
    ContentRange {
        start: r.start,
        end: r.end.saturating_sub(1).max(r.start),
        total,
    }
}

/// Streams `range` of an object's data. Blob segments are opened one after
/// another as the stream reaches them. `key` is the data key of an
/// encrypted object: only the encrypted segments the range overlaps are
/// read and opened.
pub(crate) fn data_stream(
    blobs: Arc<dyn BlobStore>,
    data: ObjectData,
    range: Range<u64>,
    key: Option<DataKeyBytes>,
) -> Result<ByteStream, StorageError> {
    if let Some(key) = key {
        return sealed_stream(blobs, data, range, key);
    }
    match data {
        ObjectData::Inline(v) => {
            let bytes = Bytes::from(v);
            let len = bytes.len() as u64;
            if range.end > len || range.start > range.end {
                return Err(StorageError::Internal(format!(
                    "inline data is {len} bytes, range {range:?} requested"
                )));
            }
            let chunk = bytes.slice(range.start as usize..range.end as usize);
            Ok(if chunk.is_empty() {
                stream::empty().boxed()
            } else {
                stream::once(async move { Ok(chunk) }).boxed()
            })
        }
        ObjectData::Segments(segs) => {
            let pieces = segment_pieces(&segs, range)?;
            Ok(stream::iter(pieces)
                .then(move |(id, r)| {
                    let blobs = Arc::clone(&blobs);
                    async move { blobs.open(&id, r).await.map_err(StorageError::from) }
                })
                .map_ok(|s| s.map_err(StorageError::from))
                .try_flatten()
                .boxed())
        }
        ObjectData::CopyOf(_) => Err(StorageError::Internal(
            "a stored version has unresolved copy data".into(),
        )),
    }
}

fn tampered(_: Tampered) -> StorageError {
    StorageError::Internal("encrypted object data failed authentication".into())
}

/// [`data_stream`] of an encrypted object.
fn sealed_stream(
    blobs: Arc<dyn BlobStore>,
    data: ObjectData,
    range: Range<u64>,
    key: DataKeyBytes,
) -> Result<ByteStream, StorageError> {
    match data {
        ObjectData::Inline(sealed) => {
            let plain = segments::plain_len(sealed.len() as u64).ok_or(Tampered);
            let bytes = plain
                .and_then(|n| segments::open_all(&key, 0, &sealed, n, &range))
                .map_err(tampered)?;
            Ok(if bytes.is_empty() {
                stream::empty().boxed()
            } else {
                stream::once(async move { Ok(Bytes::from(bytes)) }).boxed()
            })
        }
        ObjectData::Segments(segs) => {
            let mut pieces = Vec::new();
            let mut at = 0u64;
            for s in &segs {
                let seg = at..at + s.len;
                at = seg.end;
                let (lo, hi) = (range.start.max(seg.start), range.end.min(seg.end));
                if lo >= hi {
                    continue;
                }
                // Encrypted objects reference whole blobs (copies of ranges
                // are re-encrypted), so a blob's plaintext size is `s.len`.
                if s.offset != 0 {
                    return Err(StorageError::Internal(
                        "an encrypted segment does not start its blob".into(),
                    ));
                }
                let id = BlobId::parse(&s.blob_id)
                    .map_err(|e| StorageError::Internal(format!("stored segment: {e}")))?;
                let part = s.part.as_ref().map_or(0, |p| p.number);
                pieces.push((id, part, s.len, lo - seg.start..hi - seg.start));
            }
            Ok(stream::iter(pieces)
                .then(move |(id, part, len, r)| {
                    let blobs = Arc::clone(&blobs);
                    let key = key.clone();
                    async move { open_sealed(blobs, id, key, part, len, r).await }
                })
                .try_flatten()
                .boxed())
        }
        ObjectData::CopyOf(_) => Err(StorageError::Internal(
            "a stored version has unresolved copy data".into(),
        )),
    }
}

/// Plaintext `range` of one sealed blob holding `len` plaintext bytes:
/// reads its header and the segments the range overlaps, nothing else.
async fn open_sealed(
    blobs: Arc<dyn BlobStore>,
    id: BlobId,
    key: DataKeyBytes,
    part: u32,
    len: u64,
    range: Range<u64>,
) -> Result<ByteStream, StorageError> {
    let mut header = Vec::with_capacity(HEADER as usize);
    let mut h = blobs.open(&id, 0..HEADER).await?;
    while let Some(c) = h.next().await {
        header.extend_from_slice(&c?);
    }
    let opener = Opener::new(&key, part, &header, len, &range).map_err(tampered)?;
    let (stored, _, _) = segments::stored_range(len, &range);
    let body = blobs.open(&id, stored).await?;
    struct State {
        opener: Opener,
        body: nomuck_blob::BlobStream,
        ready: std::collections::VecDeque<Bytes>,
        done: bool,
    }
    let state = State {
        opener,
        body,
        ready: Default::default(),
        done: false,
    };
    Ok(stream::try_unfold(state, |mut st| async move {
        loop {
            if let Some(b) = st.ready.pop_front() {
                return Ok(Some((b, st)));
            }
            if st.done {
                return Ok(None);
            }
            match st.body.next().await {
                Some(chunk) => {
                    let opened = st.opener.push(chunk?).map_err(tampered)?;
                    st.ready
                        .extend(opened.into_iter().filter(|b| !b.is_empty()));
                }
                None => {
                    st.opener.finish().map_err(tampered)?;
                    st.done = true;
                }
            }
        }
    })
    .boxed())
}

/// The blob ranges covering object bytes `range`.
fn segment_pieces(
    segs: &[Segment],
    range: Range<u64>,
) -> Result<Vec<(BlobId, Range<u64>)>, StorageError> {
    let mut out = Vec::new();
    let mut at = 0u64;
    for s in segs {
        let seg = at..at + s.len;
        at = seg.end;
        let (lo, hi) = (range.start.max(seg.start), range.end.min(seg.end));
        if lo >= hi {
            continue;
        }
        let id = BlobId::parse(&s.blob_id)
            .map_err(|e| StorageError::Internal(format!("stored segment: {e}")))?;
        out.push((id, s.offset + (lo - seg.start)..s.offset + (hi - seg.start)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |b, size| resolve_range(b, size);
        assert_eq!(r(ByteRange::FromTo(0, 9), 100).unwrap(), 0..10);
        assert_eq!(r(ByteRange::FromTo(90, 200), 100).unwrap(), 90..100);
        assert_eq!(r(ByteRange::From(99), 100).unwrap(), 99..100);
        assert_eq!(r(ByteRange::Suffix(10), 100).unwrap(), 90..100);
        assert_eq!(r(ByteRange::Suffix(500), 100).unwrap(), 0..100);
        for bad in [
            ByteRange::FromTo(100, 200),
            ByteRange::FromTo(5, 4),
            ByteRange::From(100),
            ByteRange::Suffix(0),
        ] {
            assert!(matches!(
                r(bad, 100),
                Err(StorageError::InvalidRange { size: 100 })
            ));
        }
        assert!(r(ByteRange::From(0), 0).is_err());
    }

    #[test]
    fn conditions_follow_s3_precedence() {
        let etag = "abc";
        let lm = 10_500; // 10.5 s
        let c = |f: fn(&mut Conditions)| {
            let mut c = Conditions::default();
            f(&mut c);
            check_conditions(&c, etag, lm)
        };
        assert!(c(|_| {}).is_ok());
        assert!(c(|c| c.if_match = Some("\"abc\"".into())).is_ok());
        assert!(c(|c| c.if_match = Some("\"x\", \"abc\"".into())).is_ok());
        assert!(c(|c| c.if_match = Some("*".into())).is_ok());
        assert!(matches!(
            c(|c| c.if_match = Some("\"x\"".into())),
            Err(StorageError::PreconditionFailed)
        ));
        assert!(matches!(
            c(|c| c.if_none_match = Some("W/\"abc\"".into())),
            Err(StorageError::NotModified { .. })
        ));
        assert!(c(|c| c.if_none_match = Some("\"x\"".into())).is_ok());
        // Second precision: modified at 10.5 s is not after 10 s.
        assert!(matches!(
            c(|c| c.if_modified_since = Some(10_000)),
            Err(StorageError::NotModified { .. })
        ));
        assert!(c(|c| c.if_modified_since = Some(9_999)).is_ok());
        assert!(c(|c| c.if_unmodified_since = Some(10_000)).is_ok());
        assert!(matches!(
            c(|c| c.if_unmodified_since = Some(9_000)),
            Err(StorageError::PreconditionFailed)
        ));
        // If-Match true wins over If-Unmodified-Since false.
        assert!(
            c(|c| {
                c.if_match = Some("abc".into());
                c.if_unmodified_since = Some(0);
            })
            .is_ok()
        );
        // If-None-Match false (no match) wins over If-Modified-Since.
        assert!(
            c(|c| {
                c.if_none_match = Some("\"x\"".into());
                c.if_modified_since = Some(99_000);
            })
            .is_ok()
        );
    }

    #[test]
    fn pieces_cover_ranges_across_segments() {
        let seg = |id: u8, offset, len| Segment {
            blob_id: format!("{id:032x}"),
            offset,
            len,
            part: None,
        };
        let segs = [seg(1, 0, 10), seg(2, 5, 10), seg(3, 0, 10)];
        let p = segment_pieces(&segs, 8..22).unwrap();
        let got: Vec<(String, Range<u64>)> =
            p.into_iter().map(|(id, r)| (id.to_string(), r)).collect();
        assert_eq!(
            got,
            vec![
                (format!("{:032x}", 1), 8..10),
                (format!("{:032x}", 2), 5..15),
                (format!("{:032x}", 3), 0..2),
            ]
        );
        assert!(segment_pieces(&segs, 30..30).unwrap().is_empty());
    }
}
