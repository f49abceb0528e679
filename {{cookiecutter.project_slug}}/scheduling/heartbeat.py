"""Beat's heartbeat, kept by its scheduler (scheduling/beat.py) after every pass of its
loop, which runs at least every 5 seconds (django-celery-beat's loop interval).

It is kept in two places, for two readers. A file (background/heartbeat.py) for the
container's healthcheck, cheap to read every few seconds and about this container's
beat alone. A database row for the beat-status page and the welcome page, which call
beat stale when the row is older than BEAT_HEARTBEAT_STALE_AFTER. The row also names the
process that wrote it; when a different process writes it between two of ours, two
beats are running, and every periodic task is being sent twice.
"""

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from background.heartbeat import heartbeat_file

from .models import BeatHeartbeat

logger = logging.getLogger(__name__)

ROW = 1
FILE = heartbeat_file("celery-beat")


def this_process():
    return socket.gethostname(), os.getpid()


def record(seen_at: datetime, identity=None, *, wrote_before: bool) -> None:
    """Write the heartbeat of the beat process `identity` (hostname, pid): the file,
    then the row (which raises DatabaseError while the database is away).

    `wrote_before` says whether that process has written one already: if so and the row
    now names another process, another beat is running.
    """
    FILE.touch()
    hostname, pid = identity or this_process()
    previous = BeatHeartbeat.objects.filter(pk=ROW).values_list("hostname", "pid").first()
    if wrote_before and previous is not None and previous != (hostname, pid):
        logger.warning(
            "Another beat (%s, pid %s) is running: every periodic task is sent twice. "
            "Run exactly one beat.",
            *previous,
        )
    BeatHeartbeat.objects.update_or_create(
        pk=ROW, defaults={"seen_at": seen_at, "hostname": hostname, "pid": pid}
    )


@dataclass(frozen=True)
class BeatSeen:
    seen_at: datetime | None  # None: beat has never run against this database
    age: timedelta | None
    stale_after: timedelta
    hostname: str = ""
    pid: int | None = None

    @property
    def alive(self) -> bool:
        return self.age is not None and self.age <= self.stale_after


def last_seen(now: datetime | None = None) -> BeatSeen:
    now = now or timezone.now()
    stale_after = settings.BEAT_HEARTBEAT_STALE_AFTER
    row = BeatHeartbeat.objects.filter(pk=ROW).first()
    if row is None:
        return BeatSeen(None, None, stale_after)
    return BeatSeen(
        row.seen_at, max(now - row.seen_at, timedelta(0)), stale_after, row.hostname, row.pid
    )
