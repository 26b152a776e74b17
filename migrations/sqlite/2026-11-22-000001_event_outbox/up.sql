-- The event outbox: messages EVENT tasks publish, written in the decision's transaction.
-- A `conductor:` queue lives here; other sinks are relayed from here by their publisher.
CREATE TABLE event_messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_name   TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_time BIGINT NOT NULL
);
CREATE INDEX event_messages_by_queue ON event_messages (queue_name, id);
