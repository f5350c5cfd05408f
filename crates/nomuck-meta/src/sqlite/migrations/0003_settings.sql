-- Small server-wide values (e.g. sealed root keys, feature flags).
CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;
