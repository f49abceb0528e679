"""Our generated project against cookiecutter-django's, measured in the same rounds.

    .venv/bin/python benchmarks/run.py --peer PATH    # about 10 minutes on 2 cores
    .venv/bin/python benchmarks/run.py --peer PATH --quick    # small counts: checks it works
    .venv/bin/python benchmarks/run.py --peer PATH --growth   # also growth: 5 minutes more

PATH is a git checkout (or mirror) of cookiecutter-django holding PEER_COMMIT; without
--peer the script clones it from GitHub. benchmarks/README.md says what runs and what
is measured; the figures rewrite docs/benchmarks.md (from benchmarks/page.md), and the
raw ones go to results.json in the working directory. Nothing is asserted.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import secrets
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO))

from tests import debian_root, services  # noqa: E402

# cookiecutter-django's release 2026.8.18.
PEER_REPOSITORY = "https://github.com/cookiecutter/cookiecutter-django"
PEER_COMMIT = "2d3b8809f288187b3014163a3310766b5f962cf9"
PEER_OPTIONS = {
    "project_slug": "peer",
    "use_celery": "y",
    "use_docker": "y",
    "cloud_provider": "None",
    "use_whitenoise": "y",
    "mail_service": "Other SMTP",
}
PAGE = REPO / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Counts:
    rounds: int  # turns over the configurations
    batch: int  # tasks per throughput batch
    sequential: int  # tasks sent one at a time, per latency sample
    requests: int  # web requests of each kind
    backlog: int  # intents the relay drains
    sent: int  # sent intents in the table (--growth)
    queue: int  # intents drained into a queue, then consumed by a worker (--growth)


FULL = Counts(4, batch=1000, sequential=100, requests=300, backlog=20_000, sent=10**6, queue=10**5)
QUICK = Counts(1, batch=100, sequential=20, requests=30, backlog=1000, sent=10_000, queue=2000)


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values, fraction):
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def p50_p99_ms(seconds):
    return {"p50": percentile(seconds, 0.5) * 1000, "p99": percentile(seconds, 0.99) * 1000}


def in_root(args, cwd="/"):
    """The command line that runs args in the Python root, seeing the probe app."""
    return [str(a) for a in debian_root.command(PythonRoot.path, args, cwd=cwd, binds=[BENCH_DIR])]


class Process:
    """A program run inside the Debian root, in a session of its own, logging to a file."""

    def __init__(self, args, cwd, env, log_path):
        self.log_path = log_path
        with log_path.open("ab") as output:
            self.popen = subprocess.Popen(
                in_root(args, cwd),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_for_log(self, text, timeout=180):
        def logged():
            if self.popen.poll() is not None:
                raise RuntimeError(f"exited:\n{self.log_path.read_text()[-3000:]}")
            return text in self.log_path.read_text(errors="replace")

        services.wait_for(logged, timeout, message=f"{self.log_path} never said {text!r}")

    def stop(self):
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()


def tree_pss_mib(pid):
    """Proportional set size of a process and its children: the memory it really costs.
    A pool process being replaced (--max-tasks-per-child) as it is read is skipped."""
    total = 0
    for member in [pid, *services._child_pids(pid)]:
        try:
            rollup = Path(f"/proc/{member}/smaps_rollup").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(re.search(r"^Pss:\s+(\d+)", rollup, re.M)[1])
    return total / 1024


class PythonRoot:
    """Debian 13's servers root with Python's venv module: both projects run its Python
    3.13 (cookiecutter-django's Django 6 needs 3.12 or later)."""

    path = None

    @classmethod
    def ensure(cls):
        cls.path = debian_root.servers_root(extra_packages=("python3-venv",))

    @classmethod
    def run(cls, args, cwd="/", timeout=900):
        return debian_root.run(in_root(args, cwd), timeout=timeout).stdout

    @classmethod
    def venv(cls, where, requirements, cwd):
        cls.run(["python3", "-m", "venv", where])
        cls.run([f"{where}/bin/pip", "install", "-q", *requirements], cwd=cwd)
        return Path(where)


class Servers:
    def __init__(self, workdir):
        services.ensure_servers()
        # fsync on, as in production: the web figures time commits.
        self.postgres = services.PostgresServer(workdir / "postgres", durable=True)
        self.redis = services.RedisServer(workdir / "redis")
        self.probe = services.RedisServer(workdir / "probe")
        self.rabbitmq = services.RabbitMQServer(workdir / "rabbitmq")
        self.all = [self.postgres, self.redis, self.probe, self.rabbitmq]
        self.databases = iter(range(1, 16))  # Redis databases, one per deployment

    def start(self):
        for server in self.all:
            server.start()
        for server in (self.redis, self.probe):  # compose.production.yaml's Redis setting
            server.cli("CONFIG", "SET", "appendfsync", "everysec")

    def close(self):
        for server in reversed(self.all):
            server.close()

    def pids(self):
        return {
            name: int(server.pid_file.read_text().split()[0])
            for name, server in [
                ("rabbitmq", self.rabbitmq),
                ("redis", self.redis),
                ("postgres", self.postgres),
            ]
        }

    def versions(self):
        overview = self.rabbitmq.api("GET", "overview")
        return {
            "RabbitMQ": f"{overview['rabbitmq_version']} (Erlang {overview['erlang_version']})",
            "Redis": re.search(r"redis_version:(\S+)", self.redis.cli("INFO", "server"))[1],
            "PostgreSQL": self.postgres.psql("SHOW server_version"),
        }


@dataclass
class Project:
    """A generated project: ours (one per broker and result backend) or the peer."""

    label: str
    path: Path
    venv: Path
    broker: str  # "rabbitmq" or "redis"
    backend: str  # "django-db" or "redis"
    peer: bool = False
    database_url: str = ""
    deployments: int = 0

    def environment(self, servers, variant=""):
        """The environment of one deployment: its own broker (a RabbitMQ virtual host or a
        Redis database) and its own probe list."""
        self.deployments += 1
        name = f"{self.path.name}-{self.deployments}{'-' + variant if variant else ''}"
        if self.broker == "rabbitmq":
            servers.rabbitmq.add_vhost(name)
            broker = servers.rabbitmq.url(name)
        else:
            broker = servers.redis.url(next(servers.databases))
        env = {
            "PATH": f"{self.venv}/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": "/root",
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(BENCH_DIR),
            "DJANGO_SETTINGS_MODULE": "probe.settings",
            "BENCH_VARIANT": variant,
            "BENCH_PROBE_REDIS_URL": servers.probe.url(0),
            "BENCH_PROBE_KEY": name,
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": self.database_url,
        }
        if self.peer:
            # Its settings take the broker and the result store from REDIS_URL.
            return name, env | {"REDIS_URL": broker, "DJANGO_ADMIN_URL": "admin/"}
        if self.backend == "django-db":
            backend = "django-db"
        elif self.broker == "redis":
            backend = broker  # the broker's own database: their keys never collide
        else:
            backend = servers.redis.url(next(servers.databases))
        return name, env | {
            "REDIS_URL": servers.redis.url(0),
            "CELERY_BROKER_URL": broker,
            "CELERY_RESULT_BACKEND": backend,
            "EMAIL_URL": "consolemail://",
            "CELERY_HEARTBEAT_DIR": str(self.path),
            "CELERY_WORKER_NAME": name,
            "CELERY_WORKER_QUEUES": "default",
            "CELERY_WORKER_CONCURRENCY": "2",
        }

    def worker_start(self):
        """The production start script each template ships for its worker (the peer's is
        made executable by its Dockerfile, so both run through bash)."""
        if self.peer:
            return ["bash", self.path / "compose/production/django/celery/worker/start"]
        return ["bash", self.path / "compose/production/celery/worker/start"]

    def manage(self, env, *args, timeout=300):
        command = in_root([self.venv / "bin/python", "manage.py", *args], self.path)
        return debian_root.run(command, env=env, timeout=timeout).stdout


@dataclass
class Deployment:
    project: Project
    variant: str
    modes: tuple  # "stored" and/or "ignored": whether the tasks store their results
    note: str = ""  # told apart from another deployment of the same project
    name: str = ""
    env: dict = field(default_factory=dict)
    worker: Process | None = None

    @property
    def label(self):
        note = f" ({self.note})" if self.note else ""
        return self.project.label + note + (f", {self.variant}" if self.variant else "")

    def prepare(self, servers):
        self.name, self.env = self.project.environment(servers, self.variant)
        if not self.project.peer:  # as compose does before any worker starts
            self.project.manage(self.env, "declare_queues")

    def start_worker(self, workdir):
        self.worker = Process(
            self.project.worker_start(),
            self.project.path,
            self.env,
            workdir / f"worker-{self.name}.log",
        )

    def driver(self, steps, timeout=900):
        command = [self.project.venv / "bin/python", "-m", "probe.driver", json.dumps(steps)]
        command = in_root(command, self.project.path)
        result = debian_root.run(command, env=self.env, timeout=timeout)
        return json.loads(result.stdout.strip().splitlines()[-1])


def generate_ours(broker, backend, workdir, servers, venv=None):
    slug = f"ours_{broker}_{backend.replace('-', '')}"
    subprocess.run(
        [
            Path(sys.executable).parent / "cookiecutter",
            "--no-input",
            "--output-dir",
            workdir,
            REPO,
            f"broker={broker}",
            f"result_backend={backend}",
            f"project_slug={slug}",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    path = workdir / slug
    if venv is None:  # the generated lock, as the production image installs it
        lock = ["--require-hashes", "-r", "requirements/production.lock"]
        venv = PythonRoot.venv(workdir / "venv-ours", lock, cwd=path)
    label = f"ours, {broker}" + (" + Redis results" if broker != backend == "redis" else "")
    project = Project(label, path, venv, broker, backend)
    project.database_url = servers.postgres.create_database(slug, slug, secrets.token_hex(16))
    return project


def generate_peer(peer, workdir, servers):
    """cookiecutter-django at PEER_COMMIT with Celery, its production requirements in a
    venv of their own. Its post-generation hook is skipped: it runs `uv add`, which
    fetches Python 3.14 from GitHub; its requirements file is installed with pip instead,
    with psycopg's binary wheel for the C build it names (the same C code, no compiler)."""
    from cookiecutter.main import cookiecutter

    source = workdir / "peer-source"
    subprocess.run(
        ["git", "clone", "-q", "--no-checkout", peer or PEER_REPOSITORY, source], check=True
    )
    subprocess.run(["git", "-C", source, "checkout", "-q", PEER_COMMIT], check=True)
    path = Path(
        cookiecutter(
            str(source),
            no_input=True,
            accept_hooks=False,
            output_dir=str(workdir),
            extra_context=PEER_OPTIONS,
        )
    )
    requirements = path / "requirements"
    pins = (requirements / "production.txt").read_text().replace("psycopg[c]", "psycopg[binary]")
    pins += "\npackaging\n"
    (requirements / "benchmark.txt").write_text(pins)
    venv = PythonRoot.venv(workdir / "venv-peer", ["-r", "requirements/benchmark.txt"], path)
    project = Project("cookiecutter-django", path, venv, "redis", "redis", peer=True)
    project.database_url = servers.postgres.create_database("peer", "peer", secrets.token_hex(16))
    return project


def cpu_ms_per_task(batches):
    seconds = sum(sum(b["cpu_seconds"].values()) for b in batches)
    return seconds / sum(b["count"] for b in batches) * 1000


def measure_workers(deployments, servers, counts, workdir):
    """Each deployment's worker runs throughout; the deployments are measured in turns,
    round after round, so that load from elsewhere falls on all of them alike."""
    migrated = set()
    for deployment in deployments:
        if deployment.project.path not in migrated:
            _, env = deployment.project.environment(servers)
            deployment.project.manage(env, "migrate", "--noinput")
            migrated.add(deployment.project.path)
        deployment.prepare(servers)
        deployment.start_worker(workdir)
    for deployment in deployments:
        deployment.worker.wait_for_log(" ready.")
    log(f"{len(deployments)} workers ready")
    records = {
        (d.label, mode): {"latency": [], "batches": [], "variant": d.variant}
        for d in deployments
        for mode in d.modes
    }
    for number in range(1, counts.rounds + 1):
        for deployment in deployments:
            pids = {"worker": deployment.worker.popen.pid, **servers.pids()}
            steps = [{"step": "sequential", "count": 10, "ignore_result": True}]  # warm-up
            for mode in deployment.modes:
                ignore = mode == "ignored"
                steps += [
                    {"step": "sequential", "count": counts.sequential, "ignore_result": ignore},
                    {
                        "step": "batch",
                        "count": counts.batch,
                        "ignore_result": ignore,
                        "cpu_pids": pids,
                    },
                ]
            results = deployment.driver(steps)
            for index, mode in enumerate(deployment.modes):
                latency, batch = results[1 + 2 * index : 3 + 2 * index]
                record = records[deployment.label, mode]
                record["latency"].append(latency)
                record["batches"].append(batch)
                log(
                    f"  round {number}  {deployment.label:50} {mode:8} "
                    f"{batch['tasks_per_second']:5.0f} tasks/s  "
                    f"{cpu_ms_per_task([batch]):5.2f} ms CPU/task  delay() p50 "
                    f"{percentile(latency['publish'], 0.5) * 1000:.2f} ms"
                )
    rows = []
    for (label, mode), record in records.items():
        batches = record["batches"]
        parts = {
            part: sum(b["cpu_seconds"][part] for b in batches)
            / sum(b["count"] for b in batches)
            * 1000
            for part in batches[0]["cpu_seconds"]
        }
        rows.append(
            {
                "label": label,
                "variant": record["variant"],
                "mode": mode,
                "tasks_per_second": statistics.median(b["tasks_per_second"] for b in batches),
                "cpu_ms_per_task": cpu_ms_per_task(batches),
                "cpu_ms_by_process": parts,
                "delay_ms": p50_p99_ms([s for lat in record["latency"] for s in lat["publish"]]),
                "to_done_ms": p50_p99_ms([s for lat in record["latency"] for s in lat["to_done"]]),
            }
        )
    memory = {d.label: tree_pss_mib(d.worker.popen.pid) for d in deployments}
    return rows, memory


def post(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    try:
        connection.request(
            "POST",
            path,
            body="item=book",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"POST {path} answered {response.status}")
    return time.perf_counter() - started


def measure_web(deployments, counts, workdir):
    """Each project's Gunicorn (2 workers, production settings) with its worker running
    (and our relay); requests one at a time, every endpoint in turn."""
    processes, endpoints = [], []
    try:
        for deployment in deployments:
            project, port = deployment.project, services.free_port()
            gunicorn = [
                project.venv / "bin/gunicorn",
                "config.wsgi",
                "--workers=2",
                f"--bind=127.0.0.1:{port}",
            ]
            processes.append(
                Process(
                    gunicorn, project.path, deployment.env, workdir / f"web-{deployment.name}.log"
                )
            )
            kinds = ["no-task", "delay"]
            if not project.peer:
                relay = project.path / "compose/production/outbox/start"
                processes.append(
                    Process(
                        [relay],
                        project.path,
                        deployment.env,
                        workdir / f"relay-{deployment.name}.log",
                    )
                )
                kinds.append("outbox")
            services.wait_for(lambda p=port: services._accepts_connections(p), 60)
            endpoints += [(deployment.project.label, kind, port) for kind in kinds]
        for _ in range(20):  # warm-up: imports, connections
            for _, kind, port in endpoints:
                post(port, f"/bench/{kind}/")
        seconds = {(label, kind): [] for label, kind, _ in endpoints}
        for _ in range(counts.requests):
            for label, kind, port in endpoints:
                seconds[label, kind].append(post(port, f"/bench/{kind}/"))
    finally:
        for process in processes:
            process.stop()
    figures = {key: p50_p99_ms(values) for key, values in seconds.items()}
    for (label, kind), figure in figures.items():
        log(f"  {label:50} /bench/{kind}/  p50 {figure['p50']:.2f}  p99 {figure['p99']:.2f} ms")
    return [{"label": label, "kind": kind, **figure} for (label, kind), figure in figures.items()]


def measure_relay(project, servers, counts):
    """A backlog of intents drained by our relay, against py-amqp's pipelined confirms to
    the same quorum queue, on a virtual host no worker consumes."""
    deployment = Deployment(project, "", ())
    deployment.prepare(servers)
    (result,) = deployment.driver([{"step": "relay_drain", "count": counts.backlog}])
    log(
        f"  send_task() alone {result['send_task_per_second']:.0f}/s, "
        f"relay {result['relay_per_second']:.0f} intents/s, raw py-amqp "
        f"{result['raw_per_second']:.0f} messages/s"
    )
    return result


def measure_growth(project, servers, counts, workdir):
    """Our outbox with `counts.sent` sent intents in its table, then `counts.queue`
    intents drained into a queue that a worker started afterwards consumes."""
    deployment = Deployment(project, "", ())
    deployment.prepare(servers)
    table_growth, drained = deployment.driver(
        [
            {"step": "table_growth", "sent": counts.sent},
            {"step": "relay_drain", "count": counts.queue, "keep": True},
        ],
        timeout=3600,
    )
    deployment.start_worker(workdir)
    try:
        deployment.worker.wait_for_log(" ready.")
        (consumed,) = deployment.driver(
            [{"step": "wait_for_tasks", "count": counts.queue}], timeout=3600
        )
        time.sleep(2)  # a pool process replaced after its last task is forked again
        consumed["worker_pss_mib"] = tree_pss_mib(deployment.worker.popen.pid)
    finally:
        deployment.worker.stop()
    log(f"  {table_growth}\n  drained {drained}\n  consumed {consumed}")
    return {"table": table_growth, "drained": drained, "consumed": consumed}


def machine(servers, projects):
    cpu = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    memory = re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.M)
    packages = {}
    for project in projects:
        listed = PythonRoot.run([project.venv / "bin/pip", "list", "--format=json"])
        versions = {p["name"].lower(): p["version"] for p in json.loads(listed)}
        packages["cookiecutter-django" if project.peer else "ours"] = ", ".join(
            f"{name} {versions[name]}" for name in ("django", "celery", "kombu", "redis")
        )
    return {
        "cpu": f"{cpu[1].strip() if cpu else platform.processor()}, {os.cpu_count()} cores",
        "memory": f"{int(memory[1]) / 1024**2:.1f} GiB",
        "python": PythonRoot.run(["python3", "--version"]).strip(),
        "packages": packages,
        "servers": servers.versions(),
    }


# The deployments measured: (project key, variant, modes). Our default stores no result
# (CELERY_TASK_IGNORE_RESULT); the peer stores every result.
STORED, IGNORED = "stored", "ignored"
DEPLOYMENTS = [
    ("peer", "", (STORED, IGNORED), ""),
    ("rabbitmq/django-db", "", (IGNORED,), ""),
    ("rabbitmq/django-db", "", (STORED,), "results in PostgreSQL"),
    ("rabbitmq/redis", "", (STORED, IGNORED), ""),
    ("redis/redis", "", (STORED, IGNORED), ""),
]
# One setting of our default project changed at a time (probe/settings.py).
VARIANTS = [
    "no-confirms",
    "classic-queues",
    "events",
    "sent-event",
    "prefetch-4",
    "late-acks",
    "celery-consumer",
]


def run(counts, workdir, peer, growth=False):
    started = time.monotonic()
    results = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "counts": asdict(counts),
        "load": [os.getloadavg()[0]],
    }
    PythonRoot.ensure()
    servers = Servers(workdir / "servers")
    try:
        servers.start()
        log("generating the projects and installing their requirements")
        projects = {"peer": generate_peer(peer, workdir, servers)}
        venv = None
        for key in ("rabbitmq/django-db", "rabbitmq/redis", "redis/redis"):
            projects[key] = generate_ours(*key.split("/"), workdir, servers, venv)
            venv = projects[key].venv
        results["machine"] = machine(servers, [projects["peer"], projects["redis/redis"]])
        deployments = [Deployment(projects[key], *details) for key, *details in DEPLOYMENTS]
        deployments += [
            Deployment(projects["rabbitmq/django-db"], variant, (IGNORED,)) for variant in VARIANTS
        ]
        try:
            log("throughput, CPU and latency of a trivial task (2 pool processes per worker)")
            results["tasks"], results["memory"] = measure_workers(
                deployments, servers, counts, workdir
            )
            log("enqueue inside a web request")
            results["web"] = measure_web(deployments[:2], counts, workdir)
        finally:
            for deployment in deployments:
                if deployment.worker:
                    deployment.worker.stop()
        log(f"the relay draining {counts.backlog} intents")
        results["relay"] = measure_relay(projects["rabbitmq/django-db"], servers, counts)
        if growth:
            log(f"growth: {counts.sent:,} sent intents, then {counts.queue:,} queued tasks")
            results["growth"] = measure_growth(
                projects["rabbitmq/django-db"], servers, counts, workdir
            )
    finally:
        servers.close()
    results["load"].append(os.getloadavg()[0])
    results["minutes"] = (time.monotonic() - started) / 60
    return results


# ---------------------------------------------------------------------------
# The page: benchmarks/page.md with the tables filled in.
# ---------------------------------------------------------------------------


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows])


