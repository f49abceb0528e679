"""What the beat-status page shows: every periodic task, its timing and latest result.

Kept apart from the admin view so that it can be tested, and reused, without a request.
"""

from dataclasses import dataclass
from datetime import datetime

from celery import states
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_results.models import TaskResult

from . import heartbeat
from .results import results_in_database
from .timing import Timing, timing


@dataclass(frozen=True)
class Row:
    task: PeriodicTask
    kind: str
    in_words: str
    timing: Timing
    latest_result: TaskResult | None

    @property
    def failed(self) -> bool:
        return self.latest_result is not None and self.latest_result.status == states.FAILURE


@dataclass(frozen=True)
class BeatStatus:
    now: datetime
    beat: heartbeat.BeatSeen
    rows: list[Row]
    results_in_database: bool

    @property
    def next_up(self) -> Row | None:
        return next((row for row in self.rows if row.timing.next_run is not None), None)

    @property
    def failed(self) -> list[Row]:
        return [row for row in self.rows if row.failed]


def beat_status(now: datetime | None = None) -> BeatStatus:
    now = now or timezone.now()
    tasks = PeriodicTask.objects.select_related("interval", "crontab", "solar", "clocked")
    latest = latest_results([task.name for task in tasks]) if results_in_database() else {}
    rows = [Row(task, *describe(task), timing(task, now), latest.get(task.name)) for task in tasks]
    return BeatStatus(
        now, heartbeat.last_seen(now), sorted(rows, key=_by_next_run), results_in_database()
    )


def latest_results(names) -> dict[str, TaskResult]:
    """The newest stored result of each periodic task, in one query.

    django-celery-results records the periodic task's name on each result that beat's
    message carried it for (CELERY_RESULT_EXTENDED); DISTINCT ON is PostgreSQL's.
    """
    results = (
        TaskResult.objects.filter(periodic_task_name__in=names)
        .order_by("periodic_task_name", "-date_created")
        .distinct("periodic_task_name")
        .defer("result", "traceback", "meta")
    )
    return {result.periodic_task_name: result for result in results}


def describe(task: PeriodicTask) -> tuple[str, str]:
    """The kind of the task's schedule, and the schedule in words."""
    once = ", once" if task.one_off and task.clocked is None else ""
    if task.interval is not None:
        return "interval", f"{task.interval}{once}"
    if task.crontab is not None:
        return "crontab", f"{task.crontab.human_readable}{once}"
    if task.solar is not None:
        solar = task.solar
        place = f"latitude {solar.latitude:.4f}, longitude {solar.longitude:.4f}"
        return "solar", f"at {solar.get_event_display().lower()}, {place}{once}"
    if task.clocked is not None:
        at = timezone.localtime(task.clocked.clocked_time)
        return "clocked", f"once, at {at:%Y-%m-%d %H:%M:%S %Z}"
    return "none", "no schedule"


def _by_next_run(row: Row):
    # Tasks that will run come first, soonest first; then the rest, by name.
    if row.timing.next_run is None:
        return (True, row.task.name)
    return (False, row.timing.next_run, row.task.name)
