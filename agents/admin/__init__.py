"""The agent builder in the Django admin."""

from . import agents, catalog, resources  # noqa: F401  (registers the admin pages)