def times(value, reference):
    return f"{value / reference:.2f}×"


def find(results, label, mode):
    return next(r for r in results["tasks"] if r["label"] == label and r["mode"] == mode)


def by_variant(results):
    """Our default project with one setting changed (probe/settings.py), by variant name."""
    return {r["variant"]: r for r in results["tasks"] if r["variant"]}


PEER = "cookiecutter-django"
OURS = "ours, rabbitmq"
OURS_REDIS_RESULTS = "ours, rabbitmq + Redis results"


def task_rows(results):
    peer = {mode: find(results, PEER, mode) for mode in (STORED, IGNORED)}
    rows = []
    for record in results["tasks"]:
        if record["variant"]:
            continue  # in the table of variants
        reference = peer[record["mode"]]
        tps, cpu = record["tasks_per_second"], record["cpu_ms_per_task"]
        rows.append(
            [
                record["label"],
                record["mode"],
                f"{tps:.0f} ({times(tps, reference['tasks_per_second'])})",
                f"{cpu:.2f} ({times(cpu, reference['cpu_ms_per_task'])})",
                f"{record['delay_ms']['p50']:.2f} / {record['delay_ms']['p99']:.2f}",
                f"{record['to_done_ms']['p50']:.1f} / {record['to_done_ms']['p99']:.1f}",
                f"{results['memory'][record['label']]:.0f}",
            ]
        )
    return table(
        [
            "project",
            "result",
            "tasks/s (× peer)",
            "CPU ms/task (× peer)",
            "delay() p50 / p99 ms",
            "sent→done p50 / p99 ms",
            "worker PSS MiB",
        ],
        rows,
    )


