-- A nullable column without a default: a catalog change, no table rewrite. It still takes an
-- ACCESS EXCLUSIVE lock for a moment, so the gate's lock budget bounds how long it may wait.
ALTER TABLE items ADD COLUMN IF NOT EXISTS note text;
