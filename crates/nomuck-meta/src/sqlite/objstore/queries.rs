//! Object-store queries. Used by the read pool and, for the loaders, by the
//! writer inside its transaction. Multi-statement reads run in one read
//! transaction so they see a single snapshot.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::MetaError;
use crate::sqlite::codec::{LockCols, decode_headers, decode_lock, decode_tags};
use crate::sqlite::errors::db_err;
use crate::storage::{
    Bucket, ChecksumType, ListStart, MultipartUpload, ObjectChecksum, ObjectData, ObjectListQuery,
    ObjectSummary, ObjectVersion, Part, PartRef, Segment, UploadListQuery, UploadStart,
    VersionListQuery, VersionStart, Versioning,
};

fn u64_col(r: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = r.get(idx)?;
    u64::try_from(v).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Integer, Box::new(e))
    })
}

fn limit_value(limit: usize) -> Value {
    Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX))
}

fn corrupt(what: &str, v: &str) -> MetaError {
    MetaError::Corrupt(format!("stored {what} {v:?} is not recognised"))
}

// ---------------------------------------------------------------- buckets

fn bucket_row(r: &Row<'_>) -> rusqlite::Result<(Bucket, String)> {
    let versioning: String = r.get(4)?;
    Ok((
        Bucket {
            name: r.get(0)?,
            owner: r.get(1)?,
            region: r.get(2)?,
            created_at: r.get(3)?,
            versioning: Versioning::Unversioned,
        },
        versioning,
    ))
}

fn finish_bucket((mut b, v): (Bucket, String)) -> Result<Bucket, MetaError> {
    b.versioning = Versioning::parse(&v).ok_or_else(|| corrupt("versioning state", &v))?;
    Ok(b)
}

const BUCKET_COLS: &str = "SELECT name, owner, region, created_at, versioning FROM buckets";

pub(in crate::sqlite) fn bucket(c: &Connection, name: &str) -> Result<Option<Bucket>, MetaError> {
    c.prepare_cached(&format!("{BUCKET_COLS} WHERE name = ?1"))
        .and_then(|mut s| s.query_row([name], bucket_row).optional())
        .map_err(db_err)?
        .map(finish_bucket)
        .transpose()
}

pub(in crate::sqlite) fn buckets_of(c: &Connection, owner: &str) -> Result<Vec<Bucket>, MetaError> {
    let rows: Vec<(Bucket, String)> = c
        .prepare_cached(&format!("{BUCKET_COLS} WHERE owner = ?1 ORDER BY name"))
        .and_then(|mut s| s.query_map([owner], bucket_row)?.collect())
        .map_err(db_err)?;
    rows.into_iter().map(finish_bucket).collect()
}

pub(in crate::sqlite) fn bucket_config(
    c: &Connection,
    bucket: &str,
    kind: &str,
) -> Result<Option<Vec<u8>>, MetaError> {
    c.prepare_cached("SELECT doc FROM bucket_configs WHERE bucket = ?1 AND kind = ?2")
        .and_then(|mut s| s.query_row([bucket, kind], |r| r.get(0)).optional())
        .map_err(db_err)
}

pub(in crate::sqlite) fn buckets_with_config(
    c: &Connection,
    kind: &str,
) -> Result<Vec<String>, MetaError> {
    c.prepare_cached("SELECT bucket FROM bucket_configs WHERE kind = ?1 ORDER BY bucket")
        .and_then(|mut s| s.query_map([kind], |r| r.get(0))?.collect())
        .map_err(db_err)
}

// ---------------------------------------------------------------- objects

/// Columns of an object row as stored, before decoding.
struct RawObject {
    version: ObjectVersion,
    checksum: (Option<String>, Option<String>, Option<String>),
    headers: String,
    tags: Option<String>,
    data_kind: i64,
    inline: Option<Vec<u8>>,
    lock: LockCols,
}

/// The columns [`object_row`] reads, as a literal so that each query is one `concat!`
/// (a static string) rather than a `format!` on every point lookup.
macro_rules! object_cols {
    () => {
        "SELECT o.id, o.bucket, o.key, o.version_id, o.is_latest, \
         o.is_delete_marker, o.last_modified, o.owner, o.size, o.etag, o.storage_class, \
         o.checksum_algorithm, o.checksum_value, o.checksum_type, o.headers, o.tags, o.data_kind, \
         i.data, o.acl, o.lock_mode, o.lock_until, o.legal_hold, o.encryption \
         FROM objects o LEFT JOIN object_inline i ON i.object_id = o.id"
    };
}

