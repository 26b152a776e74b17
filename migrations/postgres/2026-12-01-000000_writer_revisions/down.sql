ALTER TABLE queue_entries DROP COLUMN workflow_id;
ALTER TABLE workflows DROP COLUMN revision;
