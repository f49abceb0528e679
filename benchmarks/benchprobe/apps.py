from django.apps import AppConfig


class BenchProbeConfig(AppConfig):
    name = "benchprobe"
    verbose_name = "Benchmark probe"

    def ready(self):
        from . import probe

        probe.connect()
