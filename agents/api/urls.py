"""/api/v1/: the REST API."""

from django.urls import include, path

urlpatterns = [
    path("", include("agents.api.resources.urls")),
    path("", include("agents.api.batches.urls")),
]
