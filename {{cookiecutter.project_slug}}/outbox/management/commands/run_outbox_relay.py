"""Run the outbox relay in the foreground until stopped (see outbox/relay.py)."""

from django.core.management.base import BaseCommand

from config.celery_app import app
from outbox.relay import Relay


class Command(BaseCommand):
    help = "Publish the outbox's pending intents to the broker, until SIGTERM or SIGINT."

    def handle(self, *args, **options):
        Relay.from_settings(app).run()
