-- Object store: buckets, object versions, multipart uploads, blob garbage queue.
-- Keys are TEXT compared with the default BINARY collation (memcmp), which for
-- UTF-8 is S3's listing order.

CREATE TABLE buckets (
    name       TEXT    NOT NULL PRIMARY KEY,
    owner      TEXT    NOT NULL,
    region     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    versioning TEXT    NOT NULL CHECK (versioning IN ('Unversioned', 'Enabled', 'Suspended'))
) STRICT, WITHOUT ROWID;

CREATE INDEX buckets_by_owner ON buckets (owner, name);

-- Generic per-bucket documents (policy, CORS, lifecycle, website, ...) by kind.
CREATE TABLE bucket_configs (
    bucket TEXT NOT NULL REFERENCES buckets (name) ON DELETE CASCADE,
    kind   TEXT NOT NULL,
    doc    BLOB NOT NULL,
    PRIMARY KEY (bucket, kind)
) STRICT, WITHOUT ROWID;

-- One row per object version. `id` orders versions (newest = largest) and is
-- never reused (AUTOINCREMENT), so it can key usage events.
CREATE TABLE objects (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket             TEXT    NOT NULL REFERENCES buckets (name),
    key                TEXT    NOT NULL,
    version_id         TEXT    NOT NULL,
    is_latest          INTEGER NOT NULL CHECK (is_latest IN (0, 1)),
    is_delete_marker   INTEGER NOT NULL CHECK (is_delete_marker IN (0, 1)),
    last_modified      INTEGER NOT NULL,
    owner              TEXT    NOT NULL,
    size               INTEGER NOT NULL,
    etag               TEXT    NOT NULL,
    storage_class      TEXT    NOT NULL,
    checksum_algorithm TEXT,
    checksum_value     TEXT,
    checksum_type      TEXT,
    -- JSON object of the stored response headers and user metadata.
    headers            TEXT    NOT NULL,
    -- JSON array of [key, value] pairs; NULL when untagged.
    tags               TEXT,
    -- 0: bytes in object_inline; 1: bytes in object_segments.
    data_kind          INTEGER NOT NULL CHECK (data_kind IN (0, 1))
) STRICT;

CREATE UNIQUE INDEX objects_by_version ON objects (bucket, key, version_id);
-- Listing of current objects walks this partial index in key order.
CREATE UNIQUE INDEX objects_latest ON objects (bucket, key) WHERE is_latest = 1;

-- Small objects' bytes, kept out of `objects` so its rows stay dense for listing.
CREATE TABLE object_inline (
    object_id INTEGER PRIMARY KEY REFERENCES objects (id) ON DELETE CASCADE,
    data      BLOB    NOT NULL
) STRICT;

CREATE TABLE object_segments (
    object_id     INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    idx           INTEGER NOT NULL,
    blob_id       TEXT    NOT NULL,
    blob_offset   INTEGER NOT NULL,
    len           INTEGER NOT NULL,
    part_number   INTEGER,
    part_etag     TEXT,
    part_checksum TEXT,
    PRIMARY KEY (object_id, idx)
) STRICT, WITHOUT ROWID;

CREATE INDEX object_segments_by_blob ON object_segments (blob_id);

CREATE TABLE uploads (
    upload_id          TEXT    NOT NULL PRIMARY KEY,
    bucket             TEXT    NOT NULL REFERENCES buckets (name),
    key                TEXT    NOT NULL,
    initiated          INTEGER NOT NULL,
    owner              TEXT    NOT NULL,
    storage_class      TEXT    NOT NULL,
    headers            TEXT    NOT NULL,
    checksum_algorithm TEXT,
    checksum_type      TEXT,
    tags               TEXT
) STRICT;

CREATE INDEX uploads_by_key ON uploads (bucket, key, upload_id);

CREATE TABLE upload_parts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    upload_id     TEXT    NOT NULL REFERENCES uploads (upload_id) ON DELETE CASCADE,
    part_number   INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    etag          TEXT    NOT NULL,
    checksum      TEXT,
    blob_id       TEXT    NOT NULL,
    last_modified INTEGER NOT NULL,
    UNIQUE (upload_id, part_number)
) STRICT;

CREATE INDEX upload_parts_by_blob ON upload_parts (blob_id);

-- Blobs freed by committed mutations, waiting for their files to be deleted.
-- Written in the same transaction that frees them, so nothing is lost in a crash.
CREATE TABLE gc_blobs (
    blob_id   TEXT    NOT NULL PRIMARY KEY,
    queued_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
