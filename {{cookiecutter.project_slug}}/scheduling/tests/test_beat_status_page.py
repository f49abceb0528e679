"""The beat-status page: every kind of schedule, the latest results, beat's heartbeat."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import override_settings
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from django_celery_results.models import TaskResult

from scheduling import heartbeat

PAGE = "/admin/scheduling/beatstatus/"


@pytest.fixture(autouse=True)
def results_in_the_database(settings):
    """Show results as with CELERY_RESULT_BACKEND=django-db, whichever backend this
    project chose; the tests for Redis override it."""
    settings.CELERY_RESULT_BACKEND = "django-db"


def result(periodic_task_name, status):
    return TaskResult.objects.create(
        task_id=f"{periodic_task_name}-{TaskResult.objects.count()}",
        task_name="scheduling.tasks.round_trip",
        periodic_task_name=periodic_task_name,
        status=status,
    )


@pytest.fixture
def schedules(db):
    now = timezone.now()
    every_minute = IntervalSchedule.objects.create(every=1, period="minutes")
    PeriodicTask.objects.create(
        name="Every minute", task="scheduling.tasks.round_trip", interval=every_minute,
        last_run_at=now - timedelta(seconds=20), total_run_count=41,
    )  # fmt: skip
    PeriodicTask.objects.create(
        name="Nightly", task="scheduling.tasks.clear_expired_sessions",
        crontab=CrontabSchedule.objects.create(minute="30", hour="3", timezone="Europe/Paris"),
    )  # fmt: skip
    PeriodicTask.objects.create(
        name="At sunrise", task="scheduling.tasks.round_trip",
        solar=SolarSchedule.objects.create(
            event="sunrise", latitude=Decimal("48.8566"), longitude=Decimal("2.3522")
        ),
    )  # fmt: skip
    PeriodicTask.objects.create(
        name="Once, done", task="scheduling.tasks.check_setup", one_off=True, enabled=False,
        clocked=ClockedSchedule.objects.create(clocked_time=now - timedelta(hours=1)),
    )  # fmt: skip
    PeriodicTask.objects.create(
        name="Paused", task="scheduling.tasks.round_trip", interval=every_minute, enabled=False
    )
    result("Every minute", "FAILURE")
    result("Every minute", "SUCCESS")  # the latest one counts
    result("Nightly", "FAILURE")
    result("Once, done", "SUCCESS")
    heartbeat.record(now - timedelta(seconds=3), ("beat-host", 42), wrote_before=False)


def row_names(html):
    return re.findall(r'<tr class="[^"]*" data-name="([^"]+)">', html)


def row(html, name):
    return re.search(rf'data-name="{re.escape(name)}">(.*?)</tr>', html, re.S)[1]


@pytest.mark.usefixtures("schedules")
def test_the_page_lists_every_task_soonest_first_with_its_latest_result(admin_client):
    html = admin_client.get(PAGE).content.decode()

    # Runs soonest first (every minute; sunrise and 03:30 in some order), then the rest.
    names = row_names(html)
    assert names[0] == "Every minute"
    assert set(names[1:3]) == {"Nightly", "At sunrise"}
    assert names[3:] == ["Once, done", "Paused"]

    every_minute = row(html, "Every minute")
    assert "every minute" in every_minute
    assert ">41<" in every_minute
    assert "task-state success" in every_minute
    latest = TaskResult.objects.get(periodic_task_name="Every minute", status="SUCCESS")
    assert f"/admin/django_celery_results/taskresult/{latest.pk}/change/" in every_minute

    assert "At 03:30 AM Europe/Paris" in row(html, "Nightly")
    assert "task-state failure" in row(html, "Nightly")
    assert "at sunrise, latitude 48.8566, longitude 2.3522" in row(html, "At sunrise")
    assert "one-off, its time has passed" in row(html, "Once, done")
    assert "Disabled" in row(html, "Paused")
    assert "none stored" in row(html, "Paused")


@pytest.mark.usefixtures("schedules")
def test_the_summary_says_what_runs_next_what_failed_and_that_beat_is_alive(admin_client):
    html = admin_client.get(PAGE).content.decode()

    assert re.search(r'id="beat-heartbeat">.*?Alive.*?beat-host, pid 42', html, re.S)
    assert re.search(r'id="beat-next">.*?Every minute', html, re.S)
    assert re.search(r'id="beat-results">.*?1 failed.*?Nightly', html, re.S)


@pytest.mark.usefixtures("schedules")
@override_settings(BEAT_HEARTBEAT_STALE_AFTER=timedelta(seconds=2))
def test_a_stale_heartbeat_is_flagged(admin_client):
    html = admin_client.get(PAGE).content.decode()

    assert re.search(r'beat-card bad" id="beat-heartbeat">.*?Stale: not seen for', html, re.S)


@pytest.mark.django_db
def test_a_beat_never_seen_is_flagged(admin_client):
    html = admin_client.get(PAGE).content.decode()

    assert "Never seen" in html
    assert "No periodic tasks yet" in html


@pytest.mark.usefixtures("schedules")
@override_settings(CELERY_RESULT_BACKEND="redis://localhost:6379/2")
def test_with_results_in_redis_the_page_says_where_they_are(admin_client):
    html = admin_client.get(PAGE).content.decode()

    assert "Kept in Redis" in html
    assert "task-state" not in html
    assert "in Redis" in row(html, "Every minute")


@pytest.mark.django_db
def test_the_admin_index_links_to_the_page(admin_client):
    assert f'href="{PAGE}"' in admin_client.get("/admin/").content.decode()


@pytest.mark.django_db
def test_only_staff_with_the_view_permission_see_the_page(client, django_user_model):
    user = django_user_model.objects.create_user("pat", password="secret-enough-1")
    client.force_login(user)
    assert client.get(PAGE)["Location"].startswith("/admin/login/")  # not staff

    user.is_staff = True
    user.save()
    assert client.get(PAGE).status_code == 403

    user.user_permissions.add(Permission.objects.get(codename="view_beatstatus"))
    assert client.get(PAGE).status_code == 200
