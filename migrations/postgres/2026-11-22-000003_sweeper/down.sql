DROP INDEX queue_entries_leases;
DROP INDEX workflows_due;
ALTER TABLE workflows DROP COLUMN next_check_at;
