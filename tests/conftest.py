"""Fixtures for the template's tests: real servers, and generated projects wired to them.

One PostgreSQL, one Redis and one RabbitMQ server are started per test session, on
free ports of 127.0.0.1 with their data in a temporary directory, and only when a test
asks for them. Each generated project then gets its own database, its own RabbitMQ
virtual host and a flushed Redis, so projects never see each other's tasks.
"""

import itertools
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import pytest

from tests import services

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
# The generated projects run with this interpreter's virtualenv: its bin/ holds
# celery, watchfiles (for restart-on-change) and the other commands their start scripts call.
VENV_BIN = Path(sys.executable).parent

# Every combination of the options that change which files and settings are generated,
# with the examples; and without them, once with each broker.
OPTION_MATRIX = [
    {
        "broker": broker,
        "result_backend": result_backend,
        "use_sentry": use_sentry,
        "include_examples": "y",
    }
    for broker, result_backend, use_sentry in itertools.product(
        ("rabbitmq", "redis"), ("django-db", "redis"), ("n", "y")
    )
] + [
    {"broker": broker, "result_backend": backend, "use_sentry": sentry, "include_examples": "n"}
    for broker, backend, sentry in (("rabbitmq", "django-db", "n"), ("redis", "redis", "y"))
]


def option_id(options):
    name = "-".join(value for option, value in options.items() if option != "include_examples")
    return name if options.get("include_examples", "y") == "y" else f"{name}-no-examples"


# Lines printed at the end of the run: each real server the run started ("name version
# on address") and the figures tests measured (what a fault test sent, completed, lost).
# With pytest-xdist, each worker process sends its lines to the controller, which prints.
RUN_SUMMARY = []


def pytest_configure(config):
    # A SIGTERM (a CI timeout, a `kill`) ends the run as Ctrl-C does: pytest tears the
    # fixtures down, and the atexit handler in tests/services.py stops every server.
    signal.signal(signal.SIGTERM, stop_like_ctrl_c)


def stop_like_ctrl_c(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the lines to the controller
        workeroutput["run_summary"] = RUN_SUMMARY


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    RUN_SUMMARY.extend(getattr(node, "workeroutput", {}).get("run_summary", []))


def pytest_terminal_summary(terminalreporter):
    if RUN_SUMMARY:
        terminalreporter.section("real servers used, and what the tests measured")
        for line in sorted(RUN_SUMMARY):
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def run_summary():
    """RUN_SUMMARY, for test modules: a line appended here is printed at the end of the
    run. (Importing it from tests.conftest would give a second copy of this module.)"""
    return RUN_SUMMARY


@pytest.fixture(scope="session")
def server_root():
    """A directory of its own for the servers' data, outside pytest's temporary tree.

    PostgreSQL runs as the `postgres` user and must be able to reach its data directory.
    Each new pytest session resets its temporary root to mode 0700, which would cut a
    server of another session, still running, off from its own files.
    """
    services.ensure_servers()
    root = Path(tempfile.mkdtemp(prefix="cdc-test-servers-"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(server_root):
    with services.PostgresServer(server_root / "postgres") as server:
        version = server.psql("SHOW server_version").strip()
        RUN_SUMMARY.append(f"PostgreSQL {version} on 127.0.0.1:{server.port}")
        yield server


@pytest.fixture(scope="session")
def redis_server(server_root):
    with services.RedisServer(server_root / "redis") as server:
        version = re.search(r"redis_version:(\S+)", server.cli("INFO", "server"))[1]
        RUN_SUMMARY.append(f"Redis {version} on 127.0.0.1:{server.port}")
        yield server


@pytest.fixture(scope="session")
def rabbitmq(server_root):
    with services.RabbitMQServer(server_root / "rabbitmq") as server:
        version = server.api("GET", "overview")["rabbitmq_version"]
        RUN_SUMMARY.append(f"RabbitMQ {version} on 127.0.0.1:{server.port}")
        yield server


_project_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def project_env(request, postgres, redis_server):
    """Build the environment a generated project's processes run with.

    Call it with the project's options; it returns the variables compose would pass
    from .env, pointing at this session's servers instead of compose's service names.
    """

    def make(options):
        name = f"project{next(_project_numbers)}"
        password = secrets.token_urlsafe(16)
        redis_server.cli("FLUSHALL")
        env = {
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
            "DATABASE_URL": postgres.create_database(name, owner=name, password=password),
            "REDIS_URL": redis_server.url(0),
            "EMAIL_URL": "consolemail://",
            "FLOWER_USER": "admin",
            "FLOWER_PASSWORD": secrets.token_urlsafe(16),
        }
        if options["broker"] == "rabbitmq":
            rabbitmq = request.getfixturevalue("rabbitmq")
            rabbitmq.add_vhost(name)
            env["CELERY_BROKER_URL"] = rabbitmq.url(name)
            env["FLOWER_BROKER_API"] = rabbitmq.management_api_url()
        else:
            env["CELERY_BROKER_URL"] = redis_server.url(1)
        if options["result_backend"] == "django-db":
            env["CELERY_RESULT_BACKEND"] = "django-db"
        else:
            env["CELERY_RESULT_BACKEND"] = redis_server.url(2)
        return env

    return make


@pytest.fixture(scope="session")
def bake(cookies_session):
    """Generate a project with the given options and return its directory."""

    def make(**options):
        result = cookies_session.bake(extra_context=options)
        assert result.exception is None, result.exception
        assert result.exit_code == 0
        return Path(result.project_path)

    return make


# Debian's Chromium, headless, with no traffic of its own: it talks only to the site.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    """A real browser (Debian's Chromium driven by Playwright), installed when missing."""
    from playwright.sync_api import sync_playwright

    chromium = services.ensure_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
