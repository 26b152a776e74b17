DROP INDEX workflows_running_children;
DROP INDEX workflows_idempotency;
ALTER TABLE workflows DROP COLUMN parent_workflow_id;
ALTER TABLE workflows DROP COLUMN idempotency_key;
