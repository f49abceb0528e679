from django.apps import AppConfig


class BackgroundConfig(AppConfig):
    name = "background"

    def ready(self):
        # queues connects the worker_ready handler; system_checks registers the checks.
        from . import queues, system_checks  # noqa: F401
