-- Server-side encryption of each object version and multipart upload: a
-- document the storage engine encodes (algorithm, sealed data key, KMS key
-- and context, SSE-C key check). NULL: stored in plaintext, as before.
ALTER TABLE objects ADD COLUMN encryption TEXT;
ALTER TABLE uploads ADD COLUMN encryption TEXT;
