//! Listings with S3 semantics: prefix, delimiter roll-up into common
//! prefixes, page limits and resumption markers.
//!
//! The metadata store only lists rows in key order from a start position;
//! [`delimited`] builds the roll-up on top. When a page of rows ends inside a
//! common prefix it seeks past that prefix (`PastPrefix`) instead of reading
//! the keys under it, and shrinks the next batch, so a prefix holding a
//! million keys costs one small query rather than a scan.

use std::future::Future;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use nomuck_meta::{
    ListStart, MultipartUpload, ObjectListQuery, ObjectSummary, UploadListQuery, UploadStart,
    VersionListQuery, VersionStart,
};

use crate::auth::Action;
use crate::types::*;
use crate::usage::RequestClass;
use crate::{Storage, StorageError};

/// Most entries one listing page returns.
pub const MAX_PAGE: usize = 1000;
/// Rows fetched per query after the listing hit a large common prefix.
const PROBE_BATCH: usize = 16;

pub(crate) trait Keyed: Clone {
    fn key(&self) -> &str;
}

impl Keyed for ObjectSummary {
    fn key(&self) -> &str {
        &self.key
    }
}

impl Keyed for MultipartUpload {
    fn key(&self) -> &str {
        &self.key
    }
}

/// Where the next query starts.
pub(crate) enum Seek<T> {
    Initial,
    /// After this row (exclusive).
    After(T),
    /// After every key starting with this common prefix.
    PastPrefix(String),
}

/// The last thing a page returned (the resumption point): for `Entry`,
/// the last of `entries`.
pub(crate) enum Last<T> {
    Entry(T),
    Prefix(String),
}

pub(crate) struct Page<T> {
    pub entries: Vec<T>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    last: Option<Last<()>>,
}

impl<T> Page<T> {
    /// Where a truncated page resumes; `None` if it is complete.
    pub(crate) fn resume(&self) -> Option<Last<&T>> {
        if !self.truncated {
            return None;
        }
        match self.last.as_ref()? {
            Last::Entry(()) => self.entries.last().map(Last::Entry),
            Last::Prefix(p) => Some(Last::Prefix(p.clone())),
        }
    }
}

/// The common prefix `key` rolls up into, if any.
pub(crate) fn common_prefix(prefix: &str, delimiter: Option<&str>, key: &str) -> Option<String> {
    let d = delimiter.filter(|d| !d.is_empty())?;
    let rest = key.strip_prefix(prefix)?;
    let at = rest.find(d)?;
    Some(format!("{prefix}{}", rest.get(..at + d.len())?))
}

/// Collects up to `max` entries and common prefixes in key order.
pub(crate) async fn delimited<T, F, Fut>(
    prefix: &str,
    delimiter: Option<&str>,
    max: usize,
    mut fetch: F,
) -> Result<Page<T>, StorageError>
where
    T: Keyed,
    F: FnMut(Seek<T>, usize) -> Fut,
    Fut: Future<Output = Result<Vec<T>, StorageError>>,
{
    let mut page = Page {
        entries: Vec::new(),
        prefixes: Vec::new(),
        truncated: false,
        last: None,
    };
    if max == 0 {
        return Ok(page);
    }
    let mut count = 0;
    let mut batch = MAX_PAGE;
    let mut seek = Seek::Initial;
    let mut current_prefix: Option<String> = None;
    loop {
        // One row more than still fits tells whether the page is truncated.
        let want = (max - count + 1).min(batch);
        let rows = fetch(seek, want).await?;
        let got = rows.len();
        let mut ended_in_prefix = false;
        let mut last_row = None;
        for row in rows {
            match common_prefix(prefix, delimiter, row.key()) {
                Some(cp) if current_prefix.as_deref() == Some(cp.as_str()) => {
                    ended_in_prefix = true;
                }
                Some(cp) => {
                    if count == max {
                        page.truncated = true;
                        return Ok(page);
                    }
                    page.prefixes.push(cp.clone());
                    page.last = Some(Last::Prefix(cp.clone()));
                    current_prefix = Some(cp);
                    count += 1;
                    ended_in_prefix = true;
                }
                None => {
                    if count == max {
                        page.truncated = true;
                        return Ok(page);
                    }
                    page.entries.push(row.clone());
                    page.last = Some(Last::Entry(()));
                    count += 1;
                    ended_in_prefix = false;
                }
            }
            last_row = Some(row);
        }
        if got < want {
            return Ok(page);
        }
        seek = match (ended_in_prefix, &current_prefix, last_row) {
            (true, Some(cp), _) => {
                batch = PROBE_BATCH;
                Seek::PastPrefix(cp.clone())
            }
            (_, _, Some(row)) => {
                batch = (batch * 4).min(MAX_PAGE);
                Seek::After(row)
            }
            // `want` is at least 1, so a full batch has a last row.
            (_, _, None) => return Ok(page),
        };
    }
}

