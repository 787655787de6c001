"""The agent builder in the Django admin."""

from . import agents, catalog, knowledge, resources, runs  # noqa: F401  (registers the admin pages)
