-- KMS (see nomuck_meta::kms): keys as the domain's own documents (metadata,
-- policy and sealed key material) keyed by id, and aliases per account.
CREATE TABLE kms_keys (
    key_id     TEXT    NOT NULL PRIMARY KEY,
    account_id TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    body       BLOB    NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX kms_keys_by_account ON kms_keys (account_id, key_id);

CREATE TABLE kms_aliases (
    account_id TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    key_id     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
) STRICT, WITHOUT ROWID;

CREATE INDEX kms_aliases_by_key ON kms_aliases (key_id);
