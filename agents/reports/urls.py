from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("", views.home, name="home"),
    path("departments/<int:department_id>/", views.department, name="department"),
    path("agents/<int:agent_id>/runs/", views.agent_runs, name="agent_runs"),
]
