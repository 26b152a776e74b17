-- Baton's durable core on SQLite. Documents are stored as Conductor JSON in `body`;
-- the other columns are the ones queries filter or sort on.

CREATE TABLE task_defs (
    name        TEXT PRIMARY KEY NOT NULL,
    body        TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE TABLE workflow_defs (
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE workflows (
    workflow_id      TEXT PRIMARY KEY NOT NULL,
    workflow_name    TEXT NOT NULL,
    workflow_version INTEGER NOT NULL,
    status           TEXT NOT NULL,
    correlation_id   TEXT,
    priority         INTEGER NOT NULL,
    start_time       BIGINT NOT NULL,
    update_time      BIGINT NOT NULL,
    end_time         BIGINT,
    body             TEXT NOT NULL
);
CREATE INDEX workflows_by_name_status ON workflows (workflow_name, status);
CREATE INDEX workflows_by_correlation ON workflows (correlation_id);
CREATE INDEX workflows_by_start_time ON workflows (start_time);

CREATE TABLE tasks (
    task_id             TEXT PRIMARY KEY NOT NULL,
    workflow_id         TEXT NOT NULL,
    seq                 INTEGER NOT NULL,
    task_type           TEXT NOT NULL,
    reference_task_name TEXT NOT NULL,
    status              TEXT NOT NULL,
    update_time         BIGINT NOT NULL,
    body                TEXT NOT NULL
);
CREATE INDEX tasks_by_workflow ON tasks (workflow_id, seq);

-- One row per task waiting in (or leased from) a task-type queue.
-- `visible_at` delays delivery (start delay, callbacks); a poll sets `leased_until` to now plus
-- `lease_ms` (the task's response timeout) and a hand-back clears it.
CREATE TABLE queue_entries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id      TEXT NOT NULL UNIQUE,
    queue_name   TEXT NOT NULL,
    priority     INTEGER NOT NULL,
    visible_at   BIGINT NOT NULL,
    lease_ms     BIGINT NOT NULL,
    leased_until BIGINT
);
CREATE INDEX queue_entries_ready ON queue_entries (queue_name, priority DESC, id) WHERE leased_until IS NULL;

CREATE TABLE task_logs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id      TEXT NOT NULL,
    log          TEXT NOT NULL,
    created_time BIGINT NOT NULL
);
CREATE INDEX task_logs_by_task ON task_logs (task_id, id);

CREATE TABLE poll_data (
    queue_name     TEXT NOT NULL,
    domain         TEXT NOT NULL,
    worker_id      TEXT,
    last_poll_time BIGINT NOT NULL,
    PRIMARY KEY (queue_name, domain)
);
