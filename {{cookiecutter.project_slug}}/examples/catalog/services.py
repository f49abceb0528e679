"""Fetching, checking and storing supplier feeds: the logic the tasks call."""

from decimal import Decimal, InvalidOperation

import requests
from django.db import transaction
from django.utils import timezone

from .models import FeedSurvey, ImportRun, Product, Supplier

# Give up on a feed that does not connect within 5 s or pauses for more than 20 s.
# A feed that trickles bytes forever passes both: the task's time limit catches that.
FEED_TIMEOUT = (5, 20)


class FeedUnavailable(Exception):
    """The supplier's server failed in a way that may pass: worth retrying later."""


class RateLimited(FeedUnavailable):
    """429 Too Many Requests: the supplier says how many seconds to wait."""

    def __init__(self, message, retry_after):
        super().__init__(message)
        self.retry_after = retry_after


def seconds_to_wait(retry_after_header):
    """The Retry-After header in seconds; 0 when absent or given as a date."""
    try:
        return max(0, int(retry_after_header or 0))
    except ValueError:
        return 0


class BadFeed(Exception):
    """The feed is wrong (refused, not JSON, invalid rows): retrying cannot help."""


def fetch_feed(supplier_id):
    """Download a supplier's feed and return it as parsed JSON.

    Raises FeedUnavailable for 429 and 5xx answers (and requests raises ConnectionError
    or Timeout): worth retrying. Raises BadFeed for other errors: not worth it.
    """
    supplier = Supplier.objects.get(pk=supplier_id)
    response = requests.get(supplier.feed_url, timeout=FEED_TIMEOUT)
    if response.status_code == 429:
        wait = seconds_to_wait(response.headers.get("Retry-After"))
        raise RateLimited(f"{supplier.feed_url} answered 429", retry_after=wait)
    if response.status_code >= 500:
        raise FeedUnavailable(f"{supplier.feed_url} answered {response.status_code}")
    if response.status_code != 200:
        raise BadFeed(f"{supplier.feed_url} answered {response.status_code}")
    try:
        return response.json()
    except ValueError as error:
        raise BadFeed(f"{supplier.feed_url} is not JSON: {error}") from error


def parse_feed(feed):
    """Check every row and return them normalised: [{'sku', 'name', 'price'}]."""
    try:
        rows = feed["products"]
    except (KeyError, TypeError) as error:
        raise BadFeed("the feed has no 'products' list") from error
    parsed = []
    for number, row in enumerate(rows, start=1):
        try:
            price = Decimal(str(row["price"]))
            parsed.append({"sku": str(row["sku"]), "name": str(row["name"]), "price": str(price)})
        except (KeyError, TypeError, InvalidOperation) as error:
            raise BadFeed(f"product {number} is invalid: {row!r}") from error
    return parsed


def store_products(rows, supplier_id, run_id):
    """Write every row, and the run's outcome, in one transaction.

    All the slow work (the download) is done before this starts, so the transaction is
    short. If any write fails, say row 900 of 1000, none of the rows are kept: the
    catalog never holds half of a feed.
    """
    with transaction.atomic():
        for row in rows:
            Product.objects.update_or_create(
                supplier_id=supplier_id,
                sku=row["sku"],
                defaults={"name": row["name"], "price": row["price"]},
            )
        ImportRun.objects.filter(pk=run_id).update(
            status=ImportRun.Status.SUCCEEDED,
            products_written=len(rows),
            finished_at=timezone.now(),
        )
    return len(rows)


def start_import(supplier):
    """Record an import run and start the import once that record is committed."""
    from .tasks import import_workflow

    with transaction.atomic():
        run = ImportRun.objects.create(supplier=supplier)
        transaction.on_commit(lambda: import_workflow(supplier.id, run.id).apply_async())
    return run


def mark_failed(run_id, error):
    ImportRun.objects.filter(pk=run_id).update(
        status=ImportRun.Status.FAILED, error=error, finished_at=timezone.now()
    )


def record_survey(counts):
    per_supplier = {str(count["supplier_id"]): count["items"] for count in counts}
    return FeedSurvey.objects.create(
        total_items=sum(per_supplier.values()), items_per_supplier=per_supplier
    )
