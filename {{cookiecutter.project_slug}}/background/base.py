"""The project's default task class: retries with backoff, whole-second delays, enqueue on commit.

Every task gets it (config/celery_app.py passes it as `task_cls`), so a task author
declares only what is specific to the task: which errors are transient.

    @shared_task(autoretry_for=(requests.ConnectionError,))
    def fetch(url): ...

https://docs.celeryq.dev/en/stable/userguide/tasks.html#automatic-retry-for-known-exceptions
"""

import functools
import json
import logging
import math
import random

from celery.contrib.django.task import DjangoTask
from celery.utils.time import maybe_iso8601, subtract_datetimes
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

# The database being unreachable (restarting, failing over, out of connections) is
# transient for any task: its transaction did not commit, so trying again later is
# safe. Every task retries these, whatever it lists in `autoretry_for`.
DATABASE_ERRORS = (OperationalError, InterfaceError)


class PayloadTooLarge(ValueError):
    """A task's arguments are too big to travel through the broker."""


class BaseTask(DjangoTask):
    """Retry transient errors with growing, jittered delays; log a final failure once.

    It extends Celery's DjangoTask, which provides `delay_on_commit()`: sending a task
    from inside a transaction that later rolls back would otherwise run it on data
    that never existed.
    """

    # Retries for DATABASE_ERRORS and the errors a task lists in `autoretry_for`: 5
    # retries, after about 5, 10, 20, 40 and 80 s. A task that allows more retries waits
    # at most 10 minutes (plus jitter) between them. Other errors fail at once.
    # https://docs.celeryq.dev/en/stable/userguide/tasks.html#Task.retry_backoff
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

    def __init__(self):
        super().__init__()
        # A task's `autoretry_for` option replaces the class attribute rather than adding
        # to it (celery/app/autoretry.py reads the decorator's options first), so the
        # database errors get a wrapper of their own. Celery then wraps `run` again for
        # the errors the task declares.
        self.run = self.retrying_database_errors(self.run)

    def retrying_database_errors(self, run):
        @functools.wraps(run)
        def run_retrying_database_errors(*args, **kwargs):
            try:
                return run(*args, **kwargs)
            except DATABASE_ERRORS as exc:
                raise self.retry(exc=exc, countdown=self.backoff_delay()) from exc

        return run_retrying_database_errors

    def check_payload(self, args, kwargs):
        size = len(json.dumps([args, kwargs], default=str))
        if size > self.max_payload_bytes:
            raise PayloadTooLarge(
                f"{self.name}'s arguments are {size} bytes, over {self.max_payload_bytes}: "
                "pass an id and let the task load the data"
            )

    def apply_async(self, args=None, kwargs=None, *more, **options):
        self.check_payload(args, kwargs)
        self.delay_in_whole_seconds(options)
        return super().apply_async(args, kwargs, *more, **options)

    def delay_in_whole_seconds(self, options):
        """Round a countdown, or an ETA, up to a whole number of seconds: at least one.

        On quorum queues Celery delays a message inside RabbitMQ by `int(countdown)`
        seconds, and kombu refuses 0: `apply_async(countdown=0.5)` would fail to send.
        An ETA becomes a countdown, since Celery turns it into one at a later moment.
        https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/rabbitmq.html#using-quorum-queues
        """
        if options.get("eta") is not None:
            ahead = subtract_datetimes(maybe_iso8601(options["eta"]), self.app.now())
            if ahead.total_seconds() > 0:
                options["countdown"] = ahead.total_seconds()
                del options["eta"]
        if options.get("countdown") and options["countdown"] > 0:
            options["countdown"] = math.ceil(options["countdown"])

    def delay_on_commit(self, *args, **kwargs):
        # Check now, at the call site, not at commit time when the caller is gone.
        self.check_payload(args, kwargs)
        return super().delay_on_commit(*args, **kwargs)

    def delay_in_outbox(self, *args, **kwargs):
        """Write this task to the transactional outbox, in the current transaction.

        The same as `outbox.enqueue.enqueue(task, *args, **kwargs)` (docs/outbox.md):
        it commits with the caller's rows, and the relay publishes it. Returns the Intent.
        """
        # Imported here: this class is loaded before Django's apps and models are ready.
        from outbox.enqueue import enqueue

        return enqueue(self, *args, **kwargs)

    def backoff_delay(self, retries=None):
        """Seconds to wait before retry number `retries` (default: the next one).

        For tasks that retry by hand: `raise self.retry(countdown=self.backoff_delay())`.
        """
        if retries is None:
            retries = self.request.retries
        return min(self.retry_backoff_max, self.retry_backoff * 2**retries)

    def retry(self, *args, countdown=None, **kwargs):
        # The retry is sent through apply_async(), which rounds the delay up.
        if countdown:
            countdown *= random.uniform(1, 1 + self.jitter_fraction)
        return super().retry(*args, countdown=countdown, **kwargs)

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
        # on_retry instead. Alerts connect to Celery's task_failure signal
        # (alerts/receivers.py), which a task overriding this hook cannot silence.
        logger.error("Failed for good: %s: %s", type(exc).__name__, exc, exc_info=exc)