fn object_row(r: &Row<'_>) -> rusqlite::Result<RawObject> {
    Ok(RawObject {
        version: ObjectVersion {
            internal_id: r.get(0)?,
            bucket: r.get(1)?,
            key: r.get(2)?,
            version_id: r.get(3)?,
            is_latest: r.get(4)?,
            is_delete_marker: r.get(5)?,
            last_modified: r.get(6)?,
            owner: r.get(7)?,
            size: u64_col(r, 8)?,
            etag: r.get(9)?,
            storage_class: r.get(10)?,
            headers: Default::default(),
            checksum: None,
            tags: Vec::new(),
            acl: r.get(18)?,
            lock: Default::default(),
            encryption: r.get(22)?,
            data: ObjectData::Inline(Vec::new()),
        },
        lock: (r.get(19)?, r.get(20)?, r.get(21)?),
        checksum: (r.get(11)?, r.get(12)?, r.get(13)?),
        headers: r.get(14)?,
        tags: r.get(15)?,
        data_kind: r.get(16)?,
        inline: r.get(17)?,
    })
}

fn checksum_type(t: Option<String>) -> Result<Option<ChecksumType>, MetaError> {
    t.map(|t| ChecksumType::parse(&t).ok_or_else(|| corrupt("checksum type", &t)))
        .transpose()
}

fn decode_object(c: &Connection, raw: RawObject) -> Result<ObjectVersion, MetaError> {
    let mut v = raw.version;
    v.headers = decode_headers(&raw.headers)?;
    v.tags = decode_tags(raw.tags.as_deref())?;
    v.lock = decode_lock(raw.lock)?;
    if let (Some(algorithm), Some(value), kind) = raw.checksum {
        v.checksum = Some(ObjectChecksum {
            algorithm,
            value,
            kind: checksum_type(kind)?.unwrap_or(ChecksumType::FullObject),
        });
    }
    v.data = match raw.data_kind {
        0 => ObjectData::Inline(raw.inline.unwrap_or_default()),
        _ => ObjectData::Segments(load_segments(c, v.internal_id)?),
    };
    Ok(v)
}

