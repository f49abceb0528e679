"""A generated project, run as compose runs it, against real servers.

For each broker and result backend: the project's migrate, web, worker, beat, outbox
relay and Flower processes are started through its own compose/local start scripts, with
the environment pointing at this session's PostgreSQL, Redis and broker. A browser-like
client then asks for a report and watches a worker build it.
"""

import json
import re
import time

import pytest
import requests

from tests import services
from tests.processes import elapsed_since, wait_until_http_ok
from tests.projects import Project
from tests.site_users import PASSWORD, create_user_code, sign_in

READER = "reader"  # signed in to ask for reports
COMBINATIONS = [
    {"broker": broker, "result_backend": backend}
    for broker in ("rabbitmq", "redis")
    for backend in ("django-db", "redis")
]


@pytest.fixture(
    scope="module", params=COMBINATIONS, ids=lambda o: f"{o['broker']}-{o['result_backend']}"
)
def running(request, bake, project_env, postgres, tmp_path_factory, run_summary):
    options = request.param
    redis_broker = options["broker"] == "redis"
    flower_port = services.free_port()
    started = time.monotonic()
    running = Project.migrated(
        bake,
        project_env,
        postgres,
        tmp_path_factory.mktemp("logs"),
        options,
        "site_" + options["broker"],
        FLOWER_ADDRESS="127.0.0.1",
        FLOWER_PORT=str(flower_port),
        # With the Redis broker, Flower runs under a URL prefix, as behind a shared proxy.
        FLOWER_URL_PREFIX="flower" if redis_broker else "",
    )
    running.flower_url = f"http://127.0.0.1:{flower_port}" + ("/flower" if redis_broker else "")
    # The reports read every user's data: they need a user with users.view_user.
    running.shell(create_user_code(READER, "users.view_user"))
    try:
        running.start_web()
        # One worker for every queue, as a small deployment might run it.
        running.start_worker("e2e", CELERY_WORKER_QUEUES="default,priority,bulk")
        running.start("celery/beat/start").wait_for_log("beat: Starting...", timeout=60)
        # The report pages enqueue through the outbox.
        running.start("outbox/start").wait_for_log("Outbox relay ready", timeout=60)
        worker = running.process("celery/worker/start")
        assert "enabled by remote" not in worker.log_text()  # no task events until asked
        running.start("celery/flower/start")
        wait_until_http_ok(running.flower_url + "/healthcheck")
        # Flower asks every worker for task events within 5 s of starting.
        worker.wait_for_log("Events of group {task} enabled by remote.", timeout=30)
        up = elapsed_since(started)
        summarise(running, run_summary, f"migrate, web, worker, beat, relay and Flower up in {up}")
        yield running
    finally:
        running.stop()


def summarise(running, run_summary, figure):
    """Print a figure now, and again in the run's closing summary."""
    label = f"{running.options['broker']}, {running.options['result_backend']}"
    line = f"end to end [{label}] {figure}"
    print(f"\n{line}")
    run_summary.append(line)


def task_id_of(response):
    """The task id in the status page's URL the report form redirects to."""
    return re.search(r"/tasks/([0-9a-f-]{36})/", response.headers["Location"])[1]


def intent_status(running, task_id):
    return running.sql(f"SELECT status FROM outbox_intent WHERE id = '{task_id}'")


