from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("", views.request_report, name="request"),
    path("tasks/<uuid:task_id>/", views.task_status, name="task-status"),
    path("tasks/<uuid:task_id>/status/", views.task_status_json, name="task-status-json"),
    path("exports/", views.request_export, name="export"),
    path("exports/<uuid:export_id>/", views.export_progress, name="export-progress"),
    path("exports/<uuid:export_id>/status/", views.export_status_json, name="export-status-json"),
    path("exports/<uuid:export_id>/download/", views.export_download, name="export-download"),
]
