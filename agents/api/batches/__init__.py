"""REST resources for batch jobs."""
