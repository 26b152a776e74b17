-- Each workflow runs on the definition it started with. It used to be stored in every
-- workflow row's body and rewritten with every decision; now each distinct definition is
-- stored once, under the hash of its JSON, and rows name it. Rows written before keep the
-- definition in their body (no `definition_id`).
CREATE TABLE definition_snapshots (
    id   TEXT PRIMARY KEY NOT NULL,
    body TEXT NOT NULL
);
ALTER TABLE workflows ADD COLUMN definition_id TEXT;
