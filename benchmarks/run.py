"""Measure what the generated project's Celery configuration costs, on real servers.

    .venv/bin/python benchmarks/run.py            # the full run (about 10 minutes)
    .venv/bin/python benchmarks/run.py --quick    # small counts: checks the script works

It starts its own PostgreSQL, Redis and RabbitMQ servers on free ports of 127.0.0.1
(tests/services.py; missing Debian packages are installed), generates one project per
broker and result backend with cookiecutter, and runs the projects' own processes:
Gunicorn for the web, and workers through compose/production/celery/worker/start.
It prints each figure as it is measured, then writes docs/benchmarks.md and
docs/images/benchmarks.png (and the raw figures as JSON next to the servers' logs).
Every server and process it started is stopped at the end, even after an error.
"""

import argparse
import datetime
import http.client
import importlib.metadata
import json
import os
import platform
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO))

from tests import services  # noqa: E402

VENV_BIN = Path(sys.executable).parent
DOC_PAGE = REPO / "docs" / "benchmarks.md"
PLOT = REPO / "docs" / "images" / "benchmarks.png"

# Redis databases on the benchmark's Redis server (a second server holds the probe).
CACHE_DB, BROKER_DB, RESULTS_DB = 0, 1, 2


@dataclass(frozen=True)
class Counts:
    batch: int  # tasks per throughput batch
    sequential: int  # tasks in a latency sample, one at a time
    warmup: int
    requests: int  # HTTP requests of each kind
    memory_batches: int
    memory_batch: int
    max_tasks_per_child: int


FULL = Counts(2000, 200, 50, 500, 3, 1000, 100)
QUICK = Counts(200, 20, 10, 50, 2, 100, 20)


@dataclass(frozen=True)
class Combo:
    broker: str  # "rabbitmq" or "redis", as the cookiecutter option
    backend: str  # "django-db" or "redis"

    @property
    def label(self):
        return f"{self.broker} + {self.backend}"

    @property
    def slug(self):
        return f"bench_{self.broker}_{self.backend.replace('-', '')}"


RABBIT_DB = Combo("rabbitmq", "django-db")
RABBIT_REDIS = Combo("rabbitmq", "redis")
REDIS_DB = Combo("redis", "django-db")
REDIS_REDIS = Combo("redis", "redis")
COMBOS = [RABBIT_DB, RABBIT_REDIS, REDIS_DB, REDIS_REDIS]


@dataclass(frozen=True)
class WorkerRun:
    combo: Combo
    variant: str  # a name from benchprobe/settings.py
    modes: tuple  # "stored" and/or "ignored": whether round_trip stores its result


BOTH = ("stored", "ignored")
WORKER_RUNS = [
    *(WorkerRun(combo, "generated", BOTH) for combo in COMBOS),
    WorkerRun(REDIS_REDIS, "baseline", ("stored",)),
    # One setting of the generated configuration changed at a time, on Redis ...
    WorkerRun(REDIS_REDIS, "prefetch-4", BOTH),
    WorkerRun(REDIS_REDIS, "no-track-started", ("stored",)),
    WorkerRun(REDIS_REDIS, "acks-late", BOTH),
    WorkerRun(REDIS_REDIS, "no-events", BOTH),
    # ... and on RabbitMQ, where publisher confirms and quorum queues apply.
    WorkerRun(RABBIT_REDIS, "no-confirms", BOTH),
    WorkerRun(RABBIT_REDIS, "classic-queues", BOTH),
    WorkerRun(RABBIT_REDIS, "prefetch-4", BOTH),
    WorkerRun(RABBIT_REDIS, "no-sent-event", BOTH),
    WorkerRun(RABBIT_REDIS, "no-confirms,no-sent-event", BOTH),
]

