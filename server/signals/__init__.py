"""Observability signals: samples of (service, name, value, labels, ts)."""
