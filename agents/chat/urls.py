from django.urls import path

from . import views

app_name = "chat"
urlpatterns = [
    path("", views.workspace, name="workspace"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("review/", views.review, name="review"),
    path("review/<int:run_id>/", views.review_item, name="review_item"),
]
