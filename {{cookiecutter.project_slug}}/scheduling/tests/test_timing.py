"""Next run and due-ness for every kind of schedule, with the clock pinned.

No database: the rows are built in memory, as beat reads them. The crontab cases cross
both daylight-saving changes of Europe/Paris in 2026 (29 March and 25 October).
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from scheduling.timing import timing

PARIS = ZoneInfo("Europe/Paris")


def at(*args, tz=UTC):
    return datetime(*args, tzinfo=tz)


def periodic(schedule, last_run_at=None, **fields):
    kind = {
        IntervalSchedule: "interval",
        CrontabSchedule: "crontab",
        SolarSchedule: "solar",
        ClockedSchedule: "clocked",
    }[type(schedule)]
    fields.setdefault("date_changed", at(2026, 1, 1))
    return PeriodicTask(name="t", task="t", last_run_at=last_run_at, **{kind: schedule}, **fields)


def nightly_in_paris(last_run_at):
    crontab = CrontabSchedule(minute="30", hour="3", timezone=PARIS)
    return periodic(crontab, last_run_at=last_run_at)


def test_an_interval_runs_its_period_after_the_last_run():
    task = periodic(IntervalSchedule(every=5, period="minutes"), last_run_at=at(2026, 5, 1, 10, 0))

    before = timing(task, now=at(2026, 5, 1, 10, 3))
    assert before.next_run == at(2026, 5, 1, 10, 5)
    assert not before.due

    late = timing(task, now=at(2026, 5, 1, 10, 6))
    assert late.due
    assert late.next_run == at(2026, 5, 1, 10, 5)  # overdue since then


def test_an_interval_that_never_ran_counts_from_when_it_was_saved():
    task = periodic(IntervalSchedule(every=1, period="hours"), date_changed=at(2026, 5, 1, 9, 30))

    assert timing(task, now=at(2026, 5, 1, 10)).next_run == at(2026, 5, 1, 10, 30)


def test_a_crontab_runs_at_its_local_time():
    task = nightly_in_paris(last_run_at=at(2026, 5, 1, 3, 30, tz=PARIS))

    result = timing(task, now=at(2026, 5, 1, 12, tz=PARIS))

    assert result.next_run == at(2026, 5, 2, 3, 30, tz=PARIS)
    assert not result.due
    assert timing(task, now=at(2026, 5, 2, 3, 30, tz=PARIS)).due


def test_a_crontab_keeps_its_local_time_when_the_clocks_go_forward():
    # 29 March 2026: 02:00 CET becomes 03:00 CEST, so that night is one hour short.
    task = nightly_in_paris(last_run_at=at(2026, 3, 28, 3, 30, tz=PARIS))

    result = timing(task, now=at(2026, 3, 28, 12, tz=PARIS))

    assert result.next_run == at(2026, 3, 29, 3, 30, tz=PARIS)
    assert result.next_run.astimezone(UTC) == at(2026, 3, 29, 1, 30)
    assert result.next_run - task.last_run_at == timedelta(hours=23)
    assert not timing(task, now=at(2026, 3, 29, 1, 29, 59)).due
    assert timing(task, now=at(2026, 3, 29, 1, 30)).due


def test_a_crontab_keeps_its_local_time_when_the_clocks_go_back():
    # 25 October 2026: 03:00 CEST becomes 02:00 CET, so that night is one hour long.
    task = nightly_in_paris(last_run_at=at(2026, 10, 24, 3, 30, tz=PARIS))

    result = timing(task, now=at(2026, 10, 24, 12, tz=PARIS))

    assert result.next_run.astimezone(UTC) == at(2026, 10, 25, 2, 30)
    assert result.next_run - task.last_run_at == timedelta(hours=25)
    # At 03:30 summer time the crontab is not yet due: 03:30 winter time is an hour later.
    assert not timing(task, now=at(2026, 10, 25, 1, 30)).due
    assert timing(task, now=at(2026, 10, 25, 2, 30)).due


def test_a_solar_schedule_runs_at_the_next_sunrise():
    paris = SolarSchedule(event="sunrise", latitude=Decimal("48.8566"), longitude=Decimal("2.3522"))
    task = periodic(paris, last_run_at=at(2026, 6, 20, 12))

    result = timing(task, now=at(2026, 6, 21, 0))

    # Sunrise in Paris on 21 June is at about 05:47 summer time, 03:47 UTC.
    assert at(2026, 6, 21, 3, 40) < result.next_run < at(2026, 6, 21, 3, 55)
    assert not result.due
    assert timing(task, now=at(2026, 6, 21, 4)).due


def test_a_clocked_task_runs_once_at_its_time():
    task = periodic(ClockedSchedule(clocked_time=at(2026, 5, 1, 12)), one_off=True)

    before = timing(task, now=at(2026, 5, 1, 11))
    assert before.next_run == at(2026, 5, 1, 12)
    assert not before.due
    assert timing(task, now=at(2026, 5, 1, 12, 0, 1)).due


def test_a_one_off_task_that_ran_will_not_run_again():
    # Beat disables a one-off task once it has sent it.
    task = periodic(ClockedSchedule(clocked_time=at(2026, 5, 1, 12)), one_off=True, enabled=False)

    result = timing(task, now=at(2026, 5, 2))

    assert result.next_run is None
    assert not result.due
    assert result.why_not == "one-off, its time has passed"


def test_a_disabled_task_has_no_next_run():
    task = periodic(IntervalSchedule(every=1, period="minutes"), enabled=False)

    result = timing(task, now=at(2026, 5, 1))

    assert (result.next_run, result.due, result.why_not) == (None, False, "disabled")


def test_an_expired_task_has_no_next_run():
    task = periodic(IntervalSchedule(every=1, period="minutes"), expires=at(2026, 5, 1))

    assert timing(task, now=at(2026, 5, 2)).why_not == "expired"


def test_a_task_with_a_start_time_waits_for_it():
    interval = periodic(IntervalSchedule(every=1, period="days"), start_time=at(2026, 6, 1, 8))
    crontab = periodic(
        CrontabSchedule(minute="0", hour="9", timezone=PARIS),
        start_time=at(2026, 6, 1, 8, tz=PARIS),
    )
    now = at(2026, 5, 1)

    assert timing(interval, now).next_run == at(2026, 6, 1, 8)
    assert timing(crontab, now).next_run == at(2026, 6, 1, 9, tz=PARIS)
    assert not timing(interval, now).due
    # Once the start time has passed, the task is due at once.
    assert timing(interval, at(2026, 6, 1, 8, 0, 1)).due


def test_a_task_without_a_schedule_says_why_instead_of_failing():
    task = PeriodicTask(name="t", task="t", date_changed=at(2026, 1, 1))

    result = timing(task, now=at(2026, 5, 1))

    assert result.next_run is None
    assert result.why_not.startswith("cannot be computed")
