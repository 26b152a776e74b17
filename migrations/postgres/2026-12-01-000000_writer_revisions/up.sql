-- The writer keeps running workflows in memory between decisions. `revision` counts the
-- writes to a workflow's row: an update names the revision it was decided on and changes
-- nothing when another writer (another server) got there first, so a stale copy can never
-- overwrite newer state. Task rows have had a revision since 2026-11-22.
ALTER TABLE workflows ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
-- Which workflow a queued task belongs to, so a claim finds the task in the writer's memory
-- without reading its row. NULL for entries queued before this column existed.
ALTER TABLE queue_entries ADD COLUMN workflow_id TEXT;
