"""Task results in the admin: readable details, filters, and re-sending failed tasks."""

import json
from unittest import mock

import pytest
from celery import shared_task
from django.test import override_settings
from django_celery_results.models import TaskResult

from scheduling.results import recorded_arguments

LIST = "/admin/django_celery_results/taskresult/"


@shared_task
def count_visits(days):
    """Stands for any task whose failures are stored."""


@pytest.fixture(autouse=True)
def results_in_the_database(settings):
    """Show results as with CELERY_RESULT_BACKEND=django-db, whichever backend this
    project chose; the tests for Redis override it."""
    settings.CELERY_RESULT_BACKEND = "django-db"


def stored(status="FAILURE", args="(7,)", kwargs="{}", **fields):
    """A result as django-celery-results stores it: args and kwargs as JSON-encoded reprs."""
    return TaskResult.objects.create(
        task_id=f"id-{TaskResult.objects.count()}",
        task_name=fields.pop("task_name", count_visits.name),
        status=status,
        task_args=json.dumps(args) if args is not None else None,
        task_kwargs=json.dumps(kwargs) if kwargs is not None else None,
        **fields,
    )


def test_recorded_arguments_read_back_as_values():
    result = TaskResult(
        task_args=json.dumps("(7, 'a', [1, 2])"), task_kwargs=json.dumps("{'b': None}")
    )

    assert recorded_arguments(result) == ([7, "a", [1, 2]], {"b": None})


@pytest.mark.parametrize(
    "args",
    [
        None,  # not recorded
        "(\"a long argument'...",  # shortened by Celery past 1024 characters
        "(<masked>,)",  # argsrepr set by the sender to hide a secret
    ],
)
def test_arguments_that_cannot_be_read_back_are_refused(args):
    result = TaskResult(task_args=json.dumps(args) if args else None, task_kwargs='"{}"')

    with pytest.raises(ValueError):
        recorded_arguments(result)


@pytest.mark.django_db
def test_re_sending_sends_each_failed_task_again_with_its_arguments(admin_client):
    failed = stored(args="(7,)", kwargs="{}", periodic_task_name="Weekly report")
    succeeded = stored(status="SUCCESS")

    with mock.patch.object(count_visits, "apply_async") as apply_async:
        apply_async.return_value.id = "new-id"
        response = admin_client.post(
            LIST,
            {"action": "resend_failed", "_selected_action": [failed.pk, succeeded.pk]},
            follow=True,
        )

    apply_async.assert_called_once_with(
        args=[7], kwargs={}, headers={"periodic_task_name": "Weekly report"}
    )
    messages = [str(message) for message in response.context["messages"]]
    assert f"Re-sent 1 failed task(s) as new tasks: {count_visits.name} [new-id]." in messages
    assert "Skipped 1 task(s) that had not failed." in messages


@pytest.mark.django_db
def test_a_failed_task_whose_arguments_were_not_kept_is_not_re_sent(admin_client):
    failed = stored(args="('xxxxxxxx...")

    with mock.patch.object(count_visits, "apply_async") as apply_async:
        response = admin_client.post(
            LIST, {"action": "resend_failed", "_selected_action": [failed.pk]}, follow=True
        )

    apply_async.assert_not_called()
    assert "cannot be read back" in str(list(response.context["messages"])[0])


@pytest.mark.django_db
def test_the_list_filters_by_state_task_and_date(admin_client):
    stored(status="FAILURE")
    stored(status="SUCCESS", task_name="scheduling.tasks.round_trip")

    response = admin_client.get(LIST, {"status__exact": "FAILURE"})

    assert response.context["cl"].result_count == 1
    filtered_by = {spec.field_path for spec in response.context["cl"].filter_specs}
    assert {"status", "task_name", "periodic_task_name", "date_done"} <= filtered_by


@pytest.mark.django_db
def test_a_result_shows_its_arguments_and_traceback(admin_client):
    failed = stored(
        args="(7,)",
        kwargs="{'notify': True}",
        periodic_task_name="Weekly report",
        traceback="Traceback (most recent call last):\n  ...\nValueError: <no days>",
    )

    html = admin_client.get(f"{LIST}{failed.pk}/change/").content.decode()

    assert "args: (7,)\nkwargs: {&#x27;notify&#x27;: True}" in html
    assert "ValueError: &lt;no days&gt;" in html
    assert "Weekly report" in html


@pytest.mark.django_db
@override_settings(CELERY_RESULT_BACKEND="redis://localhost:6379/2")
def test_with_results_in_redis_the_list_says_where_they_are(admin_client):
    html = admin_client.get(LIST).content.decode()

    assert 'id="results-elsewhere"' in html
    assert "Task results are stored in Redis" in html
