"""Scheduling from the admin, for real: beat, a worker, the web server and a browser.

One project (RabbitMQ, results in PostgreSQL) runs its migrate, web, worker and beat
processes through its compose/local start scripts. Beat starts next to a stale pid
file, as a crash would leave it. A schedule set to every 2 seconds must fire and show
its last run and result on the beat-status page; in Debian's Chromium, driven by
Playwright, an admin runs tasks with the admin's "Run selected tasks" action, disables
one, and sees both on the page, while a user who is not staff is refused. The browser
test saves the screenshot docs/scheduling.md shows. Last, beat is stopped and the page
must call its heartbeat stale.
"""

import os
import re
import time
from datetime import datetime
from itertools import pairwise

import pytest
import requests
from playwright.sync_api import expect

from tests import services
from tests.conftest import TEMPLATE_DIR
from tests.processes import elapsed_since
from tests.projects import Project

OPTIONS = {"broker": "rabbitmq", "result_backend": "django-db"}
STATUS_PAGE = "/admin/scheduling/beatstatus/"
PERIODIC_TASKS = "/admin/django_celery_beat/periodictask/"
PASSWORD = "a-long-test-password-7"
# Short, so that the stale-heartbeat test need not wait the default 30 s. Beat writes
# its heartbeat at least every 5 s.
STALE_SECONDS = 8
SCREENSHOT = TEMPLATE_DIR / "docs" / "images" / "beat-status.png"

USERS = f"""
from django.contrib.auth import get_user_model
User = get_user_model()
User.objects.create_superuser("admin", "admin@example.com", {PASSWORD!r})
User.objects.create_user("visitor", "visitor@example.com", {PASSWORD!r})
"""

# What a team might add in the admin: a weekly report whose arguments are wrong (so it
# fails), and a job at sunset.
DEMO_SCHEDULES = """
from django_celery_beat.models import CrontabSchedule, PeriodicTask, SolarSchedule
PeriodicTask.objects.create(
    name="Weekly sign-up report", task="examples.reports.tasks.summarise_signups", args='["seven"]',
    crontab=CrontabSchedule.objects.create(minute="0", hour="8", day_of_week="1"),
)
PeriodicTask.objects.create(
    name="Round trip at sunset in Paris", task="scheduling.tasks.round_trip",
    solar=SolarSchedule.objects.create(event="sunset", latitude=48.8566, longitude=2.3522),
)
"""


def admin_session(running, username="admin"):
    """A requests session logged into the admin through its login form."""
    session = requests.Session()
    session.get(f"{running.web_url}/admin/login/", timeout=10)
    response = session.post(
        f"{running.web_url}/admin/login/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        timeout=10,
    )
    assert response.url.endswith("/admin/"), response.text[-2000:]
    return session


@pytest.fixture(scope="module")
def running(bake, project_env, postgres, tmp_path_factory):
    started = time.monotonic()
    running = Project.migrated(
        bake,
        project_env,
        postgres,
        tmp_path_factory.mktemp("scheduling-logs"),
        OPTIONS,
        "site_scheduling",
        BEAT_HEARTBEAT_STALE_SECONDS=str(STALE_SECONDS),
    )
    # What a beat that crashed under a pid-file scheduler leaves behind. The pid is of a
    # live process (this one), as happens when a restarted container reuses the pid.
    (running.path / "celerybeat.pid").write_text(f"{os.getpid()}\n")
    (running.path / "celerybeat-schedule").write_bytes(b"not a schedule file")
    try:
        running.start_web()
        running.start_worker("scheduling", CELERY_WORKER_QUEUES="default")
        running.start("celery/beat/start").wait_for_log("beat: Starting...", timeout=60)
        running.shell(USERS)
        print(f"\n[scheduling] migrate, web, worker and beat up in {elapsed_since(started)}")
        yield running
    finally:
        running.stop()


def test_migrate_installs_the_shipped_schedules_and_syncing_again_changes_nothing(running):
    shipped = (
        "Round trip: beat to a worker",
        "Check queue depths",
        "Award missed points",
        "Clear expired sessions",
        "Delete old outbox intents",
        "Check the setup once",
        "Delete old exports",
    )
    for name in shipped:
        assert re.search(rf"created\s+{re.escape(name)}$", running.migrate_log, re.M)

    again = running.manage("sync_schedules")

    assert [line.split()[0] for line in again.splitlines()] == ["unchanged"] * len(shipped)


