"""Newsletters fan out to one task per recipient; each delivery is sent once."""

import pytest
from celery.signals import task_prerun
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from background.testing import wait_until
from examples.newsletter import services
from examples.newsletter.models import Delivery, Newsletter
from examples.newsletter.tasks import send_newsletter, send_welcome_email
from outbox.models import Intent


def make_recipients(count):
    User = get_user_model()
    return [User.objects.create_user(f"reader{n}", f"reader{n}@example.com") for n in range(count)]


@pytest.mark.django_db(transaction=True)
def test_a_newsletter_reaches_every_recipient_once(celery_worker, mailoutbox):
    make_recipients(5)

    newsletter = services.create_newsletter("News", "Hello")

    wait_until(lambda: Delivery.objects.filter(status=Delivery.Status.SENT).count() == 5)
    assert sorted(mail.to[0] for mail in mailoutbox) == [f"reader{n}@example.com" for n in range(5)]
    assert newsletter.deliveries.count() == 5


@pytest.mark.django_db
def test_a_delivery_sent_twice_sends_one_mail(mailoutbox):
    make_recipients(1)
    newsletter = services.Newsletter.objects.create(subject="S", body="B")
    [delivery_ids] = list(services.create_deliveries(newsletter.id))

    assert services.deliver(delivery_ids[0]) is True
    assert services.deliver(delivery_ids[0]) is False
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_creating_deliveries_again_keeps_those_already_sent():
    make_recipients(3)
    newsletter = services.Newsletter.objects.create(subject="S", body="B")
    [first_pass] = list(services.create_deliveries(newsletter.id))
    Delivery.objects.filter(pk=first_pass[0]).update(status=Delivery.Status.SENT)

    [second_pass] = list(services.create_deliveries(newsletter.id))

    assert Delivery.objects.count() == 3
    assert sorted(second_pass) == sorted(first_pass[1:])


@pytest.mark.django_db(transaction=True)
def test_the_welcome_email_travels_on_the_priority_queue(celery_worker, mailoutbox):
    [user] = make_recipients(1)
    routing_keys = {}

    def record(sender, task_id, task, **kwargs):
        routing_keys[task.name] = task.request.delivery_info["routing_key"]

    task_prerun.connect(record)
    try:
        send_welcome_email.delay(user.id)
        wait_until(lambda: mailoutbox)
    finally:
        task_prerun.disconnect(record)

    assert routing_keys[send_welcome_email.name] == "priority"


@pytest.mark.parametrize("may_change", [True, False])
def test_the_admin_sends_through_the_outbox_for_staff_who_may_change(client, db, may_change):
    editor = get_user_model().objects.create_user("editor", is_staff=True)
    codenames = ["view_newsletter", "change_newsletter"] if may_change else ["view_newsletter"]
    editor.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(editor)
    newsletter = Newsletter.objects.create(subject="S", body="B")

    client.post(
        "/admin/newsletter/newsletter/",
        {"action": "send", "_selected_action": [newsletter.pk]},
    )

    intents = [(i.task_name, i.args) for i in Intent.objects.all()]
    assert intents == ([(send_newsletter.name, [newsletter.pk])] if may_change else [])
