"""ASGI entry point (uvicorn in development and production): Django, and the MCP endpoint at /mcp."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_asgi_application()

from agents.api.mcp.asgi import with_mcp  # noqa: E402  (needs Django set up)

application = with_mcp(django_application)
