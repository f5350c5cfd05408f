//! Versioned schema. `PRAGMA user_version` holds the number of applied
//! migrations; `PRAGMA application_id` marks the file as ours.
//!
//! To add one: append `NNNN_name.sql` and an entry below. Never edit a
//! shipped migration; databases in the field already ran it.

use rusqlite::{Connection, TransactionBehavior};

use super::errors::db_err;
use crate::MetaError;

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts",
        sql: include_str!("0001_accounts.sql"),
    },
    Migration {
        version: 2,
        name: "usage",
        sql: include_str!("0002_usage.sql"),
    },
    Migration {
        version: 3,
        name: "settings",
        sql: include_str!("0003_settings.sql"),
    },
    Migration {
        version: 4,
        name: "storage",
        sql: include_str!("0004_storage.sql"),
    },
    Migration {
        version: 5,
        name: "completed uploads",
        sql: include_str!("0005_completed_uploads.sql"),
    },
    Migration {
        version: 6,
        name: "object acls",
        sql: include_str!("0006_object_acls.sql"),
    },
    Migration {
        version: 7,
        name: "topics",
        sql: include_str!("0007_topics.sql"),
    },
    Migration {
        version: 8,
        name: "compute",
        sql: include_str!("0008_compute.sql"),
    },
    Migration {
        version: 9,
        name: "fulfillment",
        sql: include_str!("0009_fulfillment.sql"),
    },
    Migration {
        version: 10,
        name: "lwa clients",
        sql: include_str!("0010_lwa_clients.sql"),
    },
    Migration {
        version: 11,
        name: "fulfillment records",
        sql: include_str!("0011_fulfillment_records.sql"),
    },
    Migration {
        version: 12,
        name: "billing",
        sql: include_str!("0012_billing.sql"),
    },
    Migration {
        version: 13,
        name: "budgets",
        sql: include_str!("0013_budgets.sql"),
    },
    Migration {
        version: 14,
        name: "billing_report_definitions",
        sql: include_str!("0014_billing_report_definitions.sql"),
    },
    Migration {
        version: 15,
        name: "kms",
        sql: include_str!("0015_kms.sql"),
    },
    Migration {
        version: 16,
        name: "object encryption",
        sql: include_str!("0016_object_encryption.sql"),
    },
    Migration {
        version: 17,
        name: "object lock",
        sql: include_str!("0017_object_lock.sql"),
    },
    Migration {
        version: 18,
        name: "fulfillment_docs_rowid",
        sql: include_str!("0018_fulfillment_docs_rowid.sql"),
    },
];

#[allow(clippy::cast_possible_wrap)] // a handful of migrations
pub(super) const LATEST: i64 = MIGRATIONS.len() as i64;

/// "nmta" — lets us refuse SQLite files that belong to something else.
pub(super) const APPLICATION_ID: i64 = 0x6E6D_7461;

/// Validates the file, sets connection pragmas, and migrates to [`LATEST`].
pub(super) fn prepare(conn: &mut Connection) -> Result<(), MetaError> {
    // Inspect before any pragma that writes (journal_mode=WAL rewrites the
    // header), so a newer or foreign database is never modified.
    check_ownership(conn)?;

    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(db_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(MetaError::Unavailable(format!(
            "cannot enable WAL journal mode (got {mode:?}); is the filesystem local?"
        )));
    }
    // FULL: fsync the WAL on every commit so an acknowledged commit survives power loss.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db_err)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(db_err)?;
    // The writer opens a savepoint per commit call; SQLite journals each
    // page's first change inside a savepoint. In memory, not a temp file.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(db_err)?;

    // IMMEDIATE: take the write lock up front so two processes opening the same
    // fresh file cannot both run migration 1.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let current = check_ownership(&tx)?;
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        tx.execute_batch(m.sql).map_err(|e| {
            MetaError::Internal(format!("migration {:04}_{}: {e}", m.version, m.name))
        })?;
    }
    if current < LATEST {
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(db_err)?;
        tx.pragma_update(None, "user_version", LATEST)
            .map_err(db_err)?;
    }
    tx.commit().map_err(db_err)
}

/// Returns the current schema version if the file is ours (or empty).
fn check_ownership(conn: &Connection) -> Result<i64, MetaError> {
    let app_id: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(db_err)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(db_err)?;
    if app_id != 0 && app_id != APPLICATION_ID {
        return Err(MetaError::Corrupt(format!(
            "not a nomuck metadata database (application_id {app_id:#x})"
        )));
    }
    if version > LATEST {
        return Err(MetaError::NewerSchema {
            found: version,
            supported: LATEST,
        });
    }
    if app_id == 0 {
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(db_err)?;
        if version != 0 || objects != 0 {
            return Err(MetaError::Corrupt(
                "not a nomuck metadata database (SQLite file with foreign schema)".into(),
            ));
        }
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_contiguous_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "migration {}", m.name);
        }
    }

    #[test]
    fn fulfillment_records_survive_the_move_to_a_rowid_table() {
        let mut conn = Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        let before = MIGRATIONS
            .iter()
            .take_while(|m| m.name != "fulfillment_docs_rowid");
        for m in before {
            tx.execute_batch(m.sql).unwrap();
        }
        tx.execute(
            "INSERT INTO fulfillment_docs VALUES ('000000000001', 'order', 'o-1', 1, 5, 2, x'7b7d')",
            [],
        )
        .unwrap();
        for m in MIGRATIONS
            .iter()
            .skip_while(|m| m.name != "fulfillment_docs_rowid")
        {
            tx.execute_batch(m.sql).unwrap();
        }
        let row: (String, i64, i64, i64, Vec<u8>) = tx
            .query_row(
                "SELECT id, open, updated_at, generation, body FROM fulfillment_docs \
                 WHERE account_id = '000000000001' AND kind = 'order'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(row, ("o-1".into(), 1, 5, 2, b"{}".to_vec()));
        // The key is still unique.
        assert!(
            tx.execute(
                "INSERT INTO fulfillment_docs VALUES ('000000000001', 'order', 'o-1', 0, 6, 3, x'00')",
                [],
            )
            .is_err()
        );
    }

    #[test]
    fn every_migration_applies_on_top_of_the_previous() {
        let mut conn = Connection::open_in_memory().unwrap();
        // In-memory DBs cannot use WAL; migrate by hand to check the SQL itself.
        let tx = conn.transaction().unwrap();
        for m in MIGRATIONS {
            tx.execute_batch(m.sql).unwrap();
        }
        tx.commit().unwrap();
    }
}
