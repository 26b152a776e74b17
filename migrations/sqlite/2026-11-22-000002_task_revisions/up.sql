-- Every write to a task row bumps its revision, so a server holding a workflow's tasks in
-- memory can tell which ones changed (a poll, another server) and reload only those.
ALTER TABLE tasks ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
-- Covering, so reading a workflow's (task_id, revision) pairs touches only index pages, not
-- every task's row.
DROP INDEX tasks_by_workflow;
CREATE INDEX tasks_by_workflow ON tasks (workflow_id, seq, task_id, revision);