def test_beat_starts_despite_a_stale_pid_file(running, postgres):
    beat = running.process("celery/beat/start")

    def heartbeat_pid():
        return postgres.psql("SELECT pid FROM scheduling_beatheartbeat", db=running.database)

    # The start script execs celery, so beat's pid is the script's.
    assert services.wait_for(heartbeat_pid, 15) == str(beat.process.pid)
    assert beat.process.poll() is None
    assert (running.path / "celerybeat.pid").read_text() == f"{os.getpid()}\n"


def test_beat_installs_celerys_result_cleanup(running, postgres):
    row = postgres.psql(
        "SELECT t.enabled, c.minute, c.hour FROM django_celery_beat_periodictask t "
        "JOIN django_celery_beat_crontabschedule c ON c.id = t.crontab_id "
        "WHERE t.name = 'celery.backend_cleanup'",
        db=running.database,
    )

    assert row == "t|0|4"  # daily at 04:00, deleting results older than result_expires


def test_a_two_second_schedule_fires_and_the_page_shows_its_last_run_and_result(running, postgres):
    running.shell(
        "from django_celery_beat.models import IntervalSchedule, PeriodicTask\n"
        "every = IntervalSchedule.objects.create(every=2, period='seconds')\n"
        "PeriodicTask.objects.create(name='Round trip every 2 seconds', "
        "task='scheduling.tasks.round_trip', interval=every)\n"
    )

    def stored_results():
        count = postgres.psql(
            "SELECT count(*) FROM django_celery_results_taskresult "
            "WHERE periodic_task_name = 'Round trip every 2 seconds' AND status = 'SUCCESS'",
            db=running.database,
        )
        return int(count) >= 3

    services.wait_for(stored_results, 30, message="the 2-second schedule did not run 3 times")
    beat_log = running.process("celery/beat/start").log_text()
    sends = [
        datetime.strptime(logged, "%Y-%m-%d %H:%M:%S,%f")
        for logged in re.findall(
            r"^(\S+ \S+) INFO .*Sending due task Round trip every 2 seconds", beat_log, re.M
        )
    ]
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(sends)]
    # Every 2 s, with room for a loaded machine (beat wakes at least every 5 s anyway).
    assert gaps and all(1.5 < gap < 3 for gap in gaps), gaps
    print(
        f"\nbeat sent the 2-second schedule at intervals of {', '.join(f'{g:.2f}' for g in gaps)} s"
    )

    page = admin_session(running).get(running.web_url + STATUS_PAGE, timeout=10).text
    row = re.search(r'data-name="Round trip every 2 seconds">(.*?)</tr>', page, re.S)[1]
    last_run = re.search(r'class="last-run">\s*(\S+ \S+)', row)[1]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", last_run), row
    assert int(re.search(r'class="runs">(\d+)<', row)[1]) >= 3
    assert 'task-state success">SUCCESS<' in row
    assert re.search(r'href="/admin/django_celery_results/taskresult/\d+/change/"', row)


def test_in_a_browser_an_admin_runs_and_disables_tasks_and_others_are_refused(running, browser):
    running.shell(DEMO_SCHEDULES)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(15_000)

    # A user who is not staff cannot log into the admin, nor open the page.
    log_in(page, running, "visitor")
    expect(page.locator(".errornote")).to_contain_text("staff account")
    page.goto(running.web_url + STATUS_PAGE)
    expect(page).to_have_url(re.compile(r"/admin/login/\?next="))
    expect(page.locator("#beat-status")).to_have_count(0)

    # Staff open it from the admin index.
    log_in(page, running, "admin")
    page.get_by_role("link", name="Beat status").click()
    expect(page.locator("h1")).to_have_text("Beat status")
    expect(page.locator("#beat-heartbeat")).to_contain_text("Alive")

    # "Run selected tasks" in the periodic tasks admin; each result appears on the page.
    apply_action(
        page, running, ["Check the setup once", "Weekly sign-up report"], "Run selected tasks"
    )
    expect(page.locator("ul.messagelist")).to_contain_text("2 tasks were successfully run")
    page.goto(running.web_url + STATUS_PAGE)
    check_setup = status_row(page, "Check the setup once")
    reload_until(page, check_setup.locator(".task-state"), "SUCCESS")
    reload_until(page, status_row(page, "Weekly sign-up report").locator(".task-state"), "FAILURE")
    expect(page.locator("#beat-results")).to_contain_text("1 failed")
    expect(page.locator("#beat-results")).to_contain_text("Weekly sign-up report")

    # The result is one click away, with what the task returned.
    check_setup.locator(".task-state").click()
    expect(page.locator(".field-result_value pre")).to_contain_text('"database": "ok"')

    # Disable a task: the page shows it disabled, with no next run.
    apply_action(page, running, ["Clear expired sessions"], "Disable selected tasks")
    expect(page.locator("ul.messagelist")).to_contain_text("1 task was successfully disabled")
    page.goto(running.web_url + STATUS_PAGE)
    disabled = status_row(page, "Clear expired sessions")
    expect(disabled.locator(".enabled")).to_have_text("Disabled")
    expect(disabled.locator(".next-run")).to_contain_text("disabled")

    # The screenshot docs/scheduling.md shows, without the admin's navigation sidebar.
    page.click("#toggle-nav-sidebar")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOT, full_page=True)
    print(f"\nscreenshot of the beat-status page: {SCREENSHOT.relative_to(TEMPLATE_DIR)}")
    page.close()


