"""Declare every task queue, its exchange, and the dead-letter queue at the broker."""

from django.core.management.base import BaseCommand

from background.queues import dead_letter_queue, declare
from config.celery_app import app


class Command(BaseCommand):
    help = "Declare every task queue and the dead-letter queue (safe to run again)."

    def handle(self, *args, **options):
        queues = [*app.conf.task_queues, dead_letter_queue()]
        declare(app, queues)
        for queue in queues:
            self.stdout.write(f"declared {queue.name}")
