"""The publisher: runs benchmark steps in one process with the project's Celery app.

    python -m probe.driver '[{"step": "batch", "count": 1000, "ignore_result": true}, ...]'

Run from a project's directory with the environment benchmarks/run.py builds. It prints
a JSON list of the steps' results on its last line. Completions are read from the
probe's Redis list (probe/timing.py), never by polling the broker or a result store.
"""

import json
import os
import resource
import sys
import time
from pathlib import Path

import django

django.setup()

from probe.tasks import round_trip  # noqa: E402
from probe.timing import PROBE_KEY, probe  # noqa: E402

# Between one task's end and the next publish, so that the worker's own work after a
# task (acknowledgement, events) falls outside the next measurement.
SETTLE_SECONDS = 0.01
# round_trip's second argument: a small string, as a task's arguments usually are.
TEXT = "x" * 40


def done(rows):
    return [line.decode().split() for line in rows]


def wait_until_done(count, timeout, interval):
    """Poll the probe list until `count` tasks are done; return and clear their rows.
    The time a batch ends is read from the rows, so the polling interval does not count."""
    deadline = time.monotonic() + timeout
    while probe().llen(PROBE_KEY) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {probe().llen(PROBE_KEY)} of {count} tasks done")
        time.sleep(interval)
    rows = done(probe().lrange(PROBE_KEY, 0, -1))
    probe().delete(PROBE_KEY)
    return rows


def sequential(count, ignore_result):
    """One task at a time: how long delay() takes, and publish-to-done without a queue."""
    probe().delete(PROBE_KEY)
    publish, to_done = [], []
    for number in range(count):
        sent = time.perf_counter(), time.time()
        round_trip.apply_async((number, TEXT), ignore_result=ignore_result)
        publish.append(time.perf_counter() - sent[0])
        item = probe().blpop([PROBE_KEY], timeout=30)
        if item is None:
            raise TimeoutError("a task did not finish within 30 s")
        to_done.append(float(done([item[1]])[0][3]) - sent[1])
        time.sleep(SETTLE_SECONDS)
    return {"publish": publish, "to_done": to_done}


def cpu_seconds(roots):
    """CPU seconds so far of each root process and all its descendants, live or reaped
    (a reaped child's time is in its parent's cutime and cstime)."""
    ticks, children = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        ticks[pid] = sum(int(value) for value in fields[11:15])
    seconds = {}
    for name, root in roots.items():
        total, stack = 0, [root]
        while stack:
            pid = stack.pop()
            total += ticks.get(pid, 0)
            stack.extend(children.get(pid, []))
        seconds[name] = total / os.sysconf("SC_CLK_TCK")
    return seconds


def own_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def batch(count, ignore_result, cpu_pids, timeout=300):
    """`count` tasks as fast as one publisher sends them, timed until the last is done,
    with the CPU time each process in `cpu_pids` ({name: pid}) used meanwhile."""
    probe().delete(PROBE_KEY)
    before, own_before = cpu_seconds(cpu_pids), own_cpu_seconds()
    first_sent = time.time()
    for number in range(count):
        round_trip.apply_async((number, TEXT), ignore_result=ignore_result)
    publisher = own_cpu_seconds() - own_before
    rows = wait_until_done(count, timeout, interval=0.01)
    after = cpu_seconds(cpu_pids)
    last_done = max(float(row[3]) for row in rows)
    return {
        "count": count,
        "tasks_per_second": count / (last_done - first_sent),
        "cpu_seconds": {"publisher": publisher}
        | {name: after[name] - before[name] for name in cpu_pids},
    }


