-- Billing (see nomuck-meta's billing.rs): the rater's cursor over the usage
-- meter, per-day sums of rated usage, compute runs' running time, the frozen
-- bills of closed months, and where an account wants its report written.

-- One row: the last usage seq rated and the last month closed ('YYYY-MM').
CREATE TABLE billing_state (
    id             INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    cursor         INTEGER NOT NULL,
    closed_through TEXT
) STRICT;
INSERT INTO billing_state (id, cursor, closed_through) VALUES (1, 0, NULL);

-- Per account, UTC day (days since 1970-01-01) and meter: the sum of the rated
-- quantities, and sum(quantity * (end of day - at)) in unit-milliseconds as a
-- decimal string (an i128: a terabyte for a day overflows 64 bits).
CREATE TABLE billing_days (
    account_id TEXT    NOT NULL,
    day        INTEGER NOT NULL,
    service    TEXT    NOT NULL,
    meter      TEXT    NOT NULL,
    unit       TEXT    NOT NULL,
    quantity   INTEGER NOT NULL,
    partial    TEXT    NOT NULL,
    PRIMARY KEY (account_id, day, service, meter)
) STRICT, WITHOUT ROWID;

-- One instance run (from going running to leaving it): seconds metered so far.
CREATE TABLE billing_runs (
    run_key    TEXT    NOT NULL PRIMARY KEY,
    account_id TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    seconds    INTEGER NOT NULL
) STRICT;

-- A closed month's bill of one account, as the domain serialized it; never rewritten.
CREATE TABLE billing_closed (
    account_id TEXT NOT NULL,
    month      TEXT NOT NULL,
    body       BLOB NOT NULL,
    PRIMARY KEY (account_id, month)
) STRICT;

-- The bucket an account's cost and usage report is written to, and the last
-- UTC day written.
CREATE TABLE billing_report_buckets (
    account_id   TEXT NOT NULL PRIMARY KEY,
    bucket       TEXT NOT NULL,
    written_day  INTEGER
) STRICT;
