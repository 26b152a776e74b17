ALTER TABLE workflows DROP COLUMN definition_id;
DROP TABLE definition_snapshots;
