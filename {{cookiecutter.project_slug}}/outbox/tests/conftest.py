"""A relay to drive by hand in tests, one pass at a time, against the real broker."""

import pytest
from django.core.cache import cache

from config.celery_app import app
from outbox.relay import Relay


@pytest.fixture
def make_relay():
    relays = []

    def make(celery_app=app, **options):
        settings = {"batch_size": 100, "poll_seconds": 5, "max_attempts": 3, "retry_seconds": 0}
        relay = Relay(celery_app, **{**settings, **options})
        relays.append(relay)
        return relay

    yield make
    for relay in relays:
        relay.close_broker()
        relay.close_listener()


@pytest.fixture
def fresh_alert_counters():
    """Alerts are throttled through the shared cache; start with none held back."""
    cache.clear()
    yield
    cache.clear()
