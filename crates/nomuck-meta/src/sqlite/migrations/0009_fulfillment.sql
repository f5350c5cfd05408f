-- Fulfillment: the inventory ledger and the item registry (see
-- nomuck_meta::fulfillment).
--
-- The ledger is per account: (account_id, seq) is the key and the cursor
-- (seq runs 1, 2, 3, … per account, assigned by the writer), and an
-- idempotency key is unique within its account. Plain columns, no JSON
-- document: entries are append-only, read in bulk by cursor, and every field
-- is compared when a key repeats.
CREATE TABLE fulfillment_ledger (
    account_id      TEXT    NOT NULL,
    seq             INTEGER NOT NULL CHECK (seq > 0),
    at              INTEGER NOT NULL,
    fn_sku          TEXT    NOT NULL,
    center_id       TEXT    NOT NULL,
    from_bucket     TEXT,
    to_bucket       TEXT,
    quantity        INTEGER NOT NULL CHECK (quantity > 0),
    reason          TEXT    NOT NULL,
    reference       TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    PRIMARY KEY (account_id, seq),
    UNIQUE (account_id, idempotency_key)
) STRICT, WITHOUT ROWID;

-- Items: a JSON document (the Rust record) beside the columns the database
-- enforces: seller SKU unique per account (the key and the list order),
-- fnSku unique across accounts.
CREATE TABLE fulfillment_items (
    account_id TEXT    NOT NULL,
    seller_sku TEXT    NOT NULL,
    fn_sku     TEXT    NOT NULL UNIQUE,
    generation INTEGER NOT NULL,
    doc        TEXT    NOT NULL,
    PRIMARY KEY (account_id, seller_sku)
) STRICT, WITHOUT ROWID;
