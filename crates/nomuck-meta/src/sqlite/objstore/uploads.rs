use rusqlite::{Connection, OptionalExtension, params};

use super::objects::{insert_version, remove_row, version_row};
use super::queries::{load_parts, load_upload};
use super::{check_condition, emit_bytes, free_unreferenced, guard_bucket, refused, to_i64};
use crate::multipart::assemble;
use crate::sqlite::codec::{encode_headers, encode_lock, encode_tags};
use crate::sqlite::errors::db_err;
use crate::storage::{
    ByteUsage, CompleteUpload, CompletedUpload, MultipartUpload, ObjectData, ObjectVersion, Part,
    Refusal,
};
use crate::{CommitReceipt, MetaError};

pub(super) fn create(
    conn: &Connection,
    u: &MultipartUpload,
    owner: Option<&str>,
) -> Result<(), MetaError> {
    guard_bucket(conn, &u.bucket, owner)?;
    if load_upload(conn, &u.upload_id)?.is_some() {
        return Err(MetaError::Conflict(format!(
            "upload id {} already exists",
            u.upload_id
        )));
    }
    conn.prepare_cached(
        "INSERT INTO uploads (upload_id, bucket, key, initiated, owner, storage_class, \
         headers, checksum_algorithm, checksum_type, tags, acl, lock_mode, lock_until, \
         legal_hold, encryption) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )
    .and_then(|mut s| {
        let (lock_mode, lock_until, legal_hold) = encode_lock(&u.lock);
        s.execute(params![
            u.upload_id,
            u.bucket,
            u.key,
            u.initiated,
            u.owner,
            u.storage_class,
            encode_headers(&u.headers).map_err(to_sql_err)?,
            u.checksum_algorithm,
            u.checksum_type.map(|t| t.as_str()),
            encode_tags(&u.tags).map_err(to_sql_err)?,
            u.acl,
            lock_mode,
            lock_until,
            legal_hold,
            u.encryption,
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

fn to_sql_err(e: MetaError) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

/// The upload, if it exists and is for `bucket`/`key`.
fn upload_for(
    conn: &Connection,
    upload_id: &str,
    bucket: &str,
    key: &str,
) -> Result<MultipartUpload, MetaError> {
    match load_upload(conn, upload_id)? {
        Some(u) if u.bucket == bucket && u.key == key => Ok(u),
        _ => Err(refused(Refusal::NoSuchUpload(upload_id.to_owned()))),
    }
}

pub(super) fn put_part(
    conn: &Connection,
    upload_id: &str,
    bucket: &str,
    key: &str,
    part: &Part,
    usage: Option<&ByteUsage>,
    receipt: &mut CommitReceipt,
) -> Result<(), MetaError> {
    upload_for(conn, upload_id, bucket, key)?;
    let old: Option<(i64, String, i64)> = conn
        .prepare_cached(
            "SELECT id, blob_id, size FROM upload_parts WHERE upload_id = ?1 AND part_number = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![upload_id, part.part_number], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
        })
        .map_err(db_err)?;
    let mut freed = Vec::new();
    if let Some((id, blob, size)) = old {
        conn.prepare_cached("DELETE FROM upload_parts WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(db_err)?;
        emit_bytes(usage, false, size)?;
        freed.push(blob);
    }
    let size = to_i64(part.size)?;
    conn.prepare_cached(
        "INSERT INTO upload_parts (upload_id, part_number, size, etag, checksum, blob_id, \
         last_modified) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            upload_id,
            part.part_number,
            size,
            part.etag,
            part.checksum,
            part.blob_id,
            part.last_modified
        ])
    })
    .map_err(db_err)?;
    emit_bytes(usage, true, size)?;
    free_unreferenced(conn, freed, receipt)
}

pub(super) fn complete(
    conn: &Connection,
    c: &CompleteUpload,
    receipt: &mut CommitReceipt,
) -> Result<(), MetaError> {
    let usage = c.usage.as_ref();
    guard_bucket(conn, &c.bucket, c.bucket_owner.as_deref())?;
    let upload = upload_for(conn, &c.upload_id, &c.bucket, &c.key)?;
    check_condition(conn, &c.bucket, &c.key, c.condition.as_ref())?;
    let rows = load_parts(conn, &c.upload_id, 0, usize::MAX)?;
    let stored: Vec<Part> = rows.iter().map(|(_, p)| p.clone()).collect();
    let a = assemble(
        &upload,
        &c.parts,
        &stored,
        c.min_part_size,
        c.full_object_checksum.as_deref(),
    )?;

    let bypass = c.condition.as_ref().is_some_and(|c| c.bypass_governance);
    let mut freed = match version_row(conn, &c.bucket, &c.key, &c.version_id)? {
        Some((id, _)) => remove_row(conn, id, bypass, usage, receipt)?,
        None => Vec::new(),
    };
    let parts_count = u32::try_from(a.segments.len()).unwrap_or(u32::MAX);
    let version = ObjectVersion {
        bucket: c.bucket.clone(),
        key: c.key.clone(),
        version_id: c.version_id.clone(),
        internal_id: 0,
        is_latest: true,
        is_delete_marker: false,
        last_modified: c.last_modified,
        owner: upload.owner,
        size: a.size,
        etag: a.etag,
        storage_class: upload.storage_class,
        headers: upload.headers,
        checksum: a.checksum,
        tags: upload.tags,
        acl: upload.acl,
        lock: upload.lock,
        encryption: upload.encryption,
        data: ObjectData::Segments(a.segments),
    };
    let id = insert_version(conn, &version, &version.data)?;
    conn.prepare_cached("INSERT INTO completed_uploads (upload_id, object_id) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![c.upload_id, id]))
        .map_err(db_err)?;
    drop_upload(conn, &c.upload_id, &rows, usage)?;
    emit_bytes(usage, true, to_i64(version.size)?)?;
    freed.extend(a.unused_blobs);
    free_unreferenced(conn, freed, receipt)?;
    receipt.completed_uploads.push(CompletedUpload {
        bucket: version.bucket,
        key: version.key,
        version_id: version.version_id,
        internal_id: id,
        size: version.size,
        etag: version.etag,
        checksum: version.checksum,
        parts_count,
    });
    Ok(())
}

pub(super) fn abort(
    conn: &Connection,
    upload_id: &str,
    bucket: &str,
    key: &str,
    usage: Option<&ByteUsage>,
    receipt: &mut CommitReceipt,
) -> Result<(), MetaError> {
    upload_for(conn, upload_id, bucket, key)?;
    let rows = load_parts(conn, upload_id, 0, usize::MAX)?;
    drop_upload(conn, upload_id, &rows, usage)?;
    let blobs = rows.into_iter().map(|(_, p)| p.blob_id).collect();
    free_unreferenced(conn, blobs, receipt)
}

/// Deletes the upload and its part rows, metering the parts' bytes as removed.
fn drop_upload(
    conn: &Connection,
    upload_id: &str,
    parts: &[(i64, Part)],
    usage: Option<&ByteUsage>,
) -> Result<(), MetaError> {
    for (_, p) in parts {
        emit_bytes(usage, false, to_i64(p.size)?)?;
    }
    // upload_parts rows cascade.
    conn.prepare_cached("DELETE FROM uploads WHERE upload_id = ?1")
        .and_then(|mut s| s.execute([upload_id]))
        .map_err(db_err)?;
    Ok(())
}
