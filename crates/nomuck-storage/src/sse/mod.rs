//! Server-side encryption: each object (and each multipart upload, shared by
//! its parts) gets a random 256-bit data key, which encrypts its bytes in
//! authenticated segments (see [`segments`]) and is stored only sealed:
//!
//! - SSE-S3 (`AES256`): sealed with the key-encryption key the binary derives
//!   from the data directory's master key ([`Storage::set_sse_s3_key`]);
//! - SSE-KMS (`aws:kms`): sealed by a [`KeyManager`]
//!   ([`Storage::set_key_manager`]) under the named KMS key, with the object's
//!   ARN in the encryption context;
//! - SSE-C: sealed with the customer's key, which is never stored: a salted
//!   HMAC of it recognizes the right key on later requests.
//!
//! With a bucket key (SSE-KMS with `BucketKeyEnabled`, see [`bucket_key`])
//! the data key is sealed here under a bucket-level key the KMS made, and
//! that key's KMS ciphertext is stored beside it.
//!
//! The sealed key and how to unseal it are a small JSON document stored with
//! the version or upload ([`nomuck_meta::ObjectVersion::encryption`]).

mod bucket_key;
pub mod segments;

use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::kms::{EncryptionContext, KeyManager, KmsError};
use crate::{Storage, StorageError};

/// A data key (zeroed on drop).
pub type DataKeyBytes = Zeroizing<[u8; 32]>;

/// The `x-amz-server-side-encryption` value of SSE-S3.
pub const AES256: &str = "AES256";
/// The `x-amz-server-side-encryption` value of SSE-KMS.
pub const AWS_KMS: &str = "aws:kms";
const SSE_C: &str = "SSE-C";

/// S3's message when an SSE-C object is read without its key.
pub const SSE_C_KEY_MISSING: &str = "The object was stored using a form of Server Side \
    Encryption. The correct parameters must be provided to retrieve the object.";

/// The encryption a write asks for (a header, a form field, or the bucket's
/// default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseRequest {
    /// SSE-S3.
    S3 { bucket_key: bool },
    /// SSE-KMS; `key_id` `None` is the account's `aws/s3` key. `context` is
    /// the request's own pairs; the object's ARN is added.
    Kms {
        key_id: Option<String>,
        context: EncryptionContext,
        bucket_key: bool,
    },
    /// SSE-C.
    Customer(CustomerKey),
}

/// A customer-provided key (SSE-C), checked against its MD5.
#[derive(Clone, PartialEq, Eq)]
pub struct CustomerKey {
    key: DataKeyBytes,
    /// Base64 MD5 of the key, as sent and reported back.
    md5: String,
}

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomerKey")
            .field("md5", &self.md5)
            .finish_non_exhaustive()
    }
}

impl CustomerKey {
    /// From the three `…-customer-algorithm/-key/-key-MD5` values, with
    /// S3's errors. The key itself never appears in an error.
    pub fn parse(algorithm: &str, key_b64: &str, md5_b64: &str) -> Result<Self, StorageError> {
        if algorithm != AES256 {
            return Err(StorageError::InvalidArgument(
                "The requested encryption algorithm is not valid, must be AES256.".into(),
            ));
        }
        let raw = Zeroizing::new(B64.decode(key_b64.trim()).unwrap_or_default());
        let key: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
            StorageError::InvalidArgument(
                "The secret key was invalid for the specified algorithm.".into(),
            )
        })?;
        let key = Zeroizing::new(key);
        let mut h = nomuck_checksum::Md5Hasher::new();
        h.update(key.as_slice());
        let md5 = h.finalize();
        let sent = B64.decode(md5_b64.trim()).unwrap_or_default();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&md5[..], sent.as_slice())) {
            return Err(StorageError::InvalidArgument(
                "The calculated MD5 hash of the key did not match the hash that was provided."
                    .into(),
            ));
        }
        Ok(Self {
            key,
            md5: B64.encode(md5),
        })
    }

    /// Base64 MD5 of the key (`x-amz-server-side-encryption-customer-key-MD5`).
    pub fn key_md5(&self) -> &str {
        &self.md5
    }
}

/// How a stored object is encrypted: what GET, HEAD and the write responses
/// report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseInfo {
    S3 {
        bucket_key: bool,
    },
    Kms {
        /// ARN of the KMS key.
        key_id: String,
        bucket_key: bool,
        context: EncryptionContext,
    },
    Customer {
        key_md5: String,
    },
}

