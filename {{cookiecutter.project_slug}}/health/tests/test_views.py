"""The health endpoint: 200 when the database, the cache and the broker answer; 503
naming what does not, with the reason in the log rather than in the response."""

import logging

import pytest


@pytest.mark.django_db
def test_all_servers_up_answers_200(client):
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "down": []}
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
