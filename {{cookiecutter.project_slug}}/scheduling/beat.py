"""The scheduler beat runs: django-celery-beat's DatabaseScheduler, plus a heartbeat.

Selected by CELERY_BEAT_SCHEDULER in config/settings/base.py. Schedules still come from
the database, exactly as with the DatabaseScheduler; after every tick this subclass also
keeps beat's heartbeat (scheduling/heartbeat.py: the healthcheck's file and the status
pages' row), and it stops only between calls to the database and the broker (see
_stop_when_safe).
https://docs.celeryq.dev/en/stable/userguide/periodic-tasks.html#using-custom-scheduler-classes
"""

import logging
import signal
import threading
from contextlib import contextmanager

from django.db import DatabaseError, close_old_connections
from django.utils import timezone
from django_celery_beat.schedulers import DatabaseScheduler

from . import heartbeat

logger = logging.getLogger(__name__)


class HeartbeatScheduler(DatabaseScheduler):
    _wrote_heartbeat = False
    # True while tick() or sync() may be in the middle of a query or a publish.
    _busy = False
    # Set when SIGTERM or SIGINT arrived while _busy; _stopping once beat acts on it.
    _stop_requested = False
    _stopping = False

    def setup_schedule(self):
        super().setup_schedule()
        # Only the scheduler beat runs sets up its schedule; Celery has installed its
        # own stop handler by then, and this one replaces it.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._stop_when_safe)
            signal.signal(signal.SIGINT, self._stop_when_safe)

    def _stop_when_safe(self, signum, frame):
        """Stop beat, but never from the middle of a query or a publish.

        Celery's own handler saves the schedule and raises SystemExit at whatever line
        the signal interrupted. In the middle of a query or a publish, that re-enters a
        connection that is busy: psycopg waits for a lock its interrupted query still
        holds, and py-amqp reads the rest of a half-read reply as a new frame. Beat then
        hangs until it is killed (the template's tests caught it, right after "Sending
        due task"). Here, a stop that arrives mid-call waits for the call to finish,
        which takes milliseconds; beat then exits as usual, saving the schedule. A second
        signal stops it at once, for a call that never finishes.
        """
        if self._busy and not self._stop_requested:
            self._stop_requested = True
            return
        raise SystemExit()

    @contextmanager
    def _talking(self):
        """Mark a stretch of work with the database or the broker; stop after it if asked."""
        was_busy = self._busy  # tick() calls sync()
        self._busy = True
        try:
            yield
        finally:
            self._busy = was_busy
        if self._stop_requested and not was_busy and not self._stopping:
            self._stopping = True  # beat's shutdown syncs once more: let it
            raise SystemExit()

    def tick(self, *args, **kwargs):
        with self._talking():
            interval = super().tick(*args, **kwargs)
            try:
                heartbeat.record(timezone.now(), wrote_before=self._wrote_heartbeat)
                self._wrote_heartbeat = True
            except DatabaseError:
                # Never stop sending tasks over a heartbeat: the page will show beat as stale.
                logger.exception("Could not record beat's heartbeat")
                close_old_connections()
        return interval

    def sync(self):
        with self._talking():
            super().sync()
