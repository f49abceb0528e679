"""What the transactional outbox costs: request latency, and commit-to-execution latency.

    .venv/bin/python benchmarks/outbox_latency.py            # both brokers, about 4 minutes
    .venv/bin/python benchmarks/outbox_latency.py --quick    # small counts: checks it works
    .venv/bin/python benchmarks/outbox_latency.py --broker redis

It starts its own PostgreSQL, Redis and RabbitMQ on free ports of 127.0.0.1
(tests/services.py), generates a project per broker (results in PostgreSQL) with
cookiecutter, migrates it, and runs the project's own processes with its production
settings: Gunicorn (2 workers) serving the endpoints of benchmarks/outboxbench/urls.py,
a worker for the `priority` queue (compose/production/celery/worker/start) and one outbox
relay (compose/production/outbox/start). Then, for each broker:

1. Request latency (p50/p99) of three endpoints that place an order in one transaction
   and differ only in the confirmation task: none, delay_on_commit(), the outbox. One
   request at a time, the three endpoints in turn, so that load from elsewhere on the
   machine falls on all three alike. The worker and the relay run meanwhile.
2. Commit-to-execution latency (p50/p99): orders placed one at a time, 50 ms apart,
   through delay_on_commit() and through the outbox, in turn. For each order, the time
   from its INSERT (`placed_at`, just before the commit) to the confirmation task's
   UPDATE (`confirmation_sent_at`); for the outbox, also to the relay marking the intent
   sent (`sent_at`: published and confirmed by the broker).

It prints the figures; docs/outbox.md quotes them. Nothing is asserted. Every server and
process it started is stopped at the end.
"""

import argparse
import http.client
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO))

from tests import services  # noqa: E402

VENV_BIN = Path(sys.executable).parent
ENDPOINTS = {"no task": "/bench/no-task/", "delay_on_commit": "/bench/on-commit/"}
ENDPOINTS["outbox"] = "/bench/outbox/"


class Process:
    """A process in a session of its own, logging to a file; stopped with SIGTERM."""

    def __init__(self, command, cwd, env, log_path):
        self.log_path = log_path
        self.log = log_path.open("ab")
        self.popen = subprocess.Popen(
            [str(part) for part in command],
            cwd=cwd,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_for_log(self, text, timeout=120):
        services.wait_for(
            lambda: text in self.log_path.read_text(errors="replace"),
            timeout,
            message=f"{self.log_path.name} never said {text!r}",
        )

    def stop(self):
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self.log.close()


def post(port, path, number):
    """POST an order; return (seconds, the order's id)."""
    body = urllib.parse.urlencode({"email": f"buyer{number}@example.com", "item": "Teapot"})
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    # A connection per request: Gunicorn's sync workers close each one.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    connection.request("POST", path, body, headers)
    response = connection.getresponse()
    answer = response.read()
    seconds = time.perf_counter() - started
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"POST {path} answered {response.status}: {answer[:500]!r}")
    return seconds, int(answer)


def p50_p99(seconds):
    milliseconds = sorted(value * 1000 for value in seconds)
    p99 = statistics.quantiles(milliseconds, n=100, method="inclusive")[98]
    return f"{statistics.median(milliseconds):.1f} / {p99:.1f}"


