//! Object-store mutations (run on the writer thread inside the group
//! transaction, so check-then-write is race-free) and queries.
//!
//! Freeing rule: whenever a mutation drops a reference to a blob (a version
//! or part row goes away), the blob is checked for remaining references
//! after the mutation's writes; if none, it is queued in `gc_blobs` in the
//! same transaction and reported in [`CommitReceipt::freed_blobs`].

mod buckets;
mod objects;
pub(super) mod queries;
mod uploads;

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use super::errors::db_err;
use crate::storage::{ByteUsage, Refusal, WriteCondition, etag_listed};
use crate::{CommitReceipt, MetaError, Mutation};

pub(super) fn apply(
    conn: &Connection,
    m: &Mutation,
    receipt: &mut CommitReceipt,
) -> Result<(), MetaError> {
    match m {
        Mutation::CreateBucket(b) => buckets::create(conn, b),
        Mutation::DeleteBucket { name, bucket_owner } => {
            buckets::delete(conn, name, bucket_owner.as_deref())
        }
        Mutation::SetBucketVersioning {
            name,
            versioning,
            bucket_owner,
        } => buckets::set_versioning(conn, name, *versioning, bucket_owner.as_deref()),
        Mutation::PutBucketConfig {
            bucket,
            kind,
            doc,
            bucket_owner,
        } => buckets::put_config(conn, bucket, kind, doc, bucket_owner.as_deref()),
        Mutation::DeleteBucketConfig {
            bucket,
            kind,
            bucket_owner,
        } => buckets::delete_config(conn, bucket, kind, bucket_owner.as_deref()),
        Mutation::PutObject {
            version,
            condition,
            bucket_owner,
            usage,
        } => objects::put(
            conn,
            version,
            condition.as_ref(),
            bucket_owner.as_deref(),
            usage.as_ref(),
            receipt,
        ),
        Mutation::DeleteObject { .. } => objects::delete(conn, m, receipt),
        Mutation::SetObjectTags {
            bucket,
            key,
            version_id,
            tags,
            bucket_owner,
        } => objects::set_tags(
            conn,
            bucket,
            key,
            version_id.as_deref(),
            tags,
            bucket_owner.as_deref(),
        ),
        Mutation::SetObjectAcl {
            bucket,
            key,
            version_id,
            acl,
            bucket_owner,
        } => objects::set_acl(
            conn,
            bucket,
            key,
            version_id.as_deref(),
            acl.as_deref(),
            bucket_owner.as_deref(),
        ),
        Mutation::SetObjectLock {
            bucket,
            key,
            version_id,
            change,
            bucket_owner,
        } => objects::set_lock(
            conn,
            bucket,
            key,
            version_id,
            *change,
            bucket_owner.as_deref(),
        ),
        Mutation::CreateMultipartUpload {
            upload,
            bucket_owner,
        } => uploads::create(conn, upload, bucket_owner.as_deref()),
        Mutation::PutPart {
            upload_id,
            bucket,
            key,
            part,
            usage,
        } => uploads::put_part(conn, upload_id, bucket, key, part, usage.as_ref(), receipt),
        Mutation::CompleteMultipartUpload(c) => uploads::complete(conn, c, receipt),
        Mutation::AbortMultipartUpload {
            upload_id,
            bucket,
            key,
            usage,
        } => uploads::abort(conn, upload_id, bucket, key, usage.as_ref(), receipt),
        Mutation::ForgetGarbage { blob_ids } => forget_garbage(conn, blob_ids),
        Mutation::CreateAccount(_)
        | Mutation::CreateAccessKey(_)
        | Mutation::RevokeAccessKey { .. }
        | Mutation::CreateLwaClient(_)
        | Mutation::RevokeLwaClient { .. }
        | Mutation::RecordUsage(_)
        | Mutation::PutSetting { .. }
        | Mutation::PutTopic(_)
        | Mutation::DeleteTopic { .. }
        | Mutation::EnqueueDelivery(_)
        | Mutation::RecordDeliveryAttempt { .. }
        | Mutation::PruneDeliveries { .. }
        | Mutation::Compute(_)
        | Mutation::Fulfillment(_)
        | Mutation::Budgets(_)
        | Mutation::Billing(_)
        | Mutation::Kms(_) => Err(MetaError::Internal(
            "mutation of another domain routed to the object store".into(),
        )),
    }
}

fn refused(r: Refusal) -> MetaError {
    MetaError::Refused(r)
}

