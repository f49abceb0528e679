"""The example app's task: a report built in a worker and read back by a status page."""

from datetime import timedelta

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone


@shared_task(ignore_result=False)
def summarise_signups(days):
    """Count the users who signed up on each of the last `days` days.

    It stands in for any report too slow to build inside a request: the view enqueues
    it and answers at once, a worker builds it, and the status page reads the result.
    It stores its result (ignore_result=False) because that page reads it; tasks whose
    result nobody reads keep the project default and store nothing.
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
