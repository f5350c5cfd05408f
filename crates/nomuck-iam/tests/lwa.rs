use std::sync::Arc;

use nomuck_iam::{AccessTokens, GrantError, Iam, IamError, SecretSealer, TokenError};
use nomuck_meta::{MetaStore, SqliteMetaStore};

fn open(dir: &std::path::Path, master: &[u8; 32]) -> Arc<Iam> {
    let store: Arc<dyn MetaStore> = Arc::new(SqliteMetaStore::open(dir.join("meta.db")).unwrap());
    Arc::new(Iam::new(store, master))
}

#[tokio::test]
async fn a_client_trades_its_refresh_token_for_access_tokens_until_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let master = SecretSealer::generate_master_key();
    let iam = open(dir.path(), &master);
    let account = iam.create_account("seller", false).await.unwrap();
    let client = iam.create_lwa_client("seller").await.unwrap();
    assert!(
        client
            .client_id
            .starts_with("amzn1.application-oa2-client.")
    );
    assert!(client.refresh_token.starts_with("Atzr|"));
    assert_eq!(client.account.id, account.id);

    let tokens = AccessTokens::new(iam.clone(), [1; 32]);
    let issued = tokens
        .exchange(
            &client.client_id,
            &client.client_secret,
            &client.refresh_token,
        )
        .await
        .unwrap();
    assert_eq!(issued.expires_in, 3600);
    assert!(issued.access_token.starts_with("Atza|"));
    let holder = tokens.verify(&issued.access_token).await.unwrap();
    assert_eq!(holder.account.id, account.id);
    assert_eq!(holder.client_id, client.client_id);

    let wrong_secret = tokens
        .exchange(
            &client.client_id,
            "amzn1.oa2-cs.v1.00",
            &client.refresh_token,
        )
        .await;
    assert!(
        matches!(wrong_secret, Err(GrantError::InvalidClient)),
        "{wrong_secret:?}"
    );
    let wrong_refresh = tokens
        .exchange(&client.client_id, &client.client_secret, "Atzr|nope")
        .await;
    assert!(
        matches!(wrong_refresh, Err(GrantError::InvalidGrant)),
        "{wrong_refresh:?}"
    );
    let unknown = tokens
        .exchange(
            "amzn1.application-oa2-client.00",
            &client.client_secret,
            &client.refresh_token,
        )
        .await;
    assert!(
        matches!(unknown, Err(GrantError::InvalidClient)),
        "{unknown:?}"
    );

    // Another key (another data directory) did not mint it.
    let elsewhere = AccessTokens::new(iam.clone(), [2; 32]);
    assert!(matches!(
        elsewhere.verify(&issued.access_token).await,
        Err(TokenError::Malformed)
    ));

    let listed = iam.lwa_clients(&account.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, None);

    iam.revoke_lwa_client(&client.client_id).await.unwrap();
    assert!(matches!(
        tokens.verify(&issued.access_token).await,
        Err(TokenError::Revoked)
    ));
    let after = tokens
        .exchange(
            &client.client_id,
            &client.client_secret,
            &client.refresh_token,
        )
        .await;
    assert!(matches!(after, Err(GrantError::InvalidClient)), "{after:?}");
    assert!(
        iam.lwa_clients("seller").await.unwrap()[0]
            .revoked_at
            .is_some()
    );
    assert!(matches!(
        iam.revoke_lwa_client("amzn1.application-oa2-client.00")
            .await,
        Err(IamError::NoSuchLwaClient(_))
    ));
}

#[tokio::test]
async fn revocation_by_another_process_is_seen_after_a_restart_and_secrets_are_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let master = SecretSealer::generate_master_key();
    let client = {
        let iam = open(dir.path(), &master);
        iam.create_account("seller", false).await.unwrap();
        iam.create_lwa_client("seller").await.unwrap()
    };
    let iam = open(dir.path(), &master);
    let tokens = AccessTokens::new(iam.clone(), [1; 32]);
    let issued = tokens
        .exchange(
            &client.client_id,
            &client.client_secret,
            &client.refresh_token,
        )
        .await
        .unwrap();
    assert!(tokens.verify(&issued.access_token).await.is_ok());

    // The database holds neither secret in the clear.
    let raw = std::fs::read(dir.path().join("meta.db")).unwrap();
    let wal = std::fs::read(dir.path().join("meta.db-wal")).unwrap_or_default();
    for bytes in [&raw, &wal] {
        for secret in [&client.client_secret, &client.refresh_token] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a secret is stored in the clear"
            );
        }
    }
    // Opened with another master key, the sealed secrets do not open.
    drop((tokens, iam));
    let wrong = open(dir.path(), &SecretSealer::generate_master_key());
    assert!(matches!(
        wrong.active_lwa_client(&client.client_id).await,
        Err(IamError::SecretUndecryptable(_))
    ));
}
