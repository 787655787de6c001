"""The OpenAI-compatible API: /v1/models and /v1/chat/completions over the department's agents."""

from django.urls import path

from . import views

urlpatterns = [
    path("models", views.ModelList.as_view(), name="api-openai-models"),
    # OpenAI's clients and SDKs differ on the final slash: both addresses answer alike.
    path("models/", views.ModelListSlash.as_view()),
    path("models/<str:model>", views.ModelDetail.as_view(), name="api-openai-model"),
    path("models/<str:model>/", views.ModelDetailSlash.as_view()),
    path("chat/completions", views.chat_completions, name="api-openai-chat-completions"),
]
