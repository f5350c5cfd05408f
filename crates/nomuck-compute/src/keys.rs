//! Key pairs. CreateKeyPair generates the pair with OpenSSH's `ssh-keygen` (RSA in
//! the PEM form EC2 returns, ED25519 in OpenSSH form) and keeps only the public
//! half; ImportKeyPair takes an OpenSSH public key line.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::Md5;
use nomuck_meta::compute::{ComputeMutation, KeyPairRecord};
use nomuck_meta::{MetaError, Mutation};
use sha2::{Digest, Sha256};

use crate::{Compute, ComputeError, ids, now_millis};

/// A key pair reference (DeleteKeyPair takes either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    Name(String),
    Id(String),
}

/// Parses an OpenSSH public key line: `(type, key blob)`.
fn parse_public_key(line: &str) -> Option<(String, Vec<u8>)> {
    let mut fields = line.split_whitespace();
    let kind = fields.next()?;
    if !matches!(
        kind,
        "ssh-rsa"
            | "ssh-ed25519"
            | "ecdsa-sha2-nistp256"
            | "ecdsa-sha2-nistp384"
            | "ecdsa-sha2-nistp521"
    ) {
        return None;
    }
    let blob = STANDARD.decode(fields.next()?).ok()?;
    // The blob starts with its own type as an SSH string.
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    (blob.get(4..4 + len)? == kind.as_bytes()).then(|| (kind.to_owned(), blob))
}