impl SseInfo {
    /// The `x-amz-server-side-encryption` value (none for SSE-C).
    pub fn algorithm(&self) -> Option<&'static str> {
        match self {
            Self::S3 { .. } => Some(AES256),
            Self::Kms { .. } => Some(AWS_KMS),
            Self::Customer { .. } => None,
        }
    }

    pub fn bucket_key(&self) -> bool {
        matches!(
            self,
            Self::S3 { bucket_key: true }
                | Self::Kms {
                    bucket_key: true,
                    ..
                }
        )
    }
}

/// A bucket's default encryption (PutBucketEncryption), applied to writes
/// that name none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketEncryption {
    /// `AES256` or `aws:kms`.
    pub algorithm: String,
    /// `KMSMasterKeyID` (aws:kms only); `None`: the account's `aws/s3` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub bucket_key_enabled: bool,
}

impl BucketEncryption {
    /// What a write that names no encryption gets.
    pub fn request(&self) -> SseRequest {
        match self.algorithm.as_str() {
            AWS_KMS => SseRequest::Kms {
                key_id: self.kms_key_id.clone(),
                context: EncryptionContext::new(),
                bucket_key: self.bucket_key_enabled,
            },
            _ => SseRequest::S3 {
                bucket_key: self.bucket_key_enabled,
            },
        }
    }
}

/// The encryption a write gets: what it asks, else the bucket's default.
pub(crate) fn requested(
    access: &crate::auth::BucketAccess,
    asked: Option<&SseRequest>,
) -> Option<SseRequest> {
    asked
        .cloned()
        .or_else(|| access.encryption.as_ref().map(|d| d.request()))
}

/// Whether stored document `doc` is SSE-S3 (its blobs can be shared by a
/// copy that asks for SSE-S3: same key-encryption key, same sealed key).
pub(crate) fn is_sse_s3(doc: Option<&str>) -> bool {
    matches!(info_of(doc), Some(SseInfo::S3 { .. }))
}

/// The ETag of a new object: the plaintext MD5 for plaintext and SSE-S3
/// objects, an opaque value for SSE-C and SSE-KMS ones, as S3.
pub(crate) fn etag_for(enc: Option<&NewEncryption>, md5_hex: String) -> String {
    match enc {
        Some(e) if matches!(e.info, SseInfo::Kms { .. } | SseInfo::Customer { .. }) => {
            opaque_etag(&e.key, &md5_hex)
        }
        _ => md5_hex,
    }
}

/// The stored document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Sealed {
    /// `AES256`, `aws:kms` or `SSE-C`.
    alg: String,
    /// The sealed data key, base64.
    dk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kms_key: Option<String>,
    /// The full KMS encryption context (the object's ARN included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ctx: Option<EncryptionContext>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    bk: bool,
    /// SSE-KMS with a bucket key: the bucket key's KMS ciphertext, base64;
    /// `dk` is then sealed under the bucket key, not by the KMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bkey: Option<String>,
    /// SSE-C: the key's MD5 (reported back), and a salted HMAC of the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c_md5: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c_salt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c_mac: Option<String>,
}

impl Sealed {
    fn parse(doc: &str) -> Result<Self, StorageError> {
        // The parser's message may quote the document: say only that it failed.
        serde_json::from_str(doc).map_err(|_| {
            StorageError::Internal("a stored encryption document is unreadable".into())
        })
    }

    fn info(&self) -> Option<SseInfo> {
        match self.alg.as_str() {
            AES256 => Some(SseInfo::S3 {
                bucket_key: self.bk,
            }),
            AWS_KMS => Some(SseInfo::Kms {
                key_id: self.kms_key.clone().unwrap_or_default(),
                bucket_key: self.bk,
                context: self.ctx.clone().unwrap_or_default(),
            }),
            SSE_C => Some(SseInfo::Customer {
                key_md5: self.c_md5.clone().unwrap_or_default(),
            }),
            _ => None,
        }
    }
}

/// What a stored encryption document says about the object (none for a
/// plaintext object or an unreadable document).
pub(crate) fn info_of(doc: Option<&str>) -> Option<SseInfo> {
    Sealed::parse(doc?).ok()?.info()
}

