"""The request page answers at once; the status page follows the task to its result."""

import time

import pytest
from django.contrib.auth import get_user_model


def wait_for_finished_task(client, status_url, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = client.get(status_url).json()
        if task["state"] in ("SUCCESS", "FAILURE"):
            return task
        time.sleep(0.2)
    raise AssertionError(f"task at {status_url} did not finish in {timeout} s")


@pytest.mark.django_db(transaction=True)
def test_report_requested_on_the_page_is_built_by_a_worker(client, celery_worker):
    get_user_model().objects.create_user("alice")

    response = client.post("/examples/reports/", {"days": 7})

    assert response.status_code == 302
    status_page = client.get(response["Location"])
    assert status_page.status_code == 200
    task = wait_for_finished_task(client, response["Location"] + "status/")
    assert task["state"] == "SUCCESS"
    assert task["result"]["total"] == 1


@pytest.mark.django_db
def test_the_request_page_shows_the_form(client):
    response = client.get("/examples/reports/")

    assert response.status_code == 200
    assert b"Build the report" in response.content
    assert b'name="csrfmiddlewaretoken"' in response.content


@pytest.mark.django_db
def test_an_invalid_period_is_refused_with_the_form_shown_again(client):
    response = client.post("/examples/reports/", {"days": 0})

    assert response.status_code == 200
    assert "days" in response.context["form"].errors


@pytest.mark.django_db
def test_a_task_not_requested_in_this_session_is_not_shown(client):
    # Task ids appear in URLs; knowing one must not be enough to read its result.
    response = client.get("/examples/reports/tasks/00000000-0000-0000-0000-000000000000/status/")

    assert response.status_code == 404
