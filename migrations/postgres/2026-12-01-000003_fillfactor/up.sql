-- Room on each page for a row's next version: an update that changes no indexed column can
-- then stay on its page (a HOT update) and skip every index. A workflow row is rewritten with
-- each decision, mostly without touching an indexed column; full pages forced every one of
-- those updates to add an entry to each of the table's eight indexes.
ALTER TABLE workflows SET (fillfactor = 70);
ALTER TABLE tasks SET (fillfactor = 80);
ALTER TABLE queue_entries SET (fillfactor = 80);
