//! AWS KMS's API (AWS JSON 1.1, `X-Amz-Target: TrentService.<Op>`, credential
//! scope `kms`) over the built-in KMS (`nomuck-kms`), so `aws kms` and boto3's
//! kms client work unchanged.
//!
//! Built: CreateKey, DescribeKey, ListKeys, Create/Update/Delete/ListAliases,
//! Enable/DisableKey, Schedule/CancelKeyDeletion, Encrypt, Decrypt,
//! GenerateDataKey, GenerateDataKeyWithoutPlaintext, ReEncrypt,
//! Enable/DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand,
//! Get/Put/ListKeyPolicies, Tag/Untag/ListResourceTags. Only symmetric
//! `SYMMETRIC_DEFAULT` keys from `AWS_KMS` material exist: any other key
//! spec, usage, origin, custom key store, multi-Region key, grant token,
//! Nitro `Recipient` or `DryRun` is refused (`UnsupportedOperationException`
//! or `ValidationException`), never ignored. Blobs are base64 on the wire;
//! timestamps are epoch seconds.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use nomuck_http::json::{self, JsonError, JsonOperations, JsonReply};
use nomuck_http::{Principal, RequestContext};
use nomuck_kms::{EncryptionContext, KeyMetadata, Kms, KmsError, NewKey};
use serde::Deserialize;
use serde_json::{Value, json};

fn invalid(message: impl Into<String>) -> JsonError {
    JsonError::client("ValidationException", message)
}

fn unsupported(message: impl Into<String>) -> JsonError {
    JsonError::client("UnsupportedOperationException", message)
}

fn kms_error(e: KmsError) -> JsonError {
    if e.is_client_error() {
        JsonError::client(e.code(), e.to_string())
    } else {
        JsonError::internal(e.code(), e.to_string())
    }
}

fn required<T>(name: &str, v: Option<T>) -> Result<T, JsonError> {
    v.ok_or_else(|| {
        invalid(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(name)
        ))
    })
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn blob(name: &str, v: Option<&str>) -> Result<Vec<u8>, JsonError> {
    let text = required(name, v)?;
    B64.decode(text).map_err(|_| {
        JsonError::client(
            "SerializationException",
            format!("{name} is not valid base64"),
        )
    })
}

/// Epoch seconds, as AWS JSON protocols send timestamps.
fn seconds(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

fn metadata(m: &KeyMetadata) -> Value {
    let mut v = json!({
        "AWSAccountId": m.account_id,
        "KeyId": m.key_id,
        "Arn": m.arn,
        "CreationDate": seconds(m.created_at),
        "Enabled": m.enabled,
        "Description": m.description,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": m.state.as_str(),
        "Origin": "AWS_KMS",
        "KeyManager": m.manager.as_str(),
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": false,
    });
    if let Some(d) = m.deletion_date {
        v["DeletionDate"] = seconds(d);
    }
    if let Some(w) = m.pending_window_days {
        v["PendingDeletionWindowInDays"] = json!(w);
    }
    v
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    tag_key: Option<String>,
    tag_value: Option<String>,
}

fn tags(list: Vec<Tag>) -> Result<Vec<(String, String)>, JsonError> {
    list.into_iter()
        .map(|t| {
            Ok((
                required("TagKey", t.tag_key)?,
                required("TagValue", t.tag_value)?,
            ))
        })
        .collect()
}

/// Members every cryptographic request may carry and nomuck cannot honour.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CryptoExtras {
    #[serde(default)]
    grant_tokens: Vec<String>,
    recipient: Option<Value>,
    dry_run: Option<bool>,
    encryption_algorithm: Option<String>,
}

impl CryptoExtras {
    fn check(&self) -> Result<(), JsonError> {
        if !self.grant_tokens.is_empty() {
            return Err(unsupported(
                "grants are not supported: GrantTokens must be empty",
            ));
        }
        if self.recipient.is_some() {
            return Err(unsupported("Recipient (Nitro Enclaves) is not supported"));
        }
        if self.dry_run == Some(true) {
            return Err(unsupported("DryRun is not supported"));
        }
        algorithm(self.encryption_algorithm.as_deref())
    }
}

fn algorithm(a: Option<&str>) -> Result<(), JsonError> {
    match a {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        Some("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE") => Err(JsonError::client(
            "InvalidKeyUsageException",
            "only SYMMETRIC_DEFAULT applies to a symmetric key",
        )),
        Some(other) => Err(invalid(format!(
            "Value '{other}' at 'encryptionAlgorithm' failed to satisfy constraint"
        ))),
    }
}

