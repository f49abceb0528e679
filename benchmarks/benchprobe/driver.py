"""The publisher: sends tasks with the project's own Celery app and times them.

Run from a generated project's directory, with the environment benchmarks/run.py
builds (DJANGO_SETTINGS_MODULE=benchprobe.settings, BENCH_VARIANT, the servers' URLs):

    python -m benchprobe.driver '[{"command": "batch", "task_name": "round_trip", ...}, ...]'

It runs the steps in order, in one process (so connections stay open, as in a web
process), and prints a JSON list of their results on its last line of output.
Completions are read from the probe's Redis list (probe.py), never by polling the
broker or the result backend, so counting them costs the worker one RPUSH per task.
"""

import importlib
import json
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchprobe.settings")
django.setup()

import redis  # noqa: E402
from celery import current_app  # noqa: E402

from benchprobe.probe import PROBE_KEY, PROBE_URL_VARIABLE  # noqa: E402

# The project's cheap tasks, with the arguments the benchmark sends them.
TASKS = {
    # Returns a two-key dict: no database, no I/O; it stores its result.
    "round_trip": ("scheduling.tasks.round_trip", ()),
    # What the example view enqueues: one small query on the users table.
    "summarise_signups": ("reports.tasks.summarise_signups", (7,)),
}


def _probe():
    return redis.Redis.from_url(os.environ[PROBE_URL_VARIABLE])


def _task(name):
    dotted, args = TASKS[name]
    module, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attribute), args


def _entries(raw):
    rows = []
    for item in raw:
        task_id, pid, started, finished = item.decode().split()
        rows.append((task_id, int(pid), float(started), float(finished)))
    return rows


def sequential(task_name, count, ignore_result, timeout):
    """Send one task, wait until it has finished, send the next: latency without a queue."""
    task, args = _task(task_name)
    probe = _probe()
    probe.delete(PROBE_KEY)
    publish, to_start, to_done = [], [], []
    deadline = time.monotonic() + timeout
    for _ in range(count):
        if time.monotonic() > deadline:
            raise TimeoutError(f"sequential run of {task_name} exceeded {timeout} s")
        sent = time.time()
        task.apply_async(args, ignore_result=ignore_result)
        published = time.time()
        item = probe.blpop([PROBE_KEY], timeout=30)
        if item is None:
            raise TimeoutError(f"{task_name} did not finish within 30 s")
        _, _, started, finished = _entries([item[1]])[0]
        publish.append(published - sent)
        to_start.append(started - sent)
        to_done.append(finished - sent)
    return {"publish": publish, "to_start": to_start, "to_done": to_done}


def batch(task_name, count, ignore_result, timeout):
    """Send `count` tasks as fast as one publisher can; time until the last has finished."""
    task, args = _task(task_name)
    probe = _probe()
    probe.delete(PROBE_KEY)
    first_sent = time.time()
    for _ in range(count):
        task.apply_async(args, ignore_result=ignore_result)
    last_sent = time.time()
    deadline = time.monotonic() + timeout
    while probe.llen(PROBE_KEY) < count:
        if time.monotonic() > deadline:
            done = probe.llen(PROBE_KEY)
            raise TimeoutError(f"only {done} of {count} {task_name} tasks done after {timeout} s")
        time.sleep(0.01)
    rows = _entries(probe.lrange(PROBE_KEY, 0, -1))
    probe.delete(PROBE_KEY)
    last_done = max(row[3] for row in rows)
    return {
        "count": count,
        "publish_seconds": last_sent - first_sent,
        "seconds": last_done - first_sent,
        "tasks_per_second": count / (last_done - first_sent),
        "pids": sorted({row[1] for row in rows}),
    }


def purge():
    import config.celery_app  # noqa: F401

    return {"purged": current_app.control.purge()}


COMMANDS = {"sequential": sequential, "batch": batch, "purge": purge}


def main():
    results = []
    for step in json.loads(sys.argv[1]):
        step = dict(step)
        results.append(COMMANDS[step.pop("command")](**step))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
