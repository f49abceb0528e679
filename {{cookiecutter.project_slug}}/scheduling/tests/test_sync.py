"""The sync installs the code's schedules and never overwrites a change made in the admin."""

from datetime import UTC, datetime, timedelta

import pytest
from django_celery_beat.models import PeriodicTask, PeriodicTasks

from config.celery_app import app
from scheduling.declarations import (
    Cron,
    Every,
    OnceAfterFirstSync,
    ScheduledTask,
    declared_schedules,
    write,
)
from scheduling.sync import sync_schedules

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def every(minutes, name="Tidy up", **fields):
    return ScheduledTask(
        name=name, task="scheduling.tasks.round_trip", schedule=Every(minutes, "minutes"), **fields
    )


def actions(outcomes):
    return {outcome.name: outcome.action for outcome in outcomes}


def row(name="Tidy up"):
    return PeriodicTask.objects.select_related("interval").get(name=name)


def edit_in_the_admin(name="Tidy up", **fields):
    """Change a row as the admin's change form does: a save()."""
    task = row(name)
    for field, value in fields.items():
        setattr(task, field, value)
    task.save()


def test_the_shipped_schedules_name_real_tasks_and_distinct_names():
    app.loader.import_default_modules()
    shipped = declared_schedules()

    assert {item.task for item in shipped} <= set(app.tasks)
    assert len({item.name for item in shipped}) == len(shipped)
    assert {"Check queue depths", "Delete old outbox intents"} <= {i.name for i in shipped}
    kinds = {item.schedule.kind for item in shipped}
    assert kinds == {"interval", "crontab", "clocked"}


@pytest.mark.django_db
def test_the_first_sync_creates_every_schedule_and_a_second_changes_nothing():
    shipped = declared_schedules()
    first = sync_schedules(shipped, now=NOW)
    changed_at = PeriodicTasks.last_change()
    second = sync_schedules(shipped, now=NOW + timedelta(hours=1))

    assert set(actions(first).values()) == {"created"}
    assert set(actions(second).values()) == {"unchanged"}
    assert PeriodicTasks.last_change() == changed_at  # beat is not made to reload
    nightly = PeriodicTask.objects.get(crontab__isnull=False, name__in=actions(first))
    assert (nightly.crontab.minute, nightly.crontab.hour) == ("30", "3")
    assert str(nightly.crontab.timezone) == app.conf.timezone


@pytest.mark.django_db
def test_a_code_change_updates_a_schedule_nobody_edited():
    sync_schedules([every(5)], now=NOW)

    outcomes = sync_schedules([every(10, args=(1,))], now=NOW)

    assert actions(outcomes) == {"Tidy up": "updated"}
    assert row().interval.every == 10
    assert row().args == "[1]"
    assert actions(sync_schedules([every(10, args=(1,))], now=NOW)) == {"Tidy up": "unchanged"}


@pytest.mark.django_db
def test_an_admin_edit_is_kept_and_the_sync_says_the_code_change_was_not_applied():
    sync_schedules([every(5)], now=NOW)
    edit_in_the_admin(description="Every 5 minutes, please: the API limits us")

    unchanged_code = sync_schedules([every(5)], now=NOW)
    changed_code = sync_schedules([every(10)], now=NOW)

    assert actions(unchanged_code) == {"Tidy up": "kept"}
    assert "NOT applied" not in unchanged_code[0].detail
    assert actions(changed_code) == {"Tidy up": "kept"}
    assert "NOT applied" in changed_code[0].detail
    assert row().interval.every == 5
    assert row().description == "Every 5 minutes, please: the API limits us"


@pytest.mark.django_db
def test_a_schedule_disabled_in_the_admin_stays_disabled_until_re_enabled():
    sync_schedules([every(5)], now=NOW)
    # The admin's "Disable selected tasks" action: a bulk update, no save().
    PeriodicTask.objects.filter(name="Tidy up").update(enabled=False)

    assert actions(sync_schedules([every(10)], now=NOW)) == {"Tidy up": "kept"}
    assert not row().enabled

    # Enabled again, the row is back to what the sync wrote, so code changes apply again.
    PeriodicTask.objects.filter(name="Tidy up").update(enabled=True)
    assert actions(sync_schedules([every(10)], now=NOW)) == {"Tidy up": "updated"}
    assert row().interval.every == 10


@pytest.mark.django_db
def test_deleting_a_schedule_in_the_admin_resets_it_to_the_code_at_the_next_sync():
    sync_schedules([every(5)], now=NOW)
    edit_in_the_admin(enabled=False)
    row().delete()

    assert actions(sync_schedules([every(5)], now=NOW)) == {"Tidy up": "created"}
    assert row().enabled


@pytest.mark.django_db
def test_a_schedule_removed_from_the_code_is_deleted_unless_edited_in_the_admin():
    sync_schedules([every(5, name="Old"), every(5, name="Edited")], now=NOW)
    edit_in_the_admin("Edited", description="mine now")

    outcomes = sync_schedules([], now=NOW)

    assert actions(outcomes) == {"Old": "deleted", "Edited": "released"}
    assert not PeriodicTask.objects.filter(name="Old").exists()
    assert row("Edited").description == "mine now"
    assert sync_schedules([], now=NOW) == []  # released: the sync no longer tracks it


@pytest.mark.django_db
def test_a_schedule_made_by_hand_under_the_same_name_is_left_alone():
    mine = every(5, name="Mine")
    write(PeriodicTask(name="Mine"), mine.definition(existing=None, now=NOW))
    edit_in_the_admin("Mine", description="hand-made")

    assert actions(sync_schedules([mine], now=NOW)) == {"Mine": "kept"}
    assert row("Mine").description == "hand-made"

    # One that matches the code exactly is adopted: later code changes apply to it.
    edit_in_the_admin("Mine", description="")
    assert actions(sync_schedules([mine], now=NOW)) == {"Mine": "adopted"}
    assert actions(sync_schedules([every(10, name="Mine")], now=NOW)) == {"Mine": "updated"}


@pytest.mark.django_db
def test_a_one_off_keeps_its_time_and_is_not_re_enabled_after_it_ran():
    once = ScheduledTask(
        name="Once",
        task="scheduling.tasks.check_setup",
        schedule=OnceAfterFirstSync(timedelta(minutes=1)),
    )
    sync_schedules([once], now=NOW)
    assert row("Once").clocked.clocked_time == NOW + timedelta(minutes=1)
    assert row("Once").one_off

    assert actions(sync_schedules([once], now=NOW + timedelta(days=1))) == {"Once": "unchanged"}
    assert row("Once").clocked.clocked_time == NOW + timedelta(minutes=1)

    # What beat does once it has sent a one-off task.
    PeriodicTask.objects.filter(name="Once").update(enabled=False)
    assert actions(sync_schedules([once], now=NOW + timedelta(days=2))) == {"Once": "kept"}
    assert not row("Once").enabled


@pytest.mark.django_db
def test_a_crontab_is_stored_in_the_project_time_zone():
    nightly = ScheduledTask(name="Nightly", task="t", schedule=Cron(minute=30, hour=3))

    sync_schedules([nightly], now=NOW)

    crontab = PeriodicTask.objects.get(name="Nightly").crontab
    assert (crontab.minute, crontab.hour, str(crontab.timezone)) == ("30", "3", app.conf.timezone)


def test_two_schedules_with_one_name_are_refused():
    with pytest.raises(ValueError, match="share a name"):
        sync_schedules([every(5), every(10)], now=NOW)
