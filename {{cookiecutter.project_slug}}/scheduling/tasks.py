"""The tasks scheduling/schedules.py runs: cheap housekeeping and checks.

Each stores its result (ignore_result=False, against the project's default) because
people watch them: the beat-status page shows each one's latest result.
"""

from celery import shared_task
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.utils import timezone


@shared_task(bind=True, ignore_result=False)
def round_trip(self):
    """Do nothing but report who ran it: a success proves beat, broker and worker work."""
    return {"worker": self.request.hostname, "ran_at": timezone.now().isoformat()}


@shared_task(ignore_result=False)
def clear_expired_sessions():
    """Delete expired sessions; Django leaves them in the database until told to.

    https://docs.djangoproject.com/en/5.2/topics/http/sessions/#clearing-the-session-store
    """
    call_command("clearsessions")


@shared_task(bind=True, ignore_result=False)
def check_setup(self):
    """Check that a worker reaches the database and the cache; raise if it does not."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    key = f"scheduling:check_setup:{self.request.id}"
    cache.set(key, "ok", timeout=60)
    if cache.get(key) != "ok":
        raise RuntimeError("The cache did not return the value just written to it")
    cache.delete(key)
    return {"database": "ok", "cache": "ok", "worker": self.request.hostname}
