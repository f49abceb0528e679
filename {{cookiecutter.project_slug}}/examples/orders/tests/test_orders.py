"""Placing an order: the order and its confirmation intent, written together, for the
signed-in user only."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client

from examples.orders.models import Order
from examples.orders.services import place_order
from examples.orders.tasks import send_order_confirmation
from outbox.models import Intent

PAGE = "/examples/orders/"


@pytest.fixture
def buyer(db):
    return get_user_model().objects.create_user("buyer", "buyer@example.com", "pw")


@pytest.fixture
def buyer_client(client, buyer):
    client.force_login(buyer)
    return client


def test_placing_an_order_writes_it_with_its_confirmation_intent(buyer_client, buyer):
    response = buyer_client.post(PAGE, {"item": "Teapot", "quantity": 2})

    order = Order.objects.get()
    assert response.status_code == 302 and response.url == f"{PAGE}{order.pk}/"
    assert (order.user, order.email) == (buyer, "buyer@example.com")
    intent = Intent.objects.get()
    assert (intent.task_name, intent.args) == (send_order_confirmation.name, [order.pk])
    assert intent.queue == "priority"
    page = buyer_client.get(response.url).content.decode()
    assert "is on its way" in page


def test_the_confirmation_goes_to_the_account_never_to_an_address_in_the_form(buyer_client):
    buyer_client.post(PAGE, {"email": "victim@example.org", "item": "Pen", "quantity": 1})

    assert Order.objects.get().email == "buyer@example.com"


@pytest.mark.django_db
def test_a_visitor_is_sent_to_sign_in_and_nothing_is_written(client):
    response = client.post(PAGE, {"item": "Teapot", "quantity": 1})

    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert not Order.objects.exists() and not Intent.objects.exists()


def test_a_form_with_errors_writes_nothing(buyer_client):
    response = buyer_client.post(PAGE, {"item": "", "quantity": 1})

    assert response.status_code == 200
    assert not Order.objects.exists() and not Intent.objects.exists()


def test_an_order_is_shown_only_to_the_user_who_placed_it(buyer_client):
    response = buyer_client.post(PAGE, {"item": "Pen", "quantity": 1})
    other = Client()
    other.force_login(get_user_model().objects.create_user("other", "other@example.com"))

    assert other.get(response.url).status_code == 404


def test_two_deliveries_of_one_intent_send_one_confirmation(buyer, mailoutbox):
    order = Order.objects.create(user=buyer, email=buyer.email, item="Teapot", quantity=1)
    intent_id = str(uuid.uuid4())

    first = send_order_confirmation.apply(args=[order.pk], task_id=intent_id)
    second = send_order_confirmation.apply(args=[order.pk], task_id=intent_id)

    assert (first.result, second.result) == (True, None)
    assert [mail.to for mail in mailoutbox] == [["buyer@example.com"]]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_order_leaves_no_intent(buyer):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            place_order(buyer, "Teapot", 1)
            raise RuntimeError("payment declined after the order was written")

    assert not Order.objects.exists()
    assert not Intent.objects.exists()
