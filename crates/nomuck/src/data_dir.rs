//! The data directory: one process at a time owns it.
//!
//! ```text
//! <data-dir>/
//!   nomuck.lock          exclusive lock held by the owning process (its pid inside)
//!   server.json          address of the server owning it, while one serves
//!   master.key           key that seals access-key secrets (0600)
//!   admin-credentials    the first admin key, aws-cli credentials format (0600)
//!   meta.db              metadata (SQLite, WAL)
//!   blobs/               object bytes (one file per blob, fanned out)
//!   tls/cert.pem         self-signed certificate of `serve --tls-self-signed`
//!   tls/key.pem          its private key (0600)
//! ```

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use nomuck_iam::{Iam, MASTER_KEY_LEN, NewAccessKey, SecretSealer};
use nomuck_meta::{MetaError, MetaStore, SqliteMetaStore};
use serde::{Deserialize, Serialize};

const LOCK_FILE: &str = "nomuck.lock";
const SERVER_FILE: &str = "server.json";
const MASTER_KEY_FILE: &str = "master.key";
pub const ADMIN_CREDENTIALS_FILE: &str = "admin-credentials";
const META_DB_FILE: &str = "meta.db";
const BLOBS_DIR: &str = "blobs";
const TLS_DIR: &str = "tls";
/// Names the self-signed certificate is valid for: what a local client dials.
const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// An opened data directory. Dropping it releases the lock.
pub struct DataDir {
    path: PathBuf,
    /// Held for the lifetime of the process's use of the directory.
    _lock: File,
    pub store: Arc<dyn MetaStore>,
    pub iam: Arc<Iam>,
    /// Signs IMDSv2 session tokens; derived from the master key, so tokens stay
    /// valid across restarts.
    pub imds_token_key: [u8; 32],
    /// Authenticates LWA access tokens (`Atza|…`); derived from the master key for
    /// the same reason.
    pub lwa_token_key: [u8; 32],
    /// Seals KMS key material under the master key, as access-key secrets are
    /// (boxed: the cipher's key schedule is large).
    pub sealer: Arc<SecretSealer>,
    /// Seals the data keys of SSE-S3 objects; derived from the master key, so
    /// objects stay readable across restarts.
    pub sse_s3_key: [u8; 32],
}

/// Why a data directory could not be opened for this process.
pub enum OpenOutcome {
    Opened(DataDir),
    /// Another process holds it; if it is a server, its address.
    InUse {
        pid: Option<u32>,
        server: Option<ServerInfo>,
    },
}

/// What a serving process publishes about itself in the data directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerInfo {
    pub pid: u32,
    /// The address actually bound (useful with port 0).
    pub listen: String,
    /// The URL clients use, scheme included (`https://127.0.0.1:2006`); absent
    /// in files of older servers, which served plain HTTP only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Over HTTPS: the PEM file of the certificate served, for clients to trust
    /// (`aws --ca-bundle`, boto3's `verify=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<PathBuf>,
}

impl ServerInfo {
    /// The URL clients use.
    pub fn endpoint(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }
}

/// Whether opening may create the directory. Only `nomuck serve` creates one: a CLI
/// command run in the wrong directory must not quietly start a second, empty cloud
/// with its own admin account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    IfMissing,
    Never,
}

/// The metadata store of a data directory another process owns, for reading
/// only: SQLite in WAL mode serves readers of other processes without blocking
/// the owner. Nothing may be committed through it (the owner alone writes).
pub fn open_meta_shared(path: &Path) -> anyhow::Result<Arc<dyn MetaStore>> {
    let db = path.join(META_DB_FILE);
    let store = SqliteMetaStore::open(&db)
        .with_context(|| format!("cannot open {} for reading", db.display()))?;
    Ok(Arc::new(store))
}

impl DataDir {
    /// Open `path` for exclusive use, creating it first if `create` allows.
    pub fn open(path: &Path, create: Create) -> anyhow::Result<OpenOutcome> {
        check_is_dir(path)?;
        match create {
            // Private (0700) when nomuck makes it: it holds the master key, every
            // account's objects, and the instances' disks, consoles and sockets.
            Create::IfMissing => fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .with_context(|| format!("cannot create data directory {}", path.display()))?,
            Create::Never => check_exists(path)?,
        }
        let lock_path = path.join(LOCK_FILE);
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| unwritable(path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid_text = String::new();
                let _ = lock.read_to_string(&mut pid_text);
                return Ok(OpenOutcome::InUse {
                    pid: pid_text.trim().parse().ok(),
                    server: read_server_info(path),
                });
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", lock_path.display()));
            }
        }
        lock.set_len(0)
            .and_then(|()| lock.write_all(std::process::id().to_string().as_bytes()))
            .map_err(|e| unwritable(path, e))?;
        // A server.json left by a process killed with -9 is stale: we hold the lock.
        let _ = fs::remove_file(path.join(SERVER_FILE));