def request_report(running, days=7):
    browser = sign_in(running.web_url, READER)
    form = browser.get(running.web_url + "/examples/reports/")
    assert form.status_code == 200
    started = time.monotonic()
    response = browser.post(
        running.web_url + "/examples/reports/",
        data={"days": days, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        allow_redirects=False,
    )
    return browser, response, time.monotonic() - started


def wait_for_finished(browser, url, timeout=60):
    task = {}

    def finished():
        task.update(browser.get(url).json())
        return task["state"] in ("SUCCESS", "FAILURE")

    services.wait_for(finished, timeout, message=f"task at {url} did not finish: {task}")
    return task


def stored_result(running, task_id, redis_server):
    """The task's result as the chosen backend stores it, read from the server itself."""
    if running.options["result_backend"] == "django-db":
        row = running.sql(
            "SELECT status, task_name, result FROM django_celery_results_taskresult "
            f"WHERE task_id = '{task_id}'"
        )
        status, task_name, result = row.split("|", 2)
        return {"status": status, "name": task_name, "result": json.loads(result)}
    meta = json.loads(redis_server.cli("-n", "2", "GET", f"celery-task-meta-{task_id}"))
    return {"status": meta["status"], "name": meta["name"], "result": meta["result"]}


def test_a_request_enqueues_a_report_that_a_worker_builds(running, redis_server, run_summary):
    browser, response, seconds = request_report(running)

    assert response.status_code == 302, response.text[:2000]
    summarise(running, run_summary, f"the enqueueing request answered in {seconds * 1000:.1f} ms")
    task_id = task_id_of(response)
    task = wait_for_finished(browser, f"{running.web_url}/examples/reports/tasks/{task_id}/status/")
    assert task["state"] == "SUCCESS", task
    assert task["result"]["days"] == 7

    stored = stored_result(running, task_id, redis_server)
    assert stored == {
        "status": "SUCCESS",
        "name": "examples.reports.tasks.summarise_signups",
        "result": task["result"],
    }
    assert (
        f"summarise_signups[{task_id}] succeeded"
        in running.process("celery/worker/start").log_text()
    )
    print(f"result stored in {running.options['result_backend']}: {stored['status']}")


def test_flower_needs_its_login_and_sees_the_worker_and_tasks(running):
    request_report(running)  # a task for Flower to see
    assert requests.get(running.flower_url + "/api/workers", timeout=10).status_code == 401
    wrong = ("admin", "wrong-password")
    assert (
        requests.get(running.flower_url + "/api/workers", auth=wrong, timeout=10).status_code == 401
    )

    login = (running.env["FLOWER_USER"], running.env["FLOWER_PASSWORD"])
    workers = requests.get(running.flower_url + "/api/workers?refresh=1", auth=login, timeout=30)
    assert workers.status_code == 200
    assert any(name.startswith("e2e@") for name in workers.json())

    def report_task_seen():
        tasks = requests.get(running.flower_url + "/api/tasks", auth=login, timeout=10).json()
        return any(t["name"] == "examples.reports.tasks.summarise_signups" for t in tasks.values())

    services.wait_for(report_task_seen, 30, message="Flower saw no summarise_signups task")


def test_flower_serves_metrics_to_scrapers_and_queue_lengths_with_rabbitmq(running):
    # Prometheus scrapers get /metrics without the login (so do not publish Flower's port).
    metrics = requests.get(running.flower_url + "/metrics", timeout=10)
    assert metrics.status_code == 200
    assert "flower_events_total" in metrics.text

    if running.options["broker"] == "rabbitmq":
        login = (running.env["FLOWER_USER"], running.env["FLOWER_PASSWORD"])

        def default_queue_length():
            answer = requests.get(running.flower_url + "/api/queues/length", auth=login, timeout=30)
            queues = {queue["name"]: queue for queue in answer.json()["active_queues"]}
            # RabbitMQ's management API adds message counts once it has collected stats.
            return "messages" in queues["default"]

        services.wait_for(default_queue_length, 30, interval=1, message="no queue lengths")


def test_beat_sends_a_schedule_from_the_database(running):
    worker = running.process("celery/worker/start")
    runs_before = worker.log_text().count("summarise_signups[")
    running.manage(
        "shell",
        "-c",
        "from django_celery_beat.models import IntervalSchedule, PeriodicTask; "
        "every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS); "
        "PeriodicTask.objects.create(name='e2e report', "
        "task='examples.reports.tasks.summarise_signups', "
        "interval=every, args='[1]')",
    )

    services.wait_for(
        lambda: worker.log_text().count("summarise_signups[") >= runs_before + 4,
        30,
        message="beat did not send the database schedule",
    )
    assert (
        "Scheduler: Sending due task e2e report" in running.process("celery/beat/start").log_text()
    )


def health_when_down(running):
    response = requests.get(running.web_url + "/health/", timeout=60)
    return response.json() if response.status_code == 503 else None


def test_a_report_asked_for_while_the_broker_is_down_is_built_once_it_is_back(
    running, request, run_summary
):
    if running.options["broker"] == "rabbitmq":
        broker = request.getfixturevalue("rabbitmq")
    else:
        broker = request.getfixturevalue("redis_server")
    assert requests.get(running.web_url + "/health/", timeout=30).json() == {
        "status": "ok",
        "down": [],
    }
    broker.stop()
    try:
        browser, accepted, seconds = request_report(running)
        # A web process reuses its last outcome for HEALTH_CACHE_SECONDS (5 s).
        health = services.wait_for(
            lambda: health_when_down(running), 20, interval=1, message="/health/ said up"
        )
        task_id = task_id_of(accepted)
        assert intent_status(running, task_id) == "pending"
    finally:
        broker.restart()

    # Details, as this caller is local; with the Redis broker, the cache is down too.
    assert health["status"] == "down" and "broker" in health["down"]
    # The request wrote the report's task to the outbox and never waited for the broker.
    assert accepted.status_code == 302, accepted.text[:2000]
    summarise(
        running, run_summary, f"broker down: the report was accepted in {seconds * 1000:.1f} ms"
    )

    # Once the broker is back, the relay publishes it and the worker builds it.
    status_url = f"{running.web_url}/examples/reports/tasks/{task_id}/status/"
    task = wait_for_finished(browser, status_url, timeout=90)
    assert task["state"] == "SUCCESS", task
    assert intent_status(running, task_id) == "sent"


def test_the_export_page_shows_progress_then_the_download_without_a_reload(running, browser):
    page = browser.new_page()
    try:
        page.goto(running.web_url + "/examples/reports/")
        page.wait_for_url("**/accounts/login/**")  # the sign-in page, back to the form after
        page.get_by_label("Username").fill(READER)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/examples/reports/")
        page.get_by_role("button", name="Export as CSV").click()
        page.wait_for_url("**/exports/*/")
        progress_url = page.url

        # The page polls the task's state: it reaches SUCCESS with no navigation.
        page.wait_for_selector("#download:not([hidden])", timeout=30_000)
        assert page.url == progress_url
        assert page.text_content("#state") == "SUCCESS"
        assert page.get_attribute("#progress", "value") == "1"
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the CSV").click()
        assert download.value.suggested_filename == "signups.csv"
    finally:
        page.close()
