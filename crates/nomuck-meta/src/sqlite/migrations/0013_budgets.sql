-- Budgets (see nomuck_meta::budgets): the API's own JSON documents keyed by
-- account and name, and the alerts already sent, one row per notification
-- and budget period, so a crossing is announced once.
CREATE TABLE budgets (
    account_id TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    body       BLOB    NOT NULL,
    PRIMARY KEY (account_id, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE budget_alerts (
    account_id   TEXT    NOT NULL,
    budget_name  TEXT    NOT NULL,
    notification TEXT    NOT NULL,
    period       TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (account_id, budget_name, notification, period)
) STRICT, WITHOUT ROWID;
