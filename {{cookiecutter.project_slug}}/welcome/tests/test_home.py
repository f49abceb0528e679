"""The welcome page: the state of the stack for staff, a plain welcome for anyone else."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from outbox.models import Intent
from scheduling import heartbeat
from welcome.parts import Part, all_parts


@pytest.mark.django_db
def test_a_visitor_sees_a_plain_welcome_and_nothing_about_the_servers(client):
    page = client.get("/").content.decode()

    assert "Welcome" in page
    assert "What is up" not in page and "Flower" not in page


@pytest.mark.django_db
def test_staff_see_each_part_and_where_to_go_next(admin_client):
    page = admin_client.get("/").content.decode()

    for part in ("Database", "Broker", "Workers of the default queue", "Beat", "Outbox relay"):
        assert part in page
    assert 'href="/admin/"' in page and "Beat status" in page and "Flower" in page


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_in_development_anyone_sees_the_state(client):
    assert "What is up" in client.get("/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_live_worker_and_beat_show_as_up(celery_worker):
    heartbeat.record(timezone.now(), wrote_before=False)

    parts = {part.name: part for part in all_parts()}

    # The test worker consumes every declared queue, and answers `inspect` as a real one.
    for queue in ("default", "priority", "bulk"):
        assert parts[f"Workers of the {queue} queue"] == Part(
            f"Workers of the {queue} queue", True, celery_worker.hostname
        )
    assert parts["Beat"].up and parts["Broker"].up and parts["Database"].up


@pytest.mark.django_db
def test_a_beat_that_never_ran_shows_as_down():
    parts = {part.name: part for part in all_parts()}

    assert parts["Beat"] == Part("Beat", False, "has never run against this database")


@pytest.mark.django_db
def test_intents_left_unsent_say_the_relay_is_down(admin_client):
    late = timezone.now() - timedelta(minutes=5)
    Intent.objects.create(task_name="any.task", queue="default", next_attempt_at=late)

    page = admin_client.get("/").content.decode()

    assert "1 intents due over a minute ago are unsent" in page
