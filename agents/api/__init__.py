"""The REST API (/api/v1/) and the OpenAI-compatible API (/v1/) for other systems, with department API keys."""
