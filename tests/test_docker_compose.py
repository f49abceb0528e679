"""`docker compose up` for real: the generated stacks come up healthy on a Docker engine.

For the local stack (compose.yaml) with each broker, and for the production stack
(compose.production.yaml): generate a project, build its image, run
`docker compose up --wait` until every service is healthy (the time it takes is
reported at the end of the run), then use the site as a person would: ask for a report
on the web page and watch a worker build it, see beat send a schedule, find Flower
behind its login. `docker compose down --volumes` at the end.

The engine and the images come from tests/docker_engine.py: a private dockerd, and
offline stand-ins for the official images, tagged with their names. The compose files
are used as generated; the only addition is an override file, written here outside the
project, that publishes the ports on free ports of 127.0.0.1 instead of the fixed ones
a developer opens.

Where no Docker engine can start, these tests are skipped with the reason; in CI
(CI=true) they fail instead.
"""

import json
import os
import re
import subprocess
import time

import pytest
import requests

from tests import services
from tests.conftest import VENV_BIN
from tests.docker_engine import DockerEngine, DockerUnavailable
from tests.site_users import create_user_code, sign_in

COMPOSE_FILES = {"local": "compose.yaml", "production": "compose.production.yaml"}
# The services each stack publishes, and their container ports.
PUBLISHED = {
    "local": {"django": 8000, "flower": 5555, "mailpit": 8025, "rabbitmq": 15672},
    "production": {"django": 8000, "flower": 5555},
}
# Services that run once and exit; every other service must be healthy.
ONE_SHOT = {"migrate", "check-secrets"}
WORKERS = ("default", "priority", "bulk")
DOMAIN = "example.com"  # the template's default domain_name


@pytest.fixture(scope="module")
def docker_engine(run_summary):
    engine = DockerEngine()
    try:
        engine.start()
    except DockerUnavailable as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the compose tests, but no Docker engine started: {error}")
        pytest.skip(f"no Docker engine can start here: {error}")
    version = engine.docker("version", "--format", "{{.Server.Version}}").stdout.strip()
    run_summary.append(f"Docker Engine {version}, data in {engine.data_dir}")
    yield engine
    engine.stop()


