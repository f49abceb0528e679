"""Send an alert through every configured channel, to check they reach people."""

from django.core.management.base import BaseCommand

from alerts import channels
from alerts.messages import Alert


class Command(BaseCommand):
    help = "Send a test alert to the admins' e-mail and the webhook, if one is set."

    def handle(self, *args, **options):
        alert = Alert(
            kind="test-alert",
            title="Test alert",
            body="If you can read this, failure alerts reach you.",
        )
        # A test alert is always sent: it must not be held back by the throttle.
        for channel in channels.channels():
            channel(alert)
            self.stdout.write(f"sent via {channel.__name__}")
