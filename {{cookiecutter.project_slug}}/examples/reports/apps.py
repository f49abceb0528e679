from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "examples.reports"
    welcome_links = [("Ask for a sign-up report and watch a worker build it", "reports:request")]
