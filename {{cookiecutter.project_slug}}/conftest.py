"""Fixtures shared by the whole test suite.

Tests that need a worker take the `celery_worker` fixture: a real worker, in a thread,
consuming from the broker in CELERY_BROKER_URL and storing results where
CELERY_RESULT_BACKEND says. One worker serves the whole run (Celery's session worker),
since starting and stopping one per test costs seconds. Such tests need committed data,
so they use `@pytest.mark.django_db(transaction=True)`: the worker reads through its
own database connection and cannot see rows inside the test's open transaction.
https://docs.celeryq.dev/en/stable/userguide/testing.html#pytest-plugin

Tasks written to the outbox reach that worker once a relay publishes them: the
`make_relay` fixture gives relays to drive by hand, one pass (`relay_batch()`) at a time.
"""

import pytest

from config.celery_app import app as project_app

pytest_plugins = ("celery.contrib.pytest",)


@pytest.fixture(scope="session")
def celery_session_app():
    """The project's own app, so the test worker runs with the project's settings."""
    return project_app


@pytest.fixture
def celery_app():
    return project_app


@pytest.fixture
def celery_worker(celery_session_worker):
    return celery_session_worker


@pytest.fixture(scope="session")
def celery_worker_parameters():
    return {
        # Celery's ping check waits for a stored result, but this project stores results
        # only for tasks that ask for it; the fixture's own readiness wait is enough.
        "perform_ping_check": False,
        # The worker's heartbeat timer wakes its event loop every 2 s. Without it, an idle
        # worker on RabbitMQ notices the end of the test only about 10 s later.
        "without_heartbeat": False,
    }


@pytest.fixture
def make_relay():
    from outbox.relay import Relay  # a model module: imported once Django is set up

    relays = []

    def make(celery_app=project_app, **options):
        settings = {"batch_size": 100, "poll_seconds": 5, "max_attempts": 3, "retry_seconds": 0}
        relay = Relay(celery_app, **{**settings, **options})
        relays.append(relay)
        return relay

    yield make
    for relay in relays:
        relay.close_broker()
        relay.close_listener()
