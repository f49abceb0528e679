"""The generated project's production settings, plus one benchmark variant.

BENCH_VARIANT names the variant (several may be joined with commas):

- `generated`: the project's settings as they are (the default);
- `baseline`: what common Django + Celery templates ship, for comparison;
- every other name changes one setting of the generated configuration, to find out
  what that setting costs.

Nothing here is copied into the project: benchmarks/run.py puts this package on
PYTHONPATH and selects it with DJANGO_SETTINGS_MODULE=benchprobe.settings.
"""

import os

from config.settings.production import *  # noqa: F403
from config.settings.production import (
    CELERY_BROKER_TRANSPORT_OPTIONS,
    CELERY_TASK_QUEUES,
    INSTALLED_APPS,
)
from kombu import Exchange, Queue

INSTALLED_APPS = [*INSTALLED_APPS, "benchprobe"]


def _classic(queue):
    """The same queue, exchange and dead-lettering, as a classic durable queue."""
    arguments = {k: v for k, v in queue.queue_arguments.items() if k != "x-queue-type"}
    return Queue(
        queue.name, queue.exchange, routing_key=queue.routing_key, queue_arguments=arguments
    )


BASELINE = {
    # Redis broker and results come from the environment (the redis/redis project).
    # No publisher confirms (Celery's default; the Redis transport has none anyway).
    "CELERY_BROKER_TRANSPORT_OPTIONS": {},
    # Celery's own default queue: classic, on a direct exchange, created on demand.
    "CELERY_TASK_QUEUES": None,
    "CELERY_TASK_CREATE_MISSING_QUEUES": True,
    # A result stored for every task, and no STARTED state (Celery's defaults).
    "CELERY_TASK_IGNORE_RESULT": False,
    "CELERY_TASK_TRACK_STARTED": False,
    # Celery's default prefetch: four messages per pool process.
    "CELERY_WORKER_PREFETCH_MULTIPLIER": 4,
    # Early acknowledgement, as Celery does by default.
    "CELERY_TASK_ACKS_LATE": False,
    "CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT": True,
    "CELERY_TASK_REJECT_ON_WORKER_LOST": False,
}


def _direct(queue):
    """The same queue on a direct exchange instead of a topic exchange."""
    exchange = Exchange(queue.exchange.name, type="direct")
    return Queue(
        queue.name, exchange, routing_key=queue.routing_key, queue_arguments=queue.queue_arguments
    )


VARIANTS = {
    "generated": {},
    "baseline": BASELINE,
    "prefetch-4": {"CELERY_WORKER_PREFETCH_MULTIPLIER": 4},
    "no-track-started": {"CELERY_TASK_TRACK_STARTED": False},
    "no-confirms": {
        "CELERY_BROKER_TRANSPORT_OPTIONS": {
            **CELERY_BROKER_TRANSPORT_OPTIONS,
            "confirm_publish": False,
        }
    },
    "classic-queues": {"CELERY_TASK_QUEUES": [_classic(q) for q in CELERY_TASK_QUEUES]},
    "direct-exchanges": {"CELERY_TASK_QUEUES": [_direct(q) for q in CELERY_TASK_QUEUES]},
    "acks-late": {"CELERY_TASK_ACKS_LATE": True},
    "no-sent-event": {"CELERY_TASK_SEND_SENT_EVENT": False},
    "no-events": {"CELERY_TASK_SEND_SENT_EVENT": False, "CELERY_WORKER_SEND_TASK_EVENTS": False},
    # Celery's default: its Django fix-up closes every database connection before and
    # after each task, so each task that touches the database opens a new one. The
    # project keeps the connection instead (CELERY_DB_REUSE_MAX, and
    # close_old_database_connections in config/celery_app.py).
    "db-close": {"CELERY_DB_REUSE_MAX": None},
    # For a worker started without --max-tasks-per-child / --max-memory-per-child.
    "no-child-limits": {
        "CELERY_WORKER_MAX_TASKS_PER_CHILD": None,
        "CELERY_WORKER_MAX_MEMORY_PER_CHILD": None,
    },
}

BENCH_VARIANT = os.environ.get("BENCH_VARIANT", "generated")
for _name in BENCH_VARIANT.split(","):
    globals().update(VARIANTS[_name.strip()])
