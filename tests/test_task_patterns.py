"""The task patterns, proven with the project's own worker processes on real brokers.

For each broker, a generated project runs one worker per queue (default, priority,
bulk) through compose/local/celery/worker/start, as compose runs them. The tests then
check what only real worker processes can show: routing to separate workers, rate
limits, soft time limits and dead-lettering. Killed workers and other faults are in
test_faults.py.
"""

import json
import socket
import subprocess
import threading
import time

import pytest

from tests import services
from tests.projects import running_project


@pytest.fixture(scope="module", params=["rabbitmq", "redis"])
def project(request, bake, project_env, postgres, tmp_path_factory):
    broker = request.param
    log_dir = tmp_path_factory.mktemp(f"patterns-{broker}")
    with running_project(
        f"patterns_{broker}", broker, bake, project_env, postgres, log_dir
    ) as project:
        yield project


def test_each_worker_consumes_only_its_own_queue(project):
    output = subprocess.run(
        ["celery", "-A", "config", "inspect", "active_queues", "--json", "--timeout", "5"],
        cwd=project.path,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    consumed = {
        node.split("@")[0]: sorted(queue["name"] for queue in queues)
        for node, queues in json.loads(output.strip().splitlines()[-1]).items()
    }

    assert consumed == {"default": ["default"], "priority": ["priority"], "bulk": ["bulk"]}


def test_tasks_run_on_the_worker_of_the_queue_they_are_routed_to(project):
    project.shell(
        "from django.contrib.auth import get_user_model; "
        "from examples.newsletter.tasks import send_welcome_email; "
        "from examples.reports.models import Export; "
        "from examples.reports.tasks import build_signup_export, summarise_signups; "
        "user = get_user_model().objects.create_user('routed', 'routed@example.com'); "
        "export = Export.objects.create(user=user); "
        "send_welcome_email.delay(user.id); build_signup_export.delay(str(export.id)); "
        "summarise_signups.delay(7)"
    )

    expected = {
        "priority": "examples.newsletter.tasks.send_welcome_email",
        "bulk": "examples.reports.tasks.build_signup_export",
        "default": "examples.reports.tasks.summarise_signups",
    }
    for queue, task in expected.items():
        worker = project.workers[queue]
        worker.wait_for_log(f"{task}[", timeout=30)
        others = set(expected.values()) - {task}
        assert not any(f"{other}[" in worker.log_text() for other in others), queue


def test_the_rate_limit_spaces_out_deliveries(project, run_summary):
    count = 30
    project.shell(
        "from django.contrib.auth import get_user_model; "
        "from examples.newsletter import services; "
        f"[get_user_model().objects.create_user(f'reader{{n}}', f'r{{n}}@example.com') "
        f"for n in range({count})]; "
        "services.create_newsletter('Rate limited', 'Hello')"
    )

    def all_sent():
        pending, total = project.sql(
            "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FROM newsletter_delivery"
        ).split("|")
        return pending == "0" and int(total) >= count

    services.wait_for(all_sent, 60, message="the newsletter was not delivered")
    span = float(
        project.sql(
            "SELECT extract(epoch FROM max(sent_at) - min(sent_at)) FROM newsletter_delivery"
        )
    )
    sent = int(project.sql("SELECT count(*) FROM newsletter_delivery"))
    # 20 a second: n deliveries cannot take less than (n - 1) / 20 s.
    line = f"patterns [{project.broker}] {sent} deliveries at rate_limit 20/s took {span:.2f} s"
    print(f"\n{line}")
    run_summary.append(line)
    assert span >= 0.9 * (sent - 1) / 20


@pytest.fixture
def trickling_server():
    """An HTTP server that answers, then sends its body one byte every half second."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(0.5)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100000\r\n\r\n"
                )
                for _ in range(120):
                    if stop.wait(0.5):
                        break
                    try:
                        connection.sendall(b" ")
                    except OSError:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/feed"
    stop.set()
    thread.join(5)
    listener.close()


def test_the_soft_time_limit_stops_a_feed_that_never_ends(project, trickling_server, run_summary):
    run_id = project.shell(
        "from examples.catalog import tasks; "
        "from examples.catalog.models import ImportRun, Supplier; "
        f"supplier = Supplier.objects.create(name='Slow', feed_url='{trickling_server}'); "
        "run = ImportRun.objects.create(supplier=supplier); "
        "workflow = tasks.import_workflow(supplier.id, run.id); "
        # The same task with a 2 s soft limit instead of 30 s, to keep the test short.
        "workflow.tasks[0].set(soft_time_limit=2, time_limit=10); "
        "workflow.apply_async(); print(run.id)"
    )
    started = time.monotonic()

    services.wait_for(
        lambda: (
            project.sql(f"SELECT status FROM catalog_importrun WHERE id = {run_id}") == "failed"
        ),
        30,
        message="the import of a never-ending feed did not fail",
    )
    error = project.sql(f"SELECT error FROM catalog_importrun WHERE id = {run_id}")
    line = (
        f"patterns [{project.broker}] a never-ending feed was given up after "
        f"{time.monotonic() - started:.1f} s (soft time limit 2 s)"
    )
    print(f"\n{line}")
    run_summary.append(line)
    assert error.startswith("FeedTooSlow: the feed of supplier")
    assert "Hard time limit" not in project.workers["default"].log_text()


def test_a_rejected_message_is_dead_lettered(project, rabbitmq):
    if project.broker != "rabbitmq":
        pytest.skip("Redis has no dead-lettering: the worker logs and drops such a message")
    vhost = project.env["CELERY_BROKER_URL"].rsplit("/", 1)[1]

    project.shell(
        "from config.celery_app import app; app.send_task('no.such.task', queue='default')"
    )

    def dead_letters():
        queue = rabbitmq.api("GET", f"queues/{vhost}/dead_letter")
        return queue.get("messages", 0) >= 1

    services.wait_for(dead_letters, 30, message="the unknown task was not dead-lettered")
    assert "Received unregistered task of type 'no.such.task'" in (
        project.workers["default"].log_text()
    )