def cpu_rows(results):
    """Where each configuration's CPU goes, per task, by process."""
    parts = ["publisher", "worker", "rabbitmq", "redis", "postgres"]
    rows = [
        [record["label"], record["mode"]]
        + [f"{record['cpu_ms_by_process'][part]:.2f}" for part in parts]
        + [f"{record['cpu_ms_per_task']:.2f}"]
        for record in results["tasks"]
        if not record["variant"]
    ]
    return table(["project", "result", *parts, "total"], rows)


def variant_rows(results):
    base = find(results, OURS, IGNORED)
    rows = [
        [
            "(as generated)",
            f"{base['tasks_per_second']:.0f}",
            f"{base['cpu_ms_per_task']:.2f}",
            "",
            f"{base['delay_ms']['p50']:.2f} / {base['delay_ms']['p99']:.2f}",
        ]
    ]
    for record in results["tasks"]:
        if record["variant"]:
            change = record["cpu_ms_per_task"] - base["cpu_ms_per_task"]
            rows.append(
                [
                    record["variant"],
                    f"{record['tasks_per_second']:.0f}",
                    f"{record['cpu_ms_per_task']:.2f}",
                    f"{change:+.2f}",
                    f"{record['delay_ms']['p50']:.2f} / {record['delay_ms']['p99']:.2f}",
                ]
            )
    return table(["variant", "tasks/s", "CPU ms/task", "CPU change", "delay() p50 / p99 ms"], rows)


