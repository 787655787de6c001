"""Prompt templates: typed variables, placeholder checks, rendering and previews."""
