"""Tasks that award and recompute loyalty points.

Lessons: pass ids, not objects; make the task idempotent with a database guarantee;
sweep for work whose message went missing; spread bulk work over time in chunks.
"""

from datetime import timedelta

from celery import shared_task
from django.contrib.auth import get_user_model

from . import services

BALANCES_PER_CHUNK = 1000
SECONDS_BETWEEN_CHUNKS = 1
MISSED_AWARDS_PER_SWEEP = 1000


@shared_task(acks_late=True)
def award_points(purchase_id):
    """Award a purchase's points, once however often it runs, so it acknowledges late.

    It takes an id and loads the row as it is now (a deleted purchase is skipped); the
    database refuses a second entry for the same purchase. Template docs:
    patterns/ids-not-objects.md, patterns/idempotency.md.
    """
    entry = services.award_points(purchase_id)
    return entry.points if entry else 0


@shared_task(ignore_result=False)
def award_missed_points(older_than_minutes=10):
    """Send award_points again for purchases still without points: their message was lost.

    A message can go missing (a process dying between commit and publish, or one in
    flight on a Redis broker), so the work is found by what the database lacks. Keep
    `older_than_minutes` above the longest normal wait in the queue. Scheduled in this
    app's schedules.py; it returns how many it sent again. Template docs:
    patterns/idempotency.md#a-sweep-for-lost-messages.
    """
    missed = services.purchases_awaiting_points(
        timedelta(minutes=older_than_minutes), limit=MISSED_AWARDS_PER_SWEEP
    )
    for purchase_id in missed:
        award_points.delay(purchase_id)
    return len(missed)


@shared_task(acks_late=True)
def recalculate_balance(user_id):
    services.recalculate_balance(user_id)


@shared_task
def recalculate_all_balances():
    """Recompute every balance, in chunks of 1000 users sent a second apart.

    Fewer messages than a task per user, shorter tasks than one for everyone; skew()
    spreads the load on the database.
    https://docs.celeryq.dev/en/stable/userguide/canvas.html#chunks
    """
    user_ids = get_user_model().objects.order_by("pk").values_list("pk", flat=True)
    chunks = recalculate_balance.chunks(((user_id,) for user_id in user_ids), BALANCES_PER_CHUNK)
    chunks.group().skew(step=SECONDS_BETWEEN_CHUNKS).apply_async()
