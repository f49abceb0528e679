"""The user export: built on the bulk queue, reports progress, cleans up after itself."""

import csv

import pytest
from celery.exceptions import QueueNotFound, SoftTimeLimitExceeded
from django.contrib.auth import get_user_model

from examples.reports import exports
from examples.reports.tasks import build_signup_export, summarise_signups


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_writes_the_export(celery_worker):
    for number in range(3):
        get_user_model().objects.create_user(f"user{number}")

    result = build_signup_export.delay()

    assert result.get(timeout=30) == {"rows": 3}
    assert result.state == "SUCCESS"
    with exports.export_path(result.id).open() as file:
        assert len(list(csv.reader(file))) == 4  # a header and three users


@pytest.mark.django_db
def test_an_export_cut_short_by_its_time_limit_leaves_no_file(monkeypatch):
    get_user_model().objects.create_user("someone")
    get_user_model().objects.create_user("someone else")
    monkeypatch.setattr(exports, "USERS_PER_BATCH", 1)  # report progress after each row

    def time_is_up(done, total):
        raise SoftTimeLimitExceeded()

    with pytest.raises(SoftTimeLimitExceeded):
        exports.write_signup_export("cut-short", time_is_up)

    assert list(exports.export_path("cut-short").parent.iterdir()) == []


def test_exports_are_routed_to_the_bulk_queue(celery_app):
    route = celery_app.amqp.router.route({}, build_signup_export.name)

    assert route["queue"].name == "bulk"


def test_sending_to_an_undeclared_queue_is_an_error_not_a_new_queue():
    with pytest.raises(QueueNotFound):
        summarise_signups.apply_async((7,), queue="nowhere")
