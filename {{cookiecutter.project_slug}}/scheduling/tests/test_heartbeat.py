"""Beat's heartbeat: written on every tick (its file and its row), read as alive or stale,
and two beats noticed."""

import logging
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from config.celery_app import app
from scheduling import heartbeat
from scheduling.beat import HeartbeatScheduler
from scheduling.models import BeatHeartbeat

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def beat_file(tmp_path, monkeypatch):
    monkeypatch.setattr(heartbeat, "FILE", tmp_path / "celery-beat.heartbeat")
    return heartbeat.FILE


# transaction=True: the DatabaseScheduler commits and closes connections, as beat must.
@pytest.mark.django_db(transaction=True)
def test_the_scheduler_records_a_heartbeat_on_each_tick(beat_file):
    scheduler = HeartbeatScheduler(app=app, lazy=True)

    scheduler.tick()
    first = BeatHeartbeat.objects.get()
    os.utime(beat_file, (0, 0))
    scheduler.tick()

    assert BeatHeartbeat.objects.count() == 1
    assert BeatHeartbeat.objects.get().seen_at >= first.seen_at
    assert (first.hostname, first.pid) == heartbeat.this_process()
    # The healthcheck's file, touched on the same tick.
    assert time.time() - beat_file.stat().st_mtime < 5


@pytest.mark.django_db
@override_settings(BEAT_HEARTBEAT_STALE_AFTER=timedelta(seconds=30))
def test_beat_is_alive_until_its_heartbeat_is_older_than_the_threshold():
    assert heartbeat.last_seen(NOW).seen_at is None
    assert not heartbeat.last_seen(NOW).alive

    heartbeat.record(NOW, ("beat-host", 7), wrote_before=False)

    assert heartbeat.last_seen(NOW + timedelta(seconds=30)).alive
    stale = heartbeat.last_seen(NOW + timedelta(seconds=31))
    assert not stale.alive
    assert stale.age == timedelta(seconds=31)
    assert (stale.hostname, stale.pid) == ("beat-host", 7)


@pytest.mark.django_db
def test_a_second_beat_is_reported(caplog):
    caplog.set_level(logging.WARNING, logger="scheduling.heartbeat")
    # A beat that starts after another one died takes over quietly.
    heartbeat.record(NOW, ("old", 1), wrote_before=False)
    heartbeat.record(NOW, ("new", 2), wrote_before=False)
    heartbeat.record(NOW, ("new", 2), wrote_before=True)
    assert caplog.records == []

    # Another process wrote between two of our ticks: two beats are running.
    heartbeat.record(NOW, ("other", 3), wrote_before=True)
    heartbeat.record(NOW, ("new", 2), wrote_before=True)

    assert "Another beat (other, pid 3) is running" in caplog.text
