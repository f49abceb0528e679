"""Every option combination generates a clean, working project.

For each combination: no template syntax survives, ruff is clean, both compose files
validate, hadolint and shellcheck find nothing, Django's checks (production's deploy
checks included) pass, migrations match the models, and the generated project's own
test suite passes against real PostgreSQL, Redis and broker servers.
"""

import ast
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
    status = project / "examples" / "reports" / "templates" / "reports" / "status.html"
    assert "{% url 'reports:task-status-json' task_id %}" in status.read_text()


def test_files_of_options_not_chosen_are_removed(bake, options):
    project = bake(**options)

    assert (project / "config" / "sentry.py").exists() == (options["use_sentry"] == "y")
    assert (project / "examples").exists() == (options["include_examples"] == "y")
    compose = (project / "compose.yaml").read_text()
    assert ("rabbitmq:" in compose) == (options["broker"] == "rabbitmq")
    env = (project / ".env").read_text()
    assert not re.search(r"^[A-Z_]+=.*change-me", env, re.M)
    assert re.search(r"^CELERY_BROKER_URL=(amqp|redis)://", env, re.M)[1] == (
        "amqp" if options["broker"] == "rabbitmq" else "redis"
    )


# How the example apps are named in code, paths, URLs and prose.
EXAMPLE_NAMES = re.compile(
    r"\bexamples\b|catalog|newsletter|rewards|\borders\b|_order\b|order_confirmation|\bOrder\b"
    r"|\breports[./:`'\"]|summarise_signups|signup_export"
)


def test_without_the_examples_no_file_names_them(bake):
    project = bake(include_examples="n")

    for path in project_files(project):
        relative = path.relative_to(project).as_posix()
        assert not EXAMPLE_NAMES.search(relative), relative
        if path.suffix in TEXT_SUFFIXES:
            found = EXAMPLE_NAMES.findall(path.read_text())
            assert not found, f"{relative} names {found}"


def test_generated_code_is_lint_clean(bake, options):
    project = bake(**options)

    run([VENV_BIN / "ruff", "check", "--no-cache", "."], cwd=project)
    run([VENV_BIN / "ruff", "format", "--check", "--no-cache", "."], cwd=project)


def test_compose_file_validates(bake, options):
    project = bake(**options)

    for compose_file in ("compose.yaml", "compose.production.yaml"):
        run([VENV_BIN / "docker-compose", "--file", compose_file, "config", "--quiet"], cwd=project)
    # The override for running without Docker, on top of the local stack.
    files = ["--file", "compose.yaml", "--file", "compose.servers.yaml"]
    run([VENV_BIN / "docker-compose", *files, "config", "--quiet"], cwd=project)
    # RabbitMQ's three-node cluster, on top of the production stack.
    cluster = project / "compose.cluster.yaml"
    assert cluster.exists() == (options["broker"] == "rabbitmq")
    if cluster.exists():
        files = ["--file", "compose.production.yaml", "--file", cluster.name]
        run([VENV_BIN / "docker-compose", *files, "config", "--quiet"], cwd=project)


def test_every_published_port_is_on_the_loopback_interface(bake, options):
    """Docker's published ports bypass the host's firewall: none may face the network."""
    project = bake(**options)

    for compose_file in ("compose.yaml", "compose.production.yaml", "compose.servers.yaml"):
        text = (project / compose_file).read_text()
        published = re.findall(r"^\s+ports:\n((?:\s+- .*\n)+)", text, re.M)
        entries = [line.strip()[2:] for block in published for line in block.splitlines()]
        assert entries, compose_file
        for entry in entries:
            assert entry.strip('"').startswith("127.0.0.1:"), f"{compose_file}: {entry}"


def test_each_compose_script_is_written_once(bake, options):
    """What both stacks run is in compose/common; no two files under compose/ are alike."""
    project = bake(**options)
    files = [path for path in (project / "compose").rglob("*") if path.is_file()]

    contents = {}
    for path in files:
        contents.setdefault(path.read_bytes(), []).append(path.relative_to(project))
    assert [paths for paths in contents.values() if len(paths) > 1] == []
    for compose_file in ("compose.yaml", "compose.production.yaml"):
        text = (project / compose_file).read_text()
        # The worker, beat and relay healthchecks: one script, given the file and its age.
        assert text.count("/app/compose/common/heartbeat-healthcheck") == 3, compose_file


