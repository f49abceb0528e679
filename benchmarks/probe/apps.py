from django.apps import AppConfig


class ProbeConfig(AppConfig):
    name = "probe"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import timing

        timing.connect()
