"""Run a generated project's processes through the start scripts compose uses.

Each process gets its own session (so a stop reaches its children, such as the worker
that restart-on-change runs), a log file, and a stop that is graceful first and forceful last.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.services import wait_for


def script_path(project: Path, script: str) -> Path:
    """compose/local/<script>, or compose/common/<script> for one both stacks share."""
    local = project / "compose" / "local" / script
    return local if local.exists() else project / "compose" / "common" / script


class ProjectProcess:
    def __init__(self, project: Path, script: str, env: dict, log_dir: Path, name=None):
        self.project = project
        self.script = script
        self.name = name or script.replace("/", "-")
        self.log_path = log_dir / f"{self.name}.log"
        self.process = None
        self.env = env

    def start(self):
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(script_path(self.project, self.script))],
            cwd=self.project,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text, timeout=60):
        wait_for(
            lambda: text in self.log_text() or self.process.poll() is not None,
            timeout,
            message=f"{self.script} did not log {text!r}:\n{self.log_text()[-3000:]}",
        )
        assert self.process.poll() is None, f"{self.script} exited:\n{self.log_text()[-3000:]}"

    def stop(self, timeout=30):
        """SIGTERM the script's process, as `docker compose stop` does; SIGKILL after a while.

        Returns True when it exited on SIGTERM alone.
        """
        if self.process is None or self.process.poll() is not None:
            return True
        self.process.terminate()
        graceful = True
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            graceful = False
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        # Children that outlive their parent (a worker's pool processes) go too.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()
        return graceful


def stop_all(processes):
    """Stop every process; return the scripts that did not exit on SIGTERM in time."""
    forced = []
    for process in reversed(processes):
        started = time.monotonic()
        if not process.stop():
            forced.append(process.script)
        print(f"{process.script} stopped in {elapsed_since(started)}")
    return forced


def wait_until_http_ok(url, timeout=60, **kwargs):
    import requests

    def answers():
        try:
            return requests.get(url, timeout=2, **kwargs).status_code < 500
        except requests.ConnectionError:
            return False

    wait_for(answers, timeout, message=f"nothing answered at {url}")


def elapsed_since(start):
    return f"{time.monotonic() - start:.2f} s"
