DROP INDEX tasks_by_workflow;
CREATE INDEX tasks_by_workflow ON tasks (workflow_id, seq, task_id, revision);
