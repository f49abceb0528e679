"""Alert the team when a task fails for good (not on each retry).

Celery sends `task_failure` when a task will not run again: not for a retry, nor for
a task that raised Ignore or put its message back in the queue.
https://docs.celeryq.dev/en/stable/userguide/signals.html#task-failure
"""

import logging

from celery.signals import task_failure
from django.core.cache import cache

from . import channels, messages

logger = logging.getLogger(__name__)


@task_failure.connect
def alert_on_final_failure(sender, task_id, exception, args, kwargs, einfo, **extra):
    try:
        # Celery 5.7 sends it twice for a task killed by its hard time limit: from the
        # pool's failure callback, and from the timeout handler since celery/celery#10226.
        if not cache.add(f"alerts:failed:{task_id}", True, timeout=24 * 60 * 60):
            return
        channels.notify(messages.task_failure(sender, task_id, args, kwargs, exception, einfo))
    except Exception:
        # Even a broken alert path (the cache is down, a bug here) must not turn one
        # failed task into a crashed worker.
        logger.exception("Could not send the alert for task %s", task_id)
