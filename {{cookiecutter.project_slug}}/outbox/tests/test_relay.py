"""The relay, one pass at a time, against the real broker, with a real worker consuming."""

import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection, transaction
from kombu.exceptions import OperationalError

from background.testing import wait_until
from outbox.enqueue import enqueue
from outbox.models import Intent, ProcessedIntent

from .tasks import send_note


def note_to(recipient):
    """Write an intent, as a view would in the transaction of its change."""
    with transaction.atomic():
        return enqueue(send_note, recipient)


def an_app_whose_broker_is_down():
    """The project's Celery settings, but publishing to a port where nothing listens.

    broker_write_url, because Celery reads CELERY_BROKER_URL from the environment first.
    """
    down = Celery("broker-down", set_as_current=False)
    down.config_from_object("django.conf:settings", namespace="CELERY")
    parts = urlsplit(settings.CELERY_BROKER_URL)
    down.conf.broker_write_url = urlunsplit(parts._replace(netloc="127.0.0.1:9"))
    return down


@pytest.mark.django_db(transaction=True)
def test_pending_intents_are_published_marked_sent_and_run(celery_worker, make_relay, mailoutbox):
    recipients = [f"buyer{n}@example.com" for n in range(3)]
    for recipient in recipients:
        note_to(recipient)

    assert make_relay().relay_batch() == 3

    assert set(Intent.objects.values_list("status", flat=True)) == {Intent.Status.SENT}
    wait_until(lambda: ProcessedIntent.objects.count() == 3)
    assert sorted(mail.to[0] for mail in mailoutbox) == recipients


@pytest.mark.django_db(transaction=True)
def test_while_the_broker_is_down_intents_stay_pending_and_use_no_attempt(make_relay):
    note_to("buyer@example.com")
    relay = make_relay(an_app_whose_broker_is_down())

    with pytest.raises(OperationalError):
        relay.relay_batch()

    assert list(Intent.objects.values_list("status", "attempts")) == [(Intent.Status.PENDING, 0)]


@pytest.mark.django_db(transaction=True)
def test_an_intent_that_keeps_failing_dies_with_one_alert(
    make_relay, mailoutbox, fresh_alert_counters
):
    # Written before a deploy retired its queue: the relay cannot route it any more.
    intent = Intent.objects.create(
        task_name="outbox.tests.tasks.send_note", args=["a@example.com"], queue="retired"
    )
    relay = make_relay(max_attempts=2, retry_seconds=0)

    relay.relay_batch()
    intent.refresh_from_db()
    assert (intent.status, intent.attempts) == (Intent.Status.PENDING, 1)
    relay.relay_batch()
    intent.refresh_from_db()

    assert (intent.status, intent.attempts) == (Intent.Status.DEAD, 2)
    assert "QueueNotFound" in intent.last_error
    [alert] = mailoutbox
    assert "Outbox intent for outbox.tests.tasks.send_note is dead" in alert.subject
    assert str(intent.id) in alert.body
    relay.relay_batch()  # a dead intent is left alone: no second alert
    assert len(mailoutbox) == 1


@pytest.mark.django_db(transaction=True)
def test_an_intent_whose_task_is_not_registered_dies_at_once_with_its_alert(
    make_relay, mailoutbox, fresh_alert_counters
):
    # Written before a deploy renamed the task: no later attempt can find it.
    intent = Intent.objects.create(task_name="outbox.tests.tasks.renamed", queue="default")

    make_relay(max_attempts=5).relay_batch()
    intent.refresh_from_db()

    assert (intent.status, intent.attempts) == (Intent.Status.DEAD, 1)
    assert intent.last_error == "NotRegistered: 'outbox.tests.tasks.renamed'"
    [alert] = mailoutbox
    assert "Outbox intent for outbox.tests.tasks.renamed is dead" in alert.subject


@pytest.mark.django_db(transaction=True)
def test_a_relay_skips_intents_another_relay_holds(celery_worker, make_relay):
    held, free = (note_to(f"{name}@example.com") for name in ("held", "free"))
    holding, locked = threading.Event(), threading.Event()

    def another_relay():
        # A relay in the middle of its batch: the held order's intent is locked.
        with transaction.atomic():
            list(Intent.objects.select_for_update().filter(pk=held.pk))
            locked.set()
            holding.wait(10)
        connection.close()

    thread = threading.Thread(target=another_relay)
    thread.start()
    locked.wait(10)
    try:
        taken = make_relay().relay_batch()
    finally:
        holding.set()
        thread.join()

    assert taken == 1
    assert Intent.objects.get(pk=free.pk).status == Intent.Status.SENT
    assert Intent.objects.get(pk=held.pk).status == Intent.Status.PENDING
    wait_until(lambda: ProcessedIntent.objects.filter(intent_id=free.pk).exists())


@pytest.mark.django_db(transaction=True)
def test_a_committed_intent_wakes_a_waiting_relay_at_once(make_relay):
    relay = make_relay(poll_seconds=30)
    relay.listen()
    timer = threading.Timer(0.3, lambda: (note_to("b@example.com"), connection.close()))

    started = time.monotonic()
    timer.start()
    relay.wait_for_work(relay.poll_seconds)
    waited = time.monotonic() - started
    timer.join()

    assert waited < 5  # woken by the NOTIFY sent at the commit, not by the 30 s poll
