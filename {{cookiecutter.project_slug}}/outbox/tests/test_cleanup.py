"""The hourly cleanup deletes old sent intents and processed records, and nothing else."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from outbox.models import Intent, ProcessedIntent
from outbox.tasks import delete_old_intents


@pytest.mark.django_db
def test_old_sent_intents_go_pending_and_dead_ones_stay(settings):
    settings.OUTBOX_KEEP_DAYS = 7
    long_ago = timezone.now() - timedelta(days=8)
    recently = timezone.now() - timedelta(days=6)

    def make(status, sent_at=None):
        return Intent.objects.create(
            task_name="t", queue="default", status=status, sent_at=sent_at
        ).pk

    old_sent = make(Intent.Status.SENT, long_ago)
    kept = {make(Intent.Status.SENT, recently), make(Intent.Status.PENDING), make("dead")}
    Intent.objects.filter(pk__in=kept).update(created_at=long_ago)
    ProcessedIntent.objects.create(intent_id=uuid.uuid4(), task_name="t")
    old = ProcessedIntent.objects.create(intent_id=old_sent, task_name="t")
    ProcessedIntent.objects.filter(pk=old.pk).update(processed_at=long_ago)

    assert delete_old_intents() == {"sent_intents": 1, "processed_records": 1}
    assert set(Intent.objects.values_list("pk", flat=True)) == kept
    assert ProcessedIntent.objects.count() == 1
