"""Long-running operations, run by the job runner."""
