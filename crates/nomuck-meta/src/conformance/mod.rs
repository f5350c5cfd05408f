//! The conformance suite every [`MetaStore`] backend must pass, unchanged.
//!
//! ```text
//! // tests/my_backend.rs (needs tokio with `macros` + `rt-multi-thread`)
//! nomuck_meta::metastore_conformance_tests!(async || -> Arc<dyn MetaStore> { ... });
//! // or, to keep a temp dir / container alive for the test's duration:
//! nomuck_meta::metastore_conformance_tests!(async || {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = SqliteMetaStore::open(dir.path().join("meta.db")).unwrap();
//!     Fixture::with_guard(Arc::new(store), dir)
//! });
//! ```
//! The factory is called once per case and must return an empty store.
//! Every case is also a plain `pub async fn(Arc<dyn MetaStore>)` here.
//! Compute's, fulfillment's, billing's and budgets' cases have their own macros,
//! `compute_conformance_tests!`, `fulfillment_conformance_tests!`,
//! `billing_conformance_tests!`, `budgets_conformance_tests!` and
//! `kms_conformance_tests!`, taking
//! the same factory.

// Test code: a failed expectation is a panic by design.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::any::Any;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{
    AccessKey, Account, CommitReceipt, LwaClient, MetaError, MetaStore, Mutation, StoredUsageEvent,
    UsageEvent, UsageQuery,
};

mod billing;
mod budgets;
mod compute;
mod events;
mod fulfillment;
mod kms;
mod storage;
pub use billing::*;
pub use budgets::*;
pub use compute::*;
pub use events::*;
pub use fulfillment::*;
pub use kms::*;
pub use storage::*;

/// A store under test plus whatever must outlive it (temp dir, DB container).
pub struct Fixture {
    // Declared before `_guard`: fields drop in order, so the store closes
    // before its directory or server goes away.
    pub store: Arc<dyn MetaStore>,
    _guard: Option<Box<dyn Any + Send>>,
}

impl Fixture {
    pub fn new(store: Arc<dyn MetaStore>) -> Self {
        Self {
            store,
            _guard: None,
        }
    }

    pub fn with_guard(store: Arc<dyn MetaStore>, guard: impl Any + Send) -> Self {
        Self {
            store,
            _guard: Some(Box::new(guard)),
        }
    }
}

impl From<Arc<dyn MetaStore>> for Fixture {
    fn from(store: Arc<dyn MetaStore>) -> Self {
        Self::new(store)
    }
}

impl<S: MetaStore> From<Arc<S>> for Fixture {
    fn from(store: Arc<S>) -> Self {
        Self::new(store)
    }
}