/// Where a listing resumes after `marker`: past it, or past the whole
/// common prefix when the marker is one (as NextMarker may be).
fn resume_after(prefix: &str, delimiter: Option<&str>, marker: String) -> Resume {
    if common_prefix(prefix, delimiter, &marker).as_deref() == Some(marker.as_str()) {
        Resume::PastPrefix(marker)
    } else {
        Resume::After(marker)
    }
}

enum Resume {
    After(String),
    PastPrefix(String),
}

fn encode_token(last: &Resume) -> String {
    let raw = match last {
        Resume::After(k) => format!("k{k}"),
        Resume::PastPrefix(p) => format!("p{p}"),
    };
    B64URL.encode(raw)
}

fn decode_token(t: &str) -> Result<Resume, StorageError> {
    let bad =
        || StorageError::InvalidArgument("The continuation token provided is incorrect".into());
    let raw = B64URL.decode(t.trim()).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    match raw.split_at_checked(1) {
        Some(("k", k)) => Ok(Resume::After(k.to_owned())),
        Some(("p", p)) => Ok(Resume::PastPrefix(p.to_owned())),
        _ => Err(bad()),
    }
}

fn delimiter_of(d: &Option<String>) -> Option<&str> {
    d.as_deref().filter(|d| !d.is_empty())
}

impl Storage {
    /// ListObjects (V1) and ListObjectsV2.
    pub async fn list_objects(
        &self,
        caller: &Caller,
        bucket: &str,
        req: ListObjectsRequest,
    ) -> Result<ListObjectsOutput, StorageError> {
        let b = self.bucket_for(caller, bucket, Action::ListBucket).await?;
        let delimiter = delimiter_of(&req.delimiter);
        let initial = match req.from {
            ListFrom::Beginning => ListStart::Beginning,
            ListFrom::Marker(m) => match resume_after(&req.prefix, delimiter, m) {
                Resume::After(k) => ListStart::After(k),
                Resume::PastPrefix(p) => ListStart::PastPrefix(p),
            },
            ListFrom::ContinuationToken(t) => match decode_token(&t)? {
                Resume::After(k) => ListStart::After(k),
                Resume::PastPrefix(p) => ListStart::PastPrefix(p),
            },
        };
        let meta = Arc::clone(&self.meta);
        let page = delimited(
            &req.prefix,
            delimiter,
            req.max_keys.min(MAX_PAGE),
            |seek: Seek<ObjectSummary>, limit| {
                let q = ObjectListQuery {
                    bucket: bucket.to_owned(),
                    prefix: req.prefix.clone(),
                    start: match seek {
                        Seek::Initial => initial.clone(),
                        Seek::After(o) => ListStart::After(o.key),
                        Seek::PastPrefix(p) => ListStart::PastPrefix(p),
                    },
                    limit,
                };
                let meta = Arc::clone(&meta);
                async move { meta.list_objects(&q).await.map_err(StorageError::from) }
            },
        )
        .await?;
        self.record_request(&b.owner, RequestClass::PutCopyPostList);
        let resume = match page.resume() {
            Some(Last::Entry(o)) => Some(Resume::After(o.key.clone())),
            Some(Last::Prefix(p)) => Some(Resume::PastPrefix(p)),
            None => None,
        };
        Ok(ListObjectsOutput {
            objects: page.entries,
            common_prefixes: page.prefixes,
            is_truncated: page.truncated,
            next_continuation_token: resume.as_ref().map(encode_token),
            next_marker: resume.map(|r| match r {
                Resume::After(k) | Resume::PastPrefix(k) => k,
            }),
        })
    }

