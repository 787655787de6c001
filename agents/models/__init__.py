"""Agent, prompt, tool, knowledge, run and review models (filled in by the builder issues)."""
