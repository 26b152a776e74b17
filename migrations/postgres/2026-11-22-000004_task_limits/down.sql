DROP INDEX tasks_in_progress;
DROP TABLE task_limits;
