-- Compute: instances, images, key pairs, security groups. Each record is a
-- JSON document (the Rust record, see nomuck_meta::compute) beside the
-- columns the database must index or enforce: ownership, uniqueness of
-- client tokens, private addresses and names, and the record's generation
-- (optimistic concurrency: a write names the generation it read).
CREATE TABLE compute_instances (
    id           TEXT    PRIMARY KEY,
    account_id   TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    -- 1 while the worker must look after it (see ComputeStore::active_instances).
    active       INTEGER NOT NULL,
    client_token TEXT,
    private_ip   TEXT    NOT NULL,
    generation   INTEGER NOT NULL,
    doc          TEXT    NOT NULL
) STRICT;
CREATE INDEX compute_instances_account ON compute_instances (account_id, id);
CREATE INDEX compute_instances_active ON compute_instances (id) WHERE active = 1;
CREATE INDEX compute_instances_token ON compute_instances (account_id, client_token)
    WHERE client_token IS NOT NULL;
-- A private address belongs to one instance of the account until it terminates.
CREATE UNIQUE INDEX compute_instances_ip ON compute_instances (account_id, private_ip)
    WHERE state <> 'terminated';

CREATE TABLE compute_images (
    id         TEXT    PRIMARY KEY,
    account_id TEXT    NOT NULL,
    generation INTEGER NOT NULL,
    doc        TEXT    NOT NULL
) STRICT;

CREATE TABLE compute_key_pairs (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    doc        TEXT NOT NULL,
    UNIQUE (account_id, name)
) STRICT;

CREATE TABLE compute_security_groups (
    id         TEXT    PRIMARY KEY,
    account_id TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    generation INTEGER NOT NULL,
    doc        TEXT    NOT NULL,
    UNIQUE (account_id, name)
) STRICT;
