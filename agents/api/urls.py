"""/api/v1/: the REST API, its OpenAPI schema and its docs page."""

from django.urls import include, path

from .docs import docs_view, schema_view

urlpatterns = [
    path("schema/", schema_view, name="api-schema"),
    path("docs/", docs_view, name="api-docs"),
    path("", include("agents.api.resources.urls")),
    path("", include("agents.api.batches.urls")),
    path("", include("agents.api.running.urls")),
]
