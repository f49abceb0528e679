"""Recording purchases and awarding their points: the logic the tasks call."""

import logging

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from .models import Balance, PointsEntry, Purchase

logger = logging.getLogger(__name__)


def points_for(amount):
    """One point per whole unit of currency spent."""
    return int(amount)


def record_purchase(user, amount):
    """Save a purchase and have its points awarded in the background.

    delay_on_commit sends the task only once the purchase is committed: sent earlier, a
    worker could look for the purchase before it exists, and a rollback would leave a
    task for a purchase that never happened.
    """
    from .tasks import award_points

    with transaction.atomic():
        purchase = Purchase.objects.create(user=user, amount=amount)
        award_points.delay_on_commit(purchase.id)
    return purchase


def award_points(purchase_id):
    """Add the purchase's points to its user's balance, once.

    Returns the entry, or None when there is nothing to do: the purchase was deleted
    after the task was sent, or its points were already awarded.
    """
    with transaction.atomic():
        purchase = Purchase.objects.filter(pk=purchase_id).first()
        if purchase is None:
            logger.info("Purchase %s no longer exists: no points to award", purchase_id)
            return None
        # The unique purchase column lets only one attempt create the entry; a second
        # one, even running at the same moment in another worker, gets IntegrityError.
        try:
            with transaction.atomic():
                entry = PointsEntry.objects.create(
                    purchase=purchase, user=purchase.user, points=points_for(purchase.amount)
                )
        except IntegrityError:
            logger.info("Points for purchase %s were already awarded", purchase_id)
            return None
        # In the same transaction as the entry: both commit, or neither does.
        Balance.objects.bulk_create([Balance(user=purchase.user)], ignore_conflicts=True)
        Balance.objects.filter(user=purchase.user).update(points=F("points") + entry.points)
    return entry


def purchases_awaiting_points(older_than, limit):
    """Ids of purchases made more than `older_than` ago that still have no points entry.

    Oldest first, at most `limit`: a sweep that finds a backlog works through it over
    several runs instead of sending it all at once.
    """
    made_before = timezone.now() - older_than
    awaiting = Purchase.objects.filter(points__isnull=True, created_at__lt=made_before)
    return list(awaiting.order_by("created_at", "pk").values_list("pk", flat=True)[:limit])


def recalculate_balance(user_id):
    """Set a balance to the sum of the user's entries: safe to run any number of times.

    The balance row is locked before the sum is read, so an award committing meanwhile
    either lands before the sum (and is counted) or waits and adds to the new total.
    """
    with transaction.atomic():
        Balance.objects.bulk_create([Balance(user_id=user_id)], ignore_conflicts=True)
        Balance.objects.select_for_update().filter(user_id=user_id).first()
        total = PointsEntry.objects.filter(user_id=user_id).aggregate(total=Sum("points"))
        Balance.objects.filter(user_id=user_id).update(points=total["total"] or 0)