def web_figures(results):
    """Latency each enqueue adds to a request: its endpoint minus the same project's
    no-task endpoint, at p50 and at p99."""
    by = {(w["label"], w["kind"]): w for w in results["web"]}
    added = {}
    for (label, kind), figure in by.items():
        if kind != "no-task":
            base = by[label, "no-task"]
            added[label, kind] = {q: figure[q] - base[q] for q in ("p50", "p99")}
    return by, added


def web_rows(results):
    by, added = web_figures(results)
    reference = added[PEER, "delay"]
    rows = []
    for (label, kind), figure in by.items():
        extra = added.get((label, kind))
        rows.append(
            [
                label,
                f"`{kind}`",
                f"{figure['p50']:.2f} / {figure['p99']:.2f}",
                "" if extra is None else f"{extra['p50']:+.2f} / {extra['p99']:+.2f}",
                ""
                if extra is None
                else f"{times(extra['p50'], reference['p50'])} / "
                f"{times(extra['p99'], reference['p99'])}",
            ]
        )
    return table(
        [
            "project",
            "endpoint",
            "p50 / p99 ms",
            "added by the enqueue, ms",
            "added, × peer's delay()",
        ],
        rows,
    )


def targets(results):
    """(target, measured ratio, goal, met) for each target of the page."""
    peer = {mode: find(results, PEER, mode) for mode in (STORED, IGNORED)}
    ours, in_redis = find(results, OURS, IGNORED), find(results, OURS_REDIS_RESULTS, STORED)
    _, added = web_figures(results)
    outbox, delay = added[OURS, "outbox"], added[PEER, "delay"]
    relay = results["relay"]
    watched = by_variant(results).get("events")
    tps, cpu = "tasks_per_second", "cpu_ms_per_task"
    checks = [
        ("default against default: tasks/s", ours[tps] / peer[STORED][tps], ">=", 1.5),
        ("default against default: CPU per task", ours[cpu] / peer[STORED][cpu], "<=", 0.6),
    ]
    if watched:
        checks += [
            ("the same, Flower watching: tasks/s", watched[tps] / peer[STORED][tps], ">=", 1.5),
            ("the same, Flower watching: CPU/task", watched[cpu] / peer[STORED][cpu], "<=", 0.6),
        ]
    checks += [
        ("results ignored by both: tasks/s", ours[tps] / peer[IGNORED][tps], ">=", 1.0),
        ("results ignored by both: CPU per task", ours[cpu] / peer[IGNORED][cpu], "<=", 1.0),
        ("results in Redis for both: tasks/s", in_redis[tps] / peer[STORED][tps], ">=", 1.0),
        ("results in Redis for both: CPU per task", in_redis[cpu] / peer[STORED][cpu], "<=", 1.0),
        ("web request, outbox: added p50", outbox["p50"] / delay["p50"], "<=", 0.5),
        ("web request, outbox: added p99", outbox["p99"] / delay["p99"], "<=", 0.5),
        (
            "delay() with confirms: p99",
            ours["delay_ms"]["p99"] / peer[STORED]["delay_ms"]["p99"],
            "<=",
            1.0,
        ),
        (
            "relay: share of the raw confirm limit",
            relay["relay_per_second"] / relay["raw_per_second"],
            ">=",
            0.3,
        ),
        ("worker PSS", results["memory"][OURS] / results["memory"][PEER], "<=", 1.0),
    ]
    return [
        (name, value, f"{op} {goal}", value >= goal if op == ">=" else value <= goal)
        for name, value, op, goal in checks
    ]


