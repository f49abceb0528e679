"""Each task's start and end, appended to a list in the benchmark's own Redis.

One RPUSH per task, `task_id pid started finished` (Unix times), from `task_postrun`,
which Celery sends after it has stored the task's result: `finished` is when a reader of
the result could see it. The pid tells which pool process ran the task.
"""

import os
import time

import redis
from celery.signals import task_postrun, task_prerun

PROBE_URL = os.environ.get("BENCH_PROBE_REDIS_URL", "")
PROBE_KEY = "probe:" + os.environ.get("BENCH_PROBE_KEY", "done")

_started = {}
_client = {}  # by pid: a pool process must not share its parent's socket


def probe():
    pid = os.getpid()
    if pid not in _client:
        _client.clear()
        _client[pid] = redis.Redis.from_url(PROBE_URL)
    return _client[pid]


def started(task_id=None, **kwargs):
    _started[task_id] = time.time()


def finished(task_id=None, **kwargs):
    now = time.time()
    probe().rpush(PROBE_KEY, f"{task_id} {os.getpid()} {_started.pop(task_id, now)} {now}")


def connect():
    if PROBE_URL:
        task_prerun.connect(started, weak=False)
        task_postrun.connect(finished, weak=False)