    /// ListObjectVersions (for an unversioned bucket: its objects, version "null").
    pub async fn list_object_versions(
        &self,
        caller: &Caller,
        bucket: &str,
        req: ListVersionsRequest,
    ) -> Result<ListVersionsOutput, StorageError> {
        let b = self
            .bucket_for(caller, bucket, Action::ListBucketVersions)
            .await?;
        let delimiter = delimiter_of(&req.delimiter);
        let initial = match (req.key_marker, req.version_id_marker) {
            (None, None) => VersionStart::Beginning,
            (None, Some(_)) => {
                return Err(StorageError::InvalidArgument(
                    "A version-id marker cannot be specified without a key marker.".into(),
                ));
            }
            (Some(key), Some(version_id)) if !version_id.is_empty() => {
                VersionStart::AfterVersion { key, version_id }
            }
            (Some(k), _) => match resume_after(&req.prefix, delimiter, k) {
                Resume::After(k) => VersionStart::AfterKey(k),
                Resume::PastPrefix(p) => VersionStart::PastPrefix(p),
            },
        };
        let meta = Arc::clone(&self.meta);
        let page = delimited(
            &req.prefix,
            delimiter,
            req.max_keys.min(MAX_PAGE),
            |seek: Seek<ObjectSummary>, limit| {
                let q = VersionListQuery {
                    bucket: bucket.to_owned(),
                    prefix: req.prefix.clone(),
                    start: match seek {
                        Seek::Initial => initial.clone(),
                        Seek::After(o) => VersionStart::AfterVersion {
                            key: o.key,
                            version_id: o.version_id,
                        },
                        Seek::PastPrefix(p) => VersionStart::PastPrefix(p),
                    },
                    limit,
                };
                let meta = Arc::clone(&meta);
                async move {
                    meta.list_object_versions(&q)
                        .await
                        .map_err(StorageError::from)
                }
            },
        )
        .await?;
        self.record_request(&b.owner, RequestClass::PutCopyPostList);
        let (next_key_marker, next_version_id_marker) = match page.resume() {
            Some(Last::Entry(o)) => (Some(o.key.clone()), Some(o.version_id.clone())),
            Some(Last::Prefix(p)) => (Some(p), None),
            None => (None, None),
        };
        Ok(ListVersionsOutput {
            versions: page.entries,
            common_prefixes: page.prefixes,
            is_truncated: page.truncated,
            next_key_marker,
            next_version_id_marker,
        })
    }

