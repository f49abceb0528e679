"""The heartbeat file that the worker healthcheck reads: touched while the worker runs,
by its own event loop, not by a thread on the side."""

import os
import time
from types import SimpleNamespace

import pytest
from celery.utils.timer2 import Timer

from background import heartbeat


@pytest.fixture
def heartbeat_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(heartbeat, "WORKER_FILE", tmp_path / "celery-worker.heartbeat")
    return tmp_path


def age(path):
    return time.time() - path.stat().st_mtime


def make_old(path):
    os.utime(path, (0, 0))


def test_a_worker_touches_its_file_on_its_timer_and_removes_it_on_stop(heartbeat_dir, monkeypatch):
    monkeypatch.setattr(heartbeat, "WORKER_INTERVAL", 0.1)
    worker = SimpleNamespace(timer=Timer())
    step = heartbeat.WorkerHeartbeat(worker)

    step.start(worker)
    try:
        assert age(heartbeat.WORKER_FILE) < 5
        make_old(heartbeat.WORKER_FILE)
        deadline = time.monotonic() + 5
        while age(heartbeat.WORKER_FILE) > 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert age(heartbeat.WORKER_FILE) < 5, "the timer did not touch the file again"
    finally:
        step.stop(worker)
        worker.timer.stop()

    assert not heartbeat.WORKER_FILE.exists()


def test_the_worker_step_runs_in_every_worker_of_the_project():
    from config.celery_app import app

    assert heartbeat.WorkerHeartbeat in app.steps["worker"]
