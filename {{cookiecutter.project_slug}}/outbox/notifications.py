"""Tell the team when the relay gives an intent up: the task it stands for will not run.

The alert goes through the same channels and the same throttle as a task that failed for
good (alerts/): many intents of one task dying together send one alert, which counts
the others.
"""

import logging

from django.conf import settings
from django.utils import timezone

from alerts import channels
from alerts.messages import Alert, argument_lines

logger = logging.getLogger(__name__)


def intent_dead(intent):
    lines = [
        f"Task:      {intent.task_name}",
        f"Intent:    {intent.id} (the task id it would have run with)",
        f"Queue:     {intent.queue}",
        f"Written:   {timezone.localtime(intent.created_at):%Y-%m-%d %H:%M:%S %Z}",
        f"Attempts:  {intent.attempts}",
        f"Error:     {intent.last_error}",
        "",
        "The relay could not publish it and stopped trying; the task has not run.",
        "Fix the cause, then re-queue it from the admin:",
        f"{settings.SITE_URL.rstrip('/')}/admin/outbox/intent/?status__exact=dead",
    ]
    alert = Alert(
        kind=f"outbox-dead:{intent.task_name}",
        title=f"Outbox intent for {intent.task_name} is dead",
        body="\n".join(lines),
        arguments=argument_lines(intent.args, intent.kwargs),
    )
    try:
        channels.notify(alert)
    except Exception:
        # A broken alert path (the cache is down, a bug here) must not stop the relay.
        logger.exception("Could not send the alert for dead intent %s", intent.id)
