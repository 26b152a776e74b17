-- Every write to a task row bumps its revision, so a server holding a workflow's tasks in
-- memory can tell which ones changed (a poll, another server) and reload only those.
ALTER TABLE tasks ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
