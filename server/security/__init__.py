"""Security inspections of the workspace and the deployment."""