class BrowserBehindTheProxy(requests.Session):
    """A browser as the production site sees it through the TLS proxy in front of it: each
    request carries the proxy's headers, and the site's cookies, which it marks Secure
    since X-Forwarded-Proto says HTTPS, still go back over the tests' plain HTTP."""

    def request(self, method, url, **kwargs):
        headers = {"Host": DOMAIN, "X-Forwarded-Proto": "https", "Referer": f"https://{DOMAIN}/"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        return super().request(
            method, url, headers={**headers, **kwargs.pop("headers", {})}, **kwargs
        )


class Stack:
    """A generated project's local or production stack, run by compose on the test's
    engine with its compose file and the test's port override."""

    def __init__(self, engine, project, kind, broker, override):
        self.engine = engine
        self.project = project
        self.kind = kind
        self.broker = broker
        # The production stack runs RabbitMQ as compose.cluster.yaml's three nodes: the
        # single node is the same service, and compose.cluster.yaml only adds to it.
        self.cluster = kind == "production" and broker == "rabbitmq"
        cluster = ["compose.cluster.yaml"] if self.cluster else []
        self.files = [COMPOSE_FILES[kind], *cluster, str(override)]
        self.ports = {}

    @property
    def label(self):
        return " + ".join(self.files[:-1]) + f" ({self.broker})"

    def compose(self, *args, **kwargs):
        return self.engine.compose(self.project, *args, files=self.files, **kwargs)

    def url(self, service, path="/"):
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def browser(self):
        """A requests session that reaches the site as a browser would through the proxy."""
        return BrowserBehindTheProxy() if self.kind == "production" else requests.Session()

    def logs(self, service):
        return self.compose("logs", "--no-color", "--no-log-prefix", service).stdout

    def containers(self):
        output = self.compose("ps", "--all", "--format", "json").stdout.strip()
        if output.startswith("["):
            return json.loads(output)
        return [json.loads(line) for line in output.splitlines()]

    def env_file(self):
        """The variables of the env file this stack's services read."""
        names = [".env"] if self.kind == "local" else [".env.production"]
        if self.cluster:
            names.append(".env.production.cluster")  # read after, as compose does
        variables = {}
        for name in names:
            lines = (self.project / name).read_text().splitlines()
            variables |= dict(line.split("=", 1) for line in lines if line and line[0] != "#")
        return variables

    def manage(self, *args):
        return self.compose("exec", "-T", "django", "python", "manage.py", *args).stdout

    def diagnosis(self):
        status = self.compose("ps", "--all", check=False).stdout
        logs = self.compose("logs", "--no-color", "--tail", "40", check=False).stdout
        return f"{status}\n{logs[-12000:]}"


def write_override(stack, path):
    """Publish each port on a free port of 127.0.0.1: the fixed ones may be taken here."""
    lines = [
        "# Written by tests/test_docker_compose.py: free ports, on 127.0.0.1 only.",
        "services:",
    ]
    for service, port in PUBLISHED[stack.kind].items():
        if service == "rabbitmq" and stack.broker != "rabbitmq":
            continue
        stack.ports[service] = services.free_port()
        lines += [
            f"  {service}:",
            f'    ports: !override ["127.0.0.1:{stack.ports[service]}:{port}"]',
        ]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(
    scope="module",
    # Each stack with each broker; each broker once with the examples and once without.
    params=[
        ("local", "rabbitmq", "y"),
        ("local", "redis", "n"),
        ("production", "rabbitmq", "n"),
        ("production", "redis", "y"),
    ],
    ids=lambda param: "-".join(param[:2]) + ("" if param[2] == "y" else "-no-examples"),
)
def stack(request, docker_engine, bake, tmp_path_factory, run_summary):
    """The stack, up with every service healthy; `down --volumes` afterwards."""
    kind, broker, examples = request.param
    project = bake(
        broker=broker, include_examples=examples, project_slug=f"compose_{kind}_{broker}"
    )
    override = tmp_path_factory.mktemp("compose") / "ports.yaml"
    stack = Stack(docker_engine, project, kind, broker, override)
    stack.examples = examples == "y"
    write_override(stack, override)

    started = time.monotonic()
    docker_engine.provide_images(project, *stack.files[:-1])
    docker_engine.build_project_images(project, COMPOSE_FILES[kind])
    print(f"\n[{stack.label}] images ready in {time.monotonic() - started:.1f} s")
    try:
        started = time.monotonic()
        up = stack.compose(
            "up", "--detach", "--wait", "--wait-timeout", "300", "--no-build", "--pull", "never",
            check=False, timeout=420,
        )  # fmt: skip
        seconds = time.monotonic() - started
        assert up.returncode == 0, f"{up.stderr[-3000:]}\n{stack.diagnosis()}"
        run_summary.append(f"{stack.label}: every service healthy {seconds:.1f} s after `up`")
        print(f"[{stack.label}] every service healthy {seconds:.1f} s after `up`")
        yield stack
    finally:
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "30", check=False)


def test_every_service_has_a_healthcheck_and_is_healthy(stack):
    containers = {container["Service"]: container for container in stack.containers()}
    config = json.loads(stack.compose("config", "--format", "json").stdout)

    assert set(containers) == set(config["services"])
    for service, container in containers.items():
        if service in ONE_SHOT:
            assert (container["State"], container["ExitCode"]) == ("exited", 0), container
        else:
            assert "healthcheck" in config["services"][service], service
            assert container["Health"] == "healthy", container


def test_the_health_endpoint_finds_every_server_up(stack):
    response = stack.browser().get(stack.url("django", "/health/"), timeout=30)

    assert response.status_code == 200, response.text
    # From outside the container: no details, which only internal callers get.
    assert response.json() == {"status": "ok"}


