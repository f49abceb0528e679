"""When a periodic task runs next and whether it is due now, worked out as beat does.

It follows django-celery-beat's ModelEntry.is_due with the clock passed in and without
its side effects (is_due saves rows), so the beat-status page can call it on every
request. The arithmetic is Celery's own remaining_estimate(), in the schedule's zone.
https://django-celery-beat.readthedocs.io/en/latest/reference/django-celery-beat.schedulers.html
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from celery import current_app
from django_celery_beat.models import PeriodicTask

# ModelEntry's trick for a task with a start time that has never run: pretend it last
# ran long ago, so that it is due as soon as its start time has passed.
LONG_AGO = timedelta(days=365 * 30)


@dataclass(frozen=True)
class Timing:
    next_run: datetime | None  # None: it will not run again as things stand
    due: bool
    why_not: str = ""  # why there is no next run


def timing(task: PeriodicTask, now: datetime) -> Timing:
    """Next run and due-ness of `task` at the aware datetime `now`."""
    if not task.enabled:
        if task.one_off and task.clocked is not None and task.clocked.clocked_time <= now:
            return Timing(None, False, "one-off, its time has passed")
        return Timing(None, False, "disabled")
    if task.expires is not None and now >= task.expires:
        return Timing(None, False, "expired")
    if task.one_off and task.total_run_count > 0:
        return Timing(None, False, "already ran")
    try:
        schedule = task.schedule
    except Exception as error:  # a row the admin left half-made, a solar without ephem
        return Timing(None, False, f"cannot be computed: {error}")
    schedule.nowfun = lambda: now
    tz = current_app.timezone
    if task.start_time is not None and now < task.start_time:
        return Timing(task.due_start_time(tz), False)
    last_run = task.last_run_at or task.date_changed or now
    if task.last_run_at is None and task.start_time is not None:
        last_run -= LONG_AGO
    last_run = last_run.astimezone(tz)
    due = bool(schedule.is_due(last_run)[0])
    # In UTC: adding a timedelta to a datetime in a zone with daylight saving adds wall-
    # clock time, an hour off across a change. Celery's estimate is elapsed time.
    return Timing(now.astimezone(UTC) + schedule.remaining_estimate(last_run), due)