/// SQLite integers are i64; sizes and offsets are validated to fit before
/// any mutation runs, so this only fails on a bug.
fn to_i64(v: u64) -> Result<i64, MetaError> {
    i64::try_from(v).map_err(|_| MetaError::Invalid(format!("{v} does not fit in 64 signed bits")))
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The bucket must exist and, if `owner` is given, belong to that account.
fn guard_bucket(conn: &Connection, bucket: &str, owner: Option<&str>) -> Result<(), MetaError> {
    let found: Option<String> = conn
        .prepare_cached("SELECT owner FROM buckets WHERE name = ?1")
        .and_then(|mut s| s.query_row([bucket], |r| r.get(0)).optional())
        .map_err(db_err)?;
    match (found, owner) {
        (None, _) => Err(refused(Refusal::NoSuchBucket(bucket.to_owned()))),
        (Some(actual), Some(expected)) if actual != expected => {
            Err(refused(Refusal::BucketOwnerChanged(bucket.to_owned())))
        }
        _ => Ok(()),
    }
}

/// The latest version of a key: `(row id, etag, is_delete_marker)`.
fn latest(
    conn: &Connection,
    bucket: &str,
    key: &str,
) -> Result<Option<(i64, String, bool)>, MetaError> {
    conn.prepare_cached(
        "SELECT id, etag, is_delete_marker FROM objects \
         WHERE bucket = ?1 AND key = ?2 AND is_latest = 1",
    )
    .and_then(|mut s| {
        s.query_row([bucket, key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
    })
    .map_err(db_err)
}

fn check_condition(
    conn: &Connection,
    bucket: &str,
    key: &str,
    cond: Option<&WriteCondition>,
) -> Result<(), MetaError> {
    let Some(cond) = cond else { return Ok(()) };
    let current = latest(conn, bucket, key)?.filter(|(_, _, marker)| !marker);
    if let Some(want) = &cond.if_match {
        match &current {
            None => return Err(refused(Refusal::NoSuchKey)),
            Some((_, etag, _)) if !etag_listed(want, etag) => {
                return Err(refused(Refusal::PreconditionFailed));
            }
            Some(_) => {}
        }
    }
    if let (Some(unwanted), Some((_, etag, _))) = (&cond.if_none_match, &current)
        && etag_listed(unwanted, etag)
    {
        return Err(refused(Refusal::PreconditionFailed));
    }
    Ok(())
}

fn is_referenced(conn: &Connection, blob_id: &str) -> Result<bool, MetaError> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM object_segments WHERE blob_id = ?1) \
             OR EXISTS (SELECT 1 FROM upload_parts WHERE blob_id = ?1)",
    )
    .and_then(|mut s| s.query_row([blob_id], |r| r.get(0)))
    .map_err(db_err)
}

/// Queues every blob in `candidates` that nothing references any more.
fn free_unreferenced(
    conn: &Connection,
    mut candidates: Vec<String>,
    receipt: &mut CommitReceipt,
) -> Result<(), MetaError> {
    candidates.sort_unstable();
    candidates.dedup();
    let now = now_millis();
    for blob in candidates {
        if is_referenced(conn, &blob)? {
            continue;
        }
        conn.prepare_cached(
            "INSERT INTO gc_blobs (blob_id, queued_at) VALUES (?1, ?2) \
             ON CONFLICT (blob_id) DO NOTHING",
        )
        .and_then(|mut s| s.execute(params![blob, now]))
        .map_err(db_err)?;
        receipt.freed_blobs.push(blob);
    }
    Ok(())
}

fn forget_garbage(conn: &Connection, blob_ids: &[String]) -> Result<(), MetaError> {
    for id in blob_ids {
        conn.prepare_cached("DELETE FROM gc_blobs WHERE blob_id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(db_err)?;
    }
    Ok(())
}

/// Adds a stored-bytes delta to the transaction's usage (written at COMMIT
/// by [`super::byte_usage`]); nothing for zero bytes.
fn emit_bytes(usage: Option<&ByteUsage>, added: bool, bytes: i64) -> Result<(), MetaError> {
    let Some(u) = usage else { return Ok(()) };
    if bytes <= 0 {
        return Ok(());
    }
    let meter = if added {
        &u.added_meter
    } else {
        &u.removed_meter
    };
    super::byte_usage::add(
        (
            u.account_id.clone(),
            u.service.clone(),
            meter.clone(),
            u.unit.clone(),
        ),
        bytes,
        u.at,
    );
    Ok(())
}
