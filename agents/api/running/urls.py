"""Running agents over the REST API (included at /api/v1/ by agents/api/urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("agents/<str:identifier>/runs", views.agent_run, name="api-agent-run"),
]
