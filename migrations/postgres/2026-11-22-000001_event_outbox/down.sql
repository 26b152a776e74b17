DROP TABLE event_messages;
