"""The OpenAI-compatible API: /v1/models and /v1/chat/completions over the department's agents."""

from django.urls import path

from . import views

urlpatterns = [
    path("models", views.ModelList.as_view(), name="api-openai-models"),
    path("models/<str:model>", views.ModelDetail.as_view(), name="api-openai-model"),
    path("chat/completions", views.chat_completions, name="api-openai-chat-completions"),
]