def test_the_welcome_page_shows_staff_every_part_up(stack):
    # In development (the local stack runs with DEBUG) the page is for everyone; in
    # production a stranger sees only the public welcome.
    shown_to_strangers = "What is up" in stack.browser().get(stack.url("django"), timeout=30).text
    assert shown_to_strangers == (stack.kind == "local")

    stack.manage("shell", "-c", create_user_code("boss", superuser=True))
    browser = sign_in(stack.url("django", ""), "boss", session=stack.browser())
    seen = {}

    def every_part_up():
        seen["page"] = browser.get(stack.url("django"), timeout=30).text
        states = re.findall(r"<td>([^<]+)</td>\s*<td class=\"state (up|down)\"", seen["page"])
        seen["parts"] = dict(states)
        return set(seen["parts"].values()) == {"up"}

    # Workers answer `inspect` within the page's one-second limit; a busy machine may
    # need a second look.
    services.wait_for(every_part_up, 30, interval=2, message=f"not every part is up: {seen}")
    expected = {"Web", "Database", "Broker", "Beat", "Outbox relay"}
    assert set(seen["parts"]) == expected | {f"Workers of the {q} queue" for q in WORKERS}
    assert ("/examples/reports/" in seen["page"]) == stack.examples


def ask_on_the_examples_page(stack, username, path, data):
    """Sign in as a new user who may read users, post the form at `path` as a browser
    does, and return the browser and where the site sends it next."""
    if not stack.examples:
        pytest.skip("the reports example is not in a project generated without examples")
    stack.manage("shell", "-c", create_user_code(username, "users.view_user"))
    browser = sign_in(stack.url("django", ""), username, session=stack.browser())
    assert browser.get(stack.url("django", "/examples/reports/"), timeout=30).status_code == 200

    response = browser.post(
        stack.url("django", path),
        data={**data, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        allow_redirects=False,
        timeout=30,
    )

    assert response.status_code == 302, response.text[:2000]
    return browser, response.headers["Location"]


def final_state(stack, browser, status_path, seconds):
    """Poll a task's status page until the task succeeded or failed; return its JSON."""
    task = {}

    def finished():
        task.update(browser.get(stack.url("django", status_path), timeout=30).json())
        return task["state"] in ("SUCCESS", "FAILURE")

    services.wait_for(finished, seconds, interval=0.5, message=f"never finished: {task}")
    return task


def test_a_report_asked_for_on_the_page_is_built_by_a_worker(stack):
    browser, location = ask_on_the_examples_page(stack, "reader", "/examples/reports/", {"days": 7})
    task_id = re.search(r"/tasks/([0-9a-f-]{36})/", location)[1]

    task = final_state(stack, browser, f"/examples/reports/tasks/{task_id}/status/", 60)

    assert task["state"] == "SUCCESS", task
    assert task["result"]["days"] == 7
    assert f"summarise_signups[{task_id}] succeeded" in stack.logs("celeryworker")


def test_an_export_a_worker_writes_downloads_from_the_web_server(stack):
    """The bulk worker writes the file into the media volume; the web server sends it."""
    path = "/examples/reports/exports/"
    browser, location = ask_on_the_examples_page(stack, "exporter", path, {})
    export = path + re.search(r"/exports/([0-9a-f-]{36})/", location)[1]

    task = final_state(stack, browser, f"{export}/status/", 90)

    assert task["state"] == "SUCCESS", task
    download = browser.get(stack.url("django", f"{export}/download/"), timeout=30)
    assert download.status_code == 200
    assert "exporter@example.com" in download.text


def test_each_production_server_holds_only_its_secrets_and_asks_for_a_password(stack):
    if stack.kind != "production":
        pytest.skip("the local stack's servers need no password")

    def environment(service):
        return stack.compose("exec", "-T", service, "env").stdout

    for server in (
        ("postgres", "redis", "rabbitmq") if stack.broker == "rabbitmq" else ("postgres", "redis")
    ):
        assert "DJANGO_SECRET_KEY" not in environment(server), server
        assert "FLOWER_PASSWORD" not in environment(server), server
    assert "POSTGRES_PASSWORD" not in environment("redis")
    assert "REDIS_PASSWORD" not in environment("django")

    # Redis answers nobody without its password.
    refused = stack.compose("exec", "-T", "redis", "redis-cli", "ping", check=False)
    assert "NOAUTH" in refused.stdout + refused.stderr
    # No password on a command line that `ps` shows: Flower's and Redis's.
    for service in ("flower", "redis"):
        command_line = stack.compose("exec", "-T", service, "cat", "/proc/1/cmdline").stdout
        assert stack.env_file()["FLOWER_PASSWORD"] not in command_line, service
        assert "requirepass" not in command_line, service
    if stack.broker == "rabbitmq":
        # The site's RabbitMQ user has its own virtual host and is no administrator.
        users = stack.compose("exec", "-T", "rabbitmq", "rabbitmqctl", "-q", "list_users").stdout
        site_user = stack.env_file()["CELERY_BROKER_URL"].split("://")[1].split(":")[0]
        assert re.search(rf"^{site_user}\s+\[management\]$", users, re.MULTILINE), users
        assert "administrator" not in users
        assert stack.env_file()["CELERY_BROKER_URL"].endswith(f"/{site_user}")


def test_the_cluster_runs_three_nodes_and_replicates_every_queue(stack):
    if not stack.cluster:
        pytest.skip("RabbitMQ runs as a cluster in the production stack only")

    def rabbitmqctl(*args):
        # As docs/scaling.md writes them (with -T: no terminal here).
        return stack.compose("exec", "-T", "rabbitmq", "rabbitmqctl", *args).stdout

    nodes = ["rabbit@rabbitmq", "rabbit@rabbitmq2", "rabbit@rabbitmq3"]
    running = rabbitmqctl("cluster_status").split("Running Nodes", 1)[1].split("\n\n")[1]
    assert sorted(running.split()) == nodes, running
    vhost = stack.env_file()["CELERY_BROKER_URL"].rsplit("/", 1)[1]
    rows = rabbitmqctl("list_queues", "--vhost", vhost, "name", "type", "members")
    queues = {
        fields[0]: fields[1:]
        for fields in (line.split("\t") for line in rows.splitlines())
        if len(fields) == 3 and fields[1] == "quorum"
    }
    assert set(queues) >= {"default", "priority", "bulk", "dead_letter"}, rows
    for name, (_, members) in queues.items():
        assert sorted(re.findall(r"rabbit@rabbitmq\d?", members)) == nodes, (name, members)

    # The first node, the one every client names first, goes away: the site's clients
    # fail over to the others by themselves, and a task sent from the web container
    # still runs on a worker.
    stack.compose("stop", "rabbitmq")
    try:
        health = stack.browser().get(stack.url("django", "/health/"), timeout=30)
        assert health.json() == {"status": "ok"}, health.text
        sent = time.monotonic()
        task_id = stack.manage(
            "shell", "-c", "from scheduling.tasks import round_trip; print(round_trip.delay().id)"
        ).split()[-1]
        print(
            f"\n[{stack.label}] sent a task with the first node stopped in "
            f"{time.monotonic() - sent:.1f} s"
        )
        services.wait_for(
            lambda: f"round_trip[{task_id}] succeeded" in stack.logs("celeryworker"),
            120,
            interval=2,
            message="the task never ran with the first node stopped\n"
            + stack.logs("celeryworker")[-6000:],
        )
    finally:
        stack.compose("start", "rabbitmq")
        stack.compose("up", "--wait", "--wait-timeout", "180", "--no-build", "rabbitmq")


def test_static_files_are_served(stack):
    response = stack.browser().get(stack.url("django", "/static/admin/css/base.css"), timeout=30)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/css")


def test_beat_sends_a_schedule_from_the_database(stack):
    def runs():
        return len(re.findall(r"round_trip\[[^]]+\] succeeded", stack.logs("celeryworker")))

    runs_before = runs()
    stack.manage(
        "shell",
        "-c",
        "from django_celery_beat.models import IntervalSchedule, PeriodicTask; "
        "every, _ = IntervalSchedule.objects.get_or_create(every=1, period='seconds'); "
        "PeriodicTask.objects.create(name='compose check', interval=every, "
        "task='scheduling.tasks.round_trip')",
    )

    services.wait_for(
        lambda: "Sending due task compose check" in stack.logs("celerybeat"),
        30,
        interval=1,
        message="beat did not send the schedule",
    )
    services.wait_for(
        lambda: runs() >= runs_before + 2,
        30,
        interval=1,
        message="no worker ran what beat sent",
    )


def test_flower_asks_for_its_login_and_lists_every_worker(stack):
    url = stack.url("flower", "/api/workers?refresh=1")
    env = stack.env_file()

    assert requests.get(url, timeout=30).status_code == 401
    workers = requests.get(url, auth=(env["FLOWER_USER"], env["FLOWER_PASSWORD"]), timeout=60)

    assert workers.status_code == 200
    assert sorted(name.split("@")[0] for name in workers.json()) == sorted(WORKERS)


def test_every_make_target_runs(stack):
    """The Makefile's targets, run as a developer runs them, on this stack (last: it ends
    with `make reset`)."""
    if stack.kind != "local":
        pytest.skip("the Makefile drives the local stack")
    env = dict(stack.engine.env, COMPOSE_FILE=":".join(stack.files))
    compose = f"COMPOSE={VENV_BIN / 'docker-compose'}"

    def make(*args, stdin=None, timeout=600):
        return subprocess.run(
            ["make", "--no-print-directory", compose, *args],
            cwd=stack.project, env=env, input=stdin, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip

    targets = re.findall(r"^([a-z]+)\t", make("help").stdout, re.MULTILINE)
    assert targets == ["help", "up", "down", "reset", "logs", "manage", "test", "lint", "shell"]
    assert make("up").returncode == 0
    assert "no issues" in make("manage", "ARGS=check --tag celery").stdout
    assert make("lint").returncode == 0
    tested = make("test", "ARGS=-q -p no:cacheprovider background scheduling")
    assert tested.returncode == 0 and " passed" in tested.stdout, tested.stdout[-3000:]
    shell = make("shell", stdin="python -c 'print(6 * 7)'\n")
    assert shell.returncode == 0 and "42" in shell.stdout, shell.stderr
    # logs follows until stopped: the first lines are enough.
    logs = subprocess.run(
        ["timeout", "10", "make", compose, "logs", "SERVICE=django"],
        cwd=stack.project, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert logs.returncode == 124 and "django" in logs.stdout
    assert make("down").returncode == 0
    assert stack.containers() == []
    assert make("reset").returncode == 0
    volumes = stack.engine.docker("volume", "ls", "--quiet").stdout
    assert f"{stack.project.name}_postgres_data" not in volumes


def test_production_refuses_to_start_with_placeholder_secrets(docker_engine, bake):
    project = bake(project_slug="compose_refusal")
    # A server freshly set up from the committed example, its placeholders left in.
    (project / ".env.production").write_text((project / ".env.production.example").read_text())
    docker_engine.provide_images(project, "compose.production.yaml")
    docker_engine.build_project_images(project, "compose.production.yaml")
    files = ["compose.production.yaml"]
    try:
        up = docker_engine.compose(
            project, "up", "--detach", "--wait", "--no-build", "--pull", "never",
            files=files, check=False, timeout=300,
        )  # fmt: skip
        logs = docker_engine.compose(project, "logs", "--no-color", "check-secrets", files=files)
        states = {
            line.split()[0]: line.split()[1]
            for line in docker_engine.compose(
                project, "ps", "--all", "--format", "{{.Service}} {{.State}}", files=files
            ).stdout.splitlines()
        }
    finally:
        docker_engine.compose(project, "down", "--volumes", files=files, check=False)

    assert up.returncode != 0
    assert "Refusing to start" in logs.stdout
    assert "DJANGO_SECRET_KEY still holds a change-me-... placeholder" in logs.stdout
    # The database and the broker never started, so no placeholder password was stored.
    assert states["postgres"] == "created"
    assert states["rabbitmq"] == "created"
    assert states["redis"] == "created"
