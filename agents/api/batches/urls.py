"""/api/v1/batches/: batch jobs of the calling key (included by agents/api/urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("batches/", views.BatchJobList.as_view(), name="api-batch-list"),
    path("batches/<int:pk>/", views.BatchJobDetail.as_view(), name="api-batch-detail"),
    path("batches/<int:pk>/results", views.BatchJobResults.as_view(), name="api-batch-results"),
    path("batches/<int:pk>/pause", views.BatchJobPause.as_view(), name="api-batch-pause"),
    path("batches/<int:pk>/resume", views.BatchJobResume.as_view(), name="api-batch-resume"),
    path("batches/<int:pk>/cancel", views.BatchJobCancel.as_view(), name="api-batch-cancel"),
]
