"""enqueue(): an intent is part of the caller's transaction, checked as it is written."""

import re
from decimal import Decimal

import pytest
from celery.app.routes import prepare
from celery.exceptions import QueueNotFound
from django.db import transaction
from django.db.transaction import TransactionManagementError

from background.base import PayloadTooLarge
from outbox.enqueue import INSERT_AND_NOTIFY, enqueue
from outbox.models import Intent

from .tasks import send_note


@pytest.mark.django_db
def test_an_intent_records_the_task_its_arguments_and_its_route():
    with transaction.atomic():
        intent = enqueue(send_note, "buyer@example.com")

    intent.refresh_from_db()
    assert intent.task_name == "outbox.tests.tasks.send_note"
    assert (intent.args, intent.kwargs) == (["buyer@example.com"], {})
    assert intent.queue == "default"  # CELERY_TASK_ROUTES names no other
    assert (intent.status, intent.attempts) == (Intent.Status.PENDING, 0)


def test_the_insert_writes_every_column_of_the_model():
    # enqueue() writes its row with SQL of its own: a field added to Intent must be
    # added there too.
    columns = re.search(r"INSERT INTO outbox_intent \(([^)]*)\)", INSERT_AND_NOTIFY)[1]
    written = {column.strip() for column in columns.split(",")}

    assert written == {field.column for field in Intent._meta.concrete_fields}


@pytest.mark.django_db
def test_the_returned_intent_is_the_saved_row():
    with transaction.atomic():
        intent = enqueue(send_note, "buyer@example.com")

    saved = Intent.objects.get()
    fields = [field.attname for field in Intent._meta.concrete_fields]
    assert [getattr(intent, f) for f in fields] == [getattr(saved, f) for f in fields]
    intent.attempts = 1
    intent.save()  # an update of that row, not a second insert
    assert Intent.objects.get().attempts == 1


@pytest.mark.django_db
def test_the_task_method_writes_the_same_intent():
    with transaction.atomic():
        intent = send_note.delay_in_outbox(recipient="buyer@example.com")

    intent.refresh_from_db()
    assert intent.task_name == "outbox.tests.tasks.send_note"
    assert (intent.args, intent.kwargs) == ([], {"recipient": "buyer@example.com"})
    assert intent.status == Intent.Status.PENDING


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_leaves_no_intent():
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            enqueue(send_note, "buyer@example.com")
            raise RuntimeError("payment declined after the intent was written")

    assert not Intent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_enqueue_outside_a_transaction_is_refused():
    with pytest.raises(TransactionManagementError):
        enqueue(send_note, "buyer@example.com")
    assert not Intent.objects.exists()


@pytest.mark.django_db
def test_mistakes_fail_in_the_caller_not_later_in_the_relay(monkeypatch):
    with transaction.atomic(), pytest.raises(TypeError):
        enqueue(send_note, Decimal("9.90"))  # not JSON: pass an id instead
    with transaction.atomic(), pytest.raises(PayloadTooLarge):
        enqueue(send_note, "x" * 300_000)  # as apply_async refuses it: pass an id instead

    # As if CELERY_TASK_ROUTES sent the task to a queue missing from CELERY_TASK_QUEUES.
    router = send_note.app.amqp.router
    monkeypatch.setattr(router, "routes", prepare([{send_note.name: {"queue": "nowhere"}}]))
    with transaction.atomic(), pytest.raises(QueueNotFound):
        enqueue(send_note, "buyer@example.com")
    assert not Intent.objects.exists()
