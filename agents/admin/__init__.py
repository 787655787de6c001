"""The agent builder in the Django admin."""