/// EC2's fingerprints: SHA-256 (base64) for ED25519 keys, MD5 (colon hex) for the rest.
fn fingerprint(kind: &str, blob: &[u8]) -> String {
    if kind == "ssh-ed25519" {
        STANDARD.encode(Sha256::digest(blob))
    } else {
        Md5::digest(blob)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

impl Compute {
    /// Creates a key pair; returns it with the private key, which is not kept.
    pub async fn create_key_pair(
        &self,
        account: &str,
        name: &str,
        key_type: &str,
        tags: Vec<(String, String)>,
        dry_run: bool,
    ) -> Result<(KeyPairRecord, String), ComputeError> {
        if self.records().key_pair(account, name).await?.is_some() {
            return Err(ComputeError::KeyPairTaken(name.into()));
        }
        if dry_run {
            return Err(ComputeError::DryRun);
        }
        let scratch = tempdir(&self.opts.dir)?;
        let path = scratch.join("key");
        let mut cmd = tokio::process::Command::new("ssh-keygen");
        cmd.args(["-q", "-N", "", "-C", name, "-f"]).arg(&path);
        match key_type {
            "ed25519" => cmd.args(["-t", "ed25519"]),
            _ => cmd.args(["-t", "rsa", "-b", "2048", "-m", "PEM"]),
        };
        let out = cmd.output().await;
        let read = || -> Result<(String, String), std::io::Error> {
            Ok((
                std::fs::read_to_string(&path)?,
                std::fs::read_to_string(path.with_extension("pub"))?,
            ))
        };
        let result = match out {
            Ok(o) if o.status.success() => {
                read().map_err(|e| ComputeError::Internal(e.to_string()))
            }
            Ok(o) => Err(ComputeError::Internal(format!(
                "ssh-keygen failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ))),
            Err(e) => Err(ComputeError::Internal(format!(
                "cannot run ssh-keygen: {e}"
            ))),
        };
        let _ = std::fs::remove_dir_all(&scratch);
        let (private, public) = result?;
        let record = self.put_key(account, name, public.trim(), tags).await?;
        Ok((record, private))
    }

    pub async fn import_key_pair(
        &self,
        account: &str,
        name: &str,
        material: &[u8],
        tags: Vec<(String, String)>,
        dry_run: bool,
    ) -> Result<KeyPairRecord, ComputeError> {
        let line = std::str::from_utf8(material).map_err(|_| ComputeError::BadPublicKey)?;
        parse_public_key(line).ok_or(ComputeError::BadPublicKey)?;
        if self.records().key_pair(account, name).await?.is_some() {
            return Err(ComputeError::KeyPairTaken(name.into()));
        }
        if dry_run {
            return Err(ComputeError::DryRun);
        }
        self.put_key(account, name, line.trim(), tags).await
    }

    async fn put_key(
        &self,
        account: &str,
        name: &str,
        public: &str,
        tags: Vec<(String, String)>,
    ) -> Result<KeyPairRecord, ComputeError> {
        let (kind, blob) = parse_public_key(public).ok_or(ComputeError::BadPublicKey)?;
        let record = KeyPairRecord {
            id: ids::new_id("key"),
            account_id: account.to_owned(),
            name: name.to_owned(),
            key_type: if kind == "ssh-ed25519" {
                "ed25519"
            } else {
                "rsa"
            }
            .into(),
            public_key: public.to_owned(),
            fingerprint: fingerprint(&kind, &blob),
            tags,
            created_at: now_millis(),
        };
        // The store's uniqueness check closes the race between two creates.
        self.store
            .commit(vec![Mutation::Compute(ComputeMutation::CreateKeyPair(
                record.clone(),
            ))])
            .await
            .map_err(|e| match e {
                MetaError::Conflict(_) => ComputeError::KeyPairTaken(name.into()),
                e => e.into(),
            })?;
        Ok(record)
    }

    /// The account's key pairs; with names or ids, exactly those.
    pub async fn describe_key_pairs(
        &self,
        account: &str,
        names: &[String],
        key_ids: &[String],
    ) -> Result<Vec<KeyPairRecord>, ComputeError> {
        let all = self.records().key_pairs(account).await?;
        for n in names {
            if !all.iter().any(|k| &k.name == n) {
                return Err(ComputeError::KeyPairNotFound(n.clone()));
            }
        }
        for i in key_ids {
            if !all.iter().any(|k| &k.id == i) {
                return Err(ComputeError::KeyPairNotFound(i.clone()));
            }
        }
        if names.is_empty() && key_ids.is_empty() {
            return Ok(all);
        }
        Ok(all
            .into_iter()
            .filter(|k| names.contains(&k.name) || key_ids.contains(&k.id))
            .collect())
    }

    /// Deletes a key pair; deleting one that does not exist succeeds, as in EC2.
    pub async fn delete_key_pair(
        &self,
        account: &str,
        key: &KeyRef,
        dry_run: bool,
    ) -> Result<(), ComputeError> {
        let all = self.records().key_pairs(account).await?;
        let found = all.into_iter().find(|k| match key {
            KeyRef::Name(n) => &k.name == n,
            KeyRef::Id(i) => &k.id == i,
        });
        if dry_run {
            return Err(ComputeError::DryRun);
        }
        if let Some(k) = found {
            match self
                .store
                .commit(vec![Mutation::Compute(ComputeMutation::DeleteKeyPair {
                    id: k.id,
                })])
                .await
            {
                Ok(_) | Err(MetaError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

fn tempdir(root: &std::path::Path) -> Result<std::path::PathBuf, ComputeError> {
    let dir = root.join(format!("keygen-{}", ids::new_id("tmp")));
    std::fs::create_dir_all(&dir).map_err(|e| ComputeError::Internal(e.to_string()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_are_checked_and_fingerprinted() {
        let line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh3NfC6WZ0zNiVs9f+gbfQdWZB9RCPjqXrrzVdZ+R8y me@host";
        let (kind, blob) = parse_public_key(line).unwrap();
        assert_eq!(kind, "ssh-ed25519");
        assert_eq!(fingerprint(&kind, &blob).len(), 44);
        assert!(
            parse_public_key(
                "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIHh3NfC6WZ0zNiVs9f+gbfQdWZB9RCPjqXrrzVdZ+R8y"
            )
            .is_none(),
            "type mismatch"
        );
        assert!(parse_public_key("hello world").is_none());
        assert!(parse_public_key("").is_none());
        assert!(parse_public_key("ssh-ed25519 !!!").is_none());
    }
}
