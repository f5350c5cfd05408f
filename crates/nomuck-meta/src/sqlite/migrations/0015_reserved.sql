-- Placeholder on the SSE branch only: number 15 belongs to the KMS branch,
-- whose migration replaces this file when the branches are merged.
SELECT 1;
