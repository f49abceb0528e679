"""Measure what the generated project's Celery configuration costs, on real servers.

    .venv/bin/python benchmarks/run.py            # the full run, about 11 minutes
    .venv/bin/python benchmarks/run.py --quick    # small counts: checks that it works

It starts its own PostgreSQL, Redis and RabbitMQ servers on free ports of 127.0.0.1
(tests/services.py, which installs missing Debian packages), generates one project per
broker and result backend with cookiecutter, and runs the projects' own processes:
Gunicorn for the web, workers through compose/production/celery/worker/start. It
prints each figure as it is measured, then writes docs/benchmarks.md and
docs/images/benchmarks.png (report.py), and the raw figures as results.json in its
working directory. Every server and process it started is stopped at the end.

Configurations that are compared run side by side and are measured in turns, round
after round, so that a burst of load from elsewhere on the machine hits all of them
rather than one.
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
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO))

from tests import services  # noqa: E402

VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Counts:
    rounds: int  # turns over the configurations compared
    batch: int  # tasks per throughput batch
    batch_django_db: int  # the same, when each task stores its result in PostgreSQL
    sequential: int  # tasks per latency sample, sent one at a time
    warmup: int
    requests: int  # HTTP requests of each kind, per project
    web_warmup: int
    memory_batches: int
    memory_batch: int
    max_tasks_per_child: int  # the limit tried in the memory runs


FULL = Counts(4, 500, 150, 75, 20, 500, 30, 2, 500, 100)
QUICK = Counts(2, 100, 40, 15, 5, 40, 5, 2, 50, 20)


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
    variant: str  # names from benchprobe/settings.py, joined with commas
    modes: tuple  # "stored" and/or "ignored": whether round_trip stores its result


BOTH = ("stored", "ignored")
STORED = ("stored",)
# Each group's workers run side by side and are measured in turns.
WORKER_GROUPS = {
    "Redis broker": [
        WorkerRun(REDIS_REDIS, "generated", BOTH),
        WorkerRun(REDIS_DB, "generated", BOTH),
        WorkerRun(REDIS_REDIS, "baseline", STORED),
        WorkerRun(REDIS_REDIS, "prefetch-4", BOTH),
        WorkerRun(REDIS_REDIS, "no-track-started", STORED),
        WorkerRun(REDIS_REDIS, "acks-late", BOTH),
        WorkerRun(REDIS_REDIS, "no-events", BOTH),
        WorkerRun(REDIS_REDIS, "direct-exchanges", BOTH),
        WorkerRun(REDIS_DB, "db-close", STORED),
    ],
    "RabbitMQ broker": [
        WorkerRun(RABBIT_REDIS, "generated", BOTH),
        WorkerRun(RABBIT_DB, "generated", BOTH),
        WorkerRun(RABBIT_REDIS, "no-confirms", BOTH),
        WorkerRun(RABBIT_REDIS, "classic-queues", BOTH),
        WorkerRun(RABBIT_REDIS, "prefetch-4", BOTH),
        WorkerRun(RABBIT_REDIS, "no-sent-event", BOTH),
        WorkerRun(RABBIT_REDIS, "no-confirms,no-sent-event", BOTH),
        WorkerRun(RABBIT_DB, "db-close", STORED),
    ],
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


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------


class Process:
    """A process in a session of its own, logging to a file, stopped by its PID."""

    def __init__(self, args, cwd, env, log_path):
        self.args = [str(arg) for arg in args]
        self.log_path = log_path
        self._terminated = False
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

    def terminate(self):
        """Ask it to stop (a Celery worker's warm shutdown), without waiting."""
        if self.popen.poll() is None and not self._terminated:
            self.popen.send_signal(signal.SIGTERM)
            self._terminated = True

    def stop(self, timeout=30):
        """SIGTERM, wait, then SIGKILL to its whole group if anything lingers."""
        self.terminate()
        if self.popen.poll() is None:
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            # Our child leads the group, and is not reaped before this line: still ours.
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()
        self._log.close()


def child_pids(parent):
    """Live (not zombie) children of a process."""
    children = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
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
# Servers, projects and deployments
# ---------------------------------------------------------------------------


class Servers:
    def __init__(self, root):
        services.ensure_servers()
        self.postgres = services.PostgresServer(root / "postgres")
        self.redis = services.RedisServer(root / "redis")
        self.probe = services.RedisServer(root / "probe")
        self.rabbitmq = services.RabbitMQServer(root / "rabbitmq")
        self.all = [self.postgres, self.redis, self.probe, self.rabbitmq]
        self._next_redis_db = 1  # 0 is the Django cache

    def start(self):
        for server in self.all:
            server.start()
        # The helpers' Redis acknowledges a write only once it is on disk (fsync always),
        # which the crash tests need. compose.production.yaml runs Redis with
        # --appendonly yes and Redis's default of one fsync a second: measure that.
        for server in (self.redis, self.probe):
            server.cli("CONFIG", "SET", "appendfsync", "everysec")

    def close(self):
        for server in reversed(self.all):
            try:
                server.close()
            except Exception as exc:  # keep closing the others
                log(f"could not close {server!r}: {exc}")

    def redis_db(self):
        """An empty Redis database of its own, for one deployment's broker or results."""
        db = self._next_redis_db
        if db > 15:
            raise RuntimeError("Redis has 16 databases; too many deployments at once")
        self._next_redis_db += 1
        self.redis.cli("-n", str(db), "FLUSHDB")
        return db

    def free_redis_dbs(self):
        self._next_redis_db = 1

    def versions(self):
        overview = self.rabbitmq.api("GET", "overview")
        return {
            "RabbitMQ": f"{overview['rabbitmq_version']} (Erlang {overview['erlang_version']})",
            "Redis": re.search(r"redis_version:(\S+)", self.redis.cli("INFO", "server"))[1],
            "PostgreSQL": self.postgres.psql("SHOW server_version").strip(),
        }


class Project:
    """A project generated with cookiecutter, with its own migrated database."""

    def __init__(self, combo, root, servers):
        self.combo = combo
        self.servers = servers
        subprocess.run(
            [VENV_BIN / "cookiecutter", "--no-input", "--output-dir", root, REPO]
            + [f"broker={combo.broker}", f"result_backend={combo.backend}"]
            + [f"project_slug={combo.slug}"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.path = root / combo.slug
        self.logs = root / f"{combo.slug}-logs"
        self.logs.mkdir(exist_ok=True)
        scheme = "amqp://" if combo.broker == "rabbitmq" else "redis://"
        if f"CELERY_BROKER_URL={scheme}" not in (self.path / ".env").read_text():
            raise RuntimeError(f"{self.path}/.env does not use {combo.broker}")
        self.database_url = servers.postgres.create_database(
            combo.slug, owner=combo.slug, password=secrets.token_urlsafe(16)
        )
        self.secret_key = secrets.token_urlsafe(50)
        self.deployments = 0

    def migrate(self):
        deployment = Deployment(self, "generated")
        try:
            subprocess.run(
                [VENV_BIN / "python", "manage.py", "migrate", "--noinput"],
                cwd=self.path,
                env=deployment.env,
                check=True,
                capture_output=True,
                timeout=300,
            )
        finally:
            deployment.close()


class Deployment:
    """One configuration of a project, on a broker of its own (a RabbitMQ virtual host or
    a Redis database) with its own result database, probe list and worker."""

    def __init__(self, project, variant, **extra):
        self.project = project
        self.variant = variant
        servers = project.servers
        project.deployments += 1
        self.name = f"{project.combo.slug}-{project.deployments}-{slug(variant)}"
        self.worker = None
        self.vhost = None
        if project.combo.broker == "rabbitmq":
            self.vhost = self.name
            servers.rabbitmq.add_vhost(self.vhost)
            broker_url = servers.rabbitmq.url(self.vhost)
        else:
            broker_url = servers.redis.url(servers.redis_db())
        if project.combo.backend == "redis" and project.combo.broker == "redis":
            # The same database as the broker (their keys never collide): Redis has only
            # 16 databases for all the deployments that run side by side.
            result_backend = broker_url
        elif project.combo.backend == "redis":
            result_backend = servers.redis.url(servers.redis_db())
        else:
            result_backend = "django-db"
        self.env = {
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(BENCH_DIR),
            "DJANGO_SETTINGS_MODULE": "benchprobe.settings",
            "BENCH_VARIANT": variant,
            "BENCH_PROBE_REDIS_URL": servers.probe.url(0),
            "BENCH_PROBE_KEY": self.name,
            "DJANGO_SECRET_KEY": project.secret_key,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": project.database_url,
            "REDIS_URL": servers.redis.url(0),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_RESULT_BACKEND": result_backend,
            "EMAIL_URL": "consolemail://",
            # Not /tmp, where someone else's worker may keep its heartbeat file.
            "CELERY_HEARTBEAT_DIR": str(project.logs),
            "CELERY_WORKER_NAME": self.name,
            "CELERY_WORKER_QUEUES": "default",
            "CELERY_WORKER_CONCURRENCY": "2",
            **extra,
        }

    def start_worker(self, command=None):
        """Start a worker: the project's production start script unless `command` is given."""
        script = self.project.path / "compose" / "production" / "celery" / "worker" / "start"
        self.worker = Process(
            command or [script],
            self.project.path,
            self.env,
            self.project.logs / f"worker-{self.name}.log",
        )

    def wait_until_ready(self):
        self.worker.wait_for_log(" ready.", timeout=180)

    def driver(self, steps, timeout=600):
        """Run benchprobe.driver's steps in one process; return what each step returned."""
        completed = subprocess.run(
            [VENV_BIN / "python", "-m", "benchprobe.driver", json.dumps(steps)],
            cwd=self.project.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"driver failed on {steps}:\n{completed.stderr[-4000:]}")
        return json.loads(completed.stdout.strip().splitlines()[-1])

    def close(self):
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self.vhost is not None:
            # Its quorum queues would otherwise go on using the broker's CPU.
            self.project.servers.rabbitmq.api(
                "DELETE", f"vhosts/{urllib.parse.quote(self.vhost, safe='')}"
            )
            self.vhost = None


# ---------------------------------------------------------------------------
# Enqueue cost inside a web request
# ---------------------------------------------------------------------------


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
    "POST / rejected": ("POST", {"days": "0"}, 200),  # the form again: nothing enqueued
    "POST / enqueues": ("POST", {"days": "7"}, 302),  # summarise_signups.delay()
}


def measure_web(projects, counts):
    """GET / and POST / against each project's Gunicorn, in turns, one request at a time.

    No worker runs: the figures are the web process's alone. The summarise_signups
    messages the POSTs enqueue wait in their queue, which is deleted afterwards.
    """
    deployments, servers, clients = [], [], []
    projects[0].servers.free_redis_dbs()
    try:
        for project in projects:
            deployment = Deployment(
                project, "generated", DJANGO_SETTINGS_MODULE="config.settings.production"
            )
            deployments.append(deployment)
            port = services.free_port()
            servers.append(
                Process(
                    [VENV_BIN / "gunicorn", "config.wsgi", f"--bind=127.0.0.1:{port}"]
                    + ["--workers=2", "--worker-tmp-dir=/dev/shm"],
                    project.path,
                    deployment.env,
                    project.logs / "gunicorn.log",
                )
            )
            clients.append(WebClient(port))
        for client, server in zip(clients, servers, strict=True):

            def answers(client=client):
                try:
                    return client.request("GET", "/")[0] == 200
                except OSError:
                    return False

            services.wait_for(answers, 60, message=f"no answer from Gunicorn:\n{server.log_text()}")
        timings = [{kind: [] for kind in WEB_KINDS} for _ in projects]
        deadline = time.monotonic() + 400
        for round_number in range(counts.web_warmup + counts.requests):
            if time.monotonic() > deadline:
                raise TimeoutError("the web benchmark took more than 400 s")
            for client, server, timing in zip(clients, servers, timings, strict=True):
                for kind, (method, fields, expected) in WEB_KINDS.items():
                    if fields is not None:
                        fields = {**fields, "csrfmiddlewaretoken": client.cookies["csrftoken"]}
                    status, elapsed = client.request(method, "/", fields)
                    if status != expected:
                        raise RuntimeError(f"{kind}: {status}\n{server.log_text()[-3000:]}")
                    if round_number >= counts.web_warmup:
                        timing[kind].append(elapsed)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.stop()
        for deployment in deployments:
            deployment.close()
    records = []
    for project, timing in zip(projects, timings, strict=True):
        record = {
            "combo": project.combo.label,
            "kinds": {k: ms_summary(v) for k, v in timing.items()},
        }
        records.append(record)
        line = "  ".join(
            f"{kind} {s['p50']:5.2f}/{s['p99']:6.2f}" for kind, s in record["kinds"].items()
        )
        log(f"  {project.combo.label:20} p50/p99 ms: {line}")
    return records


# ---------------------------------------------------------------------------
# Throughput and latency
# ---------------------------------------------------------------------------


def batch_size(run, mode, counts):
    if mode == "stored" and run.combo.backend == "django-db":
        return counts.batch_django_db
    return counts.batch


def driver_steps(run, counts, cpu_pids):
    def step(command, count, ignore_result):
        return {
            "command": command,
            "task_name": "round_trip",
            "count": count,
            "ignore_result": ignore_result,
            "timeout": 240,
        }

    steps = [step("sequential", counts.warmup, False)]
    for mode in run.modes:
        steps.append(step("sequential", counts.sequential, mode == "ignored"))
        batch = step("batch", batch_size(run, mode, counts), mode == "ignored")
        steps.append({**batch, "cpu_pids": cpu_pids})
    return steps


def server_pid(server):
    return int(server.pid_file.read_text().split()[0])


CPU_PARTS = ("publisher", "worker", "rabbitmq", "redis", "postgres")


def measure_worker_group(title, runs, projects, counts):
    """Start every configuration's worker, then measure them in turns, round after round."""
    servers = next(iter(projects.values())).servers
    deployments = []
    measured = {(run, mode): [] for run in runs for mode in run.modes}
    servers.free_redis_dbs()
    try:
        for run in runs:
            deployment = Deployment(projects[run.combo], run.variant)
            deployments.append(deployment)
            deployment.start_worker()
        for deployment in deployments:
            deployment.wait_until_ready()
        log(f"{title}: {len(deployments)} workers ready")
        server_pids = {
            "rabbitmq": server_pid(servers.rabbitmq),
            "redis": server_pid(servers.redis),
            "postgres": server_pid(servers.postgres),
        }
        for round_number in range(1, counts.rounds + 1):
            for run, deployment in zip(runs, deployments, strict=True):
                cpu_pids = {"worker": deployment.worker.pid, **server_pids}
                results = deployment.driver(driver_steps(run, counts, cpu_pids))
                for index, mode in enumerate(run.modes):
                    latency, batch = results[1 + 2 * index], results[2 + 2 * index]
                    measured[run, mode].append((latency, batch))
                    cpu = sum(batch["cpu_seconds"].values()) / batch["count"] * 1000
                    log(
                        f"  round {round_number}  {run.combo.label:20} {run.variant:26} "
                        f"{mode:8} {batch['tasks_per_second']:6.0f} tasks/s  publishing "
                        f"{batch['count'] / batch['publish_seconds']:5.0f}/s  done p50 "
                        f"{percentile(latency['to_done'], 0.5) * 1000:5.2f} ms  CPU "
                        f"{cpu:5.2f} ms/task"
                    )
    finally:
        for deployment in deployments:  # all at once: each warm shutdown takes a while
            if deployment.worker is not None:
                deployment.worker.terminate()
        for deployment in deployments:
            deployment.close()
    records = []
    for (run, mode), rounds in measured.items():
        latencies = {
            key: [value for latency, _ in rounds for value in latency[key]]
            for key in ("publish", "to_start", "to_done")
        }
        records.append(
            {
                "group": title,
                "combo": run.combo.label,
                "variant": run.variant,
                "mode": mode,
                "batch": batch_size(run, mode, counts),
                "tasks_per_second": [batch["tasks_per_second"] for _, batch in rounds],
                "publish_per_second": [
                    batch["count"] / batch["publish_seconds"] for _, batch in rounds
                ],
                # CPU milliseconds per task, over all rounds, by process.
                "cpu_ms_per_task": {
                    part: sum(batch["cpu_seconds"][part] for _, batch in rounds)
                    / sum(batch["count"] for _, batch in rounds)
                    * 1000
                    for part in CPU_PARTS
                },
                "cpu_ms_per_task_rounds": [
                    sum(batch["cpu_seconds"].values()) / batch["count"] * 1000
                    for _, batch in rounds
                ],
                **{f"{key}_ms": ms_summary(values) for key, values in latencies.items()},
            }
        )
    return records


# ---------------------------------------------------------------------------
# Worker memory
# ---------------------------------------------------------------------------


def memory_configs(counts):
    """(label, variant, extra environment, whether to use the production start script)."""
    limit = counts.max_tasks_per_child
    return [
        ("no limits", "no-child-limits", {}, False),
        ("start script defaults (1000 tasks, 256 MiB)", "generated", {}, True),
        (
            f"--max-tasks-per-child={limit}",
            "generated",
            {"CELERY_WORKER_MAX_TASKS_PER_CHILD": str(limit)},
            True,
        ),
    ]


def memory_sample(worker_pid, tasks_done, concurrency, tasks_per_second=None):
    # Right after a batch, a pool process that reached its limit may be in the middle of
    # being replaced: wait (briefly) until the pool is whole again.
    try:
        services.wait_for(lambda: len(child_pids(worker_pid)) >= concurrency, 10)
    except TimeoutError:
        pass
    return {
        "tasks": tasks_done,
        "children": [memory_of(pid) for pid in child_pids(worker_pid)],
        "parent": memory_of(worker_pid),
        "tasks_per_second": tasks_per_second,
    }


def measure_memory(project, counts):
    """RSS of each pool process after batches of summarise_signups, with and without limits."""
    records = []

    def step(command, count):
        return {
            "command": command,
            "task_name": "summarise_signups",
            "count": count,
            "ignore_result": False,
            "timeout": 240,
        }

    for label, variant, extra, use_script in memory_configs(counts):
        project.servers.free_redis_dbs()
        deployment = Deployment(project, variant, **extra)
        command = None
        if not use_script:
            # The production start script without its two limits.
            command = [VENV_BIN / "celery", "-A", "config", "worker", "--loglevel=INFO"]
            command += ["--queues=default", f"--hostname={deployment.name}@%h", "--concurrency=2"]
        samples, pids_seen = [], set()
        try:
            deployment.start_worker(command)
            deployment.wait_until_ready()
            pid = deployment.worker.pid
            deployment.driver([step("sequential", counts.warmup)])
            samples.append(memory_sample(pid, counts.warmup, 2))
            done = counts.warmup
            for _ in range(counts.memory_batches):
                (batch,) = deployment.driver([step("batch", counts.memory_batch)])
                done += counts.memory_batch
                pids_seen.update(batch["pids"])
                samples.append(memory_sample(pid, done, 2, batch["tasks_per_second"]))
        finally:
            deployment.close()
        records.append({"label": label, "samples": samples, "pool_processes": len(pids_seen)})
        last = samples[-1]
        log(
            f"  {label:46} pool processes "
            + ", ".join(f"{child['rss']:.1f}" for child in last["children"])
            + f" MiB RSS after {last['tasks']} tasks; {len(pids_seen)} pool processes used"
        )
    return records


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def machine(servers):
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text()
    memory_kib = int(re.search(r"^MemTotal:\s*(\d+)", meminfo, re.M)[1])
    packages = ["celery", "kombu", "Django", "django-celery-results", "redis", "gunicorn"]
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


def run(counts, workdir):
    started = time.monotonic()
    results = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "counts": asdict(counts),
        "load_before": load_average(),
    }
    servers = Servers(workdir / "servers")
    try:
        log("starting PostgreSQL, two Redis servers and RabbitMQ")
        servers.start()
        results["machine"] = machine(servers)
        projects = {}
        for combo in COMBOS:
            log(f"generating and migrating {combo.slug}")
            projects[combo] = Project(combo, workdir / "projects", servers)
            projects[combo].migrate()

        log("enqueue cost inside a web request (Gunicorn, 2 workers, production settings)")
        results["web"] = measure_web([projects[combo] for combo in COMBOS], counts)

        results["workers"] = []
        for title, runs in WORKER_GROUPS.items():
            log(f"throughput and latency of round_trip, {title} (2 pool processes per worker)")
            results["workers"] += measure_worker_group(title, runs, projects, counts)

        log("worker memory (summarise_signups, rabbitmq + django-db)")
        results["memory"] = measure_memory(projects[RABBIT_DB], counts)
    finally:
        servers.close()
    results["load_after"] = load_average()
    results["seconds"] = time.monotonic() - started
    log(f"measured in {results['seconds']:.0f} s")
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, to test the script")
    parser.add_argument("--workdir", type=Path, help="for servers, projects, logs (default: temp)")
    parser.add_argument("--no-page", action="store_true", help="leave docs/ alone")
    parser.add_argument(
        "--page-from",
        type=Path,
        nargs="+",
        metavar="RESULTS_JSON",
        help="write the page from earlier runs' results.json (the first is the main run)",
    )
    args = parser.parse_args()
    if args.page_from:
        runs = [json.loads(path.read_text()) for path in args.page_from]
    else:
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="celery-bench-"))
        workdir.mkdir(parents=True, exist_ok=True)
        log(f"working in {workdir}")
        runs = [run(QUICK if args.quick else FULL, workdir)]
        (workdir / "results.json").write_text(json.dumps(runs[0], indent=1))
        log(f"raw figures: {workdir / 'results.json'}")
    if not args.no_page:
        import celery_report as report

        report.write(runs)
        log(f"wrote {report.PAGE.relative_to(REPO)} and {report.PLOT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
