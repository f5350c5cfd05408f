//! The KMS domain over a real SQLite store: round trips, contexts, rotation,
//! states, deletion, policies, account isolation and metering.

use std::sync::Arc;
use std::time::Duration;

use nomuck_iam::SecretSealer;
use nomuck_kms::{EncryptionContext, KeyState, Kms, KmsError, KmsOptions, NewKey, now_millis};
use nomuck_meta::{Account, MetaStore, Mutation, SqliteMetaStore};

const A: &str = "111111111111";
const B: &str = "222222222222";
const MASTER: [u8; 32] = [7; 32];

struct Env {
    _dir: tempfile::TempDir,
    store: Arc<dyn MetaStore>,
    kms: Kms,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn MetaStore> =
        Arc::new(SqliteMetaStore::open(dir.path().join("meta.db")).unwrap());
    for (id, name) in [(A, "alice"), (B, "bob")] {
        store
            .commit(vec![Mutation::CreateAccount(Account {
                id: id.into(),
                name: name.into(),
                is_admin: false,
                created_at: 1,
            })])
            .await
            .unwrap();
    }
    let kms = Kms::new(store.clone(), SecretSealer::new(&MASTER), opts());
    Env {
        _dir: dir,
        store,
        kms,
    }
}

fn opts() -> KmsOptions {
    KmsOptions {
        region: "us-east-1".into(),
        day: Duration::from_millis(10),
        pass_interval: Duration::from_secs(3600),
    }
}

fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