def test_the_heartbeat_goes_stale_when_beat_stops(running):
    session = admin_session(running)
    assert "Alive" in heartbeat_card(session, running)

    stopped = time.monotonic()
    assert running.process("celery/beat/start").stop(), "beat did not stop on SIGTERM"

    services.wait_for(
        lambda: "Stale: not seen for" in heartbeat_card(session, running),
        STALE_SECONDS + 10,
        interval=0.5,
        message="the page did not call beat stale",
    )
    print(f"\nbeat stopped; the page called it stale after {elapsed_since(stopped)}")


def log_in(page, running, username):
    page.context.clear_cookies()
    page.goto(running.web_url + "/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def apply_action(page, running, names, action):
    page.goto(running.web_url + PERIODIC_TASKS)
    for name in names:
        page.locator("#result_list tr", has_text=name).locator("input.action-select").check()
    page.select_option("select[name=action]", label=action)
    page.click("button[name=index]")


def status_row(page, name):
    return page.locator(f'#beat-status tr[data-name="{name}"]')


def reload_until(page, locator, text, timeout=30):
    """Reload the page until `locator` shows `text`: the page does not refresh by itself."""
    deadline = time.monotonic() + timeout
    while text not in (locator.all_inner_texts() or [""])[0]:
        assert time.monotonic() < deadline, f"{text} did not appear in {timeout} s"
        time.sleep(0.5)
        page.reload()
    return locator


def heartbeat_card(session, running):
    page = session.get(running.web_url + STATUS_PAGE, timeout=10).text
    return re.search(r'id="beat-heartbeat">(.*?)</section>', page, re.S)[1]


# A beat scheduler ticking without pause, with 200 tasks due every second, so that
# nearly all its time is spent in a query or a publish; SIGTERM arrives on a timer. A
# watchdog prints every thread's stack and ends the shell with status 3 if a stop hangs.
STOPPED_MID_CALL = """
import faulthandler, os, random, signal, sys, threading
from celery.beat import Service
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from config.celery_app import app

every, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
PeriodicTask.objects.bulk_create(
    [
        PeriodicTask(name=f"Stopped mid-call {n}", task="scheduling.tasks.round_trip",
                     interval=every)
        for n in range(200)
    ],
    ignore_conflicts=True,
)

def hang_guard(finished):
    if not finished.wait(20):
        faulthandler.dump_traceback(file=sys.stdout, all_threads=True)
        print("a stop hung", flush=True)
        os._exit(3)

stopped_mid_call = 0
for attempt in range(30):
    service = Service(app, scheduler_cls=app.conf.beat_scheduler)
    scheduler = service.scheduler
    finished = threading.Event()
    threading.Thread(target=hang_guard, args=(finished,), daemon=True).start()
    threading.Timer(random.uniform(0.05, 0.5), os.kill, (os.getpid(), signal.SIGTERM)).start()
    try:
        while True:
            scheduler.tick()
    except SystemExit:
        pass
    stopped_mid_call += scheduler._stop_requested
    service.sync()
    finished.set()
print(stopped_mid_call)
"""


def test_beat_stopped_in_the_middle_of_a_query_or_a_publish_still_exits(running):
    """Runs last: its schedules would keep a running beat busy."""
    mid_call = int(running.shell(STOPPED_MID_CALL).split()[-1])

    print(f"\nbeat stopped 30 times without hanging, {mid_call} of them asked to mid-call")
    assert mid_call > 0
