from django.apps import AppConfig


class BackgroundConfig(AppConfig):
    name = "background"

    def ready(self):
        from . import queues  # noqa: F401  (connects the worker_ready handler)