def relay_drain(count, keep=False):
    """Our project only: the relay drains a backlog of `count` intents (no worker
    consumes meanwhile), then py-amqp alone publishes as many messages of the same size
    to the same quorum queue with pipelined confirms: the broker's own limit. With
    `keep`, the relay's messages stay in the queue for a worker, and py-amqp is skipped."""
    from celery import current_app
    from outbox.models import Intent
    from outbox.relay import Relay

    Intent.objects.bulk_create(
        Intent(task_name=round_trip.name, args=[n, TEXT], queue="default") for n in range(count)
    )
    relay = Relay.from_settings(current_app)
    started = time.monotonic()
    while relay.relay_batch():
        pass
    relay_rate = count / (time.monotonic() - started)
    assert not Intent.objects.filter(status=Intent.Status.PENDING).exists()
    relay.close_broker()
    if keep:
        Intent.objects.all().delete()
        return {"count": count, "relay_per_second": relay_rate}
    import amqp

    with current_app.connection_for_write() as connection:
        connection.default_channel.queue_purge("default")
        # A plain py-amqp connection: kombu's would wait for each confirm in turn.
        raw = amqp.Connection(
            host=f"{connection.hostname}:{connection.port}",
            userid=connection.userid,
            password=connection.password,
            virtual_host=connection.virtual_host,
        )
    raw.connect()
    channel = raw.channel()
    channel.confirm_select()
    confirmed = [0]
    channel.events["basic_ack"].add(lambda tag, multiple: confirmed.__setitem__(0, tag))
    # The message the relay sends for an intent, as Celery builds it: the same headers
    # and body, so that both pay the same encoding and the same bytes to the broker.
    task = current_app.amqp.create_task_message("0" * 36, round_trip.name, [1, TEXT], {})
    body = json.dumps(task.body).encode()
    started = time.monotonic()
    for _ in range(count):
        message = amqp.Message(
            body,
            content_type="application/json",
            content_encoding="utf-8",
            application_headers=task.headers,
            delivery_mode=2,
            priority=0,
            **task.properties,
        )
        channel.basic_publish(message, exchange="default", routing_key="default")
    while confirmed[0] < count:
        raw.drain_events(timeout=30)
    raw_rate = count / (time.monotonic() - started)
    channel.queue_purge("default")
    raw.close()
    # Celery's send_task() alone, as the relay calls it, without confirms or a database:
    # the most the relay could reach while Celery builds its messages.
    with current_app.connection_for_write(transport_options={"confirm_publish": False}) as conn:
        producer = current_app.amqp.Producer(conn, auto_declare=False)
        started = time.monotonic()
        for number in range(count):
            current_app.send_task(
                round_trip.name,
                args=[number, TEXT],
                queue="default",
                producer=producer,
                retry=False,
                declare=[],
            )
        send_task_rate = count / (time.monotonic() - started)
        conn.default_channel.queue_purge("default")
    Intent.objects.all().delete()
    return {
        "count": count,
        "relay_per_second": relay_rate,
        "raw_per_second": raw_rate,
        "send_task_per_second": send_task_rate,
    }


def timed(function, repeat):
    """The median of `repeat` runs of function(), in milliseconds."""
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    return sorted(seconds)[repeat // 2] * 1000


def table_growth(sent):
    """Our project only: a relay pass with nothing to send, and the cleanup task, first
    on an empty outbox, then with `sent` intents sent eight days ago (what a week of
    traffic leaves before the cleanup), and how long the cleanup takes to delete them."""
    from celery import current_app
    from django.db import connection
    from outbox.models import Intent
    from outbox.relay import Relay
    from outbox.tasks import delete_old_intents

    relay = Relay.from_settings(current_app)

    def idle_pass():
        relay.relay_batch()
        relay.seconds_until_next_due()

    empty = {"relay_pass_ms": timed(idle_pass, 50), "cleanup_ms": timed(delete_old_intents, 5)}
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO outbox_intent (id, task_name, args, kwargs, queue, status, attempts,"
            " next_attempt_at, last_error, created_at, sent_at)"
            " SELECT gen_random_uuid(), %s, '[1]', '{}', 'default', 'sent', 1,"
            " now() - interval '8 days', '', now() - interval '8 days',"
            " now() - interval '8 days' FROM generate_series(1, %s)",
            [round_trip.name, sent],
        )
        cursor.execute("ANALYZE outbox_intent")
    inserted = time.monotonic() - started
    full = {"relay_pass_ms": timed(idle_pass, 50)}
    started = time.monotonic()
    delete_old_intents()
    full["cleanup_deleting_ms"] = (time.monotonic() - started) * 1000
    assert not Intent.objects.exists()
    return {"sent": sent, "empty": empty, "full": full, "insert_seconds": inserted}


def wait_for_tasks(count, timeout=1800):
    """Until the worker has finished `count` tasks; their rate from the first start."""
    rows = wait_until_done(count, timeout, interval=0.5)
    first, last = min(float(r[2]) for r in rows), max(float(r[3]) for r in rows)
    return {"count": count, "tasks_per_second": count / (last - first)}


STEPS = {
    "sequential": sequential,
    "batch": batch,
    "relay_drain": relay_drain,
    "table_growth": table_growth,
    "wait_for_tasks": wait_for_tasks,
}


def main():
    results = []
    for step in json.loads(sys.argv[1]):
        step = dict(step)
        results.append(STEPS[step.pop("step")](**step))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
