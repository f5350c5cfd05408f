-- Access control lists of object versions and of uploads (which pass theirs to
-- the object they become). A JSON document the storage engine owns; NULL means
-- the owner's private ACL.
ALTER TABLE objects ADD COLUMN acl TEXT;
ALTER TABLE uploads ADD COLUMN acl TEXT;
