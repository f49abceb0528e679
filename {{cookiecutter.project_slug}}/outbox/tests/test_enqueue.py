"""enqueue(): an intent is part of the caller's transaction, checked as it is written."""

from decimal import Decimal

import pytest
from celery.app.routes import prepare
from celery.exceptions import QueueNotFound
from django.db import transaction
from django.db.transaction import TransactionManagementError

from orders.models import Order
from orders.services import place_order
from orders.tasks import send_order_confirmation
from outbox.enqueue import enqueue
from outbox.models import Intent


@pytest.mark.django_db
def test_an_intent_records_the_task_its_arguments_and_its_route():
    with transaction.atomic():
        intent = enqueue(send_order_confirmation, 7, note="gift")

    intent.refresh_from_db()
    assert intent.task_name == "orders.tasks.send_order_confirmation"
    assert (intent.args, intent.kwargs) == ([7], {"note": "gift"})
    assert intent.queue == "priority"  # CELERY_TASK_ROUTES
    assert (intent.status, intent.attempts) == (Intent.Status.PENDING, 0)


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_order_leaves_no_intent():
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            place_order("buyer@example.com", "Teapot", 1)
            raise RuntimeError("payment declined after the order was written")

    assert not Order.objects.exists()
    assert not Intent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_enqueue_outside_a_transaction_is_refused():
    with pytest.raises(TransactionManagementError):
        enqueue(send_order_confirmation, 1)
    assert not Intent.objects.exists()


@pytest.mark.django_db
def test_mistakes_fail_in_the_caller_not_later_in_the_relay(monkeypatch):
    with transaction.atomic(), pytest.raises(TypeError):
        enqueue(send_order_confirmation, Decimal("9.90"))  # not JSON: pass an id instead

    # As if CELERY_TASK_ROUTES sent the task to a queue missing from CELERY_TASK_QUEUES.
    router = send_order_confirmation.app.amqp.router
    routes = prepare([{send_order_confirmation.name: {"queue": "nowhere"}}])
    monkeypatch.setattr(router, "routes", routes)
    with transaction.atomic(), pytest.raises(QueueNotFound):
        enqueue(send_order_confirmation, 1)
