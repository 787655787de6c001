"""Building agents: validation, snapshots, publishing, rollback, diffs and catalog cloning."""
