"""summarise_signups, called directly and run by a real worker."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from examples.reports.tasks import summarise_signups


def make_users(recent, old):
    User = get_user_model()
    for number in range(recent):
        User.objects.create_user(f"recent{number}")
    for number in range(old):
        User.objects.create_user(f"old{number}", date_joined=timezone.now() - timedelta(days=30))


@pytest.mark.django_db
def test_counts_only_signups_within_the_period():
    make_users(recent=2, old=1)

    # Calling a task object runs it here, synchronously: good for testing its logic.
    report = summarise_signups(7)

    assert report["days"] == 7
    assert report["total"] == 2
    assert sum(report["per_day"].values()) == 2


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_builds_the_report(celery_worker):
    make_users(recent=3, old=2)

    result = summarise_signups.delay(7)

    assert result.get(timeout=30)["total"] == 3
    assert result.state == "SUCCESS"
