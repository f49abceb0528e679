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
import resource
import sys
import time
from pathlib import Path

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
    "summarise_signups": ("examples.reports.tasks.summarise_signups", (7,)),
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


# Between one task's end and the next publish: the worker's own work after a task (its
# acknowledgement, events, closing the database connection) must not count as the
# publisher's or the next task's.
SETTLE_SECONDS = 0.01


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
        time.sleep(SETTLE_SECONDS)
    return {"publish": publish, "to_start": to_start, "to_done": to_done}


def _cpu_ticks_by_pid():
    """utime + stime + cutime + cstime of every process, and each one's parent."""
    ticks, parents = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        ticks[pid] = sum(int(value) for value in fields[11:15])
    return ticks, parents


def _cpu_seconds(roots):
    """CPU seconds used so far by each root process with all its descendants, live or
    reaped (a reaped child's time is in its parent's cutime/cstime)."""
    ticks, parents = _cpu_ticks_by_pid()
    children = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    seconds = {}
    for name, root in roots.items():
        total, stack = 0, [root]
        while stack:
            pid = stack.pop()
            total += ticks.get(pid, 0)
            stack.extend(children.get(pid, []))
        seconds[name] = total / os.sysconf("SC_CLK_TCK")
    return seconds


def _own_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def batch(task_name, count, ignore_result, timeout, cpu_pids=None):
    """Send `count` tasks as fast as one publisher can; time until the last has finished.

    With `cpu_pids` ({name: pid}), also the CPU time each of those processes (with its
    descendants) and this publisher used meanwhile.
    """
    task, args = _task(task_name)
    probe = _probe()
    probe.delete(PROBE_KEY)
    cpu_pids = cpu_pids or {}
    cpu_before = _cpu_seconds(cpu_pids)
    own_before = _own_cpu_seconds()
    first_sent = time.time()
    for _ in range(count):
        task.apply_async(args, ignore_result=ignore_result)
    last_sent = time.time()
    own_cpu = _own_cpu_seconds() - own_before  # publishing only, not the polling below
    deadline = time.monotonic() + timeout
    while probe.llen(PROBE_KEY) < count:
        if time.monotonic() > deadline:
            done = probe.llen(PROBE_KEY)
            raise TimeoutError(f"only {done} of {count} {task_name} tasks done after {timeout} s")
        time.sleep(0.01)
    cpu_after = _cpu_seconds(cpu_pids)
    rows = _entries(probe.lrange(PROBE_KEY, 0, -1))
    probe.delete(PROBE_KEY)
    last_done = max(row[3] for row in rows)
    return {
        "count": count,
        "publish_seconds": last_sent - first_sent,
        "seconds": last_done - first_sent,
        "tasks_per_second": count / (last_done - first_sent),
        "pids": sorted({row[1] for row in rows}),
        "cpu_seconds": {
            "publisher": own_cpu,
            **{name: cpu_after[name] - cpu_before[name] for name in cpu_pids},
        },
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
