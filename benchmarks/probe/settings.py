"""A project's own production settings, with the probe app, plus at most one variant.

BENCH_VARIANT names one setting of our project changed, to measure what it costs (the
"one setting at a time" table of docs/benchmarks.md); empty for the settings as they are.
"""

import os

from config.settings.production import *  # noqa: F403
from config.settings.production import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "probe"]
ROOT_URLCONF = "probe.urls"


def _variants():
    from config.settings.production import CELERY_BROKER_TRANSPORT_OPTIONS, CELERY_TASK_QUEUES
    from kombu import Queue

    def classic(queue):
        arguments = {
            k: v
            for k, v in queue.queue_arguments.items()
            if not k.startswith(("x-queue-type", "x-delivery-limit", "x-dead-letter-strategy"))
        }
        return Queue(queue.name, queue.exchange, queue.routing_key, queue_arguments=arguments)

    return {
        "no-confirms": {
            "CELERY_BROKER_TRANSPORT_OPTIONS": {
                **CELERY_BROKER_TRANSPORT_OPTIONS,
                "confirm_publish": False,
            }
        },
        "classic-queues": {"CELERY_TASK_QUEUES": [classic(q) for q in CELERY_TASK_QUEUES]},
        # Task events on from the start, as once Flower has asked for them.
        "events": {"CELERY_WORKER_SEND_TASK_EVENTS": True},
        "sent-event": {"CELERY_TASK_SEND_SENT_EVENT": True},
        "prefetch-4": {"CELERY_WORKER_PREFETCH_MULTIPLIER": 4},
        "late-acks": {"CELERY_TASK_ACKS_LATE": True},
        # Celery's own consumer, task events on: its events are confirmed like tasks.
        "celery-consumer": {
            "CELERY_WORKER_CONSUMER": "celery.worker.consumer:Consumer",
            "CELERY_WORKER_SEND_TASK_EVENTS": True,
        },
    }


if os.environ.get("BENCH_VARIANT"):
    globals().update(_variants()[os.environ["BENCH_VARIANT"]])