def limits(results):
    """The measurements that show what bounds the CPU and relay targets."""
    peer, ours = find(results, PEER, STORED), find(results, OURS, IGNORED)
    variants = by_variant(results)
    rabbitmq = ours["cpu_ms_by_process"]["rabbitmq"]
    without_broker = ours["cpu_ms_per_task"] - rabbitmq
    peer_redis = peer["cpu_ms_by_process"]["redis"]
    peer_without = peer["cpu_ms_per_task"] - peer_redis
    broker_rows = ", ".join(
        f"{variants[name]['cpu_ms_by_process']['rabbitmq']:.2f} ms {what}"
        for name, what in [
            ("events", "with task events, as with Flower watching"),
            ("no-confirms", "without publisher confirms"),
            ("classic-queues", "with classic queues"),
        ]
        if name in variants
    )
    relay = results["relay"]
    confirm = ""
    if "no-confirms" in variants:
        confirmed, theirs = ours["delay_ms"], peer["delay_ms"]
        unconfirmed = variants["no-confirms"]["delay_ms"]
        confirm = (
            f"- **`delay()` waits for the broker's confirm.** Ours took {confirmed['p50']:.2f} / "
            f"{confirmed['p99']:.2f} ms (p50 / p99) with confirms and "
            f"{unconfirmed['p50']:.2f} / {unconfirmed['p99']:.2f} ms without them, against the "
            f"peer's {theirs['p50']:.2f} / {theirs['p99']:.2f} ms: RabbitMQ "
            "confirms a task once the quorum queue has written it to its log on disk, and "
            "that write's tail is the p99. It also bounds the throughput rows: the one "
            "publisher here waits for each confirm, so it sends at most "
            f"{1000 / confirmed['p50']:,.0f} tasks/s, while the same worker reached "
            f"{variants['no-confirms']['tasks_per_second']:,.0f} tasks/s from a publisher "
            "without confirms. Web requests wait for neither: they enqueue through the "
            "outbox, whose relay confirms a batch at a time.\n"
        )
    return (
        f"- **The broker's CPU.** RabbitMQ used {rabbitmq:.2f} ms of CPU per task in our default "
        f"configuration ({broker_rows}: the variants show each guarantee's share; most of it "
        f"is RabbitMQ handling a task's AMQP traffic at all), where the peer's Redis used "
        f"{peer_redis:.2f} ms. Everything but the broker costs {without_broker:.2f} ms per "
        f"task in ours and {peer_without:.2f} ms in the peer's "
        f"({without_broker / peer_without:.2f}×). RabbitMQ, which the guarantees need, shares "
        "the machine's 2 cores with everything else here, so its CPU is taken from the "
        "tasks.\n"
        f"{confirm}"
        f"- **The relay is bounded by Celery's `send_task()`.** It alone, with no confirms and "
        f"no database, reaches {relay['send_task_per_second'] / relay['raw_per_second']:.0%} "
        "of py-amqp's rate for the same message; the relay, confirms and database included, "
        f"{relay['relay_per_second'] / relay['send_task_per_second']:.0%} of `send_task()`'s. "
        "Going past it would mean building Celery's task messages without Celery."
    )


