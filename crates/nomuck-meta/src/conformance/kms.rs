//! Cases for KMS's part of the seam (see [`crate::kms`]): key round trips with
//! generations, aliases bound to keys of their own account, and account
//! isolation of listings.

use std::sync::Arc;

use super::commit_ok;
use super::compute::commit_err;
use crate::kms::{KmsAliasRecord, KmsKeyRecord, KmsMutation};
use crate::{MetaError, MetaStore, Mutation};

/// Expands to one `#[tokio::test]` per KMS conformance case; the factory is
/// the one given to [`crate::metastore_conformance_tests!`].
#[macro_export]
macro_rules! kms_conformance_tests {
    ($factory:expr $(,)?) => {
        $crate::__metastore_conformance_cases!(($factory);
            kms_keys_round_trip,
            kms_aliases_bound_to_own_keys,
            kms_accounts_isolated,
            kms_invalid_mutations_rejected,
        );
    };
}

const A: &str = "000000000001";
const B: &str = "000000000002";

/// A key record at `generation` with a recognisable body.
pub fn kms_key_record(account_id: &str, key_id: &str, generation: i64) -> KmsKeyRecord {
    KmsKeyRecord {
        key_id: key_id.into(),
        account_id: account_id.into(),
        created_at: 10,
        updated_at: 10 + generation,
        generation,
        body: format!("{{\"KeyId\":\"{key_id}\",\"g\":{generation}}}").into_bytes(),
    }
}

pub fn put_kms_key(r: &KmsKeyRecord, expect_generation: Option<i64>) -> Mutation {
    Mutation::Kms(KmsMutation::PutKey {
        record: Box::new(r.clone()),
        expect_generation,
    })
}

pub fn put_kms_alias(account_id: &str, name: &str, key_id: &str, replace: bool) -> Mutation {
    Mutation::Kms(KmsMutation::PutAlias {
        record: KmsAliasRecord {
            account_id: account_id.into(),
            name: name.into(),
            key_id: key_id.into(),
            created_at: 5,
            updated_at: 6,
        },
        replace,
    })
}

fn delete_key(key_id: &str, expect_generation: i64) -> Mutation {
    Mutation::Kms(KmsMutation::DeleteKey {
        key_id: key_id.into(),
        expect_generation,
    })
}

