use std::borrow::Cow;

use rusqlite::{Connection, OptionalExtension, params};

use super::queries::{load_inline, load_segments};
use super::{
    check_condition, emit_bytes, free_unreferenced, guard_bucket, latest, now_millis, refused,
    to_i64,
};
use crate::sqlite::codec::{LockCols, decode_lock, encode_headers, encode_lock, encode_tags};
use crate::sqlite::errors::db_err;
use crate::storage::{
    ByteUsage, LockChange, ObjectData, ObjectHeaders, ObjectLock, ObjectVersion, Refusal,
    RemovedVersion, WriteCondition,
};
use crate::{CommitReceipt, MetaError, Mutation};

pub(super) fn put(
    conn: &Connection,
    v: &ObjectVersion,
    condition: Option<&WriteCondition>,
    owner: Option<&str>,
    usage: Option<&ByteUsage>,
    receipt: &mut CommitReceipt,
) -> Result<(), MetaError> {
    guard_bucket(conn, &v.bucket, owner)?;
    check_condition(conn, &v.bucket, &v.key, condition)?;
    // Resolve a copy before anything is removed: the source may be the very
    // version this write replaces (copy onto itself to change metadata).
    let data = resolve(conn, &v.data)?;
    let bypass = condition.is_some_and(|c| c.bypass_governance);
    let freed = match version_row(conn, &v.bucket, &v.key, &v.version_id)? {
        Some((id, _)) => remove_row(conn, id, bypass, usage, receipt)?,
        None => Vec::new(),
    };
    insert_version(conn, v, &data)?;
    emit_bytes(usage, true, to_i64(v.size)?)?;
    // After the insert: blobs the new version shares with the old stay.
    free_unreferenced(conn, freed, receipt)
}

pub(super) fn delete(
    conn: &Connection,
    m: &Mutation,
    receipt: &mut CommitReceipt,
) -> Result<(), MetaError> {
    let Mutation::DeleteObject {
        bucket,
        key,
        remove_version,
        add_marker,
        condition,
        bucket_owner,
        usage,
    } = m
    else {
        return Err(MetaError::Internal("not a DeleteObject".into()));
    };
    let usage = usage.as_ref();
    guard_bucket(conn, bucket, bucket_owner.as_deref())?;
    check_condition(conn, bucket, key, condition.as_ref())?;
    if let Some(want) = condition.as_ref().and_then(|c| c.version_row) {
        let row = match (remove_version, add_marker) {
            (Some(v), None) => version_row(conn, bucket, key, v)?.map(|(id, _)| id),
            _ => super::latest(conn, bucket, key)?.map(|(id, _, _)| id),
        };
        if row != Some(want) {
            return Err(super::refused(Refusal::PreconditionFailed));
        }
    }
    let mut freed = Vec::new();
    let bypass = condition.as_ref().is_some_and(|c| c.bypass_governance);
    if let Some(v) = remove_version
        && let Some((id, was_latest)) = version_row(conn, bucket, key, v)?
    {
        freed = remove_row(conn, id, bypass, usage, receipt)?;
        if was_latest && add_marker.is_none() {
            promote_latest(conn, bucket, key)?;
        }
    }
    if let Some(marker) = add_marker {
        let v = ObjectVersion {
            bucket: bucket.clone(),
            key: key.clone(),
            version_id: marker.version_id.clone(),
            internal_id: 0,
            is_latest: true,
            is_delete_marker: true,
            last_modified: marker.last_modified,
            owner: marker.owner.clone(),
            size: 0,
            etag: String::new(),
            storage_class: String::new(),
            headers: ObjectHeaders::default(),
            checksum: None,
            tags: Vec::new(),
            acl: None,
            lock: ObjectLock::default(),
            encryption: None,
            data: ObjectData::Inline(Vec::new()),
        };
        insert_version(conn, &v, &v.data)?;
    }
    free_unreferenced(conn, freed, receipt)
}

