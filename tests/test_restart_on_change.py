"""compose/local/restart-on-change, the reload wrapper of local workers and the relay.

It runs here as compose runs it, around a small Python program standing in for a worker:
the program records each start, and on SIGTERM takes a while to finish, as a worker's
warm shutdown does.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests import services
from tests.conftest import TEMPLATE_DIR, VENV_BIN

WRAPPER = TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / "compose" / "local" / "restart-on-change"

STAND_IN_WORKER = """
import os, signal, sys, time
with open("starts.txt", "a") as starts:
    starts.write(f"{os.getpid()}\\n")

def warm_shutdown(signum, frame):
    time.sleep(float(os.environ.get("SHUTDOWN_SECONDS", "0")))
    with open("finished.txt", "a") as finished:
        finished.write(f"{os.getpid()}\\n")
    sys.exit(0)

signal.signal(signal.SIGTERM, warm_shutdown)
while True:
    if os.path.exists("crash"):
        sys.exit(3)
    time.sleep(0.1)
"""


@pytest.fixture
def run_wrapper(tmp_path):
    (tmp_path / "worker.py").write_text(STAND_IN_WORKER)
    started = []

    def run(**env):
        process = subprocess.Popen(
            [str(WRAPPER), sys.executable, "worker.py"],
            cwd=tmp_path,
            env={**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", **env},
            start_new_session=True,
        )
        started.append(process)
        services.wait_for(lambda: starts(tmp_path) == 1, 20, message="the worker did not start")
        return process

    yield run
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def starts(directory):
    path = directory / "starts.txt"
    return len(path.read_text().split()) if path.exists() else 0


def finished(directory):
    path = directory / "finished.txt"
    return len(path.read_text().split()) if path.exists() else 0


def test_sigterm_waits_for_the_warm_shutdown_however_long_it_takes(run_wrapper, tmp_path):
    # The watchfiles command would SIGKILL the worker 5 seconds into its warm shutdown.
    wrapper = run_wrapper(SHUTDOWN_SECONDS="7")
    stopping = time.monotonic()
    wrapper.terminate()

    assert wrapper.wait(30) == 0
    assert time.monotonic() - stopping >= 7
    assert finished(tmp_path) == 1


def test_a_worker_that_exits_ends_the_wrapper_with_its_status(run_wrapper, tmp_path):
    # So that compose's restart policy sees a crashed worker and starts a new one.
    wrapper = run_wrapper()
    (tmp_path / "crash").touch()

    assert wrapper.wait(10) == 3


def test_a_changed_python_file_restarts_the_worker_after_a_warm_shutdown(run_wrapper, tmp_path):
    wrapper = run_wrapper(SHUTDOWN_SECONDS="1")
    (tmp_path / "tasks.py").write_text("# edited\n")

    services.wait_for(lambda: starts(tmp_path) == 2, 20, message="no restart after an edit")
    assert finished(tmp_path) == 1
    assert wrapper.poll() is None

    (tmp_path / "notes.txt").write_text("not Python\n")
    time.sleep(3)
    assert starts(tmp_path) == 2
