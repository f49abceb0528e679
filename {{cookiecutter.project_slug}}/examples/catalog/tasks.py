"""Catalog imports as a workflow of small tasks.

Lessons: chain steps instead of one long task, retry only transient errors, limit the
rate of calls to another service, put a time limit on anything that waits on a network,
run independent parts in parallel and combine them with a chord, and never wait for
another task's result inside a task.
"""

import logging

import requests
from celery import chain, chord, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from . import services
from .models import Supplier

logger = logging.getLogger(__name__)

# Errors after which the same request may succeed later (the base task adds database
# errors). Everything else (BadFeed, a bug) fails at once: retrying a 404 five times
# only delays the bad news.
TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    services.FeedUnavailable,
)


class FeedTooSlow(services.BadFeed):
    """The download outlived the task's soft time limit."""


@shared_task(
    autoretry_for=TRANSIENT_ERRORS,
    # Suppliers allow 5 requests a second; rate_limit holds each worker to that.
    # https://docs.celeryq.dev/en/stable/userguide/tasks.html#Task.rate_limit
    rate_limit="5/s",
    # The soft limit raises SoftTimeLimitExceeded in the task after 30 s; the hard limit
    # kills the worker process at 45 s if the task ignores it.
    # https://docs.celeryq.dev/en/stable/userguide/workers.html#time-limits
    soft_time_limit=30,
    time_limit=45,
    acks_late=True,  # downloading twice is harmless
    bind=True,
)
def fetch_feed(self, supplier_id):
    """Download a supplier's feed. Step 1 of the import."""
    try:
        return services.fetch_feed(supplier_id)
    except services.RateLimited as error:
        # A retry by hand: the supplier said how long to wait, so wait at least that
        # long, and never less than the usual backoff.
        raise self.retry(
            exc=error, countdown=max(error.retry_after, self.backoff_delay())
        ) from error
    except SoftTimeLimitExceeded:
        # A server that trickles bytes never trips requests' timeouts. Stop here, with
        # an error that says what happened, instead of holding a worker for an hour.
        logger.warning("Gave up on the feed of supplier %s: too slow", supplier_id)
        raise FeedTooSlow(f"the feed of supplier {supplier_id} took too long") from None


# The feed travels from one step to the next inside messages. Up to a few thousand
# products that is fine; past 4 MiB, save the download to storage and pass its path.
FEED_MAX_BYTES = 4 * 1024 * 1024


@shared_task(max_payload_bytes=FEED_MAX_BYTES)
def parse_feed(feed):
    """Check and normalise the feed's rows. Step 2."""
    return services.parse_feed(feed)


@shared_task(acks_late=True, max_payload_bytes=FEED_MAX_BYTES)
def store_products(rows, supplier_id, run_id):
    """Write the rows in one transaction. Step 3; safe to repeat (update_or_create)."""
    return services.store_products(rows, supplier_id, run_id)


@shared_task
def mark_import_failed(request, exc, traceback, run_id):
    """Called by Celery when any step of an import fails for good."""
    services.mark_failed(run_id, f"{type(exc).__name__}: {exc}")


def import_workflow(supplier_id, run_id):
    """fetch → parse → store, each step's result the next one's first argument.

    No step waits for another: calling .get() on a result inside a task can deadlock
    the worker (all its processes waiting for tasks that have no process left to run
    on), so Celery refuses it. A chain passes results along instead.
    https://docs.celeryq.dev/en/stable/userguide/tasks.html#avoid-launching-synchronous-subtasks
    """
    return chain(
        fetch_feed.s(supplier_id),
        parse_feed.s(),
        store_products.s(supplier_id, run_id),
    ).on_error(mark_import_failed.s(run_id))


@shared_task(ignore_result=False, autoretry_for=TRANSIENT_ERRORS, rate_limit="5/s")
def count_feed_items(supplier_id):
    """One supplier's number of products. Stores its result: the chord collects it."""
    feed = services.fetch_feed(supplier_id)
    return {"supplier_id": supplier_id, "items": len(services.parse_feed(feed))}


@shared_task
def record_survey(counts):
    """The chord's callback: runs once, with the results of every count_feed_items."""
    return services.record_survey(counts).id


@shared_task
def survey_feeds():
    """Count every supplier's products in parallel, then record the totals.

    A chord is a group of tasks that run in parallel plus a callback that receives all
    their results, once all have finished. The group's tasks must store their results
    (ignore_result=False), since that is where the callback's input comes from.
    https://docs.celeryq.dev/en/stable/userguide/canvas.html#chords
    """
    supplier_ids = list(Supplier.objects.values_list("pk", flat=True))
    chord(count_feed_items.s(supplier_id) for supplier_id in supplier_ids)(record_survey.s())
