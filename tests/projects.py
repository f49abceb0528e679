"""A generated project whose workers run as real processes, for tests that need several.

Each worker runs through compose/local/celery/worker/start, with the queue, name and
concurrency compose gives it; the project also offers its Django shell and its
database, so a test can act and look as a person at the project would.
"""

import contextlib
import subprocess
import time

from tests.processes import ProjectProcess, stop_all

WORKERS = {
    "default": {"CELERY_WORKER_QUEUES": "default", "CELERY_WORKER_CONCURRENCY": "2"},
    "priority": {"CELERY_WORKER_QUEUES": "priority", "CELERY_WORKER_CONCURRENCY": "1"},
    "bulk": {"CELERY_WORKER_QUEUES": "bulk", "CELERY_WORKER_CONCURRENCY": "1"},
}


class Project:
    def __init__(self, broker, path, env, log_dir, postgres):
        self.broker = broker
        self.path = path
        self.env = env
        self.log_dir = log_dir
        self.database = env["DATABASE_URL"].rsplit("/", 1)[1]
        self.postgres = postgres
        self.workers = {}

    def start_worker(self, queue):
        env = dict(self.env, CELERY_WORKER_NAME=queue, **WORKERS[queue])
        name = f"worker-{queue}-{time.monotonic_ns()}"
        worker = ProjectProcess(self.path, "celery/worker/start", env, self.log_dir, name).start()
        worker.wait_for_log(f"{queue}@", timeout=60)
        worker.wait_for_log(" ready.", timeout=60)
        self.workers[queue] = worker
        return worker

    def shell(self, code):
        """Run Python in the project's Django shell, as a person at `manage.py shell` would."""
        result = subprocess.run(
            ["python", "manage.py", "shell", "--no-imports", "-c", code],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout.strip()

    def sql(self, query):
        return self.postgres.psql(query, db=self.database).strip()


@contextlib.contextmanager
def running_project(name, broker, bake, project_env, postgres, log_dir, queues=tuple(WORKERS)):
    """Generate a project, migrate it, start one worker per queue; stop them at the end."""
    path = bake(broker=broker, project_slug=name)
    env = project_env({"broker": broker, "result_backend": "django-db"})
    # Redis hands a killed worker's unacknowledged tasks to another worker only after the
    # visibility timeout; shorten it so that tests of a SIGKILL need not wait 12 hours.
    env["CELERY_VISIBILITY_TIMEOUT"] = "10"
    project = Project(broker, path, env, log_dir, postgres)
    migrate = ProjectProcess(path, "django/migrate", env, log_dir).start()
    assert migrate.process.wait(120) == 0, migrate.log_text()
    try:
        for queue in queues:
            project.start_worker(queue)
        yield project
    finally:
        assert stop_all(list(project.workers.values())) == []
