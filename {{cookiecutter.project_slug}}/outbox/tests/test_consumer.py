"""once_per_intent: a task's effect happens once per intent (task id), however often it runs."""

import uuid

import pytest
from celery import shared_task

from orders.models import Order
from orders.tasks import send_order_confirmation
from outbox.consumer import once_per_intent
from outbox.models import ProcessedIntent

calls = []


@shared_task
@once_per_intent
def fails_the_first_time(key):
    calls.append(key)
    if calls.count(key) == 1:
        raise ConnectionError("the mail server hung up")
    return "done"


@pytest.fixture
def order(db):
    return Order.objects.create(email="buyer@example.com", item="Teapot", quantity=1)


def test_two_deliveries_of_one_intent_send_one_confirmation(order, mailoutbox):
    intent_id = str(uuid.uuid4())

    first = send_order_confirmation.apply(args=[order.pk], task_id=intent_id)
    second = send_order_confirmation.apply(args=[order.pk], task_id=intent_id)

    assert (first.result, second.result) == (True, None)
    assert len(mailoutbox) == 1
    assert ProcessedIntent.objects.get().intent_id == uuid.UUID(intent_id)


def test_two_intents_for_the_same_order_are_two_effects(order, mailoutbox):
    send_order_confirmation.apply(args=[order.pk])
    send_order_confirmation.apply(args=[order.pk])

    assert len(mailoutbox) == 2  # the guard is per intent, not per order


@pytest.mark.django_db
def test_a_failed_attempt_is_not_recorded_so_its_retry_runs():
    intent_id = str(uuid.uuid4())

    failed = fails_the_first_time.apply(args=["a"], task_id=intent_id)
    retried = fails_the_first_time.apply(args=["a"], task_id=intent_id)

    assert isinstance(failed.result, ConnectionError)
    assert retried.result == "done"
    assert ProcessedIntent.objects.filter(intent_id=intent_id).count() == 1


def test_a_plain_function_call_just_runs(order, mailoutbox):
    assert send_order_confirmation(order.pk) is True
    assert len(mailoutbox) == 1
    assert not ProcessedIntent.objects.exists()
