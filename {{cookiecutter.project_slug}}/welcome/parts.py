"""Which parts of the stack answer right now, for the welcome page.

Each check is cheap and bounded by a short timeout: the page is for a developer (or
staff) looking at a new site, not a monitor. Monitors use /health/ and Flower.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from config.celery_app import app as celery_app
from health import checks
from outbox.models import Intent
from scheduling import heartbeat

# How long `celery inspect` waits for workers to answer.
# https://docs.celeryq.dev/en/stable/userguide/workers.html#inspecting-workers
INSPECT_TIMEOUT = 1.0
# A due intent still pending after this long means no relay is publishing.
RELAY_LAG = timedelta(minutes=1)


@dataclass(frozen=True)
class Part:
    name: str
    up: bool
    detail: str


def answered(name, check, detail):
    try:
        check()
    except Exception as error:  # the page names what is down, whatever the reason
        return Part(name, False, type(error).__name__)
    return Part(name, True, detail)


def workers_by_queue():
    """{queue name: sorted worker names} for every declared queue, from the workers' own
    answer to `inspect active_queues` (an empty list: no worker consumes that queue)."""
    answers = celery_app.control.inspect(timeout=INSPECT_TIMEOUT).active_queues() or {}
    consumers = {queue.name: [] for queue in settings.CELERY_TASK_QUEUES}
    for worker, queues in answers.items():
        for queue in queues:
            consumers.setdefault(queue["name"], []).append(worker)
    return {name: sorted(workers) for name, workers in consumers.items()}


def worker_parts():
    try:
        by_queue = workers_by_queue()
    except Exception as error:
        return [Part("Workers", False, f"could not ask them: {type(error).__name__}")]
    return [
        Part(f"Workers of the {queue} queue", bool(workers), ", ".join(workers) or "none")
        for queue, workers in by_queue.items()
    ]


def beat_part():
    seen = heartbeat.last_seen()
    if seen.seen_at is None:
        return Part("Beat", False, "has never run against this database")
    return Part("Beat", seen.alive, f"last heartbeat {int(seen.age.total_seconds())} s ago")


def relay_part():
    late = Intent.objects.filter(
        status=Intent.Status.PENDING, next_attempt_at__lt=timezone.now() - RELAY_LAG
    ).count()
    if late:
        return Part("Outbox relay", False, f"{late} intents due over a minute ago are unsent")
    return Part("Outbox relay", True, "no intent is waiting")


def all_parts():
    return [
        Part("Web", True, "this page"),
        answered("Database", checks.database, "answers"),
        answered("Broker", checks.broker, "accepts connections"),
        *worker_parts(),
        beat_part(),
        relay_part(),
    ]
