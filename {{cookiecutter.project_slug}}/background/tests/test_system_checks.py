"""Each Celery check of `manage.py check` fires on the mistake it is for, and the project
as generated passes them all (background/system_checks.py)."""

import pytest
from celery import current_app
from django.core.checks import run_checks
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from kombu import Queue

from background import system_checks
from scheduling.declarations import Every, ScheduledTask


def ids(**kwargs):
    return sorted(message.id for message in run_checks(tags=["celery"], **kwargs))


@pytest.fixture
def app():
    return current_app._get_current_object()


@pytest.fixture
def conf(app):
    """Change the app's Celery settings for one test only."""
    saved = {}

    def change(**values):
        for key, value in values.items():
            saved.setdefault(key, app.conf[key])
            app.conf[key] = value

    yield change
    for key, value in saved.items():
        app.conf[key] = value


@pytest.fixture
def make_task(app):
    """Register a task on the project's app for one test only."""
    names = []

    def make(name, **options):
        def run():
            return None

        names.append(name)
        return app.task(name=name, **options)(run)

    yield make
    for name in names:
        app.tasks.pop(name, None)


def test_the_project_as_generated_passes_every_celery_check():
    call_command("check", "--tag", "celery", "--fail-level", "WARNING")
    assert ids(include_deployment_checks=True) == []


@pytest.mark.parametrize(
    ("task", "expected"),
    [("scheduling.tasks.round_trp", "celery.E001"), ("billing.tasks.send", "celery.E002")],
)
def test_a_schedule_naming_a_task_that_is_not_registered(monkeypatch, task, expected):
    schedule = ScheduledTask(name="Typo", task=task, schedule=Every(5, "minutes"))
    monkeypatch.setattr("scheduling.declarations.declared_schedules", lambda: [schedule])

    assert ids() == [expected]


@pytest.mark.django_db
def test_a_stored_schedule_naming_a_task_that_is_not_registered():
    every = IntervalSchedule.objects.create(every=1, period="minutes")
    PeriodicTask.objects.create(name="Edited", task="scheduling.tasks.gone", interval=every)

    assert ids(databases=["default"]) == ["celery.E001"]


def test_a_route_naming_an_unknown_task_or_an_undeclared_queue(conf):
    routes = {
        "scheduling.tasks.round_trp": {"queue": "default"},
        "scheduling.tasks.round_trip": {"queue": "nowhere"},
    }
    conf(task_routes=routes)

    assert ids() == ["celery.E001", "celery.E003"]


def test_a_declared_queue_that_no_worker_service_consumes(conf, app):
    conf(task_queues=[*app.conf.task_queues, Queue("orphans")])

    messages = run_checks(tags=["celery"])
    assert [m.id for m in messages] == ["celery.W004"] and "'orphans'" in messages[0].msg


def test_a_soft_time_limit_not_below_the_hard_one(make_task):
    make_task("checks.limits", soft_time_limit=60, time_limit=60)

    assert ids() == ["celery.E005"]


def test_a_late_ack_task_outliving_rabbitmqs_consumer_timeout(
    monkeypatch, conf, make_task, settings
):
    # Celery reads the broker URL from the environment first; a Redis project also names
    # its own Redis transport, which an amqp:// URL does not use.
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest@rabbitmq//")
    conf(broker_transport=None)
    settings.RABBITMQ_CONSUMER_TIMEOUT = 1800
    make_task("checks.long", acks_late=True, soft_time_limit=1700, time_limit=1800)

    assert ids() == ["celery.E006"]


def test_a_countdown_or_a_late_ack_run_outliving_redis_visibility_timeout(
    monkeypatch, conf, make_task
):
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://redis:6379/1")
    conf(broker_transport_options={"visibility_timeout": 900})
    make_task("checks.slow", acks_late=True, soft_time_limit=800, time_limit=900)
    make_task("checks.patient", default_retry_delay=3600)
    make_task("checks.quick", acks_late=True, soft_time_limit=60, time_limit=120)

    flagged = {m.obj for m in run_checks(tags=["celery"]) if m.id == "celery.E007"}
    assert {"checks.slow", "checks.patient"} <= flagged
    assert "checks.quick" not in flagged


def test_pickle_accepted(conf):
    conf(accept_content=["json", "pickle"])
    conf(result_accept_content=["json"])

    assert ids() == ["celery.E008"]


def test_a_late_ack_task_lost_with_its_worker(make_task):
    make_task("checks.lost", acks_late=True, reject_on_worker_lost=False)

    assert ids() == ["celery.W009"]


def test_eager_tasks_in_production(conf):
    conf(task_always_eager=True)

    assert ids() == []  # fine in a unit test's settings
    assert ids(include_deployment_checks=True) == ["celery.E010"]


def test_every_check_has_a_hint_and_a_unique_id():
    source = system_checks.__loader__.get_source(system_checks.__name__)

    assert source.count('id="celery.') == source.count("hint=") == 10