        let master_key = load_or_create_master_key(&path.join(MASTER_KEY_FILE), create)?;
        let db_path = path.join(META_DB_FILE);
        let store: Arc<dyn MetaStore> = Arc::new(
            SqliteMetaStore::open(&db_path).map_err(|e| describe_store_error(&db_path, e))?,
        );
        let iam = Arc::new(Iam::new(store.clone(), &master_key));
        Ok(OpenOutcome::Opened(DataDir {
            path: path.to_owned(),
            _lock: lock,
            store,
            iam,
            imds_token_key: derive_key(&master_key, "nomuck imds session tokens v1"),
            lwa_token_key: derive_key(&master_key, "nomuck lwa access tokens v1"),
            sealer: Arc::new(SecretSealer::new(&master_key)),
            sse_s3_key: derive_key(&master_key, "nomuck sse-s3 key encryption v1"),
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The object store over this directory's metadata and `blobs/`.
    pub fn storage(
        &self,
        options: nomuck_storage::StorageOptions,
    ) -> anyhow::Result<Arc<nomuck_storage::Storage>> {
        let root = self.path.join(BLOBS_DIR);
        let blobs = nomuck_blob::LocalBlobStore::open(&root)
            .with_context(|| format!("cannot open the blob store in {}", root.display()))?;
        Ok(nomuck_storage::Storage::new(
            self.store.clone(),
            Arc::new(blobs),
            options,
        ))
    }

    /// Create the admin account if the directory is new; its key is written to
    /// `admin-credentials` before it is committed.
    pub async fn bootstrap_admin(&self) -> anyhow::Result<Option<NewAccessKey>> {
        let file = self.path.join(ADMIN_CREDENTIALS_FILE);
        self.iam
            .bootstrap_admin(|key| write_credentials_file(&file, key))
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the admin account: {e}"))
    }

    pub fn publish_server(&self, info: &ServerInfo) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(info)?;
        write_file_atomically(&self.path.join(SERVER_FILE), &json, 0o644)
            .with_context(|| format!("cannot write {}", self.path.join(SERVER_FILE).display()))
    }

    /// The self-signed certificate and key of `serve --tls-self-signed` (in
    /// `tls/`), made on first use and reused after; whether it was made now.
    pub fn self_signed_tls(&self) -> anyhow::Result<(PathBuf, PathBuf, bool)> {
        let dir = self.path.join(TLS_DIR);
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        // The certificate is written last: if it is there, so is its key.
        if cert.exists() {
            return Ok((cert, key, false));
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let (cert_pem, key_pem) = nomuck_edge::self_signed_pem(&SELF_SIGNED_NAMES)?;
        write_file_atomically(&key, key_pem.as_bytes(), 0o600)
            .with_context(|| format!("cannot write {}", key.display()))?;
        write_file_atomically(&cert, cert_pem.as_bytes(), 0o644)
            .with_context(|| format!("cannot write {}", cert.display()))?;
        Ok((cert, key, true))
    }

    pub fn unpublish_server(&self) {
        let _ = fs::remove_file(self.path.join(SERVER_FILE));
    }
}

fn read_server_info(path: &Path) -> Option<ServerInfo> {
    serde_json::from_slice(&fs::read(path.join(SERVER_FILE)).ok()?).ok()
}

fn unwritable(path: &Path, err: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "data directory {} is not writable by this user: {err}",
        path.display()
    )
}

fn describe_store_error(db: &Path, err: MetaError) -> anyhow::Error {
    match err {
        MetaError::NewerSchema { found, supported } => anyhow::anyhow!(
            "{} was written by a newer nomuck (schema version {found}; this binary supports up to {supported}); run that newer version or restore a backup",
            db.display()
        ),
        MetaError::Corrupt(why) => anyhow::anyhow!(
            "{} is not a valid nomuck database ({why}); restore it from a backup or point --data-dir elsewhere",
            db.display()
        ),
        other => anyhow::anyhow!("cannot open {}: {other}", db.display()),
    }
}

fn load_or_create_master_key(path: &Path, create: Create) -> anyhow::Result<[u8; MASTER_KEY_LEN]> {
    match fs::read(path) {
        Ok(bytes) => <[u8; MASTER_KEY_LEN]>::try_from(bytes.as_slice()).map_err(|_| {
            anyhow::anyhow!(
                "{} is corrupt: it holds {} bytes, a master key is {MASTER_KEY_LEN}",
                path.display(),
                bytes.len()
            )
        }),
        // A new key would make every sealed secret in meta.db unreadable.
        Err(e) if e.kind() == ErrorKind::NotFound && create == Create::Never => bail!(
            "{} is missing, so the access-key secrets in this data directory cannot be read; restore it from a backup",
            path.display()
        ),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let key = SecretSealer::generate_master_key();
            write_file_atomically(path, &key, 0o600)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// aws-cli shared-credentials format, profile `default`.
fn write_credentials_file(path: &Path, key: &NewAccessKey) -> std::io::Result<()> {
    let text = format!(
        "# nomuck admin account {} ({}); keep this file secret\n[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        key.account.name, key.account.id, key.access_key_id, key.secret_access_key
    );
    write_file_atomically(path, text.as_bytes(), 0o600)
}

/// Write via a temporary file, fsync, rename and fsync the directory, so the file is
/// either the old one or the whole new one after a crash.
fn write_file_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

/// Refuse a data directory path that exists but is not a directory, with a clear message.
fn check_is_dir(path: &Path) -> anyhow::Result<()> {
    if path.exists() && !path.is_dir() {
        bail!(
            "data directory {} exists but is not a directory",
            absolute(path).display()
        );
    }
    Ok(())
}

/// `path` as the user should see it in a message: relative paths depend on a working
/// directory they may not have in mind.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Refuse, naming the absolute path looked at and how to point elsewhere, a directory
/// that `nomuck serve` has not made.
fn check_exists(path: &Path) -> anyhow::Result<()> {
    if path.join(META_DB_FILE).is_file() {
        return Ok(());
    }
    let shown = absolute(path);
    let what = if path.is_dir() {
        format!(
            "{} is not a nomuck data directory (it has no {META_DB_FILE})",
            shown.display()
        )
    } else {
        format!("there is no nomuck data directory at {}", shown.display())
    };
    bail!(
        "{what}. Point at the server's data directory with --data-dir DIR, \
         NOMUCK_DATA_DIR=DIR or data_dir in the --config file, or run `nomuck serve` \
         once to create one here"
    )
}

/// A key for one purpose, derived from the master key (HMAC-SHA256 of the purpose).
fn derive_key(master: &[u8], purpose: &str) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(master)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_serve_creates_a_data_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("data");
        let Err(err) = DataDir::open(&path, Create::Never) else {
            panic!("opened a missing data directory");
        };
        let msg = format!("{err:#}");
        assert!(
            msg.contains(&format!("no nomuck data directory at {}", path.display())),
            "{msg}"
        );
        assert!(
            msg.contains("--data-dir") && msg.contains("NOMUCK_DATA_DIR"),
            "{msg}"
        );
        assert!(!path.exists(), "refusing must not create the directory");

        // An empty directory is not one either, and stays empty.
        fs::create_dir(&path).unwrap();
        let Err(err) = DataDir::open(&path, Create::Never) else {
            panic!("opened an empty directory");
        };
        assert!(format!("{err:#}").contains("is not a nomuck data directory"));
        assert_eq!(fs::read_dir(&path).unwrap().count(), 0);

        // Once created (as `serve` does), it opens without creating; a directory nomuck
        // makes is private.
        let made = tmp.path().join("made");
        let OpenOutcome::Opened(dir) = DataDir::open(&made, Create::IfMissing).unwrap() else {
            panic!("a fresh directory is in use");
        };
        assert_eq!(
            fs::metadata(&made).unwrap().permissions().mode() & 0o777,
            0o700
        );
        drop(dir);
        match DataDir::open(&path, Create::IfMissing).unwrap() {
            OpenOutcome::Opened(dir) => drop(dir),
            OpenOutcome::InUse { .. } => panic!("in use"),
        }
        assert!(matches!(
            DataDir::open(&path, Create::Never).unwrap(),
            OpenOutcome::Opened(_)
        ));
        // A lost master key is reported, not silently replaced.
        fs::remove_file(path.join(MASTER_KEY_FILE)).unwrap();
        let Err(err) = DataDir::open(&path, Create::Never) else {
            panic!("opened without its master key");
        };
        assert!(format!("{err:#}").contains("master.key is missing"));
        assert!(!path.join(MASTER_KEY_FILE).exists());
    }
}
