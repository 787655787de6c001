"""The OpenAPI schema and its docs page, both without a key.

- ``schema_view`` (/api/v1/schema/): YAML, or JSON with ``?format=json``;
- ``docs_view`` (/api/v1/docs/): Swagger UI from our own static files (drf-spectacular-sidecar). Its script
  comes from ``?script`` on the same URL, so the page has no inline script and the
  Content-Security-Policy holds.
"""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

# Importing the schema module registers the API key's security scheme; the error component is
# re-exported for views that document their own responses.
from .schema import ApiErrorSerializer

__all__ = ["ApiErrorSerializer", "docs_view", "schema_view"]


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema: YAML, or JSON with ``?format=json`` (or ``Accept: application/vnd.oai.openapi+json``)."""

    authentication_classes: list = []


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI over the schema; its script comes from ``?script`` on the same URL (no inline script)."""

    authentication_classes: list = []
    url_name = "api-schema"


schema_view = SchemaView.as_view()
docs_view = DocsView.as_view()
