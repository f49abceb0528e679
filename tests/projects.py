"""A generated project run as compose runs it: the one harness the tests start projects with.

`Project.migrated()` bakes a project, points it at this session's servers and runs its
migrate script; `start()` then runs any of its compose start scripts (web, workers,
beat, Flower, the outbox relay) as real processes, and `stop()` stops every one of them
as `docker compose stop` does. The project also offers its Django shell, `manage.py` and
its database, so a test can act and look as a person at the project would.
"""

import contextlib
import subprocess
import time

from tests import services
from tests.processes import ProjectProcess, stop_all, wait_until_http_ok

# The queues' workers, as compose gives them their queue and concurrency.
WORKERS = {
    "default": {"CELERY_WORKER_QUEUES": "default", "CELERY_WORKER_CONCURRENCY": "2"},
    "priority": {"CELERY_WORKER_QUEUES": "priority", "CELERY_WORKER_CONCURRENCY": "1"},
    "bulk": {"CELERY_WORKER_QUEUES": "bulk", "CELERY_WORKER_CONCURRENCY": "1"},
}


class Project:
    def __init__(self, options, path, env, log_dir, postgres):
        self.options = options
        self.broker = options["broker"]
        self.path = path
        self.env = env
        self.log_dir = log_dir
        self.database = env["DATABASE_URL"].rsplit("/", 1)[1]
        self.postgres = postgres
        self.processes = []
        self.workers = {}
        self.web_url = None

    @classmethod
    def migrated(cls, bake, project_env, postgres, log_dir, options, slug, **env):
        """Bake a project for these options, give it `env` on top of the servers' URLs,
        and run its migrate script."""
        path = bake(**options, project_slug=slug)
        project = cls(options, path, dict(project_env(options), **env), log_dir, postgres)
        project.migrate_log = project.run_to_end("django/migrate")
        return project

    def run_to_end(self, script, timeout=120):
        """Run a script that exits by itself (migrate); return its log."""
        process = ProjectProcess(self.path, script, self.env, self.log_dir).start()
        assert process.process.wait(timeout) == 0, process.log_text()
        return process.log_text()

    def start(self, script, name=None, **env):
        """Start one of the project's start scripts, with `env` added to the project's."""
        name = f"{name or script.replace('/', '-')}-{time.monotonic_ns()}"
        process = ProjectProcess(self.path, script, dict(self.env, **env), self.log_dir, name)
        self.processes.append(process.start())
        return process

    def process(self, script):
        """The last process started from this script."""
        return next(p for p in reversed(self.processes) if p.script == script)

    def start_web(self):
        port = services.free_port()
        web = self.start("django/start", DJANGO_BIND=f"127.0.0.1:{port}")
        self.web_url = f"http://127.0.0.1:{port}"
        wait_until_http_ok(self.web_url + "/accounts/login/")
        return web

    def start_worker(self, queue, **env):
        """A worker for one queue, named after it; `env` overrides compose's settings."""
        worker = self.start(
            "celery/worker/start",
            f"worker-{queue}",
            **dict(
                WORKERS.get(queue, {"CELERY_WORKER_QUEUES": queue}), CELERY_WORKER_NAME=queue, **env
            ),
        )
        worker.wait_for_log(f"{queue}@", timeout=60)
        worker.wait_for_log(" ready.", timeout=60)
        self.workers[queue] = worker
        return worker

    def stop(self, processes=None):
        """Stop these processes (all by default); each must exit on SIGTERM by itself."""
        processes = list(self.processes if processes is None else processes)
        forced = stop_all(processes)
        self.processes = [p for p in self.processes if p not in processes]
        self.workers = {q: w for q, w in self.workers.items() if w not in processes}
        assert forced == [], f"killed after SIGTERM timed out: {forced}"

    def manage(self, *args, timeout=120):
        result = subprocess.run(
            ["python", "manage.py", *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, (
            f"exit status {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-3000:]}"
        )
        return result.stdout

    def shell(self, code):
        """Run Python in the project's Django shell, as a person at `manage.py shell` would."""
        return self.manage("shell", "--no-imports", "-c", code).strip()

    def sql(self, query):
        return self.postgres.psql(query, db=self.database).strip()


@contextlib.contextmanager
def running_project(name, broker, bake, project_env, postgres, log_dir, queues=tuple(WORKERS)):
    """A migrated project with one worker per queue; every process stopped at the end."""
    options = {"broker": broker, "result_backend": "django-db"}
    project = Project.migrated(bake, project_env, postgres, log_dir, options, name)
    # Redis hands a killed worker's unacknowledged tasks to another worker only after the
    # visibility timeout; shorten it so that tests of a SIGKILL need not wait 12 hours.
    # Only after migrate, whose system checks rightly refuse a timeout shorter than the
    # tasks' retry countdowns (celery.E007); the tests' tasks never wait that long.
    project.env["CELERY_VISIBILITY_TIMEOUT"] = "10"
    try:
        for queue in queues:
            project.start_worker(queue)
        yield project
    finally:
        project.stop()
