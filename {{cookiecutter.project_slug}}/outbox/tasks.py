"""The outbox's housekeeping, run hourly by beat (scheduling/schedules.py)."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .models import Intent, ProcessedIntent


@shared_task(ignore_result=False)
def delete_old_intents():
    """Delete sent intents, and the consumers' records of processed ones, older than
    OUTBOX_KEEP_DAYS.

    Both tables grow by a row per intent. A processed record must outlive any duplicate
    of its intent still waiting in a queue, which a few days do with room to spare.
    Pending and dead intents are never deleted here: they are work not yet done.
    It stores its result, so the beat-status page shows what the last run deleted.
    """
    before = timezone.now() - timedelta(days=settings.OUTBOX_KEEP_DAYS)
    intents, _ = Intent.objects.filter(status=Intent.Status.SENT, sent_at__lt=before).delete()
    processed, _ = ProcessedIntent.objects.filter(processed_at__lt=before).delete()
    return {"sent_intents": intents, "processed_records": processed}
