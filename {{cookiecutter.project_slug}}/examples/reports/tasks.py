"""The example app's tasks: reports built in a worker and read back by status pages."""

import logging
from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from . import exports
from .models import Export

logger = logging.getLogger(__name__)


@shared_task(ignore_result=False)
def summarise_signups(days):
    """Count the users who signed up on each of the last `days` days.

    It stands in for any report too slow to build inside a request: the view enqueues
    it and answers at once, a worker builds it, and the status page reads the result.
    So it stores its successes too (ignore_result=False); other tasks store failures only.
    It only reads, so a second delivery of its outbox intent just stores the same report
    again under the same id.
    """
    since = timezone.now() - timedelta(days=days)
    rows = (
        get_user_model()
        .objects.filter(date_joined__gte=since)
        .annotate(day=TruncDate("date_joined"))
        .values("day")
        .annotate(count=Count("id"))
        .order_by("day")
    )
    per_day = {row["day"].isoformat(): row["count"] for row in rows}
    return {"days": days, "total": sum(per_day.values()), "per_day": per_day}


@shared_task(
    bind=True,
    acks_late=True,  # rebuilding an export from scratch is harmless
    # Longer than the project default: a big export may take a while. The soft limit
    # lets it remove its partial file; the hard limit is the backstop, and stays under
    # RABBITMQ_CONSUMER_TIMEOUT of 30 minutes (see CELERY_TASK_ACKS_ON_TIMEOUT).
    soft_time_limit=20 * 60,
    time_limit=22 * 60,
)
def build_signup_export(self, export_id):
    """Write every user to the CSV file of Export `export_id`, reporting progress.

    Long and heavy, so it is routed to the bulk queue, whose worker runs one task at a
    time and cannot delay short tasks. The Export row records how it ended (done with
    its row count, or failed). While it runs, each batch sets the state stored under the
    export's id to PROGRESS with done/total, which the progress page shows as a bar;
    the task itself runs under its outbox intent's id. The file is named after the
    Export row, never after the message's task id, which whoever sends it chooses.
    """
    export = Export.objects.get(pk=export_id)
    if export.status != Export.Status.RUNNING:
        # The outbox delivers at least once: a second delivery of a finished export.
        logger.info("Export %s is already %s: nothing to do", export.id, export.status)
        return None

    def report_progress(done, total):
        meta = {"done": done, "total": total}
        self.update_state(task_id=str(export.id), state="PROGRESS", meta=meta)

    try:
        rows = exports.write_signup_export(export.id, report_progress)
    except SoftTimeLimitExceeded:
        # write_signup_export has removed its partial file on the way out; say why.
        logger.warning("Export %s ran out of time and was abandoned", export.id)
        Export.objects.filter(pk=export.id).update(status=Export.Status.FAILED)
        raise
    except Exception:
        Export.objects.filter(pk=export.id).update(status=Export.Status.FAILED)
        raise
    Export.objects.filter(pk=export.id).update(status=Export.Status.DONE, rows=rows)
    return {"rows": rows}


@shared_task
def delete_old_exports():
    """Delete exports older than a day: they hold every user's e-mail address."""
    return exports.delete_old_exports()
