"""The project's default task class: retries with backoff, outcome hooks, enqueue on commit.

Every task gets it (config/celery_app.py passes it as `task_cls`), so a task author
declares only what is specific to the task: which errors are transient.

    @shared_task(autoretry_for=(requests.ConnectionError,))
    def fetch(url): ...

https://docs.celeryq.dev/en/stable/userguide/tasks.html#automatic-retry-for-known-exceptions
"""

import json
import logging
import math
import random

from celery.contrib.django.task import DjangoTask
from django.db import InterfaceError, OperationalError

from .signals import task_failed_for_good, task_succeeded

logger = logging.getLogger(__name__)

# The database being unreachable (restarting, failing over, out of connections) is
# transient for any task: its transaction did not commit, so trying again later is
# safe. A task that declares its own transient errors adds these to them.
DATABASE_ERRORS = (OperationalError, InterfaceError)


class PayloadTooLarge(ValueError):
    """A task's arguments are too big to travel through the broker."""


class BaseTask(DjangoTask):
    """Retry transient errors with growing, jittered delays; report outcomes once.

    It extends Celery's DjangoTask, which provides `delay_on_commit()`: sending a task
    from inside a transaction that later rolls back would otherwise run it on data
    that never existed.
    """

    # Retries for the errors a task lists in `autoretry_for`: 5 retries, after about 5,
    # 10, 20, 40 and 80 s. A task that allows more retries waits at most 10 minutes (plus
    # jitter) between them. Other errors are permanent and fail at once.
    # https://docs.celeryq.dev/en/stable/userguide/tasks.html#Task.retry_backoff
    autoretry_for = DATABASE_ERRORS
    retry_backoff = 5
    retry_backoff_max = 600
    max_retries = 5
    # Celery's own jitter picks any delay between 0 and the backoff, so two attempts may
    # come back to back. retry() below spreads each delay by up to a quarter instead:
    # tasks that failed together still come back apart, and delays still grow.
    retry_jitter = False
    jitter_fraction = 0.25

    # Arguments travel through the broker in every message and every retry. Past this
    # size, pass an id (or a file's path) and let the task load the data instead.
    max_payload_bytes = 256 * 1024

    def check_payload(self, args, kwargs):
        size = len(json.dumps([args, kwargs], default=str))
        if size > self.max_payload_bytes:
            raise PayloadTooLarge(
                f"{self.name}'s arguments are {size} bytes, over {self.max_payload_bytes}: "
                "pass an id and let the task load the data"
            )

    def apply_async(self, args=None, kwargs=None, *more, **options):
        self.check_payload(args, kwargs)
        return super().apply_async(args, kwargs, *more, **options)

    def delay_on_commit(self, *args, **kwargs):
        # Check now, at the call site, not at commit time when the caller is gone.
        self.check_payload(args, kwargs)
        return super().delay_on_commit(*args, **kwargs)

    def backoff_delay(self, retries=None):
        """Seconds to wait before retry number `retries` (default: the next one).

        For tasks that retry by hand: `raise self.retry(countdown=self.backoff_delay())`.
        """
        if retries is None:
            retries = self.request.retries
        return min(self.retry_backoff_max, self.retry_backoff * 2**retries)

    def retry(self, *args, countdown=None, **kwargs):
        if countdown is not None:
            spread = countdown * random.uniform(1, 1 + self.jitter_fraction)
            # Whole seconds, at least one: RabbitMQ quorum queues delay messages in
            # whole-second steps, and refuse a countdown between 0 and 1.
            countdown = max(1, math.ceil(spread))
        return super().retry(*args, countdown=countdown, **kwargs)

    def on_success(self, retval, task_id, args, kwargs):
        task_succeeded.send_robust(
            sender=type(self), task=self, task_id=task_id, args=args, kwargs=kwargs, retval=retval
        )

    def on_retry(self, exc, task_id, args, kwargs, einfo):
        logger.warning(
            "Retrying after %s: %s (retry %d of %d)",
            type(exc).__name__,
            exc,
            self.request.retries + 1,
            self.max_retries,
        )

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # Celery calls this only when the task has failed for good: a retry goes to
        # on_retry instead. So a notification sent from here is sent once per task.
        logger.error("Failed for good: %s: %s", type(exc).__name__, exc, exc_info=exc)
        # send_robust: a receiver that raises is logged by Django, not let loose here.
        task_failed_for_good.send_robust(
            sender=type(self),
            task=self,
            task_id=task_id,
            args=args,
            kwargs=kwargs,
            exc=exc,
            einfo=einfo,
        )
