"""Alert the team when a task fails for good (not on each retry)."""

import logging

from django.dispatch import receiver

from background.signals import task_failed_for_good

from . import channels, messages

logger = logging.getLogger(__name__)


@receiver(task_failed_for_good)
def alert_on_final_failure(sender, task, task_id, args, kwargs, exc, einfo, **extra):
    try:
        channels.notify(messages.task_failure(task, task_id, args, kwargs, exc, einfo))
    except Exception:
        # Even a broken alert path (the cache is down, a bug here) must not turn one
        # failed task into a crashed worker.
        logger.exception("Could not send the alert for task %s", task_id)
