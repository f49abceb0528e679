"""The user export: built on the bulk queue, reports progress, cleans up after itself."""

import csv
import os
import uuid
from datetime import timedelta

import pytest
from celery.exceptions import QueueNotFound, SoftTimeLimitExceeded
from celery.result import AsyncResult
from django.contrib.auth import get_user_model
from django.utils import timezone

from background.testing import wait_until
from examples.reports import exports
from examples.reports.models import Export
from examples.reports.tasks import build_signup_export, delete_old_exports, summarise_signups


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_writes_the_export(celery_worker):
    for number in range(3):
        get_user_model().objects.create_user(f"user{number}")
    export = Export.objects.create(user=get_user_model().objects.first())

    build_signup_export.delay(str(export.id))

    wait_until(lambda: Export.objects.get().status == Export.Status.DONE)
    export.refresh_from_db()
    assert export.rows == 3
    with exports.export_path(export.id).open() as file:
        assert len(list(csv.reader(file))) == 4  # a header and three users
    # The last progress the page saw, stored under the export's id.
    assert AsyncResult(str(export.id)).info == {"done": 3, "total": 3}


@pytest.mark.django_db
def test_a_second_delivery_of_a_finished_export_does_nothing():
    user = get_user_model().objects.create_user("someone")
    export = Export.objects.create(user=user, status=Export.Status.DONE, rows=7)

    assert build_signup_export.apply(args=[str(export.id)]).result is None

    export.refresh_from_db()
    assert export.rows == 7 and not exports.export_path(export.id).exists()


@pytest.mark.parametrize("export_id", ["x/../../outside", "../signups", "", "1"])
def test_an_export_path_is_a_uuid_inside_the_exports_folder(export_id):
    # The file name never comes from a message's task id, and a non-UUID is refused.
    with pytest.raises(ValueError):
        exports.export_path(export_id)


@pytest.mark.django_db
def test_old_exports_and_their_files_are_deleted(settings):
    user = get_user_model().objects.create_user("someone")
    old, new = (Export.objects.create(user=user, status=Export.Status.DONE) for _ in "on")
    day_ago = timezone.now() - exports.KEEP_FOR - timedelta(minutes=1)
    Export.objects.filter(pk=old.pk).update(created_at=day_ago)
    for export in (old, new):
        exports.export_path(export.id).parent.mkdir(parents=True, exist_ok=True)
        exports.export_path(export.id).write_text("id,username\n")
    os.utime(exports.export_path(old.id), (day_ago.timestamp(), day_ago.timestamp()))

    assert delete_old_exports() == 1

    assert list(Export.objects.all()) == [new]
    assert not exports.export_path(old.id).exists() and exports.export_path(new.id).exists()


@pytest.mark.django_db
def test_an_export_cut_short_by_its_time_limit_leaves_no_file(monkeypatch):
    get_user_model().objects.create_user("someone")
    get_user_model().objects.create_user("someone else")
    monkeypatch.setattr(exports, "USERS_PER_BATCH", 1)  # report progress after each row

    def time_is_up(done, total):
        raise SoftTimeLimitExceeded()

    with pytest.raises(SoftTimeLimitExceeded):
        exports.write_signup_export(uuid.uuid4(), time_is_up)

    assert list(exports.exports_dir().iterdir()) == []


def test_exports_are_routed_to_the_bulk_queue(celery_app):
    route = celery_app.amqp.router.route({}, build_signup_export.name)

    assert route["queue"].name == "bulk"


def test_sending_to_an_undeclared_queue_is_an_error_not_a_new_queue():
    with pytest.raises(QueueNotFound):
        summarise_signups.apply_async((7,), queue="nowhere")
