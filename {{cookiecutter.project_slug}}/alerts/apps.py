from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self):
        from . import receivers  # noqa: F401  (connects to task_failed_for_good)
