ALTER TABLE queue_entries RESET (fillfactor);
ALTER TABLE tasks RESET (fillfactor);
ALTER TABLE workflows RESET (fillfactor);
