ALTER TABLE tasks DROP COLUMN revision;
