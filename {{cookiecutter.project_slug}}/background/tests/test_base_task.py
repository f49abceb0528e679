"""The base task class: retries that back off, delays in whole seconds, task-aware logs."""

import logging
import time
from datetime import timedelta

import pytest
from celery import shared_task
from celery.signals import task_failure
from django.db import OperationalError
from django.utils import timezone

from background.base import BaseTask, PayloadTooLarge
from background.log_context import TaskContextFilter
from background.testing import wait_until

attempts = []
finished = {}


@shared_task
def does_nothing(*args):
    """A task with the project's defaults."""


@shared_task(bind=True, autoretry_for=(ConnectionError,), retry_backoff=1, max_retries=2)
def always_unreachable(self):
    attempts.append(time.monotonic())
    raise ConnectionError("the other service is down")


@shared_task(bind=True, autoretry_for=(ConnectionError,), retry_backoff=1, max_retries=2)
def permanently_wrong(self):
    attempts.append(time.monotonic())
    raise ValueError("this input will never work")


@shared_task(bind=True, autoretry_for=(ConnectionError,), retry_backoff=1, max_retries=2)
def fails_once_with(self, error):
    if self.request.retries == 0:
        raise {"database": OperationalError, "own": ConnectionError}[error]("a blip")
    finished[error] = self.request.retries


@shared_task
def note_when_run(key):
    finished[key] = time.monotonic()


@pytest.fixture(autouse=True)
def fresh_records():
    attempts.clear()
    finished.clear()


@pytest.fixture
def final_failures():
    received = []

    def record(sender, task_id, exception, **kwargs):
        received.append((sender.name, type(exception)))

    task_failure.connect(record)
    yield received
    task_failure.disconnect(record)


def test_backoff_doubles_up_to_the_cap():
    assert isinstance(does_nothing, BaseTask)
    assert [does_nothing.backoff_delay(retries) for retries in range(9)] == [
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
@pytest.mark.parametrize("error", ["database", "own"])
def test_a_task_with_its_own_transient_errors_still_retries_database_errors(
    celery_worker, final_failures, error
):
    fails_once_with.delay(error)

    wait_until(lambda: error in finished or final_failures)

    assert final_failures == []
    assert finished == {error: 1}


@pytest.mark.django_db(transaction=True)
def test_permanent_errors_fail_at_once_and_are_reported_once(celery_worker, final_failures):
    permanently_wrong.delay()

    wait_until(lambda: final_failures)

    assert len(attempts) == 1
    assert final_failures == [(permanently_wrong.name, ValueError)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "delay",
    [lambda: {"countdown": 0.5}, lambda: {"eta": timezone.now() + timedelta(seconds=0.3)}],
    ids=["countdown", "eta"],
)
def test_a_delay_under_a_second_is_sent_and_runs_no_sooner(celery_worker, delay):
    # On RabbitMQ's quorum queues, Celery cannot send a delay between 0 and 1 s.
    sent_at = time.monotonic()

    note_when_run.apply_async(["ran"], **delay())

    ran_at = wait_until(lambda: finished.get("ran"))
    assert ran_at - sent_at >= 0.3


def test_delays_are_rounded_up_to_whole_seconds():
    now = timezone.now()
    cases = [
        ({"countdown": 0.5}, {"countdown": 1}),
        ({"countdown": 2.1}, {"countdown": 3}),
        ({"countdown": 0}, {"countdown": 0}),
        ({"eta": now + timedelta(seconds=0.3)}, {"countdown": 1}),
        ({"eta": now + timedelta(hours=1, seconds=0.5)}, {"countdown": 3601}),
        ({"eta": now - timedelta(seconds=5)}, {"eta": now - timedelta(seconds=5)}),
    ]

    for options, expected in cases:
        does_nothing.delay_in_whole_seconds(options)
        assert options == expected


def test_log_lines_outside_a_task_carry_no_task_context():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)

    TaskContextFilter().filter(record)

    assert record.task == ""


def test_oversized_arguments_are_refused_before_anything_is_sent():
    with pytest.raises(PayloadTooLarge, match="pass an id"):
        does_nothing.delay("x" * 300_000)


def test_the_redis_visibility_timeout_outlasts_the_longest_retry_delay(settings):
    # On Redis, a message held longer than the visibility timeout is handed out again:
    # a retry countdown longer than it would run the task twice.
    longest_delay = BaseTask.retry_backoff_max * (1 + BaseTask.jitter_fraction)

    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > longest_delay
