use std::sync::Arc;

use nomuck_iam::{ADMIN_ACCOUNT_NAME, Iam, IamError, SecretSealer};
use nomuck_meta::{MetaStore, SqliteMetaStore};

fn open(dir: &std::path::Path, master: &[u8; 32]) -> Iam {
    let store: Arc<dyn MetaStore> = Arc::new(SqliteMetaStore::open(dir.join("meta.db")).unwrap());
    Iam::new(store, master)
}

#[tokio::test]
async fn bootstrap_creates_one_admin_once() {
    let dir = tempfile::tempdir().unwrap();
    let master = SecretSealer::generate_master_key();
    let iam = open(dir.path(), &master);
    let mut persisted = None;
    let admin = iam
        .bootstrap_admin(|k| {
            persisted = Some(k.access_key_id.clone());
            Ok::<_, std::io::Error>(())
        })
        .await
        .unwrap()
        .expect("first start bootstraps");
    assert_eq!(persisted.as_deref(), Some(admin.access_key_id.as_str()));
    assert!(admin.account.is_admin);
    assert_eq!(admin.account.name, ADMIN_ACCOUNT_NAME);
    let again = iam
        .bootstrap_admin(|_| Ok::<_, std::io::Error>(()))
        .await
        .unwrap();
    assert!(again.is_none());

    let active = iam.active_key(&admin.access_key_id).await.unwrap().unwrap();
    assert_eq!(active.secret_access_key, admin.secret_access_key);
}

#[tokio::test]
async fn failed_persist_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let iam = open(dir.path(), &SecretSealer::generate_master_key());
    let err = iam
        .bootstrap_admin(|_| Err::<(), _>(std::io::Error::other("disk full")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("disk full"));
    assert!(iam.accounts().await.unwrap().is_empty());
}

#[tokio::test]
async fn keys_resolve_until_revoked_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let master = SecretSealer::generate_master_key();
    let (key_id, secret, account_id) = {
        let iam = open(dir.path(), &master);
        let account = iam.create_account("alice", false).await.unwrap();
        assert!(matches!(
            iam.create_account("alice", false).await,
            Err(IamError::AccountExists(_))
        ));
        let key = iam.create_key("alice").await.unwrap();
        assert_eq!(key.account.id, account.id);
        // Resolve once so the cache holds it; revocation must still win.
        assert!(iam.active_key(&key.access_key_id).await.unwrap().is_some());
        let second = iam.create_key(&account.id).await.unwrap();
        iam.revoke_key(&second.access_key_id).await.unwrap();
        assert!(
            iam.active_key(&second.access_key_id)
                .await
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            iam.revoke_key("AKIANOSUCHKEY0000000").await,
            Err(IamError::NoSuchKey(_))
        ));
        let listed = iam.keys("alice").await.unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed.iter().filter(|k| k.revoked_at.is_some()).count(), 1);
        (key.access_key_id, key.secret_access_key, account.id)
    };

    let iam = open(dir.path(), &master);
    let active = iam.active_key(&key_id).await.unwrap().unwrap();
    assert_eq!(active.secret_access_key, secret);
    assert_eq!(active.account.id, account_id);
    iam.revoke_key(&key_id).await.unwrap();
    assert!(iam.active_key(&key_id).await.unwrap().is_none());

    // The wrong master key is a clear error, not a silent failure to authenticate.
    let key2 = iam.create_key("alice").await.unwrap();
    let wrong = open(dir.path(), &SecretSealer::generate_master_key());
    assert!(matches!(
        wrong.active_key(&key2.access_key_id).await,
        Err(IamError::SecretUndecryptable(_))
    ));
    assert!(matches!(
        wrong.account("bob").await,
        Err(IamError::NoSuchAccount(_))
    ));
}
