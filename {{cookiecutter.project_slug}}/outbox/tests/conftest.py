"""The outbox's own fixtures; make_relay, which other apps use too, is in conftest.py."""

import pytest
from django.core.cache import cache


@pytest.fixture
def fresh_alert_counters():
    """Alerts are throttled through the shared cache; start with none held back."""
    cache.clear()
    yield
    cache.clear()
