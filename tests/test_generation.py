"""Every option combination generates a clean, working project.

For each combination: no template syntax survives, ruff is clean, compose.yaml
validates, Django's checks pass, migrations match the models, and the generated
project's own test suite passes against real PostgreSQL, Redis and broker servers.
"""

import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import OPTION_MATRIX, VENV_BIN, option_id

# Django templates are copied without rendering and keep their own {% %} tags.
DJANGO_TEMPLATE = re.compile(r"/templates/.*\.html$")
TEXT_SUFFIXES = {".py", ".txt", ".toml", ".yaml", ".yml", ".md", ".html", ".cfg", ".example", ""}
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s#]+)")


def run(command, cwd, env=None, timeout=300):
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result


def project_files(project):
    return [path for path in project.rglob("*") if path.is_file()]


@pytest.fixture(params=OPTION_MATRIX, ids=option_id)
def options(request):
    return request.param


def test_no_template_syntax_is_left(bake, options):
    project = bake(**options)

    for path in project_files(project):
        if path.suffix not in TEXT_SUFFIXES:
            continue
        text = path.read_text()
        relative = path.relative_to(project).as_posix()
        assert "cookiecutter." not in text, relative
        if not DJANGO_TEMPLATE.search("/" + relative):
            assert "{{" not in text and "{%" not in text, relative


def test_django_templates_are_copied_verbatim(bake):
    project = bake()

    assert "{% block content %}" in (project / "templates" / "base.html").read_text()
    status = project / "reports" / "templates" / "reports" / "status.html"
    assert "{% url 'reports:task-status-json' task_id %}" in status.read_text()


def test_files_of_options_not_chosen_are_removed(bake, options):
    project = bake(**options)

    assert (project / "config" / "sentry.py").exists() == (options["use_sentry"] == "y")
    compose = (project / "compose.yaml").read_text()
    assert ("rabbitmq:" in compose) == (options["broker"] == "rabbitmq")
    env = (project / ".env").read_text()
    assert not re.search(r"^[A-Z_]+=.*change-me", env, re.M)
    assert re.search(r"^CELERY_BROKER_URL=(amqp|redis)://", env, re.M)[1] == (
        "amqp" if options["broker"] == "rabbitmq" else "redis"
    )


def test_generated_code_is_lint_clean(bake, options):
    project = bake(**options)

    run([VENV_BIN / "ruff", "check", "--no-cache", "."], cwd=project)
    run([VENV_BIN / "ruff", "format", "--check", "--no-cache", "."], cwd=project)


def test_compose_file_validates(bake, options):
    project = bake(**options)

    run([VENV_BIN / "docker-compose", "config", "--quiet"], cwd=project)


def test_start_scripts_are_executable_and_exec_their_program(bake, options):
    project = bake(**options)

    scripts = sorted((project / "compose").glob("*/**/start")) + [
        project / "compose" / "local" / "django" / "migrate"
    ]
    assert scripts
    for script in scripts:
        text = script.read_text()
        assert script.stat().st_mode & 0o111, script
        assert "set -o errexit -o nounset -o pipefail" in text, script
        # exec replaces the shell, so the program itself receives compose's signals.
        assert re.search(r"^exec ", text, re.M), script


def test_django_checks_and_migrations_and_own_test_suite_pass(bake, options, project_env):
    project = bake(**options)
    env = project_env(options)

    python = sys.executable
    run([python, "manage.py", "check", "--fail-level", "WARNING"], cwd=project, env=env)
    run([python, "manage.py", "makemigrations", "--check", "--dry-run"], cwd=project, env=env)
    production = dict(env, DJANGO_SETTINGS_MODULE="config.settings.production")
    run([python, "manage.py", "check"], cwd=project, env=production)
    result = run([python, "-m", "pytest", "-p", "no:cacheprovider", "-q"], cwd=project, env=env)
    print(result.stdout.strip().splitlines()[-1])


def test_this_test_environment_has_the_versions_the_project_pins(bake):
    """The generated project is tested with exactly the versions it pins."""
    project = bake(use_sentry="y")
    requirements = project / "requirements"

    pins = {}
    for name in ("base.txt", "local.txt", "production.txt"):
        for line in (requirements / name).read_text().splitlines():
            if match := PIN.match(line):
                pins[match[1]] = match[2]

    assert "Django" in pins and "celery" in pins and "sentry-sdk" in pins
    mismatched = {name: (pin, version(name)) for name, pin in pins.items() if version(name) != pin}
    assert mismatched == {}


def test_generates_with_no_input_from_a_copy_of_the_template(tmp_path):
    """`cookiecutter --no-input <template>` works on a plain checkout, as users run it."""
    copy = tmp_path / "template"
    shutil.copytree(
        Path(__file__).resolve().parent.parent,
        copy,
        ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "site"),
    )

    run([sys.executable, "-m", "cookiecutter", "--no-input", str(copy)], cwd=tmp_path)

    assert (tmp_path / "my_site" / "manage.py").exists()