VARIANT_MEANS = {
    "generated": "the generated configuration",
    "baseline": "common template defaults (see below)",
    "prefetch-4": "worker prefetch multiplier 4 instead of 1",
    "no-track-started": "no STARTED state written before each task",
    "acks-late": "late acknowledgement for every task",
    "no-events": "no task events (worker events and task-sent events off)",
    "no-confirms": "no publisher confirms",
    "classic-queues": "classic durable queues instead of quorum queues",
    "no-sent-event": "no task-sent event from the publisher",
    "no-confirms,no-sent-event": "neither publisher confirms nor task-sent events",
}


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values, fraction):
    """The value below which `fraction` of the values lie (linear interpolation)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms_summary(seconds):
    return {
        "p50": percentile(seconds, 0.50) * 1000,
        "p99": percentile(seconds, 0.99) * 1000,
        "mean": statistics.fmean(seconds) * 1000,
        "count": len(seconds),
    }


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------


class Process:
    """A process in a session of its own, logging to a file, stopped by its PID."""

    def __init__(self, args, cwd, env, log_path):
        self.args = [str(arg) for arg in args]
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.popen = subprocess.Popen(
            self.args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self):
        return self.popen.pid

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text, timeout):
        services.wait_for(
            lambda: text in self.log_text() or self.popen.poll() is not None,
            timeout,
            message=f"{self.args[0]} did not log {text!r}:\n{self.log_text()[-3000:]}",
        )
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.args[0]} exited:\n{self.log_text()[-3000:]}")

    def stop(self, timeout=30):
        """SIGTERM (a Celery worker's warm shutdown), SIGKILL to its group if it lingers."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            # The group is ours: its leader is our child and has not been reaped before now.
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()
        self._log.close()


def child_pids(parent):
    children = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            children.append(int(stat_file.parent.name))
    return sorted(children)


def memory_of(pid):
    """Resident (RSS) and private (USS) memory of a process, in MiB."""
    rss = uss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == "Rss":
            rss = int(value.split()[0])
        elif name in ("Private_Clean", "Private_Dirty"):
            uss += int(value.split()[0])
    return {"rss": rss / 1024, "uss": uss / 1024}


# ---------------------------------------------------------------------------
# Servers and projects
# ---------------------------------------------------------------------------


class Servers:
    def __init__(self, root):
        services.ensure_debian_packages()
        self.postgres = services.PostgresServer(root / "postgres")
        self.redis = services.RedisServer(root / "redis")
        self.probe = services.RedisServer(root / "probe")
        self.rabbitmq = services.RabbitMQServer(root / "rabbitmq")
        self.all = [self.postgres, self.redis, self.probe, self.rabbitmq]

    def start(self):
        for server in self.all:
            server.start()
        # The helpers' Redis acknowledges a write only once it is on disk (fsync always),
        # which their crash tests need. compose.production.yaml runs Redis with
        # --appendonly yes and Redis's default fsync every second: measure that.
        for server in (self.redis, self.probe):
            server.cli("CONFIG", "SET", "appendfsync", "everysec")

    def close(self):
        for server in reversed(self.all):
            try:
                server.close()
            except Exception as exc:  # keep closing the others
                log(f"could not close {server!r}: {exc}")

    def versions(self):
        overview = self.rabbitmq.api("GET", "overview")
        redis_info = self.redis.cli("INFO", "server")
        return {
            "RabbitMQ": f"{overview['rabbitmq_version']} (Erlang {overview['erlang_version']})",
            "Redis": re.search(r"redis_version:(\S+)", redis_info)[1],
            "PostgreSQL": self.postgres.psql("SHOW server_version").strip(),
        }


class Project:
    """A generated project with its own database, run against the benchmark's servers."""

    def __init__(self, combo, root, servers):
        self.combo = combo
        self.servers = servers
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [VENV_BIN / "cookiecutter", "--no-input", "--output-dir", root, REPO]
            + [f"broker={combo.broker}", f"result_backend={combo.backend}"]
            + [f"project_slug={combo.slug}"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.path = root / combo.slug
        generated_env = (self.path / ".env").read_text()
        scheme = "amqp://" if combo.broker == "rabbitmq" else "redis://"
        if f"CELERY_BROKER_URL={scheme}" not in generated_env:
            raise RuntimeError(f"{self.path}/.env does not use {combo.broker}")
        self.database_url = servers.postgres.create_database(
            combo.slug, owner=combo.slug, password=secrets.token_urlsafe(16)
        )
        self.secret_key = secrets.token_urlsafe(50)
        self._vhosts = 0

    def env(self, variant="generated", **extra):
        """The environment of one run: a fresh broker (vhost or flushed database)."""
        redis = self.servers.redis
        for db in (BROKER_DB, RESULTS_DB):
            redis.cli("-n", str(db), "FLUSHDB")
        if self.combo.broker == "rabbitmq":
            self._vhosts += 1
            self.vhost = f"{self.combo.slug}_{self._vhosts}"
            self.servers.rabbitmq.add_vhost(self.vhost)
            broker_url = self.servers.rabbitmq.url(self.vhost)
        else:
            self.vhost = None
            broker_url = redis.url(BROKER_DB)
        backend = "django-db" if self.combo.backend == "django-db" else redis.url(RESULTS_DB)
        return {
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(BENCH_DIR),
            "DJANGO_SETTINGS_MODULE": "benchprobe.settings",
            "BENCH_VARIANT": variant,
            "BENCH_PROBE_REDIS_URL": self.servers.probe.url(0),
            "DJANGO_SECRET_KEY": self.secret_key,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": redis.url(CACHE_DB),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_RESULT_BACKEND": backend,
            "EMAIL_URL": "consolemail://",
            # Not /tmp, where another run's worker may keep its heartbeat file.
            "CELERY_HEARTBEAT_DIR": str(self.root),
            "CELERY_WORKER_NAME": "bench",
            "CELERY_WORKER_QUEUES": "default",
            "CELERY_WORKER_CONCURRENCY": "2",
            **extra,
        }

    def release(self):
        """Delete the run's vhost: its quorum queues would otherwise keep using CPU."""
        if self.vhost:
            self.servers.rabbitmq.api("DELETE", f"vhosts/{urllib.parse.quote(self.vhost)}")
            self.vhost = None

    def migrate(self):
        env = self.env()
        try:
            subprocess.run(
                [VENV_BIN / "python", "manage.py", "migrate", "--noinput"],
                cwd=self.path,
                env=env,
                check=True,
                capture_output=True,
                timeout=300,
            )
        finally:
            self.release()

    def driver(self, env, steps, timeout):
        """Run benchprobe.driver's steps in one process; return what each step returned."""
        completed = subprocess.run(
            [VENV_BIN / "python", "-m", "benchprobe.driver", json.dumps(steps)],
            cwd=self.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"driver failed on {steps}:\n{completed.stderr[-4000:]}")
        return json.loads(completed.stdout.strip().splitlines()[-1])

    def start_worker(self, env, name, command=None):
        script = self.path / "compose" / "production" / "celery" / "worker" / "start"
        worker = Process(command or [script], self.path, env, self.logs / f"{name}.log")
        try:
            worker.wait_for_log(" ready.", timeout=120)
        except Exception:
            worker.stop()
            raise
        return worker


# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------


def variant_file_name(variant):
    return variant.replace(",", "+")


def measure_worker_run(project, run, counts):
    """Latency one task at a time, then throughput of a batch, for each result mode."""
    env = project.env(run.variant)
    name = f"worker-{variant_file_name(run.variant)}"
    worker = project.start_worker(env, name)

    def step(command, count, ignore_result):
        return {
            "command": command,
            "task_name": "round_trip",
            "count": count,
            "ignore_result": ignore_result,
            "timeout": 240,
        }

    steps = [step("sequential", counts.warmup, False), step("batch", counts.warmup * 4, False)]
    for mode in run.modes:
        ignore = mode == "ignored"
        steps.append(step("sequential", counts.sequential, ignore))
        steps.append(step("batch", counts.batch, ignore))
    try:
        results = project.driver(env, steps, timeout=600)
    finally:
        worker.stop()
        project.release()
    record = {"combo": run.combo.label, "variant": run.variant, "modes": {}}
    for index, mode in enumerate(run.modes):
        latency, batch = results[2 + 2 * index], results[3 + 2 * index]
        record["modes"][mode] = {
            "publish_ms": ms_summary(latency["publish"]),
            "to_start_ms": ms_summary(latency["to_start"]),
            "to_done_ms": ms_summary(latency["to_done"]),
            "tasks_per_second": batch["tasks_per_second"],
            "publish_per_second": batch["count"] / batch["publish_seconds"],
            "batch": batch["count"],
        }
        figures = record["modes"][mode]
        log(
            f"  {run.combo.label:22} {run.variant:26} {mode:8} "
            f"{figures['tasks_per_second']:7.0f} tasks/s  "
            f"(publishing {figures['publish_per_second']:5.0f}/s)  "
            f"done p50 {figures['to_done_ms']['p50']:5.2f} ms p99 "
            f"{figures['to_done_ms']['p99']:6.2f} ms  publish p50 "
            f"{figures['publish_ms']['p50']:5.2f} ms"
        )
    return record


class WebClient:
    """A loopback HTTP client keeping its cookies, one connection per request (Gunicorn's
    sync workers close each connection). Cookies marked Secure are sent anyway: the
    production settings mark them so, and this runs over plain HTTP on 127.0.0.1."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}

    def request(self, method, path, fields=None):
        body = None if fields is None else urllib.parse.urlencode(fields)
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        elapsed = time.perf_counter() - started
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, elapsed


WEB_KINDS = {
    # kind: (method, form fields or None, expected status)
    "GET /": ("GET", None, 200),
    "POST / invalid": ("POST", {"days": "0"}, 200),  # the form again, nothing enqueued
    "POST / (enqueues)": ("POST", {"days": "7"}, 302),  # summarise_signups.delay()
}


def measure_web(project, counts):
    """GET / against POST / that enqueues, through Gunicorn with the production settings."""
    env = project.env("generated", DJANGO_SETTINGS_MODULE="config.settings.production")
    port = services.free_port()
    gunicorn = Process(
        [VENV_BIN / "gunicorn", "config.wsgi", f"--bind=127.0.0.1:{port}"]
        + ["--workers=2", "--worker-tmp-dir=/dev/shm"],
        project.path,
        env,
        project.logs / "gunicorn.log",
    )
    client = WebClient(port)

    def answers():
        try:
            return client.request("GET", "/")[0] == 200
        except OSError:
            return False

    try:
        services.wait_for(answers, 60, message=f"Gunicorn did not answer:\n{gunicorn.log_text()}")
        timings = {kind: [] for kind in WEB_KINDS}
        deadline = time.monotonic() + 300
        for round_number in range(counts.warmup + counts.requests):
            if time.monotonic() > deadline:
                raise TimeoutError("the web benchmark took more than 300 s")
            for kind, (method, fields, expected) in WEB_KINDS.items():
                if fields is not None:
                    fields = {**fields, "csrfmiddlewaretoken": client.cookies["csrftoken"]}
                status, elapsed = client.request(method, "/", fields)
                if status != expected:
                    raise RuntimeError(f"{kind} answered {status}:\n{gunicorn.log_text()[-3000:]}")
                if round_number >= counts.warmup:
                    timings[kind].append(elapsed)
    finally:
        gunicorn.stop()
        project.release()
    record = {"combo": project.combo.label, "kinds": {k: ms_summary(v) for k, v in timings.items()}}
    line = "  ".join(
        f"{kind} p50 {s['p50']:5.2f} p99 {s['p99']:6.2f} ms" for kind, s in record["kinds"].items()
    )
    log(f"  {project.combo.label:22} {line}")
    return record


def memory_configs(counts):
    limit_tasks = counts.max_tasks_per_child
    return [
        # label, variant, extra environment, use the start script (else a bare command)
        ("no limits", "no-child-limits", {}, False),
        ("production start script: 1000 tasks, 256 MiB", "generated", {}, True),
        (
            f"--max-tasks-per-child={limit_tasks}",
            "generated",
            {"CELERY_WORKER_MAX_TASKS_PER_CHILD": str(limit_tasks)},
            True,
        ),
    ]


def memory_sample(worker_pid, tasks_done, tasks_per_second=None):
    return {
        "tasks": tasks_done,
        "children": [memory_of(pid) for pid in child_pids(worker_pid)],
        "parent": memory_of(worker_pid),
        "tasks_per_second": tasks_per_second,
    }


def measure_memory(project, counts):
    """RSS of each pool process after batches of summarise_signups, with and without limits."""
    records = []
    for label, variant, extra, use_script in memory_configs(counts):
        env = project.env(variant, **extra)
        command = None
        if not use_script:
            command = [VENV_BIN / "celery", "-A", "config", "worker", "--loglevel=INFO"]
            command += ["--queues=default", "--hostname=bench@%h", "--concurrency=2"]
        name = "memory-" + re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        worker = project.start_worker(env, name, command)
        samples = []
        pids_seen = set()

        def step(command, count):
            return {
                "command": command,
                "task_name": "summarise_signups",
                "count": count,
                "ignore_result": False,
                "timeout": 240,
            }

        try:
            project.driver(env, [step("sequential", counts.warmup)], timeout=300)
            samples.append(memory_sample(worker.pid, counts.warmup))
            done = counts.warmup
            for _ in range(counts.memory_batches):
                (batch,) = project.driver(env, [step("batch", counts.memory_batch)], timeout=300)
                done += counts.memory_batch
                pids_seen.update(batch["pids"])
                samples.append(memory_sample(worker.pid, done, batch["tasks_per_second"]))
        finally:
            worker.stop()
            project.release()
        record = {
            "label": label,
            "samples": samples,
            "pool_processes_used": len(pids_seen),
        }
        records.append(record)
        last = samples[-1]
        log(
            f"  {label:48} children RSS "
            + ", ".join(f"{child['rss']:.1f}" for child in last["children"])
            + f" MiB after {last['tasks']} tasks; {len(pids_seen)} pool processes used; "
            f"{statistics.fmean(s['tasks_per_second'] for s in samples[1:]):.0f} tasks/s"
        )
    return records


# ---------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------


def machine(servers):
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text()
    memory_kib = int(re.search(r"^MemTotal:\s*(\d+)", meminfo, re.M)[1])
    packages = ["celery", "kombu", "amqp", "redis", "Django", "django-celery-results", "gunicorn"]
    return {
        "cores": os.cpu_count(),
        "cpu": model[1].strip() if model else platform.processor() or "unknown",
        "memory_gib": round(memory_kib / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": {name: importlib.metadata.version(name) for name in packages},
        "servers": servers.versions(),
    }


def load_average():
    return Path("/proc/loadavg").read_text().split()[:3]


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def run(counts, workdir):
    started = time.monotonic()
    results = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "counts": counts.__dict__,
        "load_before": load_average(),
    }
    servers = Servers(workdir / "servers")
    try:
        log("starting PostgreSQL, Redis (two) and RabbitMQ")
        servers.start()
        results["machine"] = machine(servers)
        projects = {}
        for combo in COMBOS:
            log(f"generating and migrating {combo.slug}")
            projects[combo] = Project(combo, workdir / "projects", servers)
            projects[combo].migrate()

        log("enqueue cost inside a web request (Gunicorn, 2 workers, production settings)")
        results["web"] = [measure_web(projects[combo], counts) for combo in COMBOS]

        log("throughput and latency of round_trip (2 pool processes)")
        results["workers"] = [
            measure_worker_run(projects[run.combo], run, counts) for run in WORKER_RUNS
        ]

        log("worker memory (summarise_signups, rabbitmq + django-db)")
        results["memory"] = measure_memory(projects[RABBIT_DB], counts)
    finally:
        servers.close()
    results["load_after"] = load_average()
    results["seconds"] = time.monotonic() - started
    log(f"done in {results['seconds']:.0f} s")
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, to test the script")
    parser.add_argument(
        "--workdir", type=Path, help="where servers, projects and logs go (default: a temp dir)"
    )
    parser.add_argument(
        "--no-page", action="store_true", help="print the figures but leave docs/ alone"
    )
    parser.add_argument(
        "--from-json", type=Path, help="write the page from a previous run's results.json"
    )
    args = parser.parse_args()
    if args.from_json:
        results = json.loads(args.from_json.read_text())
    else:
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="celery-bench-"))
        workdir.mkdir(parents=True, exist_ok=True)
        log(f"working in {workdir}")
        results = run(QUICK if args.quick else FULL, workdir)
        (workdir / "results.json").write_text(json.dumps(results, indent=1))
        log(f"raw figures: {workdir / 'results.json'}")
    if not args.no_page:
        write_page(results)
        log(f"wrote {DOC_PAGE.relative_to(REPO)} and {PLOT.relative_to(REPO)}")


def write_page(results):
    pass


if __name__ == "__main__":
    main()
