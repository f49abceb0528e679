"""once_per_intent: a task's effect happens once per intent (task id), however often it runs."""

import uuid

import pytest
from celery import shared_task

from outbox.consumer import once_per_intent
from outbox.models import ProcessedIntent

from .tasks import send_note

calls = []


@shared_task
@once_per_intent
def fails_the_first_time(key):
    calls.append(key)
    if calls.count(key) == 1:
        raise ConnectionError("the mail server hung up")
    return "done"


@pytest.mark.django_db
def test_two_deliveries_of_one_intent_have_one_effect(mailoutbox):
    intent_id = str(uuid.uuid4())

    first = send_note.apply(args=["buyer@example.com"], task_id=intent_id)
    second = send_note.apply(args=["buyer@example.com"], task_id=intent_id)

    assert (first.result, second.result) == (True, None)
    assert len(mailoutbox) == 1
    assert ProcessedIntent.objects.get().intent_id == uuid.UUID(intent_id)


@pytest.mark.django_db
def test_two_intents_with_the_same_arguments_are_two_effects(mailoutbox):
    send_note.apply(args=["buyer@example.com"])
    send_note.apply(args=["buyer@example.com"])

    assert len(mailoutbox) == 2  # the guard is per intent, not per argument


@pytest.mark.django_db
def test_a_failed_attempt_is_not_recorded_so_its_retry_runs():
    intent_id = str(uuid.uuid4())

    failed = fails_the_first_time.apply(args=["a"], task_id=intent_id)
    retried = fails_the_first_time.apply(args=["a"], task_id=intent_id)

    assert isinstance(failed.result, ConnectionError)
    assert retried.result == "done"
    assert ProcessedIntent.objects.filter(intent_id=intent_id).count() == 1


@pytest.mark.django_db
def test_a_plain_function_call_just_runs(mailoutbox):
    assert send_note("buyer@example.com") is True
    assert len(mailoutbox) == 1
    assert not ProcessedIntent.objects.exists()
