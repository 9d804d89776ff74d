"""The audit trail: one record for every mutation."""
