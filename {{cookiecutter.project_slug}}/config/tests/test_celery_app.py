"""The Celery app is wired as the project relies on."""

import pytest
from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django_celery_results.models import TaskResult

from background.testing import wait_until
from config.celery_app import app


@shared_task
def breaks(order_id):
    raise ValueError(f"order {order_id} is broken")


def test_tasks_use_celerys_django_task_class():
    # DjangoTask gives every task delay_on_commit(), which sends it only once the
    # surrounding database transaction has committed.
    assert issubclass(app.Task, DjangoTask)
    assert hasattr(breaks, "delay_on_commit")


def test_only_json_is_accepted():
    assert app.conf.accept_content == ["json"]
    assert app.conf.result_accept_content == ["json"]


def test_tasks_are_autodiscovered():
    app.loader.import_default_modules()  # as a worker does when it starts

    assert "scheduling.tasks.round_trip" in app.tasks


@pytest.mark.django_db(transaction=True)
def test_a_failure_is_stored_though_the_task_ignores_its_result(celery_worker):
    assert breaks.ignore_result

    result = breaks.delay(7)

    wait_until(lambda: result.state == "FAILURE")
    if settings.CELERY_RESULT_BACKEND == "django-db":
        stored = TaskResult.objects.get(task_id=result.id)
        assert stored.task_name == breaks.name
        assert "order 7 is broken" in stored.result
