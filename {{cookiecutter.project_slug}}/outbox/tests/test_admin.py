"""The outbox in the admin: filters, the backlog's age, and re-queueing dead intents."""

from datetime import timedelta

import pytest
from django.utils import timezone

from outbox.models import Intent

from .tasks import send_note

LIST = "/admin/outbox/intent/"


def intent(status=Intent.Status.PENDING, queue="default", **fields):
    return Intent.objects.create(
        task_name=send_note.name,
        args=["buyer@example.com"],
        queue=queue,
        status=status,
        **fields,
    )


@pytest.mark.django_db
def test_the_list_filters_by_status_and_says_how_long_the_oldest_pending_waited(admin_client):
    waiting = intent()
    Intent.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    dead = intent(Intent.Status.DEAD, attempts=5, last_error="QueueNotFound: 'retired'")

    page = admin_client.get(LIST).content.decode()
    dead_only = admin_client.get(LIST, {"status__exact": "dead"}).content.decode()

    assert "1 pending</strong>; the oldest has waited 3 minutes" in page
    assert "1 dead</strong>" in page
    assert str(dead.id) in dead_only and str(waiting.id) not in dead_only


@pytest.mark.django_db
def test_re_queueing_makes_dead_intents_pending_and_routes_them_afresh(admin_client):
    retired = intent(Intent.Status.DEAD, queue="retired", attempts=5, last_error="QueueNotFound")
    sent = intent(Intent.Status.SENT)

    response = admin_client.post(
        LIST,
        {"action": "requeue_dead", "_selected_action": [str(retired.pk), str(sent.pk)]},
        follow=True,
    )

    retired.refresh_from_db()
    assert (retired.status, retired.attempts, retired.queue) == ("pending", 0, "default")
    assert Intent.objects.get(pk=sent.pk).status == Intent.Status.SENT
    text = response.content.decode()
    assert "Re-queued 1 intent(s)" in text and "Skipped 1 intent(s) that are not dead" in text


@pytest.mark.django_db
def test_intents_cannot_be_added_or_edited_by_hand(admin_client):
    assert admin_client.get(f"{LIST}add/").status_code == 403
    pending = intent()
    page = admin_client.get(f"{LIST}{pending.pk}/change/").content.decode()
    assert 'name="_save"' not in page