    /// ListMultipartUploads.
    pub async fn list_multipart_uploads(
        &self,
        caller: &Caller,
        bucket: &str,
        req: ListUploadsRequest,
    ) -> Result<ListUploadsOutput, StorageError> {
        let b = self
            .bucket_for(caller, bucket, Action::ListBucketMultipartUploads)
            .await?;
        let delimiter = delimiter_of(&req.delimiter);
        let initial = match (req.key_marker, req.upload_id_marker) {
            (None, _) => UploadStart::Beginning,
            (Some(key), Some(upload_id)) if !upload_id.is_empty() => {
                UploadStart::AfterUpload { key, upload_id }
            }
            (Some(k), _) => match resume_after(&req.prefix, delimiter, k) {
                Resume::After(k) => UploadStart::AfterKey(k),
                Resume::PastPrefix(p) => UploadStart::PastPrefix(p),
            },
        };
        let meta = Arc::clone(&self.meta);
        let page = delimited(
            &req.prefix,
            delimiter,
            req.max_uploads.min(MAX_PAGE),
            |seek: Seek<MultipartUpload>, limit| {
                let q = UploadListQuery {
                    bucket: bucket.to_owned(),
                    prefix: req.prefix.clone(),
                    start: match seek {
                        Seek::Initial => initial.clone(),
                        Seek::After(u) => UploadStart::AfterUpload {
                            key: u.key,
                            upload_id: u.upload_id,
                        },
                        Seek::PastPrefix(p) => UploadStart::PastPrefix(p),
                    },
                    limit,
                };
                let meta = Arc::clone(&meta);
                async move { meta.list_uploads(&q).await.map_err(StorageError::from) }
            },
        )
        .await?;
        self.record_request(&b.owner, RequestClass::PutCopyPostList);
        let (next_key_marker, next_upload_id_marker) = match page.resume() {
            Some(Last::Entry(u)) => (Some(u.key.clone()), Some(u.upload_id.clone())),
            Some(Last::Prefix(p)) => (Some(p), None),
            None => (None, None),
        };
        Ok(ListUploadsOutput {
            uploads: page.entries,
            common_prefixes: page.prefixes,
            is_truncated: page.truncated,
            next_key_marker,
            next_upload_id_marker,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prefixes() {
        assert_eq!(common_prefix("", Some("/"), "a/b/c").as_deref(), Some("a/"));
        assert_eq!(
            common_prefix("a/", Some("/"), "a/b/c").as_deref(),
            Some("a/b/")
        );
        assert_eq!(common_prefix("a/", Some("/"), "a/b"), None);
        assert_eq!(common_prefix("x", Some("/"), "a/b"), None);
        assert_eq!(common_prefix("", None, "a/b"), None);
        assert_eq!(common_prefix("", Some(""), "a/b"), None);
        assert_eq!(common_prefix("", Some("é"), "aébé").as_deref(), Some("aé"));
        assert_eq!(
            common_prefix("", Some("--"), "a--b--c").as_deref(),
            Some("a--")
        );
    }

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        for r in [
            Resume::After("k/ü ☃+%".into()),
            Resume::PastPrefix("dir/".into()),
            Resume::After(String::new()),
        ] {
            let t = encode_token(&r);
            match (decode_token(&t).unwrap(), r) {
                (Resume::After(a), Resume::After(b))
                | (Resume::PastPrefix(a), Resume::PastPrefix(b)) => {
                    assert_eq!(a, b)
                }
                _ => panic!("kind changed"),
            }
        }
        for bad in ["", "!!!", "eA", "/w"] {
            assert!(decode_token(bad).is_err(), "{bad}");
        }
    }

    #[derive(Clone, Debug, PartialEq)]
    struct K(String);
    impl Keyed for K {
        fn key(&self) -> &str {
            &self.0
        }
    }

    /// In-memory model of the metadata query, counting calls and rows read.
    fn run(
        keys: &[&str],
        prefix: &str,
        delim: Option<&str>,
        max: usize,
    ) -> (Page<K>, usize, usize) {
        let mut sorted: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        sorted.sort();
        let calls = std::cell::Cell::new(0);
        let rows = std::cell::Cell::new(0);
        let page = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(delimited(prefix, delim, max, |seek, limit| {
                calls.set(calls.get() + 1);
                let out: Vec<K> = sorted
                    .iter()
                    .filter(|k| k.starts_with(prefix))
                    .filter(|k| match &seek {
                        Seek::Initial => true,
                        Seek::After(K(a)) => k.as_str() > a.as_str(),
                        Seek::PastPrefix(p) => {
                            !k.starts_with(p.as_str()) && k.as_str() > p.as_str()
                        }
                    })
                    .take(limit)
                    .map(|k| K(k.clone()))
                    .collect();
                rows.set(rows.get() + out.len());
                async move { Ok(out) }
            }))
            .unwrap();
        (page, calls.get(), rows.get())
    }

    #[test]
    fn rolls_up_and_truncates() {
        let keys = ["a", "b/1", "b/2", "c", "d/x/1", "d/y", "e"];
        let (p, _, _) = run(&keys, "", Some("/"), 1000);
        let entries: Vec<_> = p.entries.iter().map(|k| k.0.as_str()).collect();
        assert_eq!(entries, ["a", "c", "e"]);
        assert_eq!(p.prefixes, ["b/", "d/"]);
        assert!(!p.truncated);

        let (p, _, _) = run(&keys, "", Some("/"), 3);
        assert_eq!(p.entries.len() + p.prefixes.len(), 3);
        assert!(p.truncated);
        assert!(matches!(p.resume(), Some(Last::Entry(K(k))) if k == "c"));

        // Exactly max entries left: not truncated.
        let (p, _, _) = run(&keys, "", Some("/"), 5);
        assert!(!p.truncated);
        let (p, _, _) = run(&keys, "d/", Some("/"), 10);
        assert_eq!(p.prefixes, ["d/x/"]);
        assert_eq!(p.entries, [K("d/y".into())]);
        let (p, _, _) = run(&keys, "", None, 0);
        assert!(p.entries.is_empty() && !p.truncated);
    }

    #[test]
    fn big_prefixes_are_skipped_not_scanned() {
        let mut keys: Vec<String> = Vec::new();
        for d in 0..20 {
            for f in 0..5000 {
                keys.push(format!("dir{d:02}/file{f:05}"));
            }
        }
        keys.push("top".into());
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let (p, calls, rows) = run(&refs, "", Some("/"), 1000);
        assert_eq!(p.prefixes.len(), 20);
        assert_eq!(p.entries, [K("top".into())]);
        // One full first batch, then small probes per prefix.
        assert!(rows < 1000 + 20 * PROBE_BATCH + 100, "read {rows} rows");
        assert!(calls <= 25, "{calls} queries");
    }
}
