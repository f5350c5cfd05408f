-- Fulfillment records move to a rowid table. As a WITHOUT ROWID table, each
-- record (a few KB of JSON) kept about 1 KB in a B-tree leaf at its key's
-- random place and the rest on an overflow page, so every new order dirtied
-- a random leaf, an overflow page and a page of the partial index of open
-- records, which no query used (records are loaded whole at start). In a
-- rowid table a record is appended at the end and rewritten in place; only
-- the small key index is touched at a random place. Measured on the order
-- intake's insert pattern: about 9 KB less WAL per order (33 -> 24 KB).
CREATE TABLE fulfillment_docs_new (
    account_id TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    open       INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    body       BLOB    NOT NULL,
    UNIQUE (account_id, kind, id)
) STRICT;

INSERT INTO fulfillment_docs_new (account_id, kind, id, open, updated_at, generation, body)
SELECT account_id, kind, id, open, updated_at, generation, body FROM fulfillment_docs
ORDER BY account_id, kind, id;

DROP INDEX fulfillment_docs_open;
DROP TABLE fulfillment_docs;
ALTER TABLE fulfillment_docs_new RENAME TO fulfillment_docs;