fn code<T>(r: Result<T, KmsError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[tokio::test]
async fn encrypt_decrypt_needs_the_same_context_and_no_key_id() {
    let e = env().await;
    let key = e.kms.create_key(A, NewKey::default()).await.unwrap();
    assert_eq!(key.state, KeyState::Enabled);
    assert_eq!(
        key.arn,
        format!("arn:aws:kms:us-east-1:{A}:key/{}", key.key_id)
    );
    let c = ctx(&[("purpose", "test"), ("app", "x")]);
    let sealed = e
        .kms
        .encrypt(A, &key.key_id, b"hello kms", &c)
        .await
        .unwrap();
    let opened = e
        .kms
        .decrypt(A, &sealed.ciphertext, &c, None)
        .await
        .unwrap();
    assert_eq!(opened.plaintext.as_slice(), b"hello kms");
    assert_eq!(opened.key_arn, key.arn);
    assert_eq!(
        code(
            e.kms
                .decrypt(A, &sealed.ciphertext, &ctx(&[("purpose", "test")]), None)
                .await
        ),
        "InvalidCiphertextException"
    );
    assert_eq!(
        code(e.kms.decrypt(A, b"not a ciphertext at all", &c, None).await),
        "InvalidCiphertextException"
    );
    // Naming another key than the blob's is refused.
    let other = e.kms.create_key(A, NewKey::default()).await.unwrap();
    assert_eq!(
        code(
            e.kms
                .decrypt(A, &sealed.ciphertext, &c, Some(&other.key_id))
                .await
        ),
        "IncorrectKeyException"
    );
    // Material opens only under the master key that sealed it.
    let stranger = Kms::new(e.store.clone(), SecretSealer::new(&[8; 32]), opts());
    assert_eq!(
        code(stranger.decrypt(A, &sealed.ciphertext, &c, None).await),
        "KMSInternalException"
    );
}

#[tokio::test]
async fn rotation_adds_versions_and_old_ciphertexts_still_decrypt() {
    let e = env().await;
    let key = e.kms.create_key(A, NewKey::default()).await.unwrap();
    let c = EncryptionContext::new();
    let old = e.kms.encrypt(A, &key.key_id, b"v1", &c).await.unwrap();
    e.kms.rotate_key_on_demand(A, &key.key_id).await.unwrap();
    let new = e.kms.encrypt(A, &key.key_id, b"v2", &c).await.unwrap();
    assert_eq!(e.kms.material_versions(&key.key_id).await.unwrap(), [1, 2]);
    assert_eq!(
        nomuck_kms::cipher::header(&old.ciphertext).unwrap().version,
        1
    );
    assert_eq!(
        nomuck_kms::cipher::header(&new.ciphertext).unwrap().version,
        2
    );
    assert_eq!(
        e.kms
            .decrypt(A, &old.ciphertext, &c, None)
            .await
            .unwrap()
            .plaintext
            .as_slice(),
        b"v1"
    );
    assert_eq!(
        e.kms
            .decrypt(A, &new.ciphertext, &c, None)
            .await
            .unwrap()
            .plaintext
            .as_slice(),
        b"v2"
    );

    // Automatic rotation: due after its period (a "day" is 10 ms here).
    e.kms
        .enable_key_rotation(A, &key.key_id, Some(90))
        .await
        .unwrap();
    let status = e.kms.key_rotation_status(A, &key.key_id).await.unwrap();
    assert!(status.enabled);
    assert_eq!(status.period_days, Some(90));
    assert_eq!(e.kms.run_due(now_millis()).await.unwrap(), (0, 0));
    assert_eq!(e.kms.run_due(now_millis() + 2_000).await.unwrap(), (0, 1));
    assert_eq!(
        e.kms.material_versions(&key.key_id).await.unwrap(),
        [1, 2, 3]
    );
    assert_eq!(
        e.kms
            .decrypt(A, &old.ciphertext, &c, None)
            .await
            .unwrap()
            .plaintext
            .as_slice(),
        b"v1"
    );
    e.kms.disable_key_rotation(A, &key.key_id).await.unwrap();
    assert!(
        !e.kms
            .key_rotation_status(A, &key.key_id)
            .await
            .unwrap()
            .enabled
    );
}

#[tokio::test]
async fn disabled_and_pending_deletion_keys_refuse_use_and_deletion_destroys_material() {
    let e = env().await;
    let key = e.kms.create_key(A, NewKey::default()).await.unwrap();
    let c = EncryptionContext::new();
    let sealed = e.kms.encrypt(A, &key.key_id, b"data", &c).await.unwrap();
    // Decrypted once (the decrypt path now holds the key) before each
    // change: the change is in force for the very next request.
    assert!(e.kms.decrypt(A, &sealed.ciphertext, &c, None).await.is_ok());
    e.kms.disable_key(A, &key.key_id).await.unwrap();
    assert_eq!(
        code(e.kms.encrypt(A, &key.key_id, b"x", &c).await),
        "DisabledException"
    );
    assert_eq!(
        code(e.kms.decrypt(A, &sealed.ciphertext, &c, None).await),
        "DisabledException"
    );
    e.kms.enable_key(A, &key.key_id).await.unwrap();
    assert!(e.kms.decrypt(A, &sealed.ciphertext, &c, None).await.is_ok());

    assert_eq!(
        code(e.kms.schedule_key_deletion(A, &key.key_id, Some(6)).await),
        "ValidationException"
    );
    let m = e
        .kms
        .schedule_key_deletion(A, &key.key_id, Some(7))
        .await
        .unwrap();
    assert_eq!(m.state, KeyState::PendingDeletion);
    assert!(m.deletion_date.is_some());
    assert_eq!(
        code(e.kms.decrypt(A, &sealed.ciphertext, &c, None).await),
        "KMSInvalidStateException"
    );
    assert_eq!(
        code(e.kms.enable_key(A, &key.key_id).await),
        "KMSInvalidStateException"
    );
    let m = e.kms.cancel_key_deletion(A, &key.key_id).await.unwrap();
    assert_eq!(m.state, KeyState::Disabled, "AWS cancels to Disabled");
    e.kms.enable_key(A, &key.key_id).await.unwrap();
    assert!(e.kms.decrypt(A, &sealed.ciphertext, &c, None).await.is_ok());
    e.kms.disable_key(A, &key.key_id).await.unwrap();

    e.kms
        .schedule_key_deletion(A, &key.key_id, Some(7))
        .await
        .unwrap();
    assert_eq!(
        e.kms.run_due(now_millis()).await.unwrap(),
        (0, 0),
        "not yet due"
    );
    assert_eq!(e.kms.run_due(now_millis() + 1_000).await.unwrap(), (1, 0));
    assert!(e.store.kms().kms_key(&key.key_id).await.unwrap().is_none());
    assert_eq!(
        code(e.kms.describe_key(A, &key.key_id).await),
        "NotFoundException"
    );
    assert_eq!(
        code(e.kms.decrypt(A, &sealed.ciphertext, &c, None).await),
        "InvalidCiphertextException"
    );
}

#[tokio::test]
async fn accounts_are_isolated_unless_a_key_policy_grants_by_arn() {
    let e = env().await;
    let key = e.kms.create_key(A, NewKey::default()).await.unwrap();
    let c = EncryptionContext::new();
    let sealed = e.kms.encrypt(A, &key.key_id, b"mine", &c).await.unwrap();
    assert_eq!(
        code(e.kms.describe_key(B, &key.key_id).await),
        "NotFoundException"
    );
    assert_eq!(
        code(e.kms.encrypt(B, &key.arn, b"x", &c).await),
        "AccessDeniedException"
    );
    assert_eq!(
        code(e.kms.decrypt(B, &sealed.ciphertext, &c, None).await),
        "AccessDeniedException"
    );
    assert!(
        e.kms
            .list_keys(B, None, 100)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let grant = format!(
        r#"{{"Version":"2012-10-17","Statement":[
          {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:root"}},"Action":"kms:*","Resource":"*"}},
          {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{B}:root"}},"Action":["kms:Decrypt","kms:Encrypt","kms:DescribeKey"],"Resource":"*"}}]}}"#
    );
    e.kms
        .put_key_policy(A, &key.key_id, "default", &grant)
        .await
        .unwrap();
    assert_eq!(
        e.kms
            .decrypt(B, &sealed.ciphertext, &c, None)
            .await
            .unwrap()
            .plaintext
            .as_slice(),
        b"mine"
    );
    assert!(e.kms.encrypt(B, &key.arn, b"x", &c).await.is_ok());
    // Still only by ARN, and never management.
    assert_eq!(
        code(e.kms.encrypt(B, &key.key_id, b"x", &c).await),
        "NotFoundException"
    );
    assert_eq!(
        code(e.kms.disable_key(B, &key.arn).await),
        "NotFoundException"
    );

    // Metering goes to the requester.
    e.kms.flush_usage().await.unwrap();
    let events = |acct: &'static str| {
        let m = nomuck_meter::Meter::new(e.store.clone());
        async move { m.totals(acct, 0, i64::MAX).await.unwrap() }
    };
    let a = events(A).await;
    let b = events(B).await;
    assert_eq!(a.iter().find(|t| t.service == "kms").unwrap().quantity, 1);
    assert_eq!(b.iter().find(|t| t.service == "kms").unwrap().quantity, 2);
}

#[tokio::test]
async fn key_policies_deny_and_guard_against_lockout() {
    let e = env().await;
    let key = e.kms.create_key(A, NewKey::default()).await.unwrap();
    let deny_encrypt = format!(
        r#"{{"Version":"2012-10-17","Statement":[
          {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:root"}},"Action":"kms:*","Resource":"*"}},
          {{"Effect":"Deny","Principal":{{"AWS":"{A}"}},"Action":"kms:Encrypt","Resource":"*"}}]}}"#
    );
    e.kms
        .put_key_policy(A, &key.key_id, "default", &deny_encrypt)
        .await
        .unwrap();
    assert_eq!(
        code(
            e.kms
                .encrypt(A, &key.key_id, b"x", &EncryptionContext::new())
                .await
        ),
        "AccessDeniedException"
    );
    // A policy change reaches the decrypt path at once, though it had the key.
    let deny_decrypt = deny_encrypt.replace("kms:Encrypt", "kms:Decrypt");
    let allow_all = deny_encrypt.replace("\"Deny\"", "\"Allow\"");
    e.kms
        .put_key_policy(A, &key.key_id, "default", &allow_all)
        .await
        .unwrap();
    let c = EncryptionContext::new();
    let sealed = e.kms.encrypt(A, &key.key_id, b"x", &c).await.unwrap();
    assert!(e.kms.decrypt(A, &sealed.ciphertext, &c, None).await.is_ok());
    e.kms
        .put_key_policy(A, &key.key_id, "default", &deny_decrypt)
        .await
        .unwrap();
    assert_eq!(
        code(e.kms.decrypt(A, &sealed.ciphertext, &c, None).await),
        "AccessDeniedException"
    );
    e.kms
        .put_key_policy(A, &key.key_id, "default", &deny_encrypt)
        .await
        .unwrap();
    assert_eq!(
        e.kms.key_policy(A, &key.key_id, "default").await.unwrap(),
        deny_encrypt
    );
    let lockout = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{A}"}},"Action":"kms:Encrypt","Resource":"*"}}]}}"#
    );
    assert_eq!(
        code(
            e.kms
                .put_key_policy(A, &key.key_id, "default", &lockout)
                .await
        ),
        "MalformedPolicyDocumentException"
    );
    assert_eq!(
        code(e.kms.put_key_policy(A, &key.key_id, "default", "{").await),
        "MalformedPolicyDocumentException"
    );
    let unknown = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"999999999999"},"Action":"kms:*","Resource":"*"}]}"#;
    assert_eq!(
        code(
            e.kms
                .put_key_policy(A, &key.key_id, "default", unknown)
                .await
        ),
        "MalformedPolicyDocumentException"
    );
}