pub(super) fn set_tags(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    tags: &[(String, String)],
    owner: Option<&str>,
) -> Result<(), MetaError> {
    guard_bucket(conn, bucket, owner)?;
    let id = target_row(conn, bucket, key, version_id)?;
    let tags = encode_tags(tags)?;
    conn.prepare_cached("UPDATE objects SET tags = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, tags]))
        .map_err(db_err)?;
    Ok(())
}

pub(super) fn set_acl(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    acl: Option<&str>,
    owner: Option<&str>,
) -> Result<(), MetaError> {
    guard_bucket(conn, bucket, owner)?;
    let id = target_row(conn, bucket, key, version_id)?;
    conn.prepare_cached("UPDATE objects SET acl = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, acl]))
        .map_err(db_err)?;
    Ok(())
}

/// Changes one version's retention or legal hold. The stored lock is read
/// and the change checked in the same transaction, so two racing changes
/// are applied one after the other, each checked against the other's result.
pub(super) fn set_lock(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: &str,
    change: LockChange,
    owner: Option<&str>,
) -> Result<(), MetaError> {
    guard_bucket(conn, bucket, owner)?;
    let id = target_row(conn, bucket, key, Some(version_id))?;
    let mut lock = row_lock(conn, id)?;
    match change {
        LockChange::Retention {
            retention,
            bypass_governance,
        } => {
            if !lock.retention_change_allowed(retention, now_millis(), bypass_governance) {
                return Err(refused(Refusal::ObjectLocked));
            }
            lock.retention = retention;
        }
        LockChange::LegalHold(on) => lock.legal_hold = on,
    }
    let (mode, until, hold) = encode_lock(&lock);
    conn.prepare_cached(
        "UPDATE objects SET lock_mode = ?2, lock_until = ?3, legal_hold = ?4 WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![id, mode, until, hold]))
    .map_err(db_err)?;
    Ok(())
}

/// The stored lock of one version row (none if the row is gone).
fn row_lock(conn: &Connection, id: i64) -> Result<ObjectLock, MetaError> {
    let cols: Option<LockCols> = conn
        .prepare_cached("SELECT lock_mode, lock_until, legal_hold FROM objects WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .map_err(db_err)?;
    cols.map_or(Ok(ObjectLock::default()), decode_lock)
}

/// The row of the latest version of `key` (or of `version_id`); a delete
/// marker or nothing is `NoSuchKey` / `NoSuchVersion`.
fn target_row(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<i64, MetaError> {
    let (row, missing) = match version_id {
        None => (
            latest(conn, bucket, key)?.map(|(id, _, marker)| (id, marker)),
            Refusal::NoSuchKey,
        ),
        Some(v) => (
            conn.prepare_cached(
                "SELECT id, is_delete_marker FROM objects \
                 WHERE bucket = ?1 AND key = ?2 AND version_id = ?3",
            )
            .and_then(|mut s| {
                s.query_row([bucket, key, v], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(db_err)?,
            Refusal::NoSuchVersion,
        ),
    };
    match row {
        Some((id, false)) => Ok(id),
        _ => Err(refused(missing)),
    }
}

/// `(row id, is_latest)` of one version.
pub(super) fn version_row(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<Option<(i64, bool)>, MetaError> {
    conn.prepare_cached(
        "SELECT id, is_latest FROM objects WHERE bucket = ?1 AND key = ?2 AND version_id = ?3",
    )
    .and_then(|mut s| {
        s.query_row([bucket, key, version_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    })
    .map_err(db_err)
}

/// Turns `CopyOf` into the source's concrete data.
fn resolve<'a>(conn: &Connection, data: &'a ObjectData) -> Result<Cow<'a, ObjectData>, MetaError> {
    let ObjectData::CopyOf(src) = data else {
        return Ok(Cow::Borrowed(data));
    };
    let kind: Option<i64> = conn
        .prepare_cached("SELECT data_kind FROM objects WHERE id = ?1")
        .and_then(|mut s| s.query_row([src], |r| r.get(0)).optional())
        .map_err(db_err)?;
    match kind {
        None => Err(refused(Refusal::CopySourceGone)),
        Some(0) => Ok(Cow::Owned(ObjectData::Inline(load_inline(conn, *src)?))),
        Some(_) => Ok(Cow::Owned(ObjectData::Segments(load_segments(conn, *src)?))),
    }
}

/// Inserts `v` (with concrete `data`) as the key's latest version.
pub(super) fn insert_version(
    conn: &Connection,
    v: &ObjectVersion,
    data: &ObjectData,
) -> Result<i64, MetaError> {
    conn.prepare_cached(
        "UPDATE objects SET is_latest = 0 WHERE bucket = ?1 AND key = ?2 AND is_latest = 1",
    )
    .and_then(|mut s| s.execute([&v.bucket, &v.key]))
    .map_err(db_err)?;
    let data_kind = match data {
        ObjectData::Inline(_) => 0,
        ObjectData::Segments(_) => 1,
        ObjectData::CopyOf(_) => {
            return Err(MetaError::Internal("unresolved CopyOf".into()));
        }
    };
    let checksum = v.checksum.as_ref();
    let (lock_mode, lock_until, legal_hold) = encode_lock(&v.lock);
    let (size, headers, tags) = (
        to_i64(v.size)?,
        encode_headers(&v.headers)?,
        encode_tags(&v.tags)?,
    );
    conn.prepare_cached(
        "INSERT INTO objects (bucket, key, version_id, is_latest, is_delete_marker, \
         last_modified, owner, size, etag, storage_class, checksum_algorithm, \
         checksum_value, checksum_type, headers, tags, data_kind, acl, \
         lock_mode, lock_until, legal_hold, encryption) \
         VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
         ?17, ?18, ?19, ?20)",
    )
    .and_then(|mut s| {
        s.execute(params![
            v.bucket,
            v.key,
            v.version_id,
            v.is_delete_marker,
            v.last_modified,
            v.owner,
            size,
            v.etag,
            v.storage_class,
            checksum.map(|c| &c.algorithm),
            checksum.map(|c| &c.value),
            checksum.map(|c| c.kind.as_str()),
            headers,
            tags,
            data_kind,
            v.acl,
            lock_mode,
            lock_until,
            legal_hold,
            v.encryption,
        ])
    })
    .map_err(db_err)?;
    let id = conn.last_insert_rowid();
    match data {
        // Empty objects (and delete markers) need no row: absence reads as empty.
        ObjectData::Inline(bytes) if !bytes.is_empty() => {
            conn.prepare_cached("INSERT INTO object_inline (object_id, data) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![id, bytes]))
                .map_err(db_err)?;
        }
        ObjectData::Segments(segs) => {
            let mut stmt = conn
                .prepare_cached(
                    "INSERT INTO object_segments (object_id, idx, blob_id, blob_offset, len, \
                     part_number, part_etag, part_checksum) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(db_err)?;
            for (idx, s) in segs.iter().enumerate() {
                let part = s.part.as_ref();
                stmt.execute(params![
                    id,
                    idx as i64,
                    s.blob_id,
                    to_i64(s.offset)?,
                    to_i64(s.len)?,
                    part.map(|p| p.number),
                    part.map(|p| &p.etag),
                    part.and_then(|p| p.checksum.as_ref()),
                ])
                .map_err(db_err)?;
            }
        }
        _ => {}
    }
    Ok(id)
}

/// Deletes one version row (its inline data and segments cascade) and
/// returns the blobs it referenced, to be checked once the caller's writes are done.
/// Every path that removes or replaces a version comes here, so this is
/// where object lock is enforced: a version under legal hold or active
/// retention (GOVERNANCE without `bypass_governance`) is `ObjectLocked`,
/// judged by the server clock at commit time.
pub(super) fn remove_row(
    conn: &Connection,
    id: i64,
    bypass_governance: bool,
    usage: Option<&ByteUsage>,
    receipt: &mut CommitReceipt,
) -> Result<Vec<String>, MetaError> {
    if row_lock(conn, id)?.blocks_removal(now_millis(), bypass_governance) {
        return Err(refused(Refusal::ObjectLocked));
    }
    let removed: Option<(RemovedVersion, i64)> = conn
        .prepare_cached(
            "SELECT bucket, key, version_id, is_delete_marker, size FROM objects WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.query_row([id], |r| {
                let size: i64 = r.get(4)?;
                Ok((
                    RemovedVersion {
                        bucket: r.get(0)?,
                        key: r.get(1)?,
                        version_id: r.get(2)?,
                        is_delete_marker: r.get(3)?,
                        size: u64::try_from(size).unwrap_or(0),
                    },
                    size,
                ))
            })
            .optional()
        })
        .map_err(db_err)?;
    let Some((removed, size)) = removed else {
        return Ok(Vec::new());
    };
    let blobs: Vec<String> = conn
        .prepare_cached("SELECT blob_id FROM object_segments WHERE object_id = ?1")
        .and_then(|mut s| s.query_map([id], |r| r.get(0))?.collect())
        .map_err(db_err)?;
    conn.prepare_cached("DELETE FROM objects WHERE id = ?1")
        .and_then(|mut s| s.execute([id]))
        .map_err(db_err)?;
    emit_bytes(usage, false, size)?;
    receipt.removed_versions.push(removed);
    Ok(blobs)
}

/// Makes the newest remaining version of a key the latest one.
fn promote_latest(conn: &Connection, bucket: &str, key: &str) -> Result<(), MetaError> {
    conn.prepare_cached(
        "UPDATE objects SET is_latest = 1 WHERE id = \
         (SELECT max(id) FROM objects WHERE bucket = ?1 AND key = ?2)",
    )
    .and_then(|mut s| s.execute([bucket, key]))
    .map_err(db_err)?;
    Ok(())
}
