//! The storage engine's [`KeyManager`] port, adapted to the built-in KMS
//! (`nomuck-kms`), as `RatedCosts` adapts billing to Cost Explorer. SSE-KMS
//! data keys are generated and opened by the requester's account, under the
//! key's policy, and metered to it like any `GenerateDataKey` / `Decrypt`.

use std::sync::Arc;

use nomuck_kms::{Kms, KmsError as DomainError, S3_MANAGED_ALIAS};
use nomuck_storage::kms::{DataKey, EncryptionContext, KeyManager, KmsError};
use zeroize::Zeroizing;

/// The built-in KMS as the storage engine's key manager.
pub struct BuiltinKeyManager(Arc<Kms>);

/// What the storage engine is handed for SSE-KMS.
pub fn key_manager(kms: Arc<Kms>) -> Arc<dyn KeyManager> {
    Arc::new(BuiltinKeyManager(kms))
}

fn storage_error(e: DomainError) -> KmsError {
    let m = e.to_string();
    match e {
        DomainError::NotFound(_) => KmsError::NotFound(m),
        DomainError::Disabled(_) => KmsError::Disabled(m),
        DomainError::InvalidState(_) => KmsError::InvalidState(m),
        DomainError::AccessDenied(_) => KmsError::AccessDenied(m),
        DomainError::InvalidCiphertext(_) | DomainError::IncorrectKey(_) => {
            KmsError::InvalidCiphertext(m)
        }
        DomainError::Internal(_) => KmsError::Internal(m),
        // A key id S3 was given that names no key in a form KMS accepts.
        _ => KmsError::NotFound(m),
    }
}

#[async_trait::async_trait]
impl KeyManager for BuiltinKeyManager {
    async fn generate_data_key(
        &self,
        account_id: &str,
        key_id: Option<&str>,
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        let key_ref = match key_id {
            Some(k) => k.to_owned(),
            None => self
                .0
                .aws_managed_key(account_id, S3_MANAGED_ALIAS)
                .await
                .map_err(storage_error)?,
        };
        let made = self
            .0
            .generate_data_key(account_id, &key_ref, 32, context, true)
            .await
            .map_err(storage_error)?;
        let mut plaintext = Zeroizing::new([0u8; 32]);
        if made.plaintext.len() != 32 {
            return Err(KmsError::Internal("data key of the wrong length".into()));
        }
        plaintext.copy_from_slice(&made.plaintext);
        Ok(DataKey {
            plaintext,
            ciphertext: made.ciphertext,
            key_arn: made.key_arn,
        })
    }

    async fn decrypt(
        &self,
        account_id: &str,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<(Zeroizing<[u8; 32]>, String), KmsError> {
        let opened = self
            .0
            .decrypt(account_id, ciphertext, context, None)
            .await
            .map_err(storage_error)?;
        // Not a data key (a 32-byte key is all generate_data_key makes).
        if opened.plaintext.len() != 32 {
            return Err(KmsError::InvalidCiphertext(
                "the ciphertext is not a data key".into(),
            ));
        }
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&opened.plaintext);
        Ok((key, opened.key_arn))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use nomuck_kms::{KmsOptions, NewKey};
    use nomuck_meta::{Account, MetaStore, Mutation, SqliteMetaStore};

    use super::*;

    const A: &str = "111111111111";
    const B: &str = "222222222222";

    async fn setup() -> (tempfile::TempDir, Arc<Kms>, Arc<dyn KeyManager>) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn MetaStore> =
            Arc::new(SqliteMetaStore::open(dir.path().join("meta.db")).unwrap());
        for id in [A, B] {
            store
                .commit(vec![Mutation::CreateAccount(Account {
                    id: id.into(),
                    name: format!("acct{id}"),
                    is_admin: false,
                    created_at: 1,
                })])
                .await
                .unwrap();
        }
        let kms = Arc::new(Kms::new(
            store,
            nomuck_iam::SecretSealer::new(&[3; 32]),
            KmsOptions {
                region: "us-east-1".into(),
                day: Duration::from_secs(86_400),
                pass_interval: Duration::from_secs(60),
            },
        ));
        (dir, kms.clone(), key_manager(kms))
    }

    fn ctx(bucket: &str) -> EncryptionContext {
        [("aws:s3:arn".to_owned(), format!("arn:aws:s3:::{bucket}/k"))]
            .into_iter()
            .collect()
    }

    #[tokio::test]
    async fn data_keys_round_trip_under_the_named_or_the_managed_key() {
        let (_d, kms, km) = setup().await;
        let key = kms.create_key(A, NewKey::default()).await.unwrap();
        let dk = km
            .generate_data_key(A, Some(&key.arn), &ctx("b"))
            .await
            .unwrap();
        assert_eq!(dk.key_arn, key.arn);
        let (plain, arn) = km.decrypt(A, &dk.ciphertext, &ctx("b")).await.unwrap();
        assert_eq!(*plain, *dk.plaintext);
        assert_eq!(arn, key.arn);
        assert!(matches!(
            km.decrypt(A, &dk.ciphertext, &ctx("other")).await,
            Err(KmsError::InvalidCiphertext(_))
        ));

        // No key named: the account's alias/aws/s3, made once.
        let managed = km.generate_data_key(A, None, &ctx("b")).await.unwrap();
        let again = km.generate_data_key(A, None, &ctx("b")).await.unwrap();
        assert_eq!(managed.key_arn, again.key_arn);
        assert_ne!(managed.key_arn, key.arn);
        let m = kms.describe_key(A, "alias/aws/s3").await.unwrap();
        assert_eq!(m.arn, managed.key_arn);
        assert_eq!(m.manager, nomuck_kms::KeyManager::Aws);
        assert!(km.decrypt(A, &managed.ciphertext, &ctx("b")).await.is_ok());
    }

    #[tokio::test]
    async fn disabled_keys_and_other_accounts_are_refused() {
        let (_d, kms, km) = setup().await;
        let key = kms.create_key(A, NewKey::default()).await.unwrap();
        let dk = km
            .generate_data_key(A, Some(&key.key_id), &ctx("b"))
            .await
            .unwrap();
        kms.disable_key(A, &key.key_id).await.unwrap();
        assert!(matches!(
            km.decrypt(A, &dk.ciphertext, &ctx("b")).await,
            Err(KmsError::Disabled(_))
        ));
        assert!(matches!(
            km.generate_data_key(A, Some(&key.key_id), &ctx("b")).await,
            Err(KmsError::Disabled(_))
        ));
        kms.enable_key(A, &key.key_id).await.unwrap();
        assert!(km.decrypt(A, &dk.ciphertext, &ctx("b")).await.is_ok());

        assert!(matches!(
            km.generate_data_key(B, Some(&key.key_id), &ctx("b")).await,
            Err(KmsError::NotFound(_))
        ));
        assert!(matches!(
            km.generate_data_key(B, Some(&key.arn), &ctx("b")).await,
            Err(KmsError::AccessDenied(_))
        ));
        assert!(matches!(
            km.decrypt(B, &dk.ciphertext, &ctx("b")).await,
            Err(KmsError::AccessDenied(_))
        ));
        assert!(matches!(
            km.generate_data_key(A, Some("alias/none"), &ctx("b")).await,
            Err(KmsError::NotFound(_))
        ));
    }
}
