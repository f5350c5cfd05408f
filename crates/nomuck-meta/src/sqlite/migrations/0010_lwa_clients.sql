-- Login-with-Amazon-style clients of accounts (SP-API token endpoint). The secret and
-- the refresh token are sealed like access-key secrets.
CREATE TABLE lwa_clients (
    client_id            TEXT    NOT NULL PRIMARY KEY,
    account_id           TEXT    NOT NULL REFERENCES accounts (id),
    secret_sealed        BLOB    NOT NULL,
    refresh_token_sealed BLOB    NOT NULL,
    created_at           INTEGER NOT NULL,
    revoked_at           INTEGER
) STRICT;

CREATE INDEX lwa_clients_by_account ON lwa_clients (account_id, created_at, client_id);
