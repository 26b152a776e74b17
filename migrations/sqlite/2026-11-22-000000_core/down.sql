DROP TABLE poll_data;
DROP TABLE task_logs;
DROP TABLE queue_entries;
DROP TABLE tasks;
DROP TABLE workflows;
DROP TABLE workflow_defs;
DROP TABLE task_defs;