def measure(broker, servers, workdir, counts):
    slug = f"outbox_bench_{broker}"
    subprocess.run(
        [VENV_BIN / "cookiecutter", "--no-input", "--output-dir", workdir, REPO]
        + [f"broker={broker}", "result_backend=django-db", f"project_slug={slug}"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    project = workdir / slug
    logs = workdir / f"{slug}-logs"
    logs.mkdir()
    postgres, redis, rabbitmq = servers
    if broker == "rabbitmq":
        rabbitmq.add_vhost(slug)
        broker_url = rabbitmq.url(slug)
    else:
        broker_url = redis.url(1)
    port = services.free_port()
    env = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(BENCH_DIR),
        "DJANGO_SETTINGS_MODULE": "outboxbench.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": postgres.create_database(slug, owner=slug, password=secrets.token_hex(8)),
        "REDIS_URL": redis.url(0),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": "django-db",
        "EMAIL_URL": "consolemail://",
        "CELERY_HEARTBEAT_DIR": str(logs),
        "CELERY_WORKER_NAME": "priority",
        "CELERY_WORKER_QUEUES": "priority",
        "CELERY_WORKER_CONCURRENCY": "2",
        "FLOWER_USER": "admin",
        "FLOWER_PASSWORD": secrets.token_hex(8),
    }
    subprocess.run(
        [VENV_BIN / "python", "manage.py", "migrate", "--noinput"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    production = project / "compose" / "production"
    processes = []
    try:
        web = Process(
            [VENV_BIN / "gunicorn", "config.wsgi", f"--bind=127.0.0.1:{port}", "--workers=2"],
            project,
            env,
            logs / "gunicorn.log",
        )
        worker = Process([production / "celery" / "worker" / "start"], project, env, logs / "w.log")
        relay = Process([production / "outbox" / "start"], project, env, logs / "relay.log")
        processes = [web, worker, relay]
        worker.wait_for_log(" ready.")
        relay.wait_for_log("Outbox relay ready")
        web.wait_for_log("Booting worker")
        with_task = []  # orders whose confirmation the worker must send
        for number in range(counts["warmup"]):
            for name, path in ENDPOINTS.items():
                order = post(port, path, number)[1]
                if name != "no task":
                    with_task.append(order)

        # 1. Request latency, the three endpoints in turn.
        timings = {name: [] for name in ENDPOINTS}
        for number in range(counts["requests"]):
            for name, path in ENDPOINTS.items():
                seconds, order = post(port, path, number)
                timings[name].append(seconds)
                if name != "no task":
                    with_task.append(order)
        print(f"\n[{broker}] request latency, {counts['requests']} requests each, p50 / p99 ms")
        for name, seconds in timings.items():
            print(f"  {name:<16} {p50_p99(seconds)}")

        database = env["DATABASE_URL"].rsplit("/", 1)[1]

        def sql(query):
            return postgres.psql(query, db=database)

        def wait_until_confirmed(orders):
            def confirmed():
                count = sql(
                    "SELECT count(*) FROM orders_order WHERE confirmation_sent_at IS NOT NULL "
                    f"AND id IN ({','.join(map(str, orders))})"
                )
                return int(count) == len(orders)

            services.wait_for(confirmed, 300, interval=0.5, message="confirmations missing")

        # 2. Commit to execution, one order at a time, once the worker has caught up with
        # the confirmations of part 1: each task then finds the worker idle.
        wait_until_confirmed(with_task)
        placed = {"delay_on_commit": [], "outbox": []}
        for number in range(counts["orders"]):
            for name in placed:
                placed[name].append(post(port, ENDPOINTS[name], number)[1])
                time.sleep(0.05)
        wait_until_confirmed([order for orders in placed.values() for order in orders])
        print(f"[{broker}] commit to execution, {counts['orders']} orders each, p50 / p99 ms")
        for name, orders in placed.items():
            rows = sql(
                "SELECT extract(epoch FROM confirmation_sent_at - placed_at) FROM orders_order "
                f"WHERE id IN ({','.join(map(str, orders))})"
            )
            latencies = [float(value) for value in rows.split()]
            print(f"  {name:<16} {p50_p99(latencies)}  (order INSERT -> task's UPDATE)")
        rows = sql(
            "SELECT extract(epoch FROM i.sent_at - o.placed_at) FROM outbox_intent i "
            "JOIN orders_order o ON (i.args->>0)::bigint = o.id "
            f"WHERE o.id IN ({','.join(map(str, placed['outbox']))})"
        )
        latencies = [float(value) for value in rows.split()]
        print(f"  {'outbox, relay':<16} {p50_p99(latencies)}  (order INSERT -> intent sent)")
    finally:
        for process in reversed(processes):
            process.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts: checks it works")
    parser.add_argument("--broker", choices=["rabbitmq", "redis", "both"], default="both")
    options = parser.parse_args()
    counts = {"warmup": 30, "requests": 500, "orders": 200}
    if options.quick:
        counts = {"warmup": 3, "requests": 20, "orders": 10}
    brokers = ["rabbitmq", "redis"] if options.broker == "both" else [options.broker]

    started = time.monotonic()
    print(f"{platform.node()}: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    services.ensure_servers()
    with tempfile.TemporaryDirectory(prefix="outbox-bench-") as directory:
        workdir = Path(directory)
        with (
            services.PostgresServer(workdir / "postgres") as postgres,
            services.RedisServer(workdir / "redis") as redis,
            services.RabbitMQServer(workdir / "rabbitmq") as rabbitmq,
        ):
            for broker in brokers:
                measure(broker, (postgres, redis, rabbitmq), workdir, counts)
    minutes = (time.monotonic() - started) / 60
    print(f"\ndone in {minutes:.1f} minutes; load {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
