"""Placing an order: the order and its confirmation intent, written together."""

import uuid

import pytest
from django.db import transaction
from django.test import Client

from examples.orders.models import Order
from examples.orders.services import place_order
from examples.orders.tasks import send_order_confirmation
from outbox.models import Intent


@pytest.mark.django_db
def test_placing_an_order_writes_it_with_its_confirmation_intent(client):
    response = client.post(
        "/examples/orders/", {"email": "buyer@example.com", "item": "Teapot", "quantity": 2}
    )

    order = Order.objects.get()
    assert response.status_code == 302 and response.url == f"/examples/orders/{order.pk}/"
    intent = Intent.objects.get()
    assert (intent.task_name, intent.args) == (
        "examples.orders.tasks.send_order_confirmation",
        [order.pk],
    )
    page = client.get(response.url).content.decode()
    assert "is on its way" in page


@pytest.mark.django_db
def test_a_form_with_errors_writes_nothing(client):
    response = client.post(
        "/examples/orders/", {"email": "not an address", "item": "Teapot", "quantity": 1}
    )

    assert response.status_code == 200
    assert not Order.objects.exists() and not Intent.objects.exists()


@pytest.mark.django_db
def test_an_order_is_shown_only_to_the_session_that_placed_it(client):
    response = client.post(
        "/examples/orders/", {"email": "buyer@example.com", "item": "Pen", "quantity": 1}
    )

    assert Client().get(response.url).status_code == 404


@pytest.mark.django_db
def test_two_deliveries_of_one_intent_send_one_confirmation(mailoutbox):
    order = Order.objects.create(email="buyer@example.com", item="Teapot", quantity=1)
    intent_id = str(uuid.uuid4())

    first = send_order_confirmation.apply(args=[order.pk], task_id=intent_id)
    second = send_order_confirmation.apply(args=[order.pk], task_id=intent_id)

    assert (first.result, second.result) == (True, None)
    assert len(mailoutbox) == 1
    order.refresh_from_db()
    assert order.confirmation_sent_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_order_leaves_no_intent():
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            place_order("buyer@example.com", "Teapot", 1)
            raise RuntimeError("payment declined after the order was written")

    assert not Order.objects.exists()
    assert not Intent.objects.exists()
