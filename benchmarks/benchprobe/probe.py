"""Record each task's start and end in a Redis list that the benchmark reads.

A worker process appends one short line per task, `task_id pid started finished`
(Unix times), to PROBE_KEY on a Redis server of the benchmark's own (not the broker's
or the result backend's), with one RPUSH after the task has finished: about 0.1 ms on
loopback, against the several milliseconds a task costs end to end. `finished` is taken
in `task_postrun`, which Celery sends after it has stored the task's result, so it is
when a reader of the result could see it. The pid tells which pool process ran the
task, so the benchmark can count pool processes replaced by the child limits.
"""

import os
import time

from celery.signals import task_postrun, task_prerun

PROBE_URL_VARIABLE = "BENCH_PROBE_REDIS_URL"
# Each worker configuration of a run has its own list.
PROBE_KEY = "benchprobe:" + os.environ.get("BENCH_PROBE_KEY", "done")

_started: dict[str, float] = {}
_client = None
_client_pid = None


def _redis():
    """One connection per process: a pool process must not reuse its parent's socket."""
    global _client, _client_pid
    if _client is None or _client_pid != os.getpid():
        import redis

        _client = redis.Redis.from_url(os.environ[PROBE_URL_VARIABLE])
        _client_pid = os.getpid()
    return _client


def _on_prerun(task_id=None, **kwargs):
    _started[task_id] = time.time()


def _on_postrun(task_id=None, **kwargs):
    finished = time.time()
    started = _started.pop(task_id, finished)
    _redis().rpush(PROBE_KEY, f"{task_id} {os.getpid()} {started:.6f} {finished:.6f}")


def connect():
    if os.environ.get(PROBE_URL_VARIABLE):
        task_prerun.connect(_on_prerun, weak=False)
        task_postrun.connect(_on_postrun, weak=False)
