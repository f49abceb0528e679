"""How scheduling/schedules.py declares periodic tasks, and how a declaration becomes a row.

A declaration (ScheduledTask) and a django-celery-beat PeriodicTask row both turn into
the same plain dict, their *definition*: what runs, when, with which arguments and
options. Comparing definitions, or their fingerprints, is how scheduling/sync.py tells
whether a row is still what the code wrote or has been changed in the admin since.
"""

import hashlib
import importlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from django.apps import apps
from django.conf import settings
from django.utils.module_loading import module_has_submodule
from django_celery_beat.models import (
    PERIOD_CHOICES,
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

SCHEDULE_MODELS = {
    "interval": IntervalSchedule,
    "crontab": CrontabSchedule,
    "solar": SolarSchedule,
    "clocked": ClockedSchedule,
}


@dataclass(frozen=True)
class Every:
    """An interval: Every(5, "minutes") runs five minutes after the previous run."""

    every: int
    period: str  # "days", "hours", "minutes" or "seconds"

    kind: ClassVar[str] = "interval"

    def __post_init__(self):
        if self.period not in dict(PERIOD_CHOICES):
            raise ValueError(f"period must be one of {sorted(dict(PERIOD_CHOICES))}")

    def spec(self, existing, now):
        return {"every": self.every, "period": self.period}


@dataclass(frozen=True)
class Cron:
    """A crontab, in the project's time zone (CELERY_TIMEZONE); see https://crontab.guru."""

    minute: str = "*"
    hour: str = "*"
    day_of_week: str = "*"
    day_of_month: str = "*"
    month_of_year: str = "*"

    kind: ClassVar[str] = "crontab"

    def spec(self, existing, now):
        return {
            "minute": str(self.minute),
            "hour": str(self.hour),
            "day_of_week": str(self.day_of_week),
            "day_of_month": str(self.day_of_month),
            "month_of_year": str(self.month_of_year),
            "timezone": settings.CELERY_TIMEZONE,
        }


@dataclass(frozen=True)
class OnceAfterFirstSync:
    """A one-off run, `after` the sync that first creates the schedule (a clocked task).

    The time is fixed when the row is created; later syncs keep it. Beat disables a
    one-off task once it has sent it.
    """

    after: timedelta

    kind: ClassVar[str] = "clocked"

    def spec(self, existing, now):
        if existing is not None and existing.clocked is not None:
            return {"clocked_time": _iso(existing.clocked.clocked_time)}
        return {"clocked_time": _iso(now + self.after)}


@dataclass(frozen=True)
class ScheduledTask:
    """A periodic task as the code ships it; `name` is its PeriodicTask's unique name."""

    name: str
    task: str
    schedule: Every | Cron | OnceAfterFirstSync
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    description: str = ""
    queue: str | None = None
    enabled: bool = True

    def definition(self, existing: PeriodicTask | None, now: datetime) -> dict:
        """What the row should hold; `existing` is the current row of that name, if any."""
        return {
            "task": self.task,
            "schedule": {"kind": self.schedule.kind, **self.schedule.spec(existing, now)},
            # Through JSON, so that tuples compare equal to the lists read back.
            "args": json.loads(json.dumps(list(self.args))),
            "kwargs": json.loads(json.dumps(self.kwargs)),
            "one_off": self.schedule.kind == "clocked",
            "enabled": self.enabled,
            "description": self.description,
            "queue": self.queue,
            # Not set from code, but part of the definition: an admin's change to any of
            # them counts as an edit too.
            "exchange": None,
            "routing_key": None,
            "priority": None,
            "headers": {},
            "expires": None,
            "expire_seconds": None,
            "start_time": None,
        }


def stored_definition(row: PeriodicTask) -> dict:
    """The definition a PeriodicTask row holds, in the form ScheduledTask.definition gives."""
    return {
        "task": row.task,
        "schedule": _schedule_spec(row),
        "args": _json_or_text(row.args, []),
        "kwargs": _json_or_text(row.kwargs, {}),
        "one_off": row.one_off,
        "enabled": row.enabled,
        "description": row.description,
        "queue": row.queue or None,
        "exchange": row.exchange or None,
        "routing_key": row.routing_key or None,
        "priority": row.priority,
        "headers": _json_or_text(row.headers, {}),
        "expires": _iso(row.expires),
        "expire_seconds": row.expire_seconds,
        "start_time": _iso(row.start_time),
    }


def fingerprint(definition: dict) -> str:
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()


def write(row: PeriodicTask, definition: dict) -> PeriodicTask:
    """Make `row` hold `definition` and save it (beat notices the change by itself)."""
    spec = dict(definition["schedule"])
    kind = spec.pop("kind")
    if kind == "clocked":
        spec["clocked_time"] = datetime.fromisoformat(spec["clocked_time"])
    model = SCHEDULE_MODELS[kind]
    schedule = model.objects.filter(**spec).first() or model.objects.create(**spec)
    for other in SCHEDULE_MODELS:
        setattr(row, other, schedule if other == kind else None)
    row.task = definition["task"]
    row.args = json.dumps(definition["args"])
    row.kwargs = json.dumps(definition["kwargs"])
    row.headers = json.dumps(definition["headers"])
    for name in ("one_off", "enabled", "description", "queue", "exchange", "routing_key"):
        setattr(row, name, definition[name])
    row.priority = definition["priority"]
    row.expire_seconds = definition["expire_seconds"]
    row.expires = _from_iso(definition["expires"])
    row.start_time = _from_iso(definition["start_time"])
    row.save()
    return row


def _schedule_spec(row):
    if row.interval is not None:
        return {"kind": "interval", "every": row.interval.every, "period": row.interval.period}
    if row.crontab is not None:
        crontab = row.crontab
        return {
            "kind": "crontab",
            "minute": crontab.minute,
            "hour": crontab.hour,
            "day_of_week": crontab.day_of_week,
            "day_of_month": crontab.day_of_month,
            "month_of_year": crontab.month_of_year,
            "timezone": str(crontab.timezone),
        }
    if row.solar is not None:
        solar = row.solar
        return {
            "kind": "solar",
            "event": solar.event,
            "latitude": str(solar.latitude),
            "longitude": str(solar.longitude),
        }
    if row.clocked is not None:
        return {"kind": "clocked", "clocked_time": _iso(row.clocked.clocked_time)}
    return {"kind": None}


def _json_or_text(text, empty):
    if not text:
        return empty
    try:
        return json.loads(text)
    except ValueError:
        return text


def _iso(value):
    return value.astimezone(UTC).isoformat() if value is not None else None


def _from_iso(value):
    return datetime.fromisoformat(value) if value is not None else None


def declared_schedules() -> list["ScheduledTask"]:
    """The SCHEDULES list of every installed app that has a `schedules` module, so that
    an app brings its periodic tasks with it and takes them away when removed."""
    declared = []
    for config in apps.get_app_configs():
        if module_has_submodule(config.module, "schedules"):
            declared += importlib.import_module(f"{config.name}.schedules").SCHEDULES
    return declared
