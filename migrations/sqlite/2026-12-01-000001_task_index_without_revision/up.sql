-- The writer keeps workflows' tasks in memory and no longer scans their revisions on SQLite
-- (one process owns the file), while every task update bumps `revision`: an index that
-- covers it was rewritten on every update for nothing.
DROP INDEX tasks_by_workflow;
CREATE INDEX tasks_by_workflow ON tasks (workflow_id, seq);
