"""Catalog imports: a chain of tasks, one transaction for the writes, a chord survey."""

import pytest

from background.testing import wait_until
from examples.catalog import services
from examples.catalog.models import FeedSurvey, ImportRun, Product, Supplier
from examples.catalog.tasks import survey_feeds

FEED = {
    "products": [
        {"sku": "A1", "name": "Kettle", "price": "24.90"},
        {"sku": "B2", "name": "Teapot", "price": 18},
        {"sku": "C3", "name": "Mug", "price": "4.50"},
    ]
}


def finished(run):
    run.refresh_from_db()
    return run.status != ImportRun.Status.RUNNING


@pytest.mark.parametrize(
    ("header", "seconds"), [("30", 30), (None, 0), ("Wed, 21 Oct 2026 07:28:00 GMT", 0)]
)
def test_retry_after_is_read_as_seconds(header, seconds):
    assert services.seconds_to_wait(header) == seconds


def test_rows_are_checked_before_anything_is_written():
    with pytest.raises(services.BadFeed, match="product 2 is invalid"):
        services.parse_feed({"products": [{"sku": "A", "name": "x", "price": "1"}, {"sku": "B"}]})


@pytest.mark.django_db
def test_a_failing_write_leaves_no_partial_import():
    supplier = Supplier.objects.create(name="Acme", feed_url="http://127.0.0.1/")
    run = ImportRun.objects.create(supplier=supplier)
    rows = services.parse_feed(FEED)
    rows[1]["name"] = "x" * 500  # longer than the column: the second write fails

    with pytest.raises(Exception):  # noqa: B017 (the database's DataError)
        services.store_products(rows, supplier.id, run.id)

    assert not Product.objects.exists()
    run.refresh_from_db()
    assert run.status == ImportRun.Status.RUNNING


@pytest.mark.django_db(transaction=True)
def test_an_import_chain_fetches_parses_and_stores(celery_worker, feed_server):
    supplier = Supplier.objects.create(name="Acme", feed_url=feed_server.serve_json("/acme", FEED))

    run = services.start_import(supplier)

    wait_until(lambda: finished(run))
    assert run.status == ImportRun.Status.SUCCEEDED
    assert run.products_written == 3
    assert set(Product.objects.values_list("sku", flat=True)) == {"A1", "B2", "C3"}


@pytest.mark.django_db(transaction=True)
def test_a_refused_feed_fails_the_import_without_retrying(celery_worker, feed_server):
    supplier = Supplier.objects.create(name="Gone", feed_url=feed_server.url("/gone"))

    run = services.start_import(supplier)

    wait_until(lambda: finished(run))
    assert run.status == ImportRun.Status.FAILED
    assert "404" in run.error
    assert feed_server.requests["/gone"] == 1
    assert not Product.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_chord_counts_every_feed_in_parallel_then_records_the_total(celery_worker, feed_server):
    first = Supplier.objects.create(name="One", feed_url=feed_server.serve_json("/one", FEED))
    second = Supplier.objects.create(
        name="Two", feed_url=feed_server.serve_json("/two", {"products": FEED["products"][:1]})
    )

    survey_feeds.delay()

    survey = wait_until(lambda: FeedSurvey.objects.first())
    assert survey.total_items == 4
    assert survey.items_per_supplier == {str(first.id): 3, str(second.id): 1}
