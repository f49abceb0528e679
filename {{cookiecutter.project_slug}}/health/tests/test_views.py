"""The health endpoint: 200 when the database, the cache and the broker answer; 503
naming what does not to internal callers only, with the reason in the log."""

import logging

import pytest

from health import views


@pytest.fixture(autouse=True)
def no_remembered_outcome():
    views.recent.clear()
    yield
    views.recent.clear()


@pytest.mark.django_db
def test_all_servers_up_answers_200(client):
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "down": []}  # the test client is 127.0.0.1
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_an_unreachable_broker_answers_503_naming_it(client, monkeypatch, caplog):
    # Nothing listens on port 1. Celery reads CELERY_BROKER_URL from the environment
    # before its settings, each time it opens a connection.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")

    with caplog.at_level(logging.WARNING, logger="health.views"):
        response = client.get("/health/")

    assert response.status_code == 503
    assert response.json() == {"status": "down", "down": ["broker"]}
    assert "Health check failed: broker" in caplog.text
    assert "127.0.0.1:1" not in response.content.decode()


@pytest.mark.django_db
def test_only_get_and_head_are_allowed(client):
    assert client.head("/health/").status_code == 200
    assert client.post("/health/").status_code == 405


@pytest.mark.django_db
def test_others_are_told_only_that_it_is_down(client, monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")

    response = client.get("/health/", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 503
    assert response.json() == {"status": "down"}


@pytest.mark.django_db
def test_a_flood_of_requests_checks_the_servers_once_per_few_seconds(client, monkeypatch, settings):
    settings.HEALTH_CACHE_SECONDS = 60
    calls = []
    monkeypatch.setitem(views.CHECKS, "broker", lambda: calls.append(1))

    answers = {client.get("/health/").status_code for _ in range(20)}

    assert answers == {200}
    assert len(calls) == 1
