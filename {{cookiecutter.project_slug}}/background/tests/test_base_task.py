"""The base task class: retries that back off, hooks that fire once, task-aware logs."""

import logging
import time

import pytest
from celery import shared_task

from background.base import BaseTask, PayloadTooLarge
from background.log_context import TaskContextFilter
from background.signals import task_failed_for_good
from background.testing import wait_until
from reports.tasks import summarise_signups

attempts = []


@shared_task(bind=True, autoretry_for=(ConnectionError,), retry_backoff=1, max_retries=2)
def always_unreachable(self):
    attempts.append(time.monotonic())
    raise ConnectionError("the other service is down")


@shared_task(bind=True, autoretry_for=(ConnectionError,), retry_backoff=1, max_retries=2)
def permanently_wrong(self):
    attempts.append(time.monotonic())
    raise ValueError("this input will never work")


@pytest.fixture
def final_failures():
    received = []

    def record(sender, task, task_id, exc, **kwargs):
        received.append((task.name, type(exc)))

    task_failed_for_good.connect(record)
    attempts.clear()
    yield received
    task_failed_for_good.disconnect(record)


def test_backoff_doubles_up_to_the_cap():
    task = summarise_signups  # any task with the project's defaults

    assert isinstance(task, BaseTask)
    assert [task.backoff_delay(retries) for retries in range(9)] == [
        5, 10, 20, 40, 80, 160, 320, 600, 600
    ]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_transient_errors_are_retried_with_growing_gaps_then_reported_once(
    celery_worker, final_failures
):
    always_unreachable.delay()

    wait_until(lambda: final_failures)

    assert len(attempts) == 3  # the first try and max_retries=2 retries
    first_gap, second_gap = attempts[1] - attempts[0], attempts[2] - attempts[1]
    # Backoff 1 s then 2 s, each spread by up to a quarter and rounded up to whole seconds.
    assert 1 <= first_gap < 2.9
    assert 2 <= second_gap < 4.9
    assert second_gap > first_gap
    assert final_failures == [(always_unreachable.name, ConnectionError)]


@pytest.mark.django_db(transaction=True)
def test_permanent_errors_fail_at_once_and_are_reported_once(celery_worker, final_failures):
    permanently_wrong.delay()

    wait_until(lambda: final_failures)

    assert len(attempts) == 1
    assert final_failures == [(permanently_wrong.name, ValueError)]


def test_log_lines_outside_a_task_carry_no_task_context():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)

    TaskContextFilter().filter(record)

    assert record.task == ""


def test_oversized_arguments_are_refused_before_anything_is_sent():
    with pytest.raises(PayloadTooLarge, match="pass an id"):
        summarise_signups.delay("x" * 300_000)


def test_the_redis_visibility_timeout_outlasts_the_longest_retry_delay(settings):
    # On Redis, a message held longer than the visibility timeout is handed out again:
    # a retry countdown longer than it would run the task twice.
    task = summarise_signups
    longest_delay = task.retry_backoff_max * (1 + task.jitter_fraction)

    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > longest_delay
