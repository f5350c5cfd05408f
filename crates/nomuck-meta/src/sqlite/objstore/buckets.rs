use rusqlite::{Connection, OptionalExtension, params};

use super::{guard_bucket, refused};
use crate::MetaError;
use crate::sqlite::errors::db_err;
use crate::storage::{Bucket, OBJECT_LOCK_CONFIG, Refusal, Versioning};

pub(super) fn create(conn: &Connection, b: &Bucket) -> Result<(), MetaError> {
    let owner: Option<String> = conn
        .prepare_cached("SELECT owner FROM buckets WHERE name = ?1")
        .and_then(|mut s| s.query_row([&b.name], |r| r.get(0)).optional())
        .map_err(db_err)?;
    if let Some(owner) = owner {
        return Err(refused(Refusal::BucketExists {
            name: b.name.clone(),
            owned_by_you: owner == b.owner,
        }));
    }
    conn.prepare_cached(
        "INSERT INTO buckets (name, owner, region, created_at, versioning) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            b.name,
            b.owner,
            b.region,
            b.created_at,
            b.versioning.as_str()
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

pub(super) fn delete(conn: &Connection, name: &str, owner: Option<&str>) -> Result<(), MetaError> {
    guard_bucket(conn, name, owner)?;
    // Any version (delete markers included) or upload keeps the bucket alive.
    let busy: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = ?1) \
                 OR EXISTS (SELECT 1 FROM uploads WHERE bucket = ?1)",
        )
        .and_then(|mut s| s.query_row([name], |r| r.get(0)))
        .map_err(db_err)?;
    if busy {
        return Err(refused(Refusal::BucketNotEmpty(name.to_owned())));
    }
    // bucket_configs go with it (ON DELETE CASCADE).
    conn.prepare_cached("DELETE FROM buckets WHERE name = ?1")
        .and_then(|mut s| s.execute([name]))
        .map_err(db_err)?;
    Ok(())
}

pub(super) fn set_versioning(
    conn: &Connection,
    name: &str,
    v: Versioning,
    owner: Option<&str>,
) -> Result<(), MetaError> {
    guard_bucket(conn, name, owner)?;
    if v != Versioning::Enabled && has_config(conn, name, OBJECT_LOCK_CONFIG)? {
        return Err(refused(Refusal::InvalidBucketState));
    }
    conn.prepare_cached("UPDATE buckets SET versioning = ?2 WHERE name = ?1")
        .and_then(|mut s| s.execute(params![name, v.as_str()]))
        .map_err(db_err)?;
    Ok(())
}

pub(super) fn put_config(
    conn: &Connection,
    bucket: &str,
    kind: &str,
    doc: &[u8],
    owner: Option<&str>,
) -> Result<(), MetaError> {
    guard_bucket(conn, bucket, owner)?;
    if kind == OBJECT_LOCK_CONFIG {
        let versioning: String = conn
            .prepare_cached("SELECT versioning FROM buckets WHERE name = ?1")
            .and_then(|mut s| s.query_row([bucket], |r| r.get(0)))
            .map_err(db_err)?;
        if versioning != Versioning::Enabled.as_str() {
            return Err(refused(Refusal::InvalidBucketState));
        }
    }
    conn.prepare_cached(
        "INSERT INTO bucket_configs (bucket, kind, doc) VALUES (?1, ?2, ?3) \
         ON CONFLICT (bucket, kind) DO UPDATE SET doc = excluded.doc",
    )
    .and_then(|mut s| s.execute(params![bucket, kind, doc]))
    .map_err(db_err)?;
    Ok(())
}

pub(super) fn delete_config(
    conn: &Connection,
    bucket: &str,
    kind: &str,
    owner: Option<&str>,
) -> Result<(), MetaError> {
    guard_bucket(conn, bucket, owner)?;
    conn.prepare_cached("DELETE FROM bucket_configs WHERE bucket = ?1 AND kind = ?2")
        .and_then(|mut s| s.execute([bucket, kind]))
        .map_err(db_err)?;
    Ok(())
}

fn has_config(conn: &Connection, bucket: &str, kind: &str) -> Result<bool, MetaError> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM bucket_configs WHERE bucket = ?1 AND kind = ?2)",
    )
    .and_then(|mut s| s.query_row([bucket, kind], |r| r.get(0)))
    .map_err(db_err)
}
