//! KMS's conformance cases on SQLite, plus durability across reopen.

use std::sync::Arc;

use nomuck_meta::conformance::{Fixture, kms_key_record, put_kms_alias, put_kms_key};
use nomuck_meta::{MetaStore, SqliteMetaStore};

mod conformance {
    use super::*;

    nomuck_meta::kms_conformance_tests!(async || {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetaStore::open(dir.path().join("meta.db")).unwrap();
        Fixture::with_guard(Arc::new(store), dir)
    });
}

const A: &str = "000000000001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_keys_and_aliases_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let record = kms_key_record(A, "k1", 1);
    {
        let store = SqliteMetaStore::open(&path).unwrap();
        store
            .commit(vec![
                put_kms_key(&record, None),
                put_kms_alias(A, "alias/app", "k1", false),
            ])
            .await
            .unwrap();
        store.close().unwrap();
    }
    let store = SqliteMetaStore::open(&path).unwrap();
    assert_eq!(store.kms().kms_key("k1").await.unwrap(), Some(record));
    assert_eq!(
        store
            .kms()
            .kms_alias(A, "alias/app")
            .await
            .unwrap()
            .map(|a| a.key_id),
        Some("k1".into())
    );
}
