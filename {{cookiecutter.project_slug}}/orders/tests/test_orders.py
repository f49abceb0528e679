"""Placing an order: the order and its confirmation intent, written together."""

import pytest
from django.test import Client

from orders.models import Order
from outbox.models import Intent


@pytest.mark.django_db
def test_placing_an_order_writes_it_with_its_confirmation_intent(client):
    response = client.post(
        "/orders/", {"email": "buyer@example.com", "item": "Teapot", "quantity": 2}
    )

    order = Order.objects.get()
    assert response.status_code == 302 and response.url == f"/orders/{order.pk}/"
    intent = Intent.objects.get()
    assert (intent.task_name, intent.args) == ("orders.tasks.send_order_confirmation", [order.pk])
    page = client.get(response.url).content.decode()
    assert "is on its way" in page


@pytest.mark.django_db
def test_a_form_with_errors_writes_nothing(client):
    response = client.post("/orders/", {"email": "not an address", "item": "Teapot", "quantity": 1})

    assert response.status_code == 200
    assert not Order.objects.exists() and not Intent.objects.exists()


@pytest.mark.django_db
def test_an_order_is_shown_only_to_the_session_that_placed_it(client):
    response = client.post("/orders/", {"email": "buyer@example.com", "item": "Pen", "quantity": 1})

    assert Client().get(response.url).status_code == 404
