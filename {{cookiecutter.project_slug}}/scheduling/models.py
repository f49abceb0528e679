"""What the scheduling app stores beside django-celery-beat's own tables.

- BeatHeartbeat: when beat was last seen working, so the beat-status page can say
  whether beat is alive.
- SyncedSchedule: what `manage.py sync_schedules` last wrote for each schedule declared
  in scheduling/schedules.py, so that a later sync can tell an admin's edit from its own.
- BeatStatus: no table; it gives the beat-status page its place in the admin index and
  its own view permission.
"""

from django.db import models
from django_celery_beat.models import PeriodicTask


class BeatHeartbeat(models.Model):
    """One row, rewritten by the beat process on every tick of its loop."""

    seen_at = models.DateTimeField()
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()

    def __str__(self):
        return f"beat {self.hostname} (pid {self.pid}) seen at {self.seen_at}"


class SyncedSchedule(models.Model):
    """The fingerprint of a schedule's stored definition, as the sync last wrote it."""

    name = models.CharField(max_length=200, unique=True)
    fingerprint = models.CharField(max_length=64)
    synced_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.name


class BeatStatus(PeriodicTask):
    class Meta:
        proxy = True
        verbose_name = "beat status"
        verbose_name_plural = "beat status"