/// A new object's (or upload's) encryption: the document to store, what to
/// report, and the data key to seal its bytes with.
pub(crate) struct NewEncryption {
    pub doc: String,
    pub info: SseInfo,
    pub key: DataKeyBytes,
}

impl std::fmt::Debug for NewEncryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewEncryption")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

const WRAP_LABEL: &[u8] = b"nomuck sse data key v1 ";
/// The mode [`wrap`] binds to a data key sealed under a bucket key.
const BUCKET_KEY_MODE: &str = "aws:kms bucket-key";

/// Seals a data key under `kek` (AES-256-GCM, random nonce); `alg` is bound
/// as associated data, so a key sealed for one mode is not accepted as another.
fn wrap(kek: &[u8; 32], alg: &str, dk: &[u8; 32]) -> String {
    let cipher = Aes256Gcm::new(kek.into());
    let mut nonce = [0u8; 12];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    let aad = [WRAP_LABEL, alg.as_bytes()].concat();
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: dk, aad: &aad })
        .unwrap_or_else(|_| unreachable!("32 bytes are within GCM's limits"));
    B64.encode([nonce.as_slice(), &ct].concat())
}

/// The data key sealed by [`wrap`], or `None` when `kek` is not the key that
/// sealed it (or the document was tampered with).
fn unwrap_key(kek: &[u8; 32], alg: &str, sealed: &str) -> Option<DataKeyBytes> {
    let raw = B64.decode(sealed).ok()?;
    let (nonce, ct) = raw.split_at_checked(12)?;
    let aad = [WRAP_LABEL, alg.as_bytes()].concat();
    let pt = Zeroizing::new(
        Aes256Gcm::new(kek.into())
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .ok()?,
    );
    Some(Zeroizing::new(pt.as_slice().try_into().ok()?))
}

/// HMAC-SHA256 of the concatenated `parts` under `key`: how every key and
/// check value here is derived.
pub(crate) fn hmac(key: &[u8], parts: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for p in parts {
        mac.update(p);
    }
    Zeroizing::new(mac.finalize().into_bytes().into())
}

fn customer_mac(salt: &[u8], key: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    hmac(salt, &[b"nomuck sse-c key check v1", key])
}

fn random_key() -> DataKeyBytes {
    let mut k = Zeroizing::new([0u8; 32]);
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, k.as_mut_slice());
    k
}

/// The encryption context S3 uses for an object: its ARN, plus the pairs
/// the request gave.
pub(crate) fn object_context(
    bucket: &str,
    key: &str,
    extra: &EncryptionContext,
) -> EncryptionContext {
    let mut ctx = extra.clone();
    ctx.insert("aws:s3:arn".into(), format!("arn:aws:s3:::{bucket}/{key}"));
    ctx
}

/// The encryption context of a bucket key: the bucket's ARN, plus the pairs
/// the request gave.
fn bucket_context(bucket: &str, extra: &EncryptionContext) -> EncryptionContext {
    let mut ctx = extra.clone();
    ctx.insert("aws:s3:arn".into(), format!("arn:aws:s3:::{bucket}"));
    ctx
}

/// An opaque, stable ETag for SSE-C and SSE-KMS objects, as S3 gives them
/// (not the MD5 of the plaintext, which would help guess it).
pub(crate) fn opaque_etag(key: &[u8; 32], md5_hex: &str) -> String {
    let mac = hmac(key, &[b"nomuck sse etag v1", md5_hex.as_bytes()]);
    crate::ingest::hex(mac.get(..16).unwrap_or_default())
}

/// KMS failures as S3 reports them. The message names the key, never a
/// secret.
pub(crate) fn kms_error(e: KmsError) -> StorageError {
    let (code, message) = match e {
        KmsError::NotFound(m) => ("KMS.NotFoundException", m),
        KmsError::Disabled(m) => ("KMS.DisabledException", m),
        KmsError::InvalidState(m) => ("KMS.KMSInvalidStateException", m),
        KmsError::InvalidCiphertext(m) => ("KMS.InvalidCiphertextException", m),
        KmsError::AccessDenied(_) => return StorageError::AccessDenied,
        KmsError::Internal(m) => {
            return StorageError::Unavailable(format!("the KMS failed: {m}"));
        }
    };
    StorageError::Kms { code, message }
}