/// Expands to one `#[tokio::test]` per conformance case. The argument is a
/// factory (`async || -> impl Into<Fixture>`) giving a fresh, empty store.
#[macro_export]
macro_rules! metastore_conformance_tests {
    ($factory:expr $(,)?) => {
        $crate::__metastore_conformance_cases!(($factory);
            accounts_create_get_list,
            account_conflicts,
            conflict_within_one_commit,
            access_keys_create_get_list,
            access_key_conflicts_and_missing_account,
            access_key_revoke,
            lwa_clients_create_get_list,
            lwa_client_conflicts_revoke_and_atomicity,
            failed_commit_is_atomic,
            concurrent_failures_are_isolated,
            invalid_mutations_rejected,
            empty_commit_is_noop,
            records_round_trip,
            usage_idempotency,
            usage_queries,
            usage_cursor_paging,
            settings_upsert,
            concurrent_commits_land_once,
            usage_cursor_gap_free_under_concurrent_writes,
            read_after_write,
            buckets_create_get_list_delete,
            bucket_name_conflicts,
            bucket_delete_refused_while_not_empty,
            bucket_owner_guard,
            bucket_configs,
            object_round_trip_all_fields,
            object_replace_frees_blobs_and_meters_bytes,
            object_write_conditions,
            object_delete_and_gc_queue,
            object_copy_shares_data,
            object_tags,
            list_objects_byte_order,
            list_objects_prefix_and_start,
            versions_and_delete_markers,
            list_object_versions_paging,
            multipart_complete,
            multipart_complete_errors,
            multipart_part_replace_and_abort,
            list_uploads_paging,
            unreferenced_blobs_query,
            storage_commit_is_atomic_with_usage,
            concurrent_puts_to_one_key,
            object_lock_enforced_in_the_commit,
            topics_and_deliveries,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __metastore_conformance_cases {
    (($factory:expr); $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = $crate::conformance::Fixture::from(($factory)().await);
                $crate::conformance::$case(::std::sync::Arc::clone(&fixture.store)).await;
            }
        )+
    };
}

// ---------------------------------------------------------------- builders

/// Account with id `"0000000000NN"` style padding from `n`.
pub fn account(n: u32, name: &str, created_at: i64) -> Account {
    Account {
        id: format!("{n:012}"),
        name: name.to_owned(),
        is_admin: false,
        created_at,
    }
}

/// 20-char key id `AKIA` + 16 digits.
pub fn access_key(n: u32, account_id: &str, created_at: i64) -> AccessKey {
    AccessKey {
        id: format!("AKIA{n:016}"),
        account_id: account_id.to_owned(),
        secret_sealed: format!("sealed-{n}").into_bytes(),
        created_at,
        revoked_at: None,
    }
}

/// LWA client `amzn1.application-oa2-client.` + 32 hex digits from `n`.
pub fn lwa_client(n: u32, account_id: &str, created_at: i64) -> LwaClient {
    LwaClient {
        client_id: format!("amzn1.application-oa2-client.{n:032x}"),
        account_id: account_id.to_owned(),
        secret_sealed: format!("sealed-secret-{n}").into_bytes(),
        refresh_token_sealed: format!("sealed-refresh-{n}").into_bytes(),
        created_at,
        revoked_at: None,
    }
}

pub fn usage_event(account_id: &str, at: i64, key: &str) -> UsageEvent {
    UsageEvent {
        account_id: account_id.to_owned(),
        service: "s3".into(),
        meter: "requests.put".into(),
        quantity: 1,
        unit: "count".into(),
        at,
        idempotency_key: key.to_owned(),
    }
}

async fn commit_ok(s: &Arc<dyn MetaStore>, muts: Vec<Mutation>) -> CommitReceipt {
    match s.commit(muts.clone()).await {
        Ok(r) => r,
        Err(e) => panic!("commit {muts:?} failed: {e}"),
    }
}

async fn all_usage(s: &Arc<dyn MetaStore>) -> Vec<StoredUsageEvent> {
    s.usage(&UsageQuery::default()).await.unwrap()
}

fn assert_seq_increasing(evs: &[StoredUsageEvent]) {
    for w in evs.windows(2) {
        assert!(w[0].seq < w[1].seq, "seq not increasing: {w:?}");
    }
}

// ---------------------------------------------------------------- accounts

pub async fn accounts_create_get_list(s: Arc<dyn MetaStore>) {
    assert_eq!(s.accounts().await.unwrap(), vec![]);
    let a = account(3, "carol", 30);
    let b = account(2, "bob", 10);
    let c = account(1, "alice", 20);
    let d = Account {
        is_admin: true,
        ..account(4, "dave", 10)
    };
    commit_ok(&s, vec![Mutation::CreateAccount(a.clone())]).await;
    commit_ok(
        &s,
        vec![
            Mutation::CreateAccount(b.clone()),
            Mutation::CreateAccount(c.clone()),
            Mutation::CreateAccount(d.clone()),
        ],
    )
    .await;

    assert_eq!(s.account(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(s.account(&d.id).await.unwrap(), Some(d.clone()));
    assert_eq!(s.account_by_name("alice").await.unwrap(), Some(c.clone()));
    assert_eq!(s.account("999999999999").await.unwrap(), None);
    assert_eq!(s.account_by_name("nobody").await.unwrap(), None);
    // Ordered by created_at, then id.
    assert_eq!(s.accounts().await.unwrap(), vec![b, d, c, a]);
}

pub async fn account_conflicts(s: Arc<dyn MetaStore>) {
    let a = account(1, "alice", 1);
    commit_ok(&s, vec![Mutation::CreateAccount(a.clone())]).await;

    let same_id = account(1, "other", 2);
    let r = s.commit(vec![Mutation::CreateAccount(same_id)]).await;
    assert!(matches!(r, Err(MetaError::Conflict(_))), "{r:?}");

    let same_name = account(2, "alice", 2);
    let r = s.commit(vec![Mutation::CreateAccount(same_name)]).await;
    assert!(matches!(r, Err(MetaError::Conflict(_))), "{r:?}");

    assert_eq!(s.accounts().await.unwrap(), vec![a]);
    assert_eq!(s.account_by_name("other").await.unwrap(), None);
}

pub async fn conflict_within_one_commit(s: Arc<dyn MetaStore>) {
    let r = s
        .commit(vec![
            Mutation::CreateAccount(account(1, "a", 1)),
            Mutation::CreateAccount(account(1, "b", 1)),
        ])
        .await;
    assert!(matches!(r, Err(MetaError::Conflict(_))), "{r:?}");
    let r = s
        .commit(vec![
            Mutation::CreateAccount(account(1, "a", 1)),
            Mutation::CreateAccount(account(2, "a", 1)),
        ])
        .await;
    assert!(matches!(r, Err(MetaError::Conflict(_))), "{r:?}");
    assert_eq!(s.accounts().await.unwrap(), vec![]);
}

// ---------------------------------------------------------------- access keys

pub async fn access_keys_create_get_list(s: Arc<dyn MetaStore>) {
    let a = account(1, "a", 1);
    let b = account(2, "b", 1);
    let k_late = access_key(1, &a.id, 50);
    let k_early = access_key(2, &a.id, 10);
    let k_b = access_key(3, &b.id, 10);
    commit_ok(
        &s,
        vec![
            Mutation::CreateAccount(a.clone()),
            Mutation::CreateAccount(b.clone()),
            // Key in the same commit as its account: sees the earlier mutation.
            Mutation::CreateAccessKey(k_late.clone()),
        ],
    )
    .await;
    commit_ok(
        &s,
        vec![
            Mutation::CreateAccessKey(k_early.clone()),
            Mutation::CreateAccessKey(k_b.clone()),
        ],
    )
    .await;

    assert_eq!(
        s.access_key(&k_late.id).await.unwrap(),
        Some(k_late.clone())
    );
    assert_eq!(s.access_key("AKIA0000000000009999").await.unwrap(), None);
    assert_eq!(
        s.access_keys(&a.id).await.unwrap(),
        vec![k_early, k_late],
        "ordered by created_at, id"
    );
    assert_eq!(s.access_keys(&b.id).await.unwrap(), vec![k_b]);
    assert_eq!(s.access_keys("999999999999").await.unwrap(), vec![]);
}

pub async fn access_key_conflicts_and_missing_account(s: Arc<dyn MetaStore>) {
    let a = account(1, "a", 1);
    let b = account(2, "b", 1);
    let k = access_key(1, &a.id, 1);
    commit_ok(
        &s,
        vec![
            Mutation::CreateAccount(a.clone()),
            Mutation::CreateAccount(b.clone()),
            Mutation::CreateAccessKey(k.clone()),
        ],
    )
    .await;

    // Same key id under another account is still a conflict.
    let dup = access_key(1, &b.id, 2);
    let r = s.commit(vec![Mutation::CreateAccessKey(dup)]).await;
    assert!(matches!(r, Err(MetaError::Conflict(_))), "{r:?}");

    let orphan = access_key(2, "999999999999", 1);
    let r = s
        .commit(vec![Mutation::CreateAccessKey(orphan.clone())])
        .await;
    assert!(matches!(r, Err(MetaError::NotFound(_))), "{r:?}");

    assert_eq!(s.access_key(&k.id).await.unwrap(), Some(k));
    assert_eq!(s.access_key(&orphan.id).await.unwrap(), None);
    assert_eq!(s.access_keys(&b.id).await.unwrap(), vec![]);
}

pub async fn access_key_revoke(s: Arc<dyn MetaStore>) {
    let a = account(1, "a", 1);
    let k1 = access_key(1, &a.id, 1);
    let k2 = access_key(2, &a.id, 2);
    commit_ok(
        &s,
        vec![
            Mutation::CreateAccount(a.clone()),
            Mutation::CreateAccessKey(k1.clone()),
            Mutation::CreateAccessKey(k2.clone()),
        ],
    )
    .await;

    let revoke = |at| Mutation::RevokeAccessKey {
        key_id: k1.id.clone(),
        at,
    };
    commit_ok(&s, vec![revoke(100)]).await;
    assert_eq!(
        s.access_key(&k1.id).await.unwrap().unwrap().revoked_at,
        Some(100)
    );
    // Revoking again succeeds and keeps the first time.
    commit_ok(&s, vec![revoke(200)]).await;
    assert_eq!(
        s.access_key(&k1.id).await.unwrap().unwrap().revoked_at,
        Some(100)
    );
    assert_eq!(s.access_key(&k2.id).await.unwrap(), Some(k2));

    let r = s
        .commit(vec![Mutation::RevokeAccessKey {
            key_id: "AKIA0000000000009999".into(),
            at: 1,
        }])
        .await;
    assert!(matches!(r, Err(MetaError::NotFound(_))), "{r:?}");

    let keys = s.access_keys(&a.id).await.unwrap();
    assert_eq!(keys.len(), 2, "revoked keys stay listed");
}

// ---------------------------------------------------------------- LWA clients

pub async fn lwa_clients_create_get_list(s: Arc<dyn MetaStore>) {
    let a = account(1, "a", 1);
    let b = account(2, "b", 1);
    let late = lwa_client(1, &a.id, 50);
    let early = lwa_client(2, &a.id, 10);
    let of_b = lwa_client(3, &b.id, 10);
    commit_ok(
        &s,
        vec![
            Mutation::CreateAccount(a.clone()),
            Mutation::CreateAccount(b.clone()),
            // In the same commit as its account: sees the earlier mutation.
            Mutation::CreateLwaClient(late.clone()),
        ],
    )
    .await;
    commit_ok(
        &s,
        vec![
            Mutation::CreateLwaClient(early.clone()),
            Mutation::CreateLwaClient(of_b.clone()),
        ],
    )
    .await;
    // Every field round-trips, sealed bytes included.
    assert_eq!(
        s.lwa_client(&late.client_id).await.unwrap(),
        Some(late.clone())
    );
    assert_eq!(
        s.lwa_client(&lwa_client(9, &a.id, 1).client_id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.lwa_clients(&a.id).await.unwrap(),
        vec![early, late],
        "ordered by created_at, client_id"
    );
    assert_eq!(s.lwa_clients(&b.id).await.unwrap(), vec![of_b]);
    assert_eq!(s.lwa_clients("999999999999").await.unwrap(), vec![]);
}

pub async fn lwa_client_conflicts_revoke_and_atomicity(s: Arc<dyn MetaStore>) {
    let a = account(1, "a", 1);
    let b = account(2, "b", 1);
    let c = lwa_client(1, &a.id, 1);
    commit_ok(
        &s,
        vec![
            Mutation::CreateAccount(a.clone()),
            Mutation::CreateAccount(b.clone()),
            Mutation::CreateLwaClient(c.clone()),
        ],
    )
    .await;

    // The same client id under another account is still a conflict.
    let r = s
        .commit(vec![Mutation::CreateLwaClient(lwa_client(1, &b.id, 2))])
        .await;
    assert!(matches!(r, Err(MetaError::Conflict(_))), "{r:?}");
    let orphan = lwa_client(2, "999999999999", 1);
    let r = s
        .commit(vec![Mutation::CreateLwaClient(orphan.clone())])
        .await;
    assert!(matches!(r, Err(MetaError::NotFound(_))), "{r:?}");
    assert_eq!(s.lwa_client(&orphan.client_id).await.unwrap(), None);
    let r = s
        .commit(vec![Mutation::CreateLwaClient(lwa_client(
            3,
            "not-an-id",
            1,
        ))])
        .await;
    assert!(matches!(r, Err(MetaError::Invalid(_))), "{r:?}");

    let revoke = |at| Mutation::RevokeLwaClient {
        client_id: c.client_id.clone(),
        at,
    };
    commit_ok(&s, vec![revoke(100)]).await;
    commit_ok(&s, vec![revoke(200)]).await;
    let revoked = s.lwa_client(&c.client_id).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(100), "the first revocation stays");
    assert_eq!(s.lwa_clients(&a.id).await.unwrap(), vec![revoked]);
    let r = s
        .commit(vec![Mutation::RevokeLwaClient {
            client_id: "amzn1.application-oa2-client.missing".into(),
            at: 1,
        }])
        .await;
    assert!(matches!(r, Err(MetaError::NotFound(_))), "{r:?}");

    // A failing mutation later in the commit undoes a client created earlier in it.
    let fresh = lwa_client(4, &b.id, 5);
    let r = s
        .commit(vec![
            Mutation::CreateLwaClient(fresh.clone()),
            Mutation::CreateAccount(account(3, "a", 1)),
        ])
        .await;
    assert!(matches!(r, Err(MetaError::Conflict(_))), "{r:?}");
    assert_eq!(s.lwa_client(&fresh.client_id).await.unwrap(), None);
}

// ---------------------------------------------------------------- atomicity

pub async fn failed_commit_is_atomic(s: Arc<dyn MetaStore>) {
    let existing = account(9, "taken", 1);
    commit_ok(&s, vec![Mutation::CreateAccount(existing.clone())]).await;

    let a = account(1, "a", 1);
    let k = access_key(1, &a.id, 1);
    let batch = |last: Mutation| {
        vec![
            Mutation::CreateAccount(a.clone()),
            Mutation::CreateAccessKey(k.clone()),
            Mutation::RecordUsage(usage_event(&a.id, 1, "u1")),
            Mutation::PutSetting {
                key: "s".into(),
                value: b"v".to_vec(),
            },
            Mutation::RevokeAccessKey {
                key_id: k.id.clone(),
                at: 5,
            },
            last,
        ]
    };
    let failures = [
        Mutation::CreateAccessKey(access_key(2, "999999999999", 1)), // NotFound
        Mutation::CreateAccount(account(2, "taken", 1)),             // Conflict
        Mutation::RevokeAccessKey {
            key_id: "AKIA0000000000009999".into(),
            at: 1,
        }, // NotFound
    ];
    for last in failures {
        let r = s.commit(batch(last.clone())).await;
        assert!(r.is_err(), "commit ending in {last:?} must fail");
        assert_eq!(s.account(&a.id).await.unwrap(), None);
        assert_eq!(s.access_key(&k.id).await.unwrap(), None);
        assert_eq!(all_usage(&s).await, vec![]);
        assert_eq!(s.setting("s").await.unwrap(), None);
        assert_eq!(s.accounts().await.unwrap(), vec![existing.clone()]);
    }

    // The store is still usable and the same work commits once valid.
    let ok = Mutation::PutSetting {
        key: "t".into(),
        value: vec![],
    };
    commit_ok(&s, batch(ok)).await;
    assert_eq!(s.account(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(
        s.access_key(&k.id).await.unwrap().unwrap().revoked_at,
        Some(5)
    );
    assert_eq!(all_usage(&s).await.len(), 1);
}

/// Failing and succeeding commits issued at the same time do not affect each
/// other (exercises per-call isolation when a backend batches commits).
pub async fn concurrent_failures_are_isolated(s: Arc<dyn MetaStore>) {
    commit_ok(&s, vec![Mutation::CreateAccount(account(999, "taken", 0))]).await;
    odd_callers_conflict_alone(&s, |i| {
        let name = if i % 2 == 0 {
            format!("acct-{i}")
        } else {
            "taken".to_owned()
        };
        Mutation::CreateAccount(account(i, &name, 1))
    })
    .await;
    let accounts = s.accounts().await.unwrap();
    assert_eq!(accounts.len(), 51);
}

/// Commits 100 calls at once, call `i` being a usage event keyed `k<i>` then
/// `change(i)`, where `change` conflicts for odd `i` only. Asserts each call
/// got its own outcome and only the even calls' usage events landed.
async fn odd_callers_conflict_alone(
    s: &Arc<dyn MetaStore>,
    change: impl Fn(u32) -> Mutation + Send + Sync + 'static,
) {
    let change = Arc::new(change);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100u32 {
        let s = Arc::clone(s);
        let change = Arc::clone(&change);
        tasks.spawn(async move {
            let r = s
                .commit(vec![
                    Mutation::RecordUsage(usage_event("000000000999", 1, &format!("k{i}"))),
                    change(i),
                ])
                .await;
            (i, r)
        });
    }
    while let Some(j) = tasks.join_next().await {
        let (i, r) = j.unwrap();
        if i % 2 == 0 {
            assert_eq!(r, Ok(CommitReceipt::default()), "task {i}");
        } else {
            assert!(matches!(r, Err(MetaError::Conflict(_))), "task {i}: {r:?}");
        }
    }
    let keys: HashSet<String> = all_usage(s)
        .await
        .into_iter()
        .map(|e| e.event.idempotency_key)
        .collect();
    let want: HashSet<String> = (0..100).step_by(2).map(|i| format!("k{i}")).collect();
    assert_eq!(keys, want);
}

pub async fn invalid_mutations_rejected(s: Arc<dyn MetaStore>) {
    let good = Mutation::CreateAccount(account(1, "a", 1));
    let bad = [
        Mutation::CreateAccount(Account {
            id: "12345".into(),
            ..account(2, "b", 1)
        }),
        Mutation::CreateAccount(Account {
            id: "12345678901x".into(),
            ..account(2, "b", 1)
        }),
        Mutation::CreateAccount(account(2, "", 1)),
        Mutation::CreateAccessKey(AccessKey {
            id: "AKIA".into(),
            ..access_key(1, "000000000001", 1)
        }),
        Mutation::CreateAccessKey(AccessKey {
            id: "AKIA-000000000000001".into(),
            ..access_key(1, "000000000001", 1)
        }),
        Mutation::RevokeAccessKey {
            key_id: String::new(),
            at: 1,
        },
        Mutation::RecordUsage(usage_event("000000000001", 1, "")),
        Mutation::RecordUsage(UsageEvent {
            meter: String::new(),
            ..usage_event("000000000001", 1, "k")
        }),
        Mutation::PutSetting {
            key: String::new(),
            value: vec![1],
        },
    ];
    for m in bad {
        let r = s.commit(vec![good.clone(), m.clone()]).await;
        assert!(matches!(r, Err(MetaError::Invalid(_))), "{m:?}: {r:?}");
    }
    assert_eq!(s.accounts().await.unwrap(), vec![]);
    assert_eq!(all_usage(&s).await, vec![]);
}

pub async fn empty_commit_is_noop(s: Arc<dyn MetaStore>) {
    assert_eq!(s.commit(vec![]).await, Ok(CommitReceipt::default()));
    assert_eq!(s.accounts().await.unwrap(), vec![]);
}

/// Extreme and non-ASCII values survive storage bit-for-bit.
pub async fn records_round_trip(s: Arc<dyn MetaStore>) {
    let a = Account {
        id: "000000000000".into(),
        name: "Zoë's ☁️ \"quoted\" ' name".into(),
        is_admin: true,
        created_at: i64::MIN,
    };
    let k = AccessKey {
        id: format!("AKIA{}", "Z".repeat(124)),
        account_id: a.id.clone(),
        secret_sealed: (0..=255u8).cycle().take(4096).collect(),
        created_at: i64::MAX,
        revoked_at: Some(-1),
    };
    let u = UsageEvent {
        account_id: "any-account-id".into(),
        service: "ec2".into(),
        meter: "instance.seconds".into(),
        quantity: i64::MIN,
        unit: "µs".into(),
        at: i64::MAX,
        idempotency_key: "k with spaces/and:punct".into(),
    };
    commit_ok(
        &s,
        vec![
            Mutation::CreateAccount(a.clone()),
            Mutation::CreateAccessKey(k.clone()),
            Mutation::RecordUsage(u.clone()),
            Mutation::PutSetting {
                key: "bin".into(),
                value: vec![0, 255, 0],
            },
        ],
    )
    .await;
    assert_eq!(s.account(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(s.account_by_name(&a.name).await.unwrap(), Some(a));
    assert_eq!(s.access_key(&k.id).await.unwrap(), Some(k));
    let got = all_usage(&s).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event, u);
    assert_eq!(s.setting("bin").await.unwrap(), Some(vec![0, 255, 0]));
}

// ---------------------------------------------------------------- usage

pub async fn usage_idempotency(s: Arc<dyn MetaStore>) {
    let a = "000000000001";
    let first = usage_event(a, 10, "k1");
    let r = commit_ok(&s, vec![Mutation::RecordUsage(first.clone())]).await;
    assert_eq!(r.duplicate_usage, 0);

    // Same key, different payload: still a no-op, the first event wins.
    let again = UsageEvent {
        quantity: 99,
        ..first.clone()
    };
    let r = commit_ok(&s, vec![Mutation::RecordUsage(again)]).await;
    assert_eq!(r.duplicate_usage, 1);

    // Duplicates within one commit and against history are both counted.
    let r = commit_ok(
        &s,
        vec![
            Mutation::RecordUsage(usage_event(a, 11, "k2")),
            Mutation::RecordUsage(usage_event(a, 11, "k2")),
            Mutation::RecordUsage(usage_event(a, 12, "k3")),
            Mutation::RecordUsage(first.clone()),
        ],
    )
    .await;
    assert_eq!(r.duplicate_usage, 2);

    let all = all_usage(&s).await;
    let keys: Vec<&str> = all
        .iter()
        .map(|e| e.event.idempotency_key.as_str())
        .collect();
    assert_eq!(keys, ["k1", "k2", "k3"]);
    assert_eq!(all[0].event, first);
    assert_seq_increasing(&all);
}

pub async fn usage_queries(s: Arc<dyn MetaStore>) {
    let (a, b) = ("000000000001", "000000000002");
    // Interleave accounts and make `at` non-monotonic in seq order.
    let evs = [
        (a, 100),
        (b, 100),
        (a, 300),
        (b, 200),
        (a, 200),
        (a, 400),
        (b, 50),
    ];
    for (i, (acct, at)) in evs.iter().enumerate() {
        commit_ok(
            &s,
            vec![Mutation::RecordUsage(usage_event(
                acct,
                *at,
                &format!("e{i}"),
            ))],
        )
        .await;
    }
    let all = all_usage(&s).await;
    assert_eq!(all.len(), evs.len());
    assert_seq_increasing(&all);
    let keys = |v: Vec<StoredUsageEvent>| -> Vec<String> {
        v.into_iter().map(|e| e.event.idempotency_key).collect()
    };
    let q = |f: fn(&mut UsageQuery)| {
        let mut q = UsageQuery::default();
        f(&mut q);
        q
    };

    let by_a = s
        .usage(&q(|q| q.account_id = Some("000000000001".into())))
        .await
        .unwrap();
    assert_eq!(keys(by_a), ["e0", "e2", "e4", "e5"]);

    // `from` inclusive, `to` exclusive.
    let range = s
        .usage(&q(|q| {
            q.from = Some(100);
            q.to = Some(300);
        }))
        .await
        .unwrap();
    assert_eq!(keys(range), ["e0", "e1", "e3", "e4"]);

    let after = s
        .usage(&UsageQuery {
            after_seq: Some(all[3].seq),
            ..UsageQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(keys(after), ["e4", "e5", "e6"]);

    let limited = s.usage(&q(|q| q.limit = 2)).await.unwrap();
    assert_eq!(keys(limited), ["e0", "e1"]);

    let combined = s
        .usage(&UsageQuery {
            account_id: Some(a.into()),
            from: Some(200),
            to: None,
            after_seq: Some(all[2].seq),
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(keys(combined), ["e4"]);

    assert_eq!(s.usage(&q(|q| q.limit = 0)).await.unwrap(), vec![]);
    let none = s
        .usage(&q(|q| q.account_id = Some("999999999999".into())))
        .await
        .unwrap();
    assert_eq!(none, vec![]);
    let empty_range = s
        .usage(&q(|q| {
            q.from = Some(300);
            q.to = Some(300);
        }))
        .await
        .unwrap();
    assert_eq!(empty_range, vec![]);
}

pub async fn usage_cursor_paging(s: Arc<dyn MetaStore>) {
    let muts: Vec<Mutation> = (0..20)
        .map(|i| Mutation::RecordUsage(usage_event("000000000001", i, &format!("p{i}"))))
        .collect();
    commit_ok(&s, muts).await;
    let all = all_usage(&s).await;
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let page = s
            .usage(&UsageQuery {
                after_seq: cursor,
                limit: 3,
                ..UsageQuery::default()
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        assert!(page.len() <= 3);
        cursor = Some(last.seq);
        paged.extend(page);
    }
    assert_eq!(paged, all);
    assert_eq!(all.len(), 20);
}

// ---------------------------------------------------------------- settings

pub async fn settings_upsert(s: Arc<dyn MetaStore>) {
    assert_eq!(s.setting("root").await.unwrap(), None);
    let put = |k: &str, v: &[u8]| Mutation::PutSetting {
        key: k.into(),
        value: v.to_vec(),
    };
    commit_ok(&s, vec![put("root", b"one"), put("other", b"x")]).await;
    assert_eq!(s.setting("root").await.unwrap(), Some(b"one".to_vec()));
    commit_ok(&s, vec![put("root", b"two")]).await;
    assert_eq!(s.setting("root").await.unwrap(), Some(b"two".to_vec()));
    // Last write in one commit wins; empty values are values, not absence.
    commit_ok(&s, vec![put("root", b"three"), put("root", b"")]).await;
    assert_eq!(s.setting("root").await.unwrap(), Some(vec![]));
    assert_eq!(s.setting("other").await.unwrap(), Some(b"x".to_vec()));
    assert_eq!(
        s.setting("ROOT").await.unwrap(),
        None,
        "keys are case-sensitive"
    );
}

// ---------------------------------------------------------------- concurrency

/// 200 tasks × 5 single-event commits (+1 replay each): every event lands once,
/// seq strictly increases, and each task's events keep its commit order.
pub async fn concurrent_commits_land_once(s: Arc<dyn MetaStore>) {
    const TASKS: usize = 200;
    const PER_TASK: usize = 5;
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let s = Arc::clone(&s);
        tasks.spawn(async move {
            let ev = |i: usize| usage_event("000000000001", i as i64, &format!("t{t}-{i}"));
            for i in 0..PER_TASK {
                let r = s.commit(vec![Mutation::RecordUsage(ev(i))]).await.unwrap();
                assert_eq!(r.duplicate_usage, 0);
            }
            let r = s.commit(vec![Mutation::RecordUsage(ev(0))]).await.unwrap();
            assert_eq!(r.duplicate_usage, 1, "replay must be a duplicate");
        });
    }
    while let Some(j) = tasks.join_next().await {
        j.unwrap();
    }
    let all = all_usage(&s).await;
    assert_eq!(all.len(), TASKS * PER_TASK);
    assert_seq_increasing(&all);
    let unique: HashSet<&str> = all
        .iter()
        .map(|e| e.event.idempotency_key.as_str())
        .collect();
    assert_eq!(unique.len(), TASKS * PER_TASK);
    for t in 0..TASKS {
        let mine: Vec<i64> = all
            .iter()
            .filter(|e| e.event.idempotency_key.starts_with(&format!("t{t}-")))
            .map(|e| e.event.at)
            .collect();
        assert_eq!(mine, (0..PER_TASK as i64).collect::<Vec<_>>(), "task {t}");
    }
}

/// A reader paging with `after_seq` while writers append never skips an
/// event: seq is visible only after every smaller seq is.
pub async fn usage_cursor_gap_free_under_concurrent_writes(s: Arc<dyn MetaStore>) {
    const WRITERS: usize = 8;
    const PER_WRITER: usize = 50;
    const TOTAL: usize = WRITERS * PER_WRITER;
    let reader = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut seen = Vec::with_capacity(TOTAL);
            let mut cursor = None;
            while seen.len() < TOTAL && Instant::now() < deadline {
                let page = s
                    .usage(&UsageQuery {
                        after_seq: cursor,
                        limit: 64,
                        ..UsageQuery::default()
                    })
                    .await
                    .unwrap();
                match page.last() {
                    Some(last) => cursor = Some(last.seq),
                    None => tokio::time::sleep(Duration::from_millis(1)).await,
                }
                seen.extend(page.into_iter().map(|e| e.event.idempotency_key));
            }
            seen
        })
    };
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let s = Arc::clone(&s);
        writers.spawn(async move {
            for i in 0..PER_WRITER {
                let ev = usage_event("000000000001", 0, &format!("w{w}-{i}"));
                s.commit(vec![Mutation::RecordUsage(ev)]).await.unwrap();
            }
        });
    }
    while let Some(j) = writers.join_next().await {
        j.unwrap();
    }
    let seen = reader.await.unwrap();
    let all: Vec<String> = all_usage(&s)
        .await
        .into_iter()
        .map(|e| e.event.idempotency_key)
        .collect();
    assert_eq!(all.len(), TOTAL);
    assert_eq!(seen, all, "cursor reader skipped or reordered events");
}

/// Every read issued after a commit returns sees that commit, also when many
/// tasks interleave commits and reads.
pub async fn read_after_write(s: Arc<dyn MetaStore>) {
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..32u32 {
        let s = Arc::clone(&s);
        tasks.spawn(async move {
            let a = account(t, &format!("raw-{t}"), i64::from(t));
            s.commit(vec![Mutation::CreateAccount(a.clone())])
                .await
                .unwrap();
            assert_eq!(s.account(&a.id).await.unwrap(), Some(a.clone()));
            for i in 0..10u8 {
                let key = format!("setting-{t}");
                s.commit(vec![Mutation::PutSetting {
                    key: key.clone(),
                    value: vec![i],
                }])
                .await
                .unwrap();
                assert_eq!(s.setting(&key).await.unwrap(), Some(vec![i]));
                let ev = usage_event(&a.id, i64::from(i), &format!("raw-{t}-{i}"));
                s.commit(vec![Mutation::RecordUsage(ev.clone())])
                    .await
                    .unwrap();
                let mine = s
                    .usage(&UsageQuery {
                        account_id: Some(a.id.clone()),
                        ..UsageQuery::default()
                    })
                    .await
                    .unwrap();
                assert_eq!(mine.last().map(|e| &e.event), Some(&ev));
                assert_eq!(mine.len(), usize::from(i) + 1);
            }
        });
    }
    while let Some(j) = tasks.join_next().await {
        j.unwrap();
    }
    assert_eq!(s.accounts().await.unwrap().len(), 32);
}