/// Every field survives; a new id must be new, a replacement names the
/// generation it replaces, so racing writers cannot overwrite each other.
pub async fn kms_keys_round_trip(s: Arc<dyn MetaStore>) {
    let k = s.kms();
    assert_eq!(k.kms_key("k1").await.unwrap(), None);
    let k1 = kms_key_record(A, "k1", 1);
    commit_ok(
        &s,
        vec![
            put_kms_key(&k1, None),
            put_kms_key(&kms_key_record(A, "k2", 1), None),
        ],
    )
    .await;
    assert_eq!(k.kms_key("k1").await.unwrap(), Some(k1.clone()));
    let e = commit_err(&s, vec![put_kms_key(&k1, None)]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let e = commit_err(&s, vec![put_kms_key(&kms_key_record(A, "k1", 3), Some(2))]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let e = commit_err(&s, vec![put_kms_key(&kms_key_record(A, "k9", 2), Some(1))]).await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
    let e = commit_err(&s, vec![put_kms_key(&kms_key_record(A, "k1", 1), Some(1))]).await;
    assert!(matches!(e, MetaError::Invalid(_)), "{e:?}");
    let e = commit_err(&s, vec![put_kms_key(&kms_key_record(B, "k1", 2), Some(1))]).await;
    assert!(matches!(e, MetaError::Invalid(_)), "{e:?}");
    let next = kms_key_record(A, "k1", 2);
    commit_ok(&s, vec![put_kms_key(&next, Some(1))]).await;
    assert_eq!(k.kms_key("k1").await.unwrap(), Some(next));

    // Deleting names the generation too, and takes the key's aliases along.
    commit_ok(&s, vec![put_kms_alias(A, "alias/one", "k1", false)]).await;
    let e = commit_err(&s, vec![delete_key("k1", 1)]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    commit_ok(&s, vec![delete_key("k1", 2)]).await;
    assert_eq!(k.kms_key("k1").await.unwrap(), None);
    assert_eq!(k.kms_alias(A, "alias/one").await.unwrap(), None);
    let e = commit_err(&s, vec![delete_key("k1", 2)]).await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
}

/// An alias is created once, updated only if it exists, and only ever names a
/// key of its own account.
pub async fn kms_aliases_bound_to_own_keys(s: Arc<dyn MetaStore>) {
    commit_ok(
        &s,
        vec![
            put_kms_key(&kms_key_record(A, "ka", 1), None),
            put_kms_key(&kms_key_record(A, "kb", 1), None),
            put_kms_key(&kms_key_record(B, "kx", 1), None),
        ],
    )
    .await;
    let k = s.kms();
    commit_ok(&s, vec![put_kms_alias(A, "alias/app", "ka", false)]).await;
    let e = commit_err(&s, vec![put_kms_alias(A, "alias/app", "kb", false)]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let e = commit_err(&s, vec![put_kms_alias(A, "alias/new", "kb", true)]).await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
    let e = commit_err(&s, vec![put_kms_alias(A, "alias/theirs", "kx", false)]).await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
    commit_ok(&s, vec![put_kms_alias(A, "alias/app", "kb", true)]).await;
    assert_eq!(
        k.kms_alias(A, "alias/app").await.unwrap().map(|a| a.key_id),
        Some("kb".into())
    );
    commit_ok(&s, vec![put_kms_alias(A, "alias/b2", "kb", false)]).await;
    commit_ok(&s, vec![put_kms_alias(A, "alias/a1", "ka", false)]).await;
    let names = |v: Vec<KmsAliasRecord>| v.into_iter().map(|a| a.name).collect::<Vec<_>>();
    assert_eq!(
        names(k.kms_aliases(A, None, None, 10).await.unwrap()),
        ["alias/a1", "alias/app", "alias/b2"]
    );
    assert_eq!(
        names(k.kms_aliases(A, Some("kb"), None, 10).await.unwrap()),
        ["alias/app", "alias/b2"]
    );
    assert_eq!(
        names(k.kms_aliases(A, None, Some("alias/a1"), 1).await.unwrap()),
        ["alias/app"]
    );
    let del = |name: &str| {
        Mutation::Kms(KmsMutation::DeleteAlias {
            account_id: A.into(),
            name: name.into(),
        })
    };
    commit_ok(&s, vec![del("alias/app")]).await;
    let e = commit_err(&s, vec![del("alias/app")]).await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
}

/// One account's listing never shows another's keys or aliases; the walk
/// over all keys sees every account's, in id order.
pub async fn kms_accounts_isolated(s: Arc<dyn MetaStore>) {
    commit_ok(
        &s,
        vec![
            put_kms_key(&kms_key_record(B, "k1", 1), None),
            put_kms_key(&kms_key_record(A, "k2", 1), None),
            put_kms_key(&kms_key_record(A, "k3", 1), None),
            put_kms_alias(B, "alias/same", "k1", false),
            put_kms_alias(A, "alias/same", "k2", false),
        ],
    )
    .await;
    let k = s.kms();
    let ids = |v: Vec<KmsKeyRecord>| v.into_iter().map(|r| r.key_id).collect::<Vec<_>>();
    assert_eq!(ids(k.kms_keys(A, None, 10).await.unwrap()), ["k2", "k3"]);
    assert_eq!(ids(k.kms_keys(A, Some("k2"), 10).await.unwrap()), ["k3"]);
    assert_eq!(ids(k.kms_keys(B, None, 10).await.unwrap()), ["k1"]);
    assert_eq!(
        ids(k.all_kms_keys(None, 10).await.unwrap()),
        ["k1", "k2", "k3"]
    );
    assert_eq!(ids(k.all_kms_keys(Some("k1"), 1).await.unwrap()), ["k2"]);
    assert_eq!(
        k.kms_alias(B, "alias/same")
            .await
            .unwrap()
            .map(|a| a.key_id),
        Some("k1".into())
    );
    assert_eq!(k.kms_aliases(B, None, None, 10).await.unwrap().len(), 1);
}

/// Malformed records never reach the backend.
pub async fn kms_invalid_mutations_rejected(s: Arc<dyn MetaStore>) {
    let e = commit_err(&s, vec![put_kms_key(&kms_key_record("1", "k", 1), None)]).await;
    assert!(matches!(e, MetaError::Invalid(_)), "{e:?}");
    let e = commit_err(&s, vec![put_kms_key(&kms_key_record(A, "", 1), None)]).await;
    assert!(matches!(e, MetaError::Invalid(_)), "{e:?}");
    commit_ok(&s, vec![put_kms_key(&kms_key_record(A, "k", 1), None)]).await;
    let e = commit_err(&s, vec![put_kms_alias(A, "app", "k", false)]).await;
    assert!(matches!(e, MetaError::Invalid(_)), "{e:?}");
    let e = commit_err(&s, vec![put_kms_alias(A, "alias/", "k", false)]).await;
    assert!(matches!(e, MetaError::Invalid(_)), "{e:?}");
}
