"""Workspaces and API keys."""
