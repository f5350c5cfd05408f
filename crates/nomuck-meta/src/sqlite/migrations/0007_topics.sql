-- Notification topics (where an account's events are pushed: an HTTP
-- endpoint and the secret that signs each delivery) and the outbox of
-- deliveries. A delivery row is written in the same commit as the change
-- that caused its event, so an acknowledged change never loses its event.
CREATE TABLE topics (
    account_id    TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    push_endpoint TEXT    NOT NULL,
    secret_sealed BLOB    NOT NULL,
    -- Other attributes as given (JSON list of [name, value]).
    attributes    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
) STRICT;

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      TEXT    NOT NULL,
    topic           TEXT    NOT NULL,
    payload         BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- NULL once delivered or given up.
    next_attempt_at INTEGER,
    delivered_at    INTEGER,
    last_error      TEXT,
    FOREIGN KEY (account_id, topic) REFERENCES topics (account_id, name) ON DELETE CASCADE
) STRICT;

CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX deliveries_by_topic ON deliveries (account_id, topic);
