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
    """Award a purchase's points. Safe to run twice, so it acknowledges late.

    It takes the purchase's id, not the purchase: the worker loads the row as it is now,
    and a purchase deleted in the meantime is skipped, not a crash to retry forever.
    Running twice (a redelivery after a worker died, a duplicate publish) awards the
    points once: the database refuses a second entry for the same purchase. Because of
    that, acks_late is safe here: the message is acknowledged only after the task has
    finished, so a worker killed halfway leaves the message to run again.
    """
    entry = services.award_points(purchase_id)
    return entry.points if entry else 0


@shared_task(ignore_result=False)
def award_missed_points(older_than_minutes=10):
    """Send award_points again for purchases that still have no points after a while.

    Every message can go missing somewhere: a process that dies between the commit and
    delay_on_commit's publish sends nothing; on a Redis broker, a worker or Redis killed
    at the wrong instant loses the one message on its way to the worker. This sweep does
    not trust the messages. It finds the work by what the database lacks, purchases
    without points, and sends it again. award_points is idempotent, so a purchase whose
    task is merely slow still gets its points once. Keep `older_than_minutes` above the
    longest normal wait in the queue, or the sweep re-sends work that is on its way.
    Scheduled in scheduling/schedules.py; its result, how many it sent again, shows on
    the beat-status page.
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

    One task per user would flood the queue with tiny messages; one task for everyone
    would run for hours and restart from scratch after a failure. Chunks are the middle
    way, and skew() starts each chunk a second after the previous one so the database
    is not hit by all of them at once.
    https://docs.celeryq.dev/en/stable/userguide/canvas.html#chunks
    """
    user_ids = get_user_model().objects.order_by("pk").values_list("pk", flat=True)
    chunks = recalculate_balance.chunks(((user_id,) for user_id in user_ids), BALANCES_PER_CHUNK)
    chunks.group().skew(step=SECONDS_BETWEEN_CHUNKS).apply_async()
