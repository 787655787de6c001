"""The agent builder in the Django admin."""

from . import agents, api_keys, approved, batches, catalog, evaluation, knowledge, mcp, resources, runs  # noqa: F401  (registers the admin pages)
