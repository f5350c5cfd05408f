-- Which object version each completed multipart upload became, so a repeated
-- CompleteMultipartUpload (a client retrying after a lost reply) gets the same
-- answer again, as on S3. Goes away with the version.
CREATE TABLE completed_uploads (
    upload_id TEXT    NOT NULL PRIMARY KEY,
    object_id INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE
) STRICT;

CREATE INDEX completed_uploads_by_object ON completed_uploads (object_id);