/// The encryption state the engine is given by the binary.
#[derive(Default)]
pub(crate) struct Keys {
    s3_kek: std::sync::OnceLock<DataKeyBytes>,
    kms: std::sync::OnceLock<Arc<dyn KeyManager>>,
    bucket_keys: bucket_key::BucketKeys,
}

impl Storage {
    /// The key-encryption key of SSE-S3 (derived by the binary from the data
    /// directory's master key). Until it is set, SSE-S3 requests fail.
    pub fn set_sse_s3_key(&self, kek: [u8; 32]) {
        let _ = self.keys.s3_kek.set(Zeroizing::new(kek));
    }

    /// The KMS of SSE-KMS. Until it is set, SSE-KMS requests fail.
    pub fn set_key_manager(&self, kms: Arc<dyn KeyManager>) {
        let _ = self.keys.kms.set(kms);
    }

    fn s3_kek(&self) -> Result<&DataKeyBytes, StorageError> {
        self.keys.s3_kek.get().ok_or_else(|| {
            StorageError::Unsupported("SSE-S3 is not configured on this server".into())
        })
    }

    fn key_manager(&self) -> Result<&Arc<dyn KeyManager>, StorageError> {
        self.keys.kms.get().ok_or_else(|| {
            StorageError::Unsupported("SSE-KMS is not configured on this server".into())
        })
    }

    /// SSE-C needs TLS unless the operator allowed plain HTTP, as AWS.
    pub(crate) fn check_customer_transport(
        &self,
        caller: &crate::Caller,
    ) -> Result<(), StorageError> {
        if caller.facts.secure_transport || self.opts.allow_sse_c_over_http {
            return Ok(());
        }
        Err(StorageError::InvalidRequest(
            "Requests specifying Server Side Encryption with Customer provided keys must be \
             made over a secure connection."
                .into(),
        ))
    }

    /// The encryption of a new object: what the request asks, else the
    /// bucket's default, else none.
    pub(crate) async fn encryption_for(
        &self,
        caller: &crate::Caller,
        b: &nomuck_meta::Bucket,
        access: &crate::auth::BucketAccess,
        key: &str,
        asked: Option<&SseRequest>,
    ) -> Result<Option<NewEncryption>, StorageError> {
        match requested(access, asked) {
            Some(req) => self
                .new_encryption(caller, &b.name, key, &req)
                .await
                .map(Some),
            None => Ok(None),
        }
    }

    /// A fresh data key for an object (or upload) `bucket`/`key` written by
    /// `caller`, sealed as `req` asks.
    pub(crate) async fn new_encryption(
        &self,
        caller: &crate::Caller,
        bucket: &str,
        key: &str,
        req: &SseRequest,
    ) -> Result<NewEncryption, StorageError> {
        let (sealed, info, dk) = match req {
            SseRequest::S3 { bucket_key } => {
                let dk = random_key();
                let sealed = Sealed {
                    alg: AES256.into(),
                    dk: wrap(self.s3_kek()?, AES256, &dk),
                    kms_key: None,
                    ctx: None,
                    bk: *bucket_key,
                    bkey: None,
                    c_md5: None,
                    c_salt: None,
                    c_mac: None,
                };
                (
                    sealed,
                    SseInfo::S3 {
                        bucket_key: *bucket_key,
                    },
                    dk,
                )
            }
            SseRequest::Customer(ck) => {
                self.check_customer_transport(caller)?;
                let dk = random_key();
                let mut salt = [0u8; 16];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
                let sealed = Sealed {
                    alg: SSE_C.into(),
                    dk: wrap(&ck.key, SSE_C, &dk),
                    kms_key: None,
                    ctx: None,
                    bk: false,
                    bkey: None,
                    c_md5: Some(ck.md5.clone()),
                    c_salt: Some(B64.encode(salt)),
                    c_mac: Some(B64.encode(*customer_mac(&salt, &ck.key))),
                };
                let info = SseInfo::Customer {
                    key_md5: ck.md5.clone(),
                };
                (sealed, info, dk)
            }
            SseRequest::Kms {
                key_id,
                context,
                bucket_key: true,
            } => {
                let account = caller.account_id.as_deref().unwrap_or_default();
                let ctx = bucket_context(bucket, context);
                let bk = self
                    .bucket_key_for_write(account, bucket, key_id.as_deref(), &ctx)
                    .await?;
                let dk = random_key();
                let sealed = Sealed {
                    alg: AWS_KMS.into(),
                    dk: wrap(&bk.plaintext, BUCKET_KEY_MODE, &dk),
                    kms_key: Some(bk.key_arn.clone()),
                    ctx: Some(ctx.clone()),
                    bk: true,
                    bkey: Some(B64.encode(&bk.ciphertext)),
                    c_md5: None,
                    c_salt: None,
                    c_mac: None,
                };
                let info = SseInfo::Kms {
                    key_id: bk.key_arn,
                    bucket_key: true,
                    context: ctx,
                };
                (sealed, info, dk)
            }
            SseRequest::Kms {
                key_id,
                context,
                bucket_key,
            } => {
                let account = caller.account_id.as_deref().unwrap_or_default();
                let ctx = object_context(bucket, key, context);
                let made = self
                    .key_manager()?
                    .generate_data_key(account, key_id.as_deref(), &ctx)
                    .await
                    .map_err(kms_error)?;
                let sealed = Sealed {
                    alg: AWS_KMS.into(),
                    dk: B64.encode(&made.ciphertext),
                    kms_key: Some(made.key_arn.clone()),
                    ctx: Some(ctx.clone()),
                    bk: *bucket_key,
                    bkey: None,
                    c_md5: None,
                    c_salt: None,
                    c_mac: None,
                };
                let info = SseInfo::Kms {
                    key_id: made.key_arn,
                    bucket_key: *bucket_key,
                    context: ctx,
                };
                (sealed, info, made.plaintext)
            }
        };
        let doc = serde_json::to_string(&sealed)
            .map_err(|e| StorageError::Internal(format!("encoding encryption: {e}")))?;
        Ok(NewEncryption { doc, info, key: dk })
    }

