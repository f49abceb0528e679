"""Heartbeat files, so that a container healthcheck can tell a live worker or beat from a
stuck one without loading Django or sending anything through the broker.

- A worker touches WORKER_FILE every WORKER_INTERVAL seconds from a timer that its own
  event loop runs: if the loop stops (a deadlock, a lost broker it keeps reconnecting
  to), the file stops being touched.
- Beat touches BEAT_FILE after every pass of its scheduler loop, which runs at least
  every 5 seconds with django-celery-beat's scheduler.

compose/*/celery/{worker,beat}/healthcheck compare the file's age with a limit. Each
container has its own /tmp, so the file describes that container's process only
(CELERY_HEARTBEAT_DIR moves the files, for both writer and healthcheck).
`install(app)` in config/celery_app.py switches both on.
"""

import os
from pathlib import Path

from celery import bootsteps
from celery.signals import beat_init

HEARTBEAT_DIR = Path(os.environ.get("CELERY_HEARTBEAT_DIR", "/tmp"))
WORKER_FILE = HEARTBEAT_DIR / "celery-worker.heartbeat"
BEAT_FILE = HEARTBEAT_DIR / "celery-beat.heartbeat"
WORKER_INTERVAL = 5.0


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Touch WORKER_FILE on the worker's timer; remove it when the worker stops.

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


def touch_beat_file_after_every_tick(sender, **kwargs):
    """Wrap the scheduler of the beat that is starting (the beat_init signal's sender), so
    that each pass of its loop ends by touching BEAT_FILE. Wrapping the instance, not
    choosing a scheduler class, keeps whatever CELERY_BEAT_SCHEDULER names.

    https://docs.celeryq.dev/en/stable/userguide/signals.html#beat-init
    """
    scheduler = sender.scheduler
    tick = scheduler.tick

    def tick_and_touch(*args, **kwargs):
        next_tick_in = tick(*args, **kwargs)
        BEAT_FILE.touch()
        return next_tick_in

    scheduler.tick = tick_and_touch
    BEAT_FILE.touch()


def install(app):
    app.steps["worker"].add(WorkerHeartbeat)
    beat_init.connect(touch_beat_file_after_every_tick, weak=False)
