"""The transactional outbox: every watchable change is an event row with a cursor."""