def imported_modules(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_no_app_config_imports_from_imports_config_back(bake):
    """config/ (settings, the Celery app) is imported by the apps; an app that config/
    imports from must not import config/ back, in any of its modules (no package cycle,
    as config <-> health once was)."""
    project = bake(use_sentry="y", project_slug="no_cycles")
    config_modules = [p for p in (project / "config").rglob("*.py") if "tests" not in p.parts]

    from_apps = {
        module
        for path in config_modules
        for module in imported_modules(path)
        if (project / module.split(".")[0]).is_dir() and module.split(".")[0] != "config"
    }
    assert from_apps  # background.heartbeat, alerts.redaction
    for app in {module.split(".")[0] for module in from_apps}:
        for path in (project / app).rglob("*.py"):
            # Tests and management commands are entry points: nothing imports them.
            if not {"tests", "management"} & set(path.parts):
                back = [name for name in imported_modules(path) if name.split(".")[0] == "config"]
                assert back == [], (path, back)


def test_start_scripts_are_executable_and_exec_their_program(bake, options):
    project = bake(**options)

    scripts = sorted((project / "compose").glob("*/**/start")) + [
        project / "compose" / "common" / "django" / "migrate",
        project / "compose" / "production" / "django" / "entrypoint",
    ]
    assert scripts
    for script in scripts:
        text = script.read_text()
        assert script.stat().st_mode & 0o111, script
        assert "set -o errexit -o nounset -o pipefail" in text, script
        # exec replaces the shell, so the program itself receives compose's signals.
        assert re.search(r"^exec ", text, re.M), script


def compose_scripts(project, language):
    """The scripts under compose/ whose shebang names `language` (bash or python)."""
    return [
        path
        for path in sorted((project / "compose").rglob("*"))
        if path.is_file() and re.match(rf"#!\S*[/ ]{language}\b", path.read_text())
    ]


def test_dockerfiles_are_hadolint_clean(bake, options):
    project = bake(**options)

    dockerfiles = sorted((project / "compose").rglob("Dockerfile"))
    assert len(dockerfiles) == 2
    run([VENV_BIN / "hadolint", *dockerfiles], cwd=project)


def test_shell_scripts_are_shellcheck_clean(bake, options):
    project = bake(**options)

    scripts = compose_scripts(project, "bash")
    assert len(scripts) >= 10
    run([VENV_BIN / "shellcheck", *scripts], cwd=project)


def test_python_scripts_under_compose_are_lint_clean(bake, options):
    """The healthcheck scripts have no .py suffix, so `ruff check .` passes them over."""
    project = bake(**options)

    scripts = compose_scripts(project, "python")
    assert scripts
    run([VENV_BIN / "ruff", "check", "--no-cache", *scripts], cwd=project)
    run([VENV_BIN / "ruff", "format", "--check", "--no-cache", *scripts], cwd=project)


def read_env_file(path):
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_production_entrypoint_refuses_missing_and_placeholder_secrets(bake, options):
    project = bake(**options)
    entrypoint = project / "compose" / "production" / "django" / "entrypoint"
    base = {"PATH": f"{VENV_BIN}:/usr/bin:/bin"}

    def start(env):
        return subprocess.run(
            [entrypoint, "echo", "started"],
            env={**base, **env},
            cwd=project,
            capture_output=True,
            text=True,
        )

    example = start(read_env_file(project / ".env.production.example"))
    assert example.returncode == 1
    assert example.stdout == ""
    assert "Refusing to start" in example.stderr
    assert "DJANGO_SECRET_KEY still holds a change-me-... placeholder" in example.stderr

    generated = read_env_file(project / ".env.production")
    missing = start({name: value for name, value in generated.items() if name != "FLOWER_PASSWORD"})
    assert missing.returncode == 1
    assert "FLOWER_PASSWORD is not set" in missing.stderr

    complete = start(generated)
    assert (complete.returncode, complete.stdout) == (0, "started\n"), complete.stderr


@pytest.mark.parametrize("broker", ["rabbitmq", "redis"])
def test_each_production_server_file_agrees_with_the_urls_that_use_it(bake, broker):
    project = bake(broker=broker, result_backend="redis", project_slug=f"agree_{broker}")
    site = read_env_file(project / ".env.production")
    postgres = read_env_file(project / ".env.production.postgres")
    redis = read_env_file(project / ".env.production.redis")

    assert f":{postgres['POSTGRES_PASSWORD']}@postgres:" in site["DATABASE_URL"]
    for name in ("REDIS_URL", "CELERY_RESULT_BACKEND"):
        assert site[name].startswith(f"redis://:{redis['REDIS_PASSWORD']}@redis:6379/")
    assert "POSTGRES_PASSWORD" not in site and "REDIS_PASSWORD" not in site
    if broker == "rabbitmq":
        rabbitmq = read_env_file(project / ".env.production.rabbitmq")
        user, password = rabbitmq["RABBITMQ_DEFAULT_USER"], rabbitmq["RABBITMQ_DEFAULT_PASS"]
        vhost = rabbitmq["RABBITMQ_DEFAULT_VHOST"]
        assert site["CELERY_BROKER_URL"] == f"amqp://{user}:{password}@rabbitmq:5672/{vhost}"
        assert site["FLOWER_BROKER_API"].startswith(f"http://{user}:{password}@rabbitmq:")
        # compose.cluster.yaml's clients get every node, with the same user.
        cluster = read_env_file(project / ".env.production.cluster")
        assert cluster["CELERY_BROKER_URL"] == ";".join(
            f"amqp://{user}:{password}@{node}:5672/{vhost}"
            for node in ("rabbitmq", "rabbitmq2", "rabbitmq3")
        )
        assert len(rabbitmq["RABBITMQ_CLUSTER_COOKIE"]) >= 32
        assert "RABBITMQ_CLUSTER_COOKIE" not in site
    else:
        assert not (project / ".env.production.rabbitmq").exists()
        assert not (project / "compose" / "production" / "rabbitmq").exists()
        assert not (project / ".env.production.cluster").exists()
    # Every secret differs from every other.
    secrets_ = [postgres["POSTGRES_PASSWORD"], redis["REDIS_PASSWORD"], site["DJANGO_SECRET_KEY"]]
    assert len(set(secrets_)) == 3


# Weak values an operator might set, and the line each gets (no value is ever printed).
WEAK_SETTINGS = {
    "DJANGO_SECRET_KEY": ("secret", "DJANGO_SECRET_KEY is shorter than 50 characters"),
    "FLOWER_PASSWORD": ("admin", "FLOWER_PASSWORD is shorter than 16 characters"),
    "DJANGO_ALLOWED_HOSTS": ("", "DJANGO_ALLOWED_HOSTS is not set"),
    "REDIS_URL": ("redis://redis:6379/0", "REDIS_URL has no password of at least 16"),
}


@pytest.mark.parametrize("name", WEAK_SETTINGS)
def test_production_refuses_weak_settings_in_the_entrypoint_and_the_settings(bake, name):
    """Both gates: the image's entrypoint, and production settings started without it."""
    project = bake(project_slug="weak_settings")
    value, line = WEAK_SETTINGS[name]
    env = {
        **read_env_file(project / ".env.production"),
        name: value,
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
    }
    entrypoint = project / "compose" / "production" / "django" / "entrypoint"

    for command in ([entrypoint, "true"], [sys.executable, "manage.py", "check"]):
        result = subprocess.run(command, env=env, cwd=project, capture_output=True, text=True)

        assert result.returncode != 0, command
        assert line in result.stderr, result.stderr[-2000:]
        if value:
            assert f"={value}" not in result.stderr and f"'{value}'" not in result.stderr


# The project's own test suite takes a minute or more: it runs once per broker and result
# backend (Sentry on in two of them), and once per broker without the examples. The
# other combinations differ only in settings the checks of every combination cover.
OWN_SUITE_OPTIONS = [
    options
    for options in OPTION_MATRIX
    if options["include_examples"] == "n"
    or (options["broker"], options["result_backend"], options["use_sentry"])
    in {
        ("rabbitmq", "django-db", "n"),
        ("rabbitmq", "redis", "y"),
        ("redis", "django-db", "y"),
        ("redis", "redis", "n"),
    }
]


@pytest.mark.parametrize("options", OWN_SUITE_OPTIONS, ids=option_id)
def test_django_checks_and_migrations_and_own_test_suite_pass(bake, options, project_env):
    project = bake(**options)
    env = project_env(options)

    python = sys.executable
    run([python, "manage.py", "check", "--fail-level", "WARNING"], cwd=project, env=env)
    run([python, "manage.py", "makemigrations", "--check", "--dry-run"], cwd=project, env=env)
    production = dict(
        env, DJANGO_SETTINGS_MODULE="config.settings.production", DJANGO_ALLOWED_HOSTS="example.com"
    )
    run(
        [python, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=project,
        env=production,
    )
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


@pytest.mark.parametrize("use_sentry", ["y", "n"])
def test_the_images_install_a_whole_locked_tree_with_hashes(bake, use_sentry):
    """requirements/*.lock (scripts/lock-requirements) hold every pin of the .txt files,
    each package with its hashes, and the Dockerfiles install nothing else."""
    project = bake(use_sentry=use_sentry, project_slug=f"locked_{use_sentry}")
    requirements = project / "requirements"

    for name, includes in (("local", ["base", "local"]), ("production", ["base", "production"])):
        lock = (requirements / f"{name}.lock").read_text()
        entries = re.split(r"\n(?=[a-z0-9])", lock.split("\n", 2)[2].strip())
        locked = dict(PIN.match(entry).groups() for entry in entries)
        assert all("--hash=sha256:" in entry for entry in entries)
        for include in includes:
            for line in (requirements / f"{include}.txt").read_text().splitlines():
                if match := PIN.match(line):
                    assert locked.get(match[1].lower()) == match[2], (name, line)
        assert ("sentry-sdk" in locked) == (name == "production" and use_sentry == "y")
        dockerfile = (project / "compose" / name / "django" / "Dockerfile").read_text()
        assert f"--require-hashes --requirement /tmp/requirements/{name}.lock" in dockerfile


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


def test_the_name_and_description_are_trimmed(bake):
    project = bake(project_name="  Spacey Site  ", description="  One line.  ")

    assert project.name == "spacey_site"
    readme = (project / "README.md").read_text()
    assert readme.startswith("# Spacey Site\n\nOne line.\n")
    assert 'description = "One line."' in (project / "pyproject.toml").read_text()
    for path in project_files(project):
        if path.suffix in TEXT_SUFFIXES:
            text = path.read_text()
            assert "  Spacey Site" not in text and "Spacey Site " not in text, path
            assert "  One line." not in text and "One line. " not in text, path


def test_a_domain_in_capitals_is_written_in_lower_case(bake):
    project = bake(domain_name="Shop.Example.COM")

    production = read_env_file(project / ".env.production")
    assert production["DJANGO_ALLOWED_HOSTS"] == "shop.example.com"
    assert production["DJANGO_SITE_URL"] == "https://shop.example.com"
    settings = (project / "config" / "settings" / "base.py").read_text()
    assert '"noreply@shop.example.com"' in settings
    for path in project_files(project):
        if path.suffix in TEXT_SUFFIXES:
            assert "Example.COM" not in path.read_text(), path


def test_production_settings_give_the_links_in_alerts(bake):
    """Failure alerts link to the site's admin and to Flower (alerts/messages.py)."""
    project = bake(domain_name="shop.example.org")

    production = read_env_file(project / ".env.production")
    assert production["DJANGO_SITE_URL"] == "https://shop.example.org"
    # compose.production.yaml publishes Flower on the server's loopback interface only.
    assert production["FLOWER_URL"] == "http://localhost:5555"
    settings = (project / "config" / "settings" / "base.py").read_text()
    assert 'env("DJANGO_SITE_URL"' in settings and 'env("FLOWER_URL"' in settings
    assert '"127.0.0.1:5555:5555"' in (project / "compose.production.yaml").read_text()
