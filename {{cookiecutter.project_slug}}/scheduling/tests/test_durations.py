"""Durations on the beat-status page read exactly, down to the second."""

from datetime import timedelta

import pytest

from scheduling.templatetags.durations import humanize


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(milliseconds=300), "less than a second"),
        (timedelta(seconds=-5), "less than a second"),
        (timedelta(seconds=1), "1 second"),
        (timedelta(seconds=61), "1 minute 1 second"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(hours=12, minutes=39, seconds=5), "12 hours 39 minutes"),
        (timedelta(days=5, hours=16, minutes=56), "5 days 16 hours"),
    ],
)
def test_a_duration_reads_in_its_two_largest_units(delta, words):
    assert humanize(delta) == words
