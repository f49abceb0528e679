"""Awarding points: pass ids, idempotent by a unique row, sent only after commit."""

from datetime import timedelta

import pytest
from celery.signals import after_task_publish
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from background.testing import wait_until
from examples.rewards import services
from examples.rewards.models import Balance, PointsEntry, Purchase
from examples.rewards.tasks import award_points, recalculate_all_balances


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("buyer")


@pytest.fixture
def published():
    """Names of the tasks this process publishes to the broker during the test."""
    names = []

    def record(sender, **kwargs):
        names.append(sender)

    after_task_publish.connect(record)
    yield names
    after_task_publish.disconnect(record)


def test_points_are_awarded_once_however_often_the_task_runs(user):
    purchase = Purchase.objects.create(user=user, amount="42.90")

    first = services.award_points(purchase.id)
    second = services.award_points(purchase.id)

    assert first.points == 42
    assert second is None
    assert PointsEntry.objects.count() == 1
    assert Balance.objects.get(user=user).points == 42


def test_a_deleted_purchase_is_skipped_not_retried(user):
    purchase = Purchase.objects.create(user=user, amount="10")
    purchase_id = purchase.id
    purchase.delete()

    assert services.award_points(purchase_id) is None


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_purchase_sends_no_task(published):
    buyer = get_user_model().objects.create_user("rollback")

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            services.record_purchase(buyer, "10")
            raise RuntimeError("the order failed after the purchase was saved")

    assert award_points.name not in published
    assert not Purchase.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_committed_purchase_is_awarded_by_a_real_worker(celery_worker, published):
    buyer = get_user_model().objects.create_user("commit")

    with transaction.atomic():
        services.record_purchase(buyer, "25.00")
        assert award_points.name not in published  # not before the commit

    assert published == [award_points.name]
    wait_until(lambda: Balance.objects.filter(user=buyer, points=25).exists())


@pytest.mark.django_db(transaction=True)
def test_the_same_message_twice_awards_once(celery_worker):
    buyer = get_user_model().objects.create_user("twice")
    purchase = Purchase.objects.create(user=buyer, amount="7")

    # Two publishes of the same work, as after a duplicate send or a redelivery.
    award_points.delay(purchase.id)
    award_points.delay(purchase.id)

    wait_until(lambda: PointsEntry.objects.filter(purchase=purchase).exists())
    wait_until(lambda: Balance.objects.filter(user=buyer, points=7).exists())
    assert PointsEntry.objects.filter(purchase=purchase).count() == 1


@pytest.mark.django_db(transaction=True)
def test_balances_are_recalculated_in_chunks(celery_worker):
    buyers = [get_user_model().objects.create_user(f"chunk{number}") for number in range(3)]
    for number, buyer in enumerate(buyers):
        purchase = Purchase.objects.create(user=buyer, amount=number + 1)
        PointsEntry.objects.create(purchase=purchase, user=buyer, points=number + 1)

    recalculate_all_balances.delay()

    wait_until(lambda: Balance.objects.count() == 3)
    assert {b.user_id: b.points for b in Balance.objects.all()} == {
        buyer.pk: number + 1 for number, buyer in enumerate(buyers)
    }


def test_the_sweep_finds_only_old_purchases_still_without_points(user):
    awarded, missed, recent = (
        Purchase.objects.create(user=user, amount=amount) for amount in ("1", "2", "3")
    )
    services.award_points(awarded.id)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Purchase.objects.filter(pk__in=[awarded.id, missed.id]).update(created_at=an_hour_ago)

    assert services.purchases_awaiting_points(timedelta(minutes=10), limit=100) == [missed.id]
    assert services.purchases_awaiting_points(timedelta(0), limit=1) == [missed.id]