fn limit(v: Option<i64>) -> Result<usize, JsonError> {
    match v {
        None => Ok(100),
        Some(n @ 1..=1000) => Ok(usize::try_from(n).unwrap_or(100)),
        Some(n) => Err(invalid(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000"
        ))),
    }
}

fn page(v: &mut Value, next: Option<String>) {
    v["Truncated"] = json!(next.is_some());
    if let Some(m) = next {
        v["NextMarker"] = json!(m);
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Req {
    key_id: Option<String>,
    description: Option<String>,
    policy: Option<String>,
    policy_name: Option<String>,
    key_usage: Option<String>,
    key_spec: Option<String>,
    customer_master_key_spec: Option<String>,
    origin: Option<String>,
    custom_key_store_id: Option<String>,
    multi_region: Option<bool>,
    xks_key_id: Option<String>,
    tags: Option<Vec<Tag>>,
    tag_keys: Option<Vec<String>>,
    limit: Option<i64>,
    marker: Option<String>,
    alias_name: Option<String>,
    target_key_id: Option<String>,
    pending_window_in_days: Option<i64>,
    rotation_period_in_days: Option<i64>,
    plaintext: Option<String>,
    ciphertext_blob: Option<String>,
    encryption_context: Option<EncryptionContext>,
    number_of_bytes: Option<i64>,
    source_encryption_context: Option<EncryptionContext>,
    destination_encryption_context: Option<EncryptionContext>,
    source_key_id: Option<String>,
    destination_key_id: Option<String>,
    source_encryption_algorithm: Option<String>,
    destination_encryption_algorithm: Option<String>,
    #[serde(flatten)]
    extras: CryptoExtras,
}

pub struct KmsApi {
    kms: Arc<Kms>,
}

impl KmsApi {
    pub fn new(kms: Arc<Kms>) -> Self {
        Self { kms }
    }

    async fn run(&self, caller: &str, op: &str, r: Req) -> Result<Value, JsonError> {
        let k = &self.kms;
        let key = || required("KeyId", r.key_id.clone());
        let context = || r.encryption_context.clone().unwrap_or_default();
        match op {
            "CreateKey" => {
                for (name, v, ok) in [
                    ("KeyUsage", &r.key_usage, "ENCRYPT_DECRYPT"),
                    ("KeySpec", &r.key_spec, "SYMMETRIC_DEFAULT"),
                    (
                        "CustomerMasterKeySpec",
                        &r.customer_master_key_spec,
                        "SYMMETRIC_DEFAULT",
                    ),
                    ("Origin", &r.origin, "AWS_KMS"),
                ] {
                    if let Some(v) = v.as_deref().filter(|v| *v != ok) {
                        return Err(unsupported(format!(
                            "{name} {v} is not supported: nomuck's KMS makes {ok} keys only"
                        )));
                    }
                }
                if r.custom_key_store_id.is_some() || r.xks_key_id.is_some() {
                    return Err(unsupported("custom key stores are not supported"));
                }
                if r.multi_region == Some(true) {
                    return Err(unsupported("multi-Region keys are not supported"));
                }
                let m = k
                    .create_key(
                        caller,
                        NewKey {
                            description: r.description.clone().unwrap_or_default(),
                            policy: r.policy.clone(),
                            tags: tags(r.tags.unwrap_or_default())?,
                        },
                    )
                    .await
                    .map_err(kms_error)?;
                Ok(json!({ "KeyMetadata": metadata(&m) }))
            }
            "DescribeKey" => {
                let m = k.describe_key(caller, &key()?).await.map_err(kms_error)?;
                Ok(json!({ "KeyMetadata": metadata(&m) }))
            }
            "ListKeys" => {
                let p = k
                    .list_keys(caller, r.marker.as_deref(), limit(r.limit)?)
                    .await
                    .map_err(kms_error)?;
                let keys: Vec<Value> = p
                    .items
                    .iter()
                    .map(|(id, arn)| json!({"KeyId": id, "KeyArn": arn}))
                    .collect();
                let mut v = json!({ "Keys": keys });
                page(&mut v, p.next_marker);
                Ok(v)
            }
            "EnableKey" => k
                .enable_key(caller, &key()?)
                .await
                .map(|_| json!({}))
                .map_err(kms_error),
            "DisableKey" => k
                .disable_key(caller, &key()?)
                .await
                .map(|_| json!({}))
                .map_err(kms_error),
            "ScheduleKeyDeletion" => {
                let days = match r.pending_window_in_days {
                    None => None,
                    Some(d) => Some(u32::try_from(d).map_err(|_| {
                        invalid(format!("PendingWindowInDays {d} is not between 7 and 30"))
                    })?),
                };
                let m = k
                    .schedule_key_deletion(caller, &key()?, days)
                    .await
                    .map_err(kms_error)?;
                Ok(json!({
                    "KeyId": m.arn,
                    "DeletionDate": seconds(m.deletion_date.unwrap_or_default()),
                    "KeyState": m.state.as_str(),
                    "PendingWindowInDays": m.pending_window_days,
                }))
            }
            "CancelKeyDeletion" => {
                let m = k
                    .cancel_key_deletion(caller, &key()?)
                    .await
                    .map_err(kms_error)?;
                Ok(json!({ "KeyId": m.arn }))
            }
            "CreateAlias" | "UpdateAlias" => {
                let name = required("AliasName", r.alias_name.clone())?;
                let target = required("TargetKeyId", r.target_key_id.clone())?;
                if op == "CreateAlias" {
                    k.create_alias(caller, &name, &target).await
                } else {
                    k.update_alias(caller, &name, &target).await
                }
                .map(|_| json!({}))
                .map_err(kms_error)
            }
            "DeleteAlias" => {
                let name = required("AliasName", r.alias_name.clone())?;
                k.delete_alias(caller, &name)
                    .await
                    .map(|_| json!({}))
                    .map_err(kms_error)
            }
            "ListAliases" => {
                let p = k
                    .list_aliases(
                        caller,
                        r.key_id.as_deref(),
                        r.marker.as_deref(),
                        limit(r.limit)?,
                    )
                    .await
                    .map_err(kms_error)?;
                let aliases: Vec<Value> = p
                    .items
                    .iter()
                    .map(|a| {
                        json!({
                            "AliasName": a.name,
                            "AliasArn": a.arn,
                            "TargetKeyId": a.target_key_id,
                            "CreationDate": seconds(a.created_at),
                            "LastUpdatedDate": seconds(a.updated_at),
                        })
                    })
                    .collect();
                let mut v = json!({ "Aliases": aliases });
                page(&mut v, p.next_marker);
                Ok(v)
            }
            "Encrypt" => {
                r.extras.check()?;
                let plaintext = blob("Plaintext", r.plaintext.as_deref())?;
                let s = k
                    .encrypt(caller, &key()?, &plaintext, &context())
                    .await
                    .map_err(kms_error)?;
                Ok(json!({
                    "CiphertextBlob": B64.encode(&s.ciphertext),
                    "KeyId": s.key_arn,
                    "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                }))
            }
            "Decrypt" => {
                r.extras.check()?;
                let ct = blob("CiphertextBlob", r.ciphertext_blob.as_deref())?;
                let o = k
                    .decrypt(caller, &ct, &context(), r.key_id.as_deref())
                    .await
                    .map_err(kms_error)?;
                Ok(json!({
                    "KeyId": o.key_arn,
                    "Plaintext": B64.encode(o.plaintext.as_slice()),
                    "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                }))
            }
            "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
                r.extras.check()?;
                let bytes = match (r.key_spec.as_deref(), r.number_of_bytes) {
                    (Some("AES_256"), None) => 32,
                    (Some("AES_128"), None) => 16,
                    (None, Some(n @ 1..=1024)) => usize::try_from(n).unwrap_or(32),
                    (None, Some(n)) => {
                        return Err(invalid(format!(
                            "1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"
                        )));
                    }
                    (Some(_), Some(_)) => {
                        return Err(invalid("Specify either KeySpec or NumberOfBytes, not both"));
                    }
                    (None, None) => {
                        return Err(invalid("Specify either KeySpec or NumberOfBytes"));
                    }
                    (Some(s), None) => {
                        return Err(invalid(format!(
                            "1 validation error detected: Value '{s}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
                        )));
                    }
                };
                let with = op == "GenerateDataKey";
                let d = k
                    .generate_data_key(caller, &key()?, bytes, &context(), with)
                    .await
                    .map_err(kms_error)?;
                let mut v = json!({
                    "CiphertextBlob": B64.encode(&d.ciphertext),
                    "KeyId": d.key_arn,
                });
                if with {
                    v["Plaintext"] = json!(B64.encode(d.plaintext.as_slice()));
                }
                Ok(v)
            }
            "ReEncrypt" => {
                r.extras.check()?;
                algorithm(r.source_encryption_algorithm.as_deref())?;
                algorithm(r.destination_encryption_algorithm.as_deref())?;
                let ct = blob("CiphertextBlob", r.ciphertext_blob.as_deref())?;
                let dest = required("DestinationKeyId", r.destination_key_id.clone())?;
                let out = k
                    .re_encrypt(
                        caller,
                        &ct,
                        &r.source_encryption_context.clone().unwrap_or_default(),
                        r.source_key_id.as_deref(),
                        &dest,
                        &r.destination_encryption_context.clone().unwrap_or_default(),
                    )
                    .await
                    .map_err(kms_error)?;
                Ok(json!({
                    "CiphertextBlob": B64.encode(&out.ciphertext),
                    "SourceKeyId": out.source_key_arn,
                    "KeyId": out.key_arn,
                    "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                    "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                }))
            }
            "EnableKeyRotation" => {
                let days = match r.rotation_period_in_days {
                    None => None,
                    Some(d) => Some(u32::try_from(d).map_err(|_| {
                        invalid(format!(
                            "RotationPeriodInDays {d} is not between 90 and 2560"
                        ))
                    })?),
                };
                k.enable_key_rotation(caller, &key()?, days)
                    .await
                    .map(|_| json!({}))
                    .map_err(kms_error)
            }
            "DisableKeyRotation" => k
                .disable_key_rotation(caller, &key()?)
                .await
                .map(|_| json!({}))
                .map_err(kms_error),
            "GetKeyRotationStatus" => {
                let s = k
                    .key_rotation_status(caller, &key()?)
                    .await
                    .map_err(kms_error)?;
                let mut v = json!({ "KeyRotationEnabled": s.enabled, "KeyId": s.key_id });
                if let Some(d) = s.period_days {
                    v["RotationPeriodInDays"] = json!(d);
                }
                if let Some(n) = s.next_rotation {
                    v["NextRotationDate"] = seconds(n);
                }
                Ok(v)
            }
            "RotateKeyOnDemand" => {
                let id = k
                    .rotate_key_on_demand(caller, &key()?)
                    .await
                    .map_err(kms_error)?;
                Ok(json!({ "KeyId": id }))
            }
            "GetKeyPolicy" => {
                let name = r.policy_name.clone().unwrap_or_else(|| "default".into());
                let p = k
                    .key_policy(caller, &key()?, &name)
                    .await
                    .map_err(kms_error)?;
                Ok(json!({ "Policy": p, "PolicyName": name }))
            }
            "PutKeyPolicy" => {
                let name = r.policy_name.clone().unwrap_or_else(|| "default".into());
                let policy = required("Policy", r.policy.clone())?;
                k.put_key_policy(caller, &key()?, &name, &policy)
                    .await
                    .map(|_| json!({}))
                    .map_err(kms_error)
            }
            "ListKeyPolicies" => {
                let names = k
                    .list_key_policies(caller, &key()?)
                    .await
                    .map_err(kms_error)?;
                Ok(json!({ "PolicyNames": names, "Truncated": false }))
            }
            "TagResource" => {
                let t = tags(required("Tags", r.tags)?)?;
                k.tag_resource(caller, &key()?, t)
                    .await
                    .map(|_| json!({}))
                    .map_err(kms_error)
            }
            "UntagResource" => {
                let keys = required("TagKeys", r.tag_keys.clone())?;
                k.untag_resource(caller, &key()?, keys)
                    .await
                    .map(|_| json!({}))
                    .map_err(kms_error)
            }
            "ListResourceTags" => {
                let t = k.resource_tags(caller, &key()?).await.map_err(kms_error)?;
                let list: Vec<Value> = t
                    .iter()
                    .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
                    .collect();
                Ok(json!({ "Tags": list, "Truncated": false }))
            }
            _ => Err(JsonError::client("UnknownOperationException", "")),
        }
    }
}

/// Operations this API serves (the rest are `UnknownOperationException`).
const OPERATIONS: &[&str] = &[
    "CreateKey",
    "DescribeKey",
    "ListKeys",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "Encrypt",
    "Decrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncrypt",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "GetKeyRotationStatus",
    "RotateKeyOnDemand",
    "GetKeyPolicy",
    "PutKeyPolicy",
    "ListKeyPolicies",
    "TagResource",
    "UntagResource",
    "ListResourceTags",
];

#[async_trait::async_trait]
impl JsonOperations for KmsApi {
    fn scope_names(&self) -> &'static [&'static str] {
        &["kms"]
    }

    fn target_prefix(&self) -> &'static str {
        "TrentService"
    }

    async fn call(
        &self,
        _ctx: &RequestContext,
        caller: &Principal,
        operation: &str,
        body: &[u8],
    ) -> Option<Result<JsonReply, JsonError>> {
        let name = *OPERATIONS.iter().find(|o| **o == operation)?;
        let req: Req = match json::parse(body) {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        let value = self.run(&caller.account_id, name, req).await;
        Some(value.and_then(|v| json::ok(name, &v)))
    }
}