    /// The bucket key writes of `account` to `bucket` under KMS key
    /// `key_id` use now: the current one, else a new one from the KMS.
    async fn bucket_key_for_write(
        &self,
        account: &str,
        bucket: &str,
        key_id: Option<&str>,
        ctx: &EncryptionContext,
    ) -> Result<bucket_key::WriteKey, StorageError> {
        let slot = bucket_key::WriteSlot::new(account, bucket, key_id, ctx);
        if let Some(k) = self.keys.bucket_keys.for_write(&slot) {
            return Ok(k);
        }
        let made = self
            .key_manager()?
            .generate_data_key(account, key_id, ctx)
            .await
            .map_err(kms_error)?;
        let key = bucket_key::WriteKey {
            plaintext: made.plaintext,
            ciphertext: made.ciphertext,
            key_arn: made.key_arn,
        };
        self.keys.bucket_keys.keep_for_write(slot, key.clone());
        Ok(key)
    }

    /// What a read needs of an object's encryption: with `body`, its data
    /// key; without (HEAD, GetObjectAttributes), only an SSE-C key is
    /// checked, and no KMS is asked, as S3.
    pub(crate) async fn read_key(
        &self,
        caller: &crate::Caller,
        doc: Option<&str>,
        customer: Option<&CustomerKey>,
        body: bool,
    ) -> Result<Option<DataKeyBytes>, StorageError> {
        let sse_c = matches!(info_of(doc), Some(SseInfo::Customer { .. }));
        if body || sse_c || customer.is_some() {
            self.open_encryption(caller, doc, customer).await
        } else {
            Ok(None)
        }
    }