def growth_section(results):
    growth = results.get("growth")
    if growth is None:
        return "Not measured in this run (`run.py --growth` measures it, about 10 minutes more)."
    table_growth, drained, consumed = growth["table"], growth["drained"], growth["consumed"]
    empty, full = table_growth["empty"], table_growth["full"]
    sent, queued = f"{table_growth['sent']:,}", f"{consumed['count']:,}"
    deleting = full["cleanup_deleting_ms"] / 1000
    return table(
        ["", "figure"],
        [
            ["relay pass with nothing due, empty outbox", f"{empty['relay_pass_ms']:.2f} ms"],
            [f"the same, {sent} sent intents in the table", f"{full['relay_pass_ms']:.2f} ms"],
            ["cleanup task, empty outbox", f"{empty['cleanup_ms']:.2f} ms"],
            [f"cleanup task deleting {sent} sent intents", f"{deleting:.1f} s"],
            [f"relay draining {queued} intents", f"{drained['relay_per_second']:,.0f} intents/s"],
            [f"a worker consuming those {queued} tasks", f"{consumed['tasks_per_second']:,.0f}/s"],
            ["that worker's PSS afterwards", f"{consumed['worker_pss_mib']:.0f} MiB"],
        ],
    )  # fmt: skip


def render(results):
    machine_info = results["machine"]
    machine_table = table(
        ["", ""],
        [
            ["Date", results["date"]],
            ["CPU", machine_info["cpu"]],
            ["Memory", machine_info["memory"]],
            ["Python (both projects)", machine_info["python"]],
            *[
                [f"Packages, {label}", packages]
                for label, packages in machine_info["packages"].items()
            ],
            *[[name, version] for name, version in machine_info["servers"].items()],
            ["Load average (1 min), start → end", " → ".join(f"{v:.2f}" for v in results["load"])],
            ["Duration", f"{results['minutes']:.0f} minutes"],
        ],
    )
    relay = results["relay"]
    relay_table = table(
        ["", "per second"],
        [
            [f"our relay, {relay['count']:,} intents", f"{relay['relay_per_second']:,.0f}"],
            ["py-amqp alone, pipelined confirms, same queue", f"{relay['raw_per_second']:,.0f}"],
            [
                "Celery's `send_task()` alone, no confirms, no database",
                f"{relay['send_task_per_second']:,.0f}",
            ],
            ["relay / raw", f"{relay['relay_per_second'] / relay['raw_per_second']:.0%}"],
            [
                "`send_task()` alone / raw",
                f"{relay['send_task_per_second'] / relay['raw_per_second']:.0%}",
            ],
        ],
    )
    target_table = table(
        ["target", "measured (ratio)", "goal", "met"],
        [
            [name, f"{value:.2f}", goal, "yes" if met else "**no**"]
            for name, value, goal, met in targets(results)
        ],
    )
    template = string.Template((BENCH_DIR / "page.md").read_text())
    return template.substitute(
        machine=machine_table,
        cpu=cpu_rows(results),
        targets=target_table,
        tasks=task_rows(results),
        variants=variant_rows(results),
        web=web_rows(results),
        relay=relay_table,
        growth=growth_section(results),
        limits=limits(results),
        peer_commit=PEER_COMMIT[:9],
        requests=results["counts"]["requests"],
        sequential=results["counts"]["sequential"],
        batch=f"{results['counts']['batch']:,}",
        rounds=results["counts"]["rounds"],
        backlog=f"{results['counts']['backlog']:,}",
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", help="a git checkout or mirror of cookiecutter-django")
    parser.add_argument("--quick", action="store_true", help="small counts, to test the script")
    parser.add_argument("--workdir", type=Path, help="for servers, projects, logs (default: temp)")
    parser.add_argument("--no-page", action="store_true", help="leave docs/ alone")
    parser.add_argument("--growth", action="store_true", help="also the costs as work grows")
    parser.add_argument(
        "--page-from",
        type=Path,
        metavar="RESULTS_JSON",
        help="rewrite the page from an earlier run's results.json",
    )
    args = parser.parse_args()
    if args.page_from:
        results = json.loads(args.page_from.read_text())
    else:
        # Under /tmp: the Debian root sees the host's /tmp, not the rest of its files.
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="celery-bench-", dir="/tmp"))
        workdir.mkdir(parents=True, exist_ok=True)
        log(f"working in {workdir}")
        results = run(QUICK if args.quick else FULL, workdir, args.peer, args.growth)
        (workdir / "results.json").write_text(json.dumps(results, indent=1))
        log(f"raw figures: {workdir / 'results.json'}")
    for name, value, goal, met in targets(results):
        log(f"  target {name}: {value:.2f} ({goal}) {'met' if met else 'NOT met'}")
    if not args.no_page:
        PAGE.write_text(render(results))
        log(f"wrote {PAGE.relative_to(REPO)}")


if __name__ == "__main__":
    main()
