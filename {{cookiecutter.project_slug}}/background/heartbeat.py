"""Heartbeat files: a container healthcheck tells a live process from a stuck one by the
age of a file the process touches, without loading Django or using the broker.

Each process touches its own file in CELERY_HEARTBEAT_DIR (/tmp, each container's own):
a worker from a timer its event loop runs (WorkerHeartbeat, below), beat after every
pass of its scheduler loop (scheduling/heartbeat.py), the outbox relay after every pass
(outbox/relay.py). compose/common/heartbeat-healthcheck compares a file's age with a
limit; if the loop stops (a deadlock, a broker it keeps reconnecting to), so does the
file.
"""

import os
from pathlib import Path

from celery import bootsteps

WORKER_INTERVAL = 5.0


def heartbeat_file(name):
    return Path(os.environ.get("CELERY_HEARTBEAT_DIR", "/tmp")) / f"{name}.heartbeat"


WORKER_FILE = heartbeat_file("celery-worker")


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Touch WORKER_FILE on the worker's timer; remove it when the worker stops.
    config/celery_app.py adds this step to every worker.

    https://docs.celeryq.dev/en/stable/userguide/extending.html#worker-bootsteps
    """

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.timer_entry = None

    def start(self, worker):
        WORKER_FILE.touch()
        self.timer_entry = worker.timer.call_repeatedly(WORKER_INTERVAL, WORKER_FILE.touch)

    def stop(self, worker):
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None
        WORKER_FILE.unlink(missing_ok=True)