    /// The data key of a stored object or upload (`None` when it is stored
    /// in plaintext), with S3's errors for a missing, wrong or needless
    /// customer key. `copy_source` picks the messages of a copy source.
    pub(crate) async fn open_encryption(
        &self,
        caller: &crate::Caller,
        doc: Option<&str>,
        customer: Option<&CustomerKey>,
    ) -> Result<Option<DataKeyBytes>, StorageError> {
        let Some(doc) = doc else {
            if customer.is_some() {
                return Err(StorageError::InvalidRequest(
                    "The encryption parameters are not applicable to this object.".into(),
                ));
            }
            return Ok(None);
        };
        let sealed = Sealed::parse(doc)?;
        let broken = || StorageError::Internal("a stored data key does not open".into());
        match sealed.alg.as_str() {
            SSE_C => {
                let Some(ck) = customer else {
                    return Err(StorageError::InvalidRequest(SSE_C_KEY_MISSING.into()));
                };
                self.check_customer_transport(caller)?;
                let salt = B64.decode(sealed.c_salt.as_deref().unwrap_or_default());
                let want = B64.decode(sealed.c_mac.as_deref().unwrap_or_default());
                let (Ok(salt), Ok(want)) = (salt, want) else {
                    return Err(broken());
                };
                let got = customer_mac(&salt, &ck.key);
                if !bool::from(subtle::ConstantTimeEq::ct_eq(
                    got.as_slice(),
                    want.as_slice(),
                )) {
                    return Err(StorageError::AccessDenied);
                }
                unwrap_key(&ck.key, SSE_C, &sealed.dk)
                    .map(Some)
                    .ok_or_else(broken)
            }
            _ if customer.is_some() => Err(StorageError::InvalidRequest(
                "The encryption parameters are not applicable to this object.".into(),
            )),
            AES256 => unwrap_key(self.s3_kek()?, AES256, &sealed.dk)
                .map(Some)
                .ok_or_else(broken),
            AWS_KMS if sealed.bkey.is_some() => {
                let account = caller.account_id.as_deref().unwrap_or_default();
                let ct = B64
                    .decode(sealed.bkey.as_deref().unwrap_or_default())
                    .map_err(|_| broken())?;
                let bucket_key = match self.keys.bucket_keys.for_read(account, &ct) {
                    Some(k) => k,
                    None => {
                        let (k, _) = self
                            .key_manager()?
                            .decrypt(account, &ct, &sealed.ctx.unwrap_or_default())
                            .await
                            .map_err(kms_error)?;
                        self.keys.bucket_keys.keep_for_read(account, &ct, k.clone());
                        k
                    }
                };
                unwrap_key(&bucket_key, BUCKET_KEY_MODE, &sealed.dk)
                    .map(Some)
                    .ok_or_else(broken)
            }
            AWS_KMS => {
                let account = caller.account_id.as_deref().unwrap_or_default();
                let ct = B64.decode(&sealed.dk).map_err(|_| broken())?;
                let (dk, _) = self
                    .key_manager()?
                    .decrypt(account, &ct, &sealed.ctx.unwrap_or_default())
                    .await
                    .map_err(kms_error)?;
                Ok(Some(dk))
            }
            other => Err(StorageError::Internal(format!(
                "unknown stored encryption {other:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_keys_open_only_with_their_kek_and_mode() {
        let dk = [3u8; 32];
        let w = wrap(&[1; 32], AES256, &dk);
        assert_eq!(*unwrap_key(&[1; 32], AES256, &w).unwrap(), dk);
        assert!(unwrap_key(&[2; 32], AES256, &w).is_none());
        assert!(unwrap_key(&[1; 32], SSE_C, &w).is_none());
        assert!(unwrap_key(&[1; 32], AES256, "not base64!").is_none());
        assert_ne!(w, wrap(&[1; 32], AES256, &dk), "nonces are random");
    }

    #[test]
    fn customer_keys_are_checked_as_s3_does() {
        let key = [9u8; 32];
        let kb = B64.encode(key);
        let mut h = nomuck_checksum::Md5Hasher::new();
        h.update(&key);
        let md5 = B64.encode(h.finalize());
        let ck = CustomerKey::parse("AES256", &kb, &md5).unwrap();
        assert_eq!(ck.key_md5(), md5);
        assert!(!format!("{ck:?}").contains(&kb));
        for (alg, k, m) in [
            ("AES128", kb.as_str(), md5.as_str()),
            ("AES256", "c2hvcnQ=", md5.as_str()),
            ("AES256", kb.as_str(), "AAAAAAAAAAAAAAAAAAAAAA=="),
        ] {
            let err = CustomerKey::parse(alg, k, m).unwrap_err();
            assert!(matches!(err, StorageError::InvalidArgument(_)));
            assert!(!err.to_string().contains(&kb));
        }
    }

    #[test]
    fn etags_of_opaque_objects_are_stable_and_not_the_md5() {
        let md5 = "d41d8cd98f00b204e9800998ecf8427e";
        let a = opaque_etag(&[1; 32], md5);
        assert_eq!(a, opaque_etag(&[1; 32], md5));
        assert_ne!(a, md5);
        assert_eq!(a.len(), 32);
    }
}
