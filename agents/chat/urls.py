from django.urls import path

from . import views

app_name = "chat"
urlpatterns = [
    path("", views.workspace, name="workspace"),
    path("agents/<int:agent_id>/", views.agent_start, name="agent"),
    path("agents/<int:agent_id>/send/", views.send, name="send"),
    path("c/<int:conversation_id>/", views.conversation, name="conversation"),
    path("c/<int:conversation_id>/rename/", views.conversation_rename, name="conversation_rename"),
    path("c/<int:conversation_id>/delete/", views.conversation_delete, name="conversation_delete"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/turn/", views.run_turn, name="run_turn"),
    path("runs/<int:run_id>/stop/", views.run_stop, name="run_stop"),
    path("runs/<int:run_id>/regenerate/", views.regenerate, name="regenerate"),
    path("runs/<int:run_id>/rate/", views.run_rate, name="run_rate"),
    path("runs/<int:run_id>/edit/", views.run_edit, name="run_edit"),
    path("runs/<int:run_id>/docx/", views.run_docx, name="run_docx"),
    path("passages/<int:passage_id>/", views.passage, name="passage"),
    path("review/", views.review, name="review"),
    path("review/<int:run_id>/", views.review_item, name="review_item"),
    path("review/<int:run_id>/approved-answer/", views.review_correction, name="review_correction"),
]
