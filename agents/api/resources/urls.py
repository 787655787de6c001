"""/api/v1/: agents, runs, conversations, knowledge bases and documents, usage."""

from django.urls import path

from . import views

urlpatterns = [
    path("agents/", views.AgentList.as_view(), name="api-agent-list"),
    path("agents/<str:identifier>/", views.AgentDetail.as_view(), name="api-agent-detail"),
    path("runs/", views.RunList.as_view(), name="api-run-list"),
    path("runs/<int:pk>/", views.RunDetail.as_view(), name="api-run-detail"),
    path("conversations/", views.ConversationList.as_view(), name="api-conversation-list"),
    path("conversations/<int:pk>/", views.ConversationDetail.as_view(), name="api-conversation-detail"),
    path("knowledge-bases/", views.KnowledgeBaseList.as_view(), name="api-knowledge-base-list"),
    path(
        "knowledge-bases/<int:pk>/documents/",
        views.KnowledgeBaseDocuments.as_view(),
        name="api-knowledge-base-documents",
    ),
    path("documents/<int:pk>/", views.DocumentDetail.as_view(), name="api-document-detail"),
    path("usage/", views.Usage.as_view(), name="api-usage"),
]
