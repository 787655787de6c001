"""Running agents for API keys: the REST "run an agent" endpoint, and what the OpenAI-compatible
endpoint shares with it (async views outside DRF, the run in its own thread, the run as the key sees it)."""
