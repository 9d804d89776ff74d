"""Backups of the whole database and restore drills that prove they restore."""
