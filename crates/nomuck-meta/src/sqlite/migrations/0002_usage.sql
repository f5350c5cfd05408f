-- Append-only usage log for metering.
-- AUTOINCREMENT: seq must never be reused, even if the newest rows are later
-- pruned, because consumers page with `after_seq` cursors.
-- No FK to accounts: usage may be recorded for accounts not (or no longer) stored.
CREATE TABLE usage_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      TEXT    NOT NULL,
    service         TEXT    NOT NULL,
    meter           TEXT    NOT NULL,
    quantity        INTEGER NOT NULL,
    unit            TEXT    NOT NULL,
    at              INTEGER NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE
) STRICT;

CREATE INDEX usage_by_account ON usage_events (account_id, seq);
CREATE INDEX usage_by_time ON usage_events (at);
