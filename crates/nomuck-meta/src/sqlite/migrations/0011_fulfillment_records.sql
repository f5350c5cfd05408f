-- Fulfillment's state machines and event stream (see nomuck_meta::fulfillment).
--
-- Records are the domain's own JSON documents; the table enforces the key,
-- the generation the writer compares, and indexes what the store is asked:
-- open records (loaded at start) and ids in order (listing pages).
CREATE TABLE fulfillment_docs (
    account_id TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    open       INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    body       BLOB    NOT NULL,
    PRIMARY KEY (account_id, kind, id)
) STRICT, WITHOUT ROWID;

CREATE INDEX fulfillment_docs_open ON fulfillment_docs (account_id, kind, id) WHERE open = 1;

-- One ordered stream per account; (account_id, seq) is the cursor.
CREATE TABLE fulfillment_events (
    account_id TEXT    NOT NULL,
    seq        INTEGER NOT NULL CHECK (seq > 0),
    at         INTEGER NOT NULL,
    event_type TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    PRIMARY KEY (account_id, seq)
) STRICT, WITHOUT ROWID;
