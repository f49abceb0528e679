from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self):
        from . import receivers  # noqa: F401  (connects to Celery's task_failure)