/// One version with its data, read in one snapshot.
pub(in crate::sqlite) fn object(
    c: &Connection,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Option<ObjectVersion>, MetaError> {
    // A single SELECT is a snapshot of its own and carries an inline object's data, so
    // small objects (the common GET) need no BEGIN/COMMIT; only a segmented object is
    // read again inside a transaction, so that its segments belong to the row read.
    match object_raw(c, bucket, key, version_id)? {
        None => Ok(None),
        Some(raw) if raw.data_kind == 0 => decode_object(c, raw).map(Some),
        Some(_) => {
            let tx = c.unchecked_transaction().map_err(db_err)?;
            object_raw(&tx, bucket, key, version_id)?
                .map(|raw| decode_object(&tx, raw))
                .transpose()
        }
    }
}

fn object_raw(
    c: &Connection,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Option<RawObject>, MetaError> {
    match version_id {
        None => c
            .prepare_cached(concat!(
                object_cols!(),
                " WHERE o.bucket = ?1 AND o.key = ?2 AND o.is_latest = 1"
            ))
            .and_then(|mut s| s.query_row([bucket, key], object_row).optional()),
        Some(v) => c
            .prepare_cached(concat!(
                object_cols!(),
                " WHERE o.bucket = ?1 AND o.key = ?2 AND o.version_id = ?3"
            ))
            .and_then(|mut s| s.query_row([bucket, key, v], object_row).optional()),
    }
    .map_err(db_err)
}

pub(in crate::sqlite) fn load_inline(c: &Connection, object_id: i64) -> Result<Vec<u8>, MetaError> {
    let data: Option<Vec<u8>> = c
        .prepare_cached("SELECT data FROM object_inline WHERE object_id = ?1")
        .and_then(|mut s| s.query_row([object_id], |r| r.get(0)).optional())
        .map_err(db_err)?;
    Ok(data.unwrap_or_default())
}

pub(in crate::sqlite) fn load_segments(
    c: &Connection,
    object_id: i64,
) -> Result<Vec<Segment>, MetaError> {
    c.prepare_cached(
        "SELECT blob_id, blob_offset, len, part_number, part_etag, part_checksum \
         FROM object_segments WHERE object_id = ?1 ORDER BY idx",
    )
    .and_then(|mut s| {
        s.query_map([object_id], |r| {
            let number: Option<u32> = r.get(3)?;
            let etag: Option<String> = r.get(4)?;
            Ok(Segment {
                blob_id: r.get(0)?,
                offset: u64_col(r, 1)?,
                len: u64_col(r, 2)?,
                part: match (number, etag) {
                    (Some(number), Some(etag)) => Some(PartRef {
                        number,
                        etag,
                        checksum: r.get(5)?,
                    }),
                    _ => None,
                },
            })
        })?
        .collect()
    })
    .map_err(db_err)
}

// ---------------------------------------------------------------- key ranges

/// The smallest string greater than every string starting with `prefix`
/// (its last char incremented, skipping surrogates), or `None` if there is
/// none. UTF-8 byte order equals code point order, so this bounds a prefix
/// scan while staying valid UTF-8.
pub(crate) fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(c) = chars.pop() {
        let next = match u32::from(c) + 1 {
            0xD800 => 0xE000,
            n => n,
        };
        if let Some(n) = char::from_u32(next) {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Lower bound of a key scan.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lower {
    Unbounded,
    Incl(String),
    Excl(String),
}

impl Lower {
    fn max(self, other: Lower) -> Lower {
        let rank = |l: &Lower| match l {
            Lower::Unbounded => None,
            Lower::Incl(s) => Some((s.clone(), 0)),
            Lower::Excl(s) => Some((s.clone(), 1)),
        };
        if rank(&other) > rank(&self) {
            other
        } else {
            self
        }
    }
}

/// Key range for `prefix` starting at `lower`; `None` if it is empty.
fn key_range(prefix: &str, lower: Option<Lower>) -> Option<(Lower, Option<String>)> {
    let lower = lower?;
    if prefix.is_empty() {
        return Some((lower, None));
    }
    let lower = lower.max(Lower::Incl(prefix.to_owned()));
    let upper = successor(prefix);
    if let (Lower::Incl(l) | Lower::Excl(l), Some(u)) = (&lower, &upper)
        && l >= u
    {
        return None;
    }
    Some((lower, upper))
}

/// `SELECT {cols} FROM {from} WHERE {fixed} AND <key range> ORDER BY {order} LIMIT n`.
fn range_query(
    cols_from: &str,
    fixed: &str,
    bucket: &str,
    (lower, upper): &(Lower, Option<String>),
    order: &str,
    limit: usize,
) -> (String, Vec<Value>) {
    let mut sql = format!("{cols_from} WHERE {fixed}");
    let mut args = vec![Value::Text(bucket.to_owned())];
    match lower {
        Lower::Unbounded => {}
        Lower::Incl(l) | Lower::Excl(l) => {
            args.push(Value::Text(l.clone()));
            let op = if matches!(lower, Lower::Incl(_)) {
                ">="
            } else {
                ">"
            };
            sql.push_str(&format!(" AND key {op} ?{}", args.len()));
        }
    }
    if let Some(u) = upper {
        args.push(Value::Text(u.clone()));
        sql.push_str(&format!(" AND key < ?{}", args.len()));
    }
    args.push(limit_value(limit));
    sql.push_str(&format!(" ORDER BY {order} LIMIT ?{}", args.len()));
    (sql, args)
}

const SUMMARY_COLS: &str = "SELECT key, version_id, id, is_latest, is_delete_marker, \
     last_modified, owner, size, etag, storage_class, checksum_algorithm, checksum_type";

fn summary_row(r: &Row<'_>) -> rusqlite::Result<(ObjectSummary, Option<String>)> {
    Ok((
        ObjectSummary {
            key: r.get(0)?,
            version_id: r.get(1)?,
            internal_id: r.get(2)?,
            is_latest: r.get(3)?,
            is_delete_marker: r.get(4)?,
            last_modified: r.get(5)?,
            owner: r.get(6)?,
            size: u64_col(r, 7)?,
            etag: r.get(8)?,
            storage_class: r.get(9)?,
            checksum_algorithm: r.get(10)?,
            checksum_type: None,
        },
        r.get(11)?,
    ))
}

fn summaries(c: &Connection, sql: &str, args: Vec<Value>) -> Result<Vec<ObjectSummary>, MetaError> {
    let rows: Vec<(ObjectSummary, Option<String>)> = c
        .prepare_cached(sql)
        .and_then(|mut s| s.query_map(params_from_iter(args), summary_row)?.collect())
        .map_err(db_err)?;
    rows.into_iter()
        .map(|(mut s, t)| {
            s.checksum_type = checksum_type(t)?;
            Ok(s)
        })
        .collect()
}

fn list_lower(start: &ListStart) -> Option<Lower> {
    match start {
        ListStart::Beginning => Some(Lower::Unbounded),
        ListStart::After(k) => Some(Lower::Excl(k.clone())),
        ListStart::PastPrefix(p) => successor(p).map(Lower::Incl),
    }
}

pub(in crate::sqlite) fn list_objects(
    c: &Connection,
    q: &ObjectListQuery,
) -> Result<Vec<ObjectSummary>, MetaError> {
    let Some(range) = key_range(&q.prefix, list_lower(&q.start)) else {
        return Ok(Vec::new());
    };
    // INDEXED BY: walk the dense partial index of current versions in key
    // order; delete markers are the only rows it has to skip.
    let (sql, args) = range_query(
        &format!("{SUMMARY_COLS} FROM objects INDEXED BY objects_latest"),
        "bucket = ?1 AND is_latest = 1 AND is_delete_marker = 0",
        &q.bucket,
        &range,
        "key",
        q.limit,
    );
    summaries(c, &sql, args)
}

pub(in crate::sqlite) fn list_object_versions(
    c: &Connection,
    q: &VersionListQuery,
) -> Result<Vec<ObjectSummary>, MetaError> {
    let tx = c.unchecked_transaction().map_err(db_err)?;
    let mut out = Vec::new();
    let lower = match &q.start {
        VersionStart::Beginning => Some(Lower::Unbounded),
        VersionStart::AfterKey(k) => Some(Lower::Excl(k.clone())),
        VersionStart::PastPrefix(p) => successor(p).map(Lower::Incl),
        VersionStart::AfterVersion { key, version_id } => {
            let marker: Option<i64> = tx
                .prepare_cached(
                    "SELECT id FROM objects WHERE bucket = ?1 AND key = ?2 AND version_id = ?3",
                )
                .and_then(|mut s| {
                    s.query_row([&q.bucket, key, version_id], |r| r.get(0))
                        .optional()
                })
                .map_err(db_err)?;
            if let Some(id) = marker
                && key.starts_with(&q.prefix)
            {
                out = summaries(
                    &tx,
                    &format!(
                        "{SUMMARY_COLS} FROM objects WHERE bucket = ?1 AND key = ?2 \
                         AND id < ?3 ORDER BY id DESC LIMIT ?4"
                    ),
                    vec![
                        Value::Text(q.bucket.clone()),
                        Value::Text(key.clone()),
                        Value::Integer(id),
                        limit_value(q.limit),
                    ],
                )?;
            }
            Some(Lower::Excl(key.clone()))
        }
    };
    let remaining = q.limit.saturating_sub(out.len());
    if remaining > 0
        && let Some(range) = key_range(&q.prefix, lower)
    {
        let (sql, args) = range_query(
            &format!("{SUMMARY_COLS} FROM objects"),
            "bucket = ?1",
            &q.bucket,
            &range,
            "key, id DESC",
            remaining,
        );
        out.extend(summaries(&tx, &sql, args)?);
    }
    Ok(out)
}

// ---------------------------------------------------------------- uploads

const UPLOAD_COLS: &str = "SELECT upload_id, bucket, key, initiated, owner, storage_class, \
     headers, checksum_algorithm, checksum_type, tags, acl, lock_mode, lock_until, legal_hold, \
     encryption FROM uploads";

struct RawUpload {
    upload: MultipartUpload,
    headers: String,
    checksum_type: Option<String>,
    tags: Option<String>,
    lock: LockCols,
}

fn upload_row(r: &Row<'_>) -> rusqlite::Result<RawUpload> {
    Ok(RawUpload {
        upload: MultipartUpload {
            upload_id: r.get(0)?,
            bucket: r.get(1)?,
            key: r.get(2)?,
            initiated: r.get(3)?,
            owner: r.get(4)?,
            storage_class: r.get(5)?,
            headers: Default::default(),
            checksum_algorithm: r.get(7)?,
            checksum_type: None,
            tags: Vec::new(),
            acl: r.get(10)?,
            lock: Default::default(),
            encryption: r.get(14)?,
        },
        lock: (r.get(11)?, r.get(12)?, r.get(13)?),
        headers: r.get(6)?,
        checksum_type: r.get(8)?,
        tags: r.get(9)?,
    })
}

fn decode_upload(raw: RawUpload) -> Result<MultipartUpload, MetaError> {
    let mut u = raw.upload;
    u.headers = decode_headers(&raw.headers)?;
    u.checksum_type = checksum_type(raw.checksum_type)?;
    u.tags = decode_tags(raw.tags.as_deref())?;
    u.lock = decode_lock(raw.lock)?;
    Ok(u)
}

pub(in crate::sqlite) fn load_upload(
    c: &Connection,
    upload_id: &str,
) -> Result<Option<MultipartUpload>, MetaError> {
    c.prepare_cached(&format!("{UPLOAD_COLS} WHERE upload_id = ?1"))
        .and_then(|mut s| s.query_row([upload_id], upload_row).optional())
        .map_err(db_err)?
        .map(decode_upload)
        .transpose()
}

pub(in crate::sqlite) fn completed_upload(
    c: &Connection,
    upload_id: &str,
) -> Result<Option<(String, String, String)>, MetaError> {
    c.prepare_cached(
        "SELECT o.bucket, o.key, o.version_id FROM completed_uploads u \
         JOIN objects o ON o.id = u.object_id WHERE u.upload_id = ?1",
    )
    .and_then(|mut s| {
        s.query_row([upload_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
    })
    .map_err(db_err)
}

/// Parts after `after_part`, ascending, with their row ids.
pub(in crate::sqlite) fn load_parts(
    c: &Connection,
    upload_id: &str,
    after_part: u32,
    limit: usize,
) -> Result<Vec<(i64, Part)>, MetaError> {
    c.prepare_cached(
        "SELECT id, part_number, size, etag, checksum, blob_id, last_modified FROM upload_parts \
         WHERE upload_id = ?1 AND part_number > ?2 ORDER BY part_number LIMIT ?3",
    )
    .and_then(|mut s| {
        s.query_map(params![upload_id, after_part, limit_value(limit)], |r| {
            Ok((
                r.get(0)?,
                Part {
                    part_number: r.get(1)?,
                    size: u64_col(r, 2)?,
                    etag: r.get(3)?,
                    checksum: r.get(4)?,
                    blob_id: r.get(5)?,
                    last_modified: r.get(6)?,
                },
            ))
        })?
        .collect()
    })
    .map_err(db_err)
}

fn uploads(c: &Connection, sql: &str, args: Vec<Value>) -> Result<Vec<MultipartUpload>, MetaError> {
    let rows: Vec<RawUpload> = c
        .prepare_cached(sql)
        .and_then(|mut s| s.query_map(params_from_iter(args), upload_row)?.collect())
        .map_err(db_err)?;
    rows.into_iter().map(decode_upload).collect()
}

pub(in crate::sqlite) fn list_uploads(
    c: &Connection,
    q: &UploadListQuery,
) -> Result<Vec<MultipartUpload>, MetaError> {
    let tx = c.unchecked_transaction().map_err(db_err)?;
    let mut out = Vec::new();
    let lower = match &q.start {
        UploadStart::Beginning => Some(Lower::Unbounded),
        UploadStart::AfterKey(k) => Some(Lower::Excl(k.clone())),
        UploadStart::PastPrefix(p) => successor(p).map(Lower::Incl),
        UploadStart::AfterUpload { key, upload_id } => {
            if key.starts_with(&q.prefix) {
                out = uploads(
                    &tx,
                    &format!(
                        "{UPLOAD_COLS} WHERE bucket = ?1 AND key = ?2 AND upload_id > ?3 \
                         ORDER BY upload_id LIMIT ?4"
                    ),
                    vec![
                        Value::Text(q.bucket.clone()),
                        Value::Text(key.clone()),
                        Value::Text(upload_id.clone()),
                        limit_value(q.limit),
                    ],
                )?;
            }
            Some(Lower::Excl(key.clone()))
        }
    };
    let remaining = q.limit.saturating_sub(out.len());
    if remaining > 0
        && let Some(range) = key_range(&q.prefix, lower)
    {
        let (sql, args) = range_query(
            UPLOAD_COLS,
            "bucket = ?1",
            &q.bucket,
            &range,
            "key, upload_id",
            remaining,
        );
        out.extend(uploads(&tx, &sql, args)?);
    }
    Ok(out)
}

// ---------------------------------------------------------------- garbage

pub(in crate::sqlite) fn garbage(
    c: &Connection,
    queued_before: i64,
    limit: usize,
) -> Result<Vec<String>, MetaError> {
    c.prepare_cached("SELECT blob_id FROM gc_blobs WHERE queued_at < ?1 LIMIT ?2")
        .and_then(|mut s| {
            s.query_map(params![queued_before, limit_value(limit)], |r| r.get(0))?
                .collect()
        })
        .map_err(db_err)
}

pub(in crate::sqlite) fn unreferenced_blobs(
    c: &Connection,
    ids: &[String],
) -> Result<Vec<String>, MetaError> {
    let tx = c.unchecked_transaction().map_err(db_err)?;
    let mut out = Vec::new();
    for id in ids {
        let referenced: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM object_segments WHERE blob_id = ?1) \
                     OR EXISTS (SELECT 1 FROM upload_parts WHERE blob_id = ?1)",
            )
            .and_then(|mut s| s.query_row([id], |r| r.get(0)))
            .map_err(db_err)?;
        if !referenced {
            out.push(id.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_bounds_every_extension() {
        assert_eq!(successor(""), None);
        assert_eq!(successor("a/").as_deref(), Some("a0"));
        assert_eq!(successor("\u{ffff}").as_deref(), Some("\u{10000}"));
        assert_eq!(successor("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
        assert_eq!(successor("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(successor("\u{10ffff}\u{10ffff}"), None);
        for p in ["a/", "x\u{ffff}", "é", "a\u{10ffff}"] {
            let s = successor(p).unwrap();
            for ext in ["", "\u{10ffff}\u{10ffff}", "zzz", "\u{ffff}"] {
                let k = format!("{p}{ext}");
                assert!(k.as_bytes() < s.as_bytes(), "{k:?} !< {s:?}");
            }
            assert!(p.as_bytes() < s.as_bytes());
        }
    }

    fn plan(c: &Connection, sql: &str, args: Vec<Value>) -> String {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows: Vec<String> = stmt
            .query_map(params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.join(" | ")
    }

    /// Listing must be an index range scan, never a scan of the bucket or a sort.
    #[test]
    fn listing_queries_use_index_ranges() {
        let c = Connection::open_in_memory().unwrap();
        for m in crate::sqlite::migrations::MIGRATIONS {
            c.execute_batch(m.sql).unwrap();
        }
        let range = key_range("a/", Some(Lower::Excl("a/b".into()))).unwrap();
        let (sql, args) = range_query(
            &format!("{SUMMARY_COLS} FROM objects INDEXED BY objects_latest"),
            "bucket = ?1 AND is_latest = 1 AND is_delete_marker = 0",
            "b",
            &range,
            "key",
            10,
        );
        let p = plan(&c, &sql, args);
        assert!(
            p.contains("objects_latest") && p.contains("key>? AND key<?"),
            "{p}"
        );
        assert!(!p.contains("TEMP B-TREE"), "{p}");

        let (sql, args) = range_query(
            UPLOAD_COLS,
            "bucket = ?1",
            "b",
            &range,
            "key, upload_id",
            10,
        );
        let p = plan(&c, &sql, args);
        assert!(
            p.contains("uploads_by_key") && !p.contains("TEMP B-TREE"),
            "{p}"
        );

        // Versions: key order from the index, newest-first only sorted per key.
        let (sql, args) = range_query(
            &format!("{SUMMARY_COLS} FROM objects"),
            "bucket = ?1",
            "b",
            &range,
            "key, id DESC",
            10,
        );
        let p = plan(&c, &sql, args);
        assert!(p.contains("objects_by_version"), "{p}");
        assert!(!p.contains("USE TEMP B-TREE FOR ORDER BY"), "{p}");
    }

    #[test]
    fn key_range_picks_the_tighter_bound() {
        use Lower::*;
        assert_eq!(
            key_range("b/", Some(Unbounded)),
            Some((Incl("b/".into()), Some("b0".into())))
        );
        assert_eq!(
            key_range("b/", Some(Excl("a".into()))),
            Some((Incl("b/".into()), Some("b0".into())))
        );
        assert_eq!(
            key_range("b/", Some(Excl("b/x".into()))),
            Some((Excl("b/x".into()), Some("b0".into())))
        );
        assert_eq!(key_range("b/", Some(Excl("c".into()))), None);
        assert_eq!(key_range("b/", Some(Incl("b0".into()))), None);
        assert_eq!(key_range("b/", None), None);
        assert_eq!(
            key_range("", Some(Excl("k".into()))),
            Some((Excl("k".into()), None))
        );
        // Equal strings: exclusive is the tighter bound.
        assert_eq!(
            key_range("b/", Some(Excl("b/".into()))),
            Some((Excl("b/".into()), Some("b0".into())))
        );
    }
}
