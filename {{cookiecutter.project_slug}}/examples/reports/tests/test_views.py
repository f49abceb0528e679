"""The report pages: for users allowed to read user data, each seeing only their own."""

import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from examples.reports.models import Export
from examples.reports.tasks import build_signup_export
from examples.reports.views import FAILED
from outbox.models import Intent

PAGE = "/examples/reports/"


def wait_for_finished_task(client, status_url, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = client.get(status_url).json()
        if task["state"] in ("SUCCESS", "FAILURE"):
            return task
        time.sleep(0.2)
    raise AssertionError(f"task at {status_url} did not finish in {timeout} s")


def user_who_may_read_users(name="analyst"):
    user = get_user_model().objects.create_user(name, f"{name}@example.com")
    user.user_permissions.add(Permission.objects.get(codename="view_user"))
    return user


@pytest.fixture
def analyst_client(db):
    client = Client()
    client.force_login(user_who_may_read_users())
    return client


@pytest.mark.django_db(transaction=True)
def test_report_requested_on_the_page_is_built_by_a_worker(
    analyst_client, celery_worker, make_relay
):
    response = analyst_client.post(PAGE, {"days": 7})

    assert response.status_code == 302
    intent = Intent.objects.get()
    assert response["Location"] == f"{PAGE}tasks/{intent.id}/"
    status_page = analyst_client.get(response["Location"])
    assert status_page.status_code == 200
    assert analyst_client.get(response["Location"] + "status/").json()["state"] == "PENDING"
    assert make_relay().relay_batch() == 1
    task = wait_for_finished_task(analyst_client, response["Location"] + "status/")
    assert task["state"] == "SUCCESS"
    assert task["result"]["total"] == 1


@pytest.mark.django_db
def test_a_visitor_is_sent_to_sign_in_and_a_user_without_the_permission_is_refused(client):
    assert client.get(PAGE).url.startswith("/accounts/login/")
    assert client.post(f"{PAGE}exports/").url.startswith("/accounts/login/")

    client.force_login(get_user_model().objects.create_user("customer"))
    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}exports/").status_code == 403
    assert not Export.objects.exists()


def test_the_request_page_shows_the_form(analyst_client):
    response = analyst_client.get(PAGE)

    assert response.status_code == 200
    assert b"Build the report" in response.content
    assert b'name="csrfmiddlewaretoken"' in response.content


def test_an_invalid_period_is_refused_with_the_form_shown_again(analyst_client):
    response = analyst_client.post(PAGE, {"days": 0})

    assert response.status_code == 200
    assert "days" in response.context["form"].errors


def test_a_task_not_requested_in_this_session_is_not_shown(analyst_client):
    # Task ids appear in URLs; knowing one must not be enough to read its result.
    response = analyst_client.get(f"{PAGE}tasks/00000000-0000-0000-0000-000000000000/status/")

    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_an_export_is_the_requesting_users_alone(
    analyst_client, celery_worker, make_relay, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    response = analyst_client.post(f"{PAGE}exports/")
    export = Export.objects.get()
    assert response.url == f"{PAGE}exports/{export.id}/"
    intent = Intent.objects.get()
    assert (intent.task_name, intent.args) == (build_signup_export.name, [str(export.id)])

    assert make_relay().relay_batch() == 1
    task = wait_for_finished_task(analyst_client, f"{PAGE}exports/{export.id}/status/")
    assert task["state"] == "SUCCESS" and task["result"] == {"rows": 1}
    download = analyst_client.get(f"{PAGE}exports/{export.id}/download/")
    assert download.status_code == 200
    assert b"analyst@example.com" in b"".join(download.streaming_content)

    colleague = Client()
    colleague.force_login(user_who_may_read_users("colleague"))
    for path in ("", "status/", "download/"):
        assert colleague.get(f"{PAGE}exports/{export.id}/{path}").status_code == 404


def test_a_second_export_while_one_runs_is_refused(analyst_client):
    running = Export.objects.create(user=get_user_model().objects.get(username="analyst"))

    response = analyst_client.post(f"{PAGE}exports/")

    assert response.status_code == 409
    assert "already have an export running" in response.content.decode()
    assert list(Export.objects.all()) == [running]
    assert not Intent.objects.exists()


def test_a_finished_or_failed_export_is_read_from_its_row(analyst_client):
    analyst = get_user_model().objects.get(username="analyst")
    done = Export.objects.create(user=analyst, status=Export.Status.DONE, rows=12)
    failed = Export.objects.create(user=analyst, status=Export.Status.FAILED)

    assert analyst_client.get(f"{PAGE}exports/{done.id}/status/").json() == {
        "id": str(done.id),
        "state": "SUCCESS",
        "result": {"rows": 12},
    }
    answer = analyst_client.get(f"{PAGE}exports/{failed.id}/status/").json()
    assert answer["state"] == "FAILURE" and answer["error"] == FAILED


@pytest.mark.django_db
def test_a_failed_task_shows_no_error_text(analyst_client, monkeypatch):
    from celery.result import AsyncResult

    session = analyst_client.session
    session["report_task_ids"] = ["00000000-0000-0000-0000-000000000001"]
    session.save()
    secret = ConnectionError("redis://:hunter2@cache.internal:6379 refused")
    monkeypatch.setattr(AsyncResult, "state", "FAILURE")
    monkeypatch.setattr(AsyncResult, "result", secret)
    monkeypatch.setattr(AsyncResult, "successful", lambda self: False)
    monkeypatch.setattr(AsyncResult, "failed", lambda self: True)

    task = analyst_client.get(f"{PAGE}tasks/00000000-0000-0000-0000-000000000001/status/").json()

    assert task["state"] == "FAILURE" and "hunter2" not in str(task)
    assert task["error"] == FAILED
