"""The generated README's first-hour guides, followed as written, on real servers.

Each guide's code blocks are taken from the generated README itself: shell blocks are
run, a Python block whose first line names a file (`# billing/tasks.py`) becomes that
file, other Python blocks are appended to the end of `config/settings/base.py`, and the
YAML blocks are added at the end of the `services:` of the compose file the text before
them names. The project then runs as compose runs it (tests/projects.py), against this
session's servers. Commands the README gives as `docker compose run --rm django ...` run
natively here, as they would inside the container.
"""

import re
import subprocess

import pytest

from tests.conftest import VENV_BIN
from tests.projects import Project

FENCE = re.compile(r"(?P<before>[^\n]*)\n\n```(?P<lang>\w+)\n(?P<code>.*?)\n```", re.S)


def guide(readme, title):
    """The (text before, language, code) of each code block under a `### title` heading."""
    section = re.split(r"\n##+ ", readme.split(f"### {title}\n", 1)[1], maxsplit=1)[0]
    return [(m["before"], m["lang"], m["code"]) for m in FENCE.finditer("\n" + section)]


def follow(project, title):
    """Apply one guide of the project's README to the project."""
    for before, lang, code in guide((project.path / "README.md").read_text(), title):
        if lang == "bash":
            result = subprocess.run(
                ["bash", "-e", "-c", code],
                cwd=project.path,
                env=project.env,
                capture_output=True,
                text=True,
            )
            assert result.returncode == 0, f"{code}\n{result.stdout}\n{result.stderr}"
        elif lang == "python" and (named := re.match(r"# (\S+\.py)\n", code)):
            (project.path / named[1]).write_text(code[named.end() :] + "\n")
        elif lang == "python":
            with (project.path / "config" / "settings" / "base.py").open("a") as settings:
                settings.write("\n" + code + "\n")
        elif lang == "yaml":
            compose_file = re.search(r"`(compose[\w.]*\.yaml)`", before)[1]
            path = project.path / compose_file
            path.write_text(path.read_text().replace("\nvolumes:\n", f"{code}\n\nvolumes:\n"))
        else:
            pytest.fail(f"a {lang} block in {title!r} that the test cannot follow")


@pytest.fixture
def log_dir(tmp_path):
    return tmp_path


@pytest.fixture
def project(bake, project_env, postgres, log_dir):
    options = {"broker": "rabbitmq", "result_backend": "django-db", "include_examples": "y"}
    project = Project.migrated(bake, project_env, postgres, log_dir, options, "guides")
    yield project
    project.stop()


def test_add_a_task_a_queue_and_a_schedule(project):
    for title in ("Add a task", "Add a queue", "Add a schedule"):
        follow(project, title)

    for compose_file in ("compose.yaml", "compose.production.yaml"):
        config = [VENV_BIN / "docker-compose", "--file", compose_file, "config", "--quiet"]
        subprocess.run(config, cwd=project.path, check=True)
    project.manage("check", "--fail-level", "WARNING")
    project.run_to_end("django/migrate")  # declares the new queue, installs the schedule
    worker = project.start_worker("invoices")

    project.shell("from billing.tasks import send_invoice; send_invoice.delay(7)")

    worker.wait_for_log("Invoice 7 sent", timeout=60)
    assert "[queues]" in worker.log_text() and ".> invoices" in worker.log_text()
    schedule = project.sql(
        "SELECT task || ' ' || args FROM django_celery_beat_periodictask"
        " WHERE name = 'Send the daily invoice'"
    )
    assert schedule == "billing.tasks.send_invoice [1]"
    project.stop()


def test_remove_the_examples(bake, project_env, postgres, log_dir):
    options = {"broker": "redis", "result_backend": "redis", "include_examples": "y"}
    project = Project.migrated(bake, project_env, postgres, log_dir, options, "no_examples")
    steps = (project.path / "examples" / "README.md").read_text().split("## Removing them", 1)[1]
    drop_tables = re.search(r"```bash\n(.*?)\n\s*```", steps, re.S)[1]
    sync = re.search(r"Run `docker compose run --rm django ([^`]+)`", steps)[1]
    native = [drop_tables.replace("docker compose run --rm django ", ""), sync]

    subprocess.run(["bash", "-e", "-c", native[0]], cwd=project.path, env=project.env, check=True)
    # Step 2, as the README words it: the folder, the settings block, the URL line.
    subprocess.run(["rm", "-r", "examples"], cwd=project.path, check=True)
    settings = project.path / "config" / "settings" / "base.py"
    block = re.compile(r"\n# -+\n# The example apps:.*?\n}\n", re.S)
    settings.write_text(block.sub("\n", settings.read_text(), count=1))
    urls = project.path / "config" / "urls.py"
    urls.write_text(re.sub(r'.*path\("examples/".*\n', "", urls.read_text()))
    subprocess.run(["bash", "-e", "-c", native[1]], cwd=project.path, env=project.env, check=True)

    project.manage("check", "--fail-level", "WARNING")
    tables = project.sql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'rewards_%'")
    assert tables == "0"
    assert (
        project.sql(
            "SELECT count(*) FROM django_celery_beat_periodictask WHERE task LIKE 'examples.%'"
        )
        == "0"
    )
    names = subprocess.run(
        ["grep", "-rIlE", "--exclude-dir=__pycache__", r"examples[./]", "."],
        cwd=project.path,
        capture_output=True,
        text=True,
    ).stdout.split()
    # Only the README still says where the examples were, in its guide to removing them.
    assert names == ["./README.md"], names


def test_run_without_docker_reads_the_env_file_it_names(bake, project_env, postgres, log_dir):
    """The development settings read the file DJANGO_ENV_FILE names; the generated
    .env.native is .env with the servers on the ports compose.servers.yaml publishes."""
    options = {"broker": "rabbitmq", "result_backend": "django-db"}
    project = Project.migrated(bake, project_env, postgres, log_dir, options, "native")
    env_file = (project.path / ".env").read_text()
    native = (project.path / ".env.native").read_text()
    servers = (project.path / "compose.servers.yaml").read_text()

    for host, port in (("postgres", 5432), ("rabbitmq", 5672), ("redis", 6379), ("mailpit", 1025)):
        assert f"{host}:{port}" in env_file and f"127.0.0.1:{port}" in native
        assert f'"127.0.0.1:{port}:{port}"' in servers
    assert "@postgres:" not in native and "//redis:" not in native

    # This session's servers stand in for the containers: their URLs go in the file.
    settings = {
        name: value for name, value in project.env.items() if name not in ("PATH", "HOME", "LANG")
    }
    (project.path / ".env.native").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    project.env = {
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "HOME": project.env["HOME"],
        "LANG": "C.UTF-8",
        "DJANGO_ENV_FILE": ".env.native",
    }
    try:
        project.run_to_end("django/migrate")
        project.start_web()
        worker = project.start_worker("default")
        project.shell("from scheduling.tasks import round_trip; round_trip.delay()")
        worker.wait_for_log("round_trip", timeout=60)
    finally:
        project.stop()