#[tokio::test]
async fn aliases_and_the_aws_managed_key() {
    let e = env().await;
    let key = e.kms.create_key(A, NewKey::default()).await.unwrap();
    e.kms
        .create_alias(A, "alias/app", &key.key_id)
        .await
        .unwrap();
    assert_eq!(
        code(e.kms.create_alias(A, "alias/app", &key.key_id).await),
        "AlreadyExistsException"
    );
    assert_eq!(
        code(e.kms.create_alias(A, "alias/aws/mine", &key.key_id).await),
        "InvalidAliasNameException"
    );
    assert_eq!(
        code(e.kms.create_alias(A, "app", &key.key_id).await),
        "InvalidAliasNameException"
    );
    assert_eq!(
        e.kms.describe_key(A, "alias/app").await.unwrap().key_id,
        key.key_id
    );
    assert_eq!(
        code(e.kms.describe_key(B, "alias/app").await),
        "NotFoundException"
    );
    let sealed = e
        .kms
        .encrypt(A, "alias/app", b"x", &EncryptionContext::new())
        .await
        .unwrap();
    assert_eq!(sealed.key_arn, key.arn);
    // Moving or deleting the alias is seen by the next use, though the
    // cryptographic path had it cached.
    let other = e.kms.create_key(A, NewKey::default()).await.unwrap();
    e.kms
        .update_alias(A, "alias/app", &other.key_id)
        .await
        .unwrap();
    let c = EncryptionContext::new();
    let moved = e.kms.encrypt(A, "alias/app", b"x", &c).await.unwrap();
    assert_eq!(moved.key_arn, other.arn);
    e.kms.delete_alias(A, "alias/app").await.unwrap();
    assert_eq!(
        code(e.kms.encrypt(A, "alias/app", b"x", &c).await),
        "NotFoundException"
    );
    e.kms
        .create_alias(A, "alias/app", &key.key_id)
        .await
        .unwrap();

    let managed = e.kms.aws_managed_key(A, "alias/aws/s3").await.unwrap();
    assert_eq!(
        e.kms.aws_managed_key(A, "alias/aws/s3").await.unwrap(),
        managed,
        "created once"
    );
    assert_ne!(
        e.kms.aws_managed_key(B, "alias/aws/s3").await.unwrap(),
        managed
    );
    let m = e.kms.describe_key(A, "alias/aws/s3").await.unwrap();
    assert_eq!(m.manager, nomuck_kms::KeyManager::Aws);
    assert_eq!(
        code(e.kms.disable_key(A, &managed).await),
        "AccessDeniedException"
    );
    assert!(
        e.kms
            .encrypt(A, "alias/aws/s3", b"x", &EncryptionContext::new())
            .await
            .is_ok()
    );
    let names: Vec<_> = e
        .kms
        .list_aliases(A, None, None, 100)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["alias/app", "alias/aws/s3"]);
    e.kms.delete_alias(A, "alias/app").await.unwrap();
    assert_eq!(
        code(e.kms.delete_alias(A, "alias/app").await),
        "NotFoundException"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_changes_to_one_key_are_all_kept() {
    let e = env().await;
    let kms = Arc::new(e.kms);
    let key = kms.create_key(A, NewKey::default()).await.unwrap();
    // Each tag is a read-modify-write of the key's document: without
    // generations, concurrent writers would drop each other's tags.
    let writers: Vec<_> = (0..16)
        .map(|i| {
            let (kms, id) = (kms.clone(), key.key_id.clone());
            tokio::spawn(async move {
                kms.tag_resource(A, &id, vec![(format!("t{i}"), "v".into())])
                    .await
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap().unwrap();
    }
    assert_eq!(kms.resource_tags(A, &key.key_id).await.unwrap().len(), 16);
}
