-- Limits per task type, honoured when tasks are polled: `concurrentExecLimit` (tasks
-- IN_PROGRESS at once) and `rateLimitPerFrequency` per `rateLimitFrequencyInSeconds` (a fixed
-- window, counted in window_start/window_count). Only task definitions with a limit have a
-- row, so a poll of an unlimited type costs one primary-key miss. On PostgreSQL the row is
-- also the lock that keeps servers from over-claiming together.
CREATE TABLE task_limits (
    name TEXT PRIMARY KEY NOT NULL,
    concurrent_exec_limit INTEGER NOT NULL,
    rate_per_frequency INTEGER NOT NULL,
    frequency_ms BIGINT NOT NULL,
    window_start BIGINT NOT NULL DEFAULT 0,
    window_count INTEGER NOT NULL DEFAULT 0
);
INSERT INTO task_limits (name, concurrent_exec_limit, rate_per_frequency, frequency_ms)
SELECT name,
       COALESCE(json_extract(body, '$.concurrentExecLimit'), 0),
       COALESCE(json_extract(body, '$.rateLimitPerFrequency'), 0),
       1000 * MAX(COALESCE(json_extract(body, '$.rateLimitFrequencyInSeconds'), 1), 1)
FROM task_defs
WHERE COALESCE(json_extract(body, '$.concurrentExecLimit'), 0) > 0
   OR COALESCE(json_extract(body, '$.rateLimitPerFrequency'), 0) > 0;
-- Counts a type's tasks IN_PROGRESS for its concurrentExecLimit.
CREATE INDEX tasks_in_progress ON tasks (task_type) WHERE status = 'IN_PROGRESS';
