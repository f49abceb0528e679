"""The scheduler beat runs: django-celery-beat's DatabaseScheduler, plus a heartbeat.

Selected by CELERY_BEAT_SCHEDULER in config/settings/base.py. Schedules still come from
the database, exactly as with the DatabaseScheduler; on every tick this subclass also
records that beat is alive (scheduling/heartbeat.py).
https://docs.celeryq.dev/en/stable/userguide/periodic-tasks.html#using-custom-scheduler-classes
"""

import logging

from django.db import DatabaseError, close_old_connections
from django.utils import timezone
from django_celery_beat.schedulers import DatabaseScheduler

from . import heartbeat

logger = logging.getLogger(__name__)


class HeartbeatScheduler(DatabaseScheduler):
    _wrote_heartbeat = False

    def tick(self, *args, **kwargs):
        interval = super().tick(*args, **kwargs)
        try:
            heartbeat.record(timezone.now(), wrote_before=self._wrote_heartbeat)
            self._wrote_heartbeat = True
        except DatabaseError:
            # Never stop sending tasks over a heartbeat: the page will show beat as stale.
            logger.exception("Could not record beat's heartbeat")
            close_old_connections()
        return interval
