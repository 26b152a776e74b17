-- `idempotency_key`: a start request's idempotencyKey, unique per workflow name as its
-- idempotencyStrategy says (checked when a workflow is created, under an advisory lock).
-- `parent_workflow_id`: lets the sweeper find running sub-workflows whose parent has ended
-- (a server that died between the parent's commit and the child's termination).
ALTER TABLE workflows ADD COLUMN idempotency_key TEXT;
ALTER TABLE workflows ADD COLUMN parent_workflow_id TEXT;
UPDATE workflows SET idempotency_key = body::jsonb ->> 'idempotencyKey',
                     parent_workflow_id = body::jsonb ->> 'parentWorkflowId';
CREATE INDEX workflows_idempotency ON workflows (workflow_name, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX workflows_running_children ON workflows (parent_workflow_id)
    WHERE parent_workflow_id IS NOT NULL AND status IN ('RUNNING', 'PAUSED');
