from django.urls import path

from . import views

app_name = "chat"
urlpatterns = [
    path("", views.workspace, name="workspace"),
    path("review/", views.review, name="review"),
]
