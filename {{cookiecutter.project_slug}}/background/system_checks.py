"""Celery mistakes caught by `manage.py check` (and so by migrate, runserver and CI),
before they lose work: each check has its id, names what is wrong, and hints at the fix.
docs: the template's "Celery checks" page lists them with the reason for each.
https://docs.djangoproject.com/en/5.2/topics/checks/

They read the project's Celery app as the worker will run it: its configuration, and
every task of every installed app (imported here as the worker imports them).
"""

import functools
import importlib
import re
from datetime import timedelta

from celery import current_app
from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError

TAG = "celery"
SAFE_SERIALIZERS = {"json", "application/json"}
# compose files whose worker services name the queues they consume.
COMPOSE_FILES = ("compose.yaml", "compose.production.yaml")
WORKER_QUEUES = re.compile(r"^\s*CELERY_WORKER_QUEUES:\s*['\"]?([\w,.-]+)", re.MULTILINE)


@functools.cache
def import_tasks_modules():
    """Import each installed app's tasks.py, as the worker's autodiscovery does; once per
    process, whichever check asks first. (Not through the loader's import_modules signal:
    Celery's Django fixup runs the system checks on it, which would call this again.)"""
    for config in apps.get_app_configs():
        if importlib.util.find_spec(f"{config.name}.tasks"):
            importlib.import_module(f"{config.name}.tasks")


def project_tasks():
    """The project's own tasks by name (Celery's built-in celery.* tasks left out)."""
    import_tasks_modules()
    tasks = current_app.tasks
    return {name: task for name, task in tasks.items() if not name.startswith("celery.")}


def broker_driver():
    """The transport the worker will use, "amqp" or "redis" (kombu connects to nothing)."""
    with current_app.connection_for_write() as connection:
        return connection.transport.driver_type


def seconds(value):
    return value.total_seconds() if isinstance(value, timedelta) else value


def unknown_task(name, tasks, where, obj):
    """E001 for a misspelt task of an installed app, E002 for a module no app holds."""
    module = name.rpartition(".")[0]
    app_names = [config.name for config in apps.get_app_configs()]
    if any(module == app or module.startswith(app + ".") for app in app_names):
        return Error(
            f"{where} names the task {name!r}, which is not registered.",
            hint=f"Check the name against the @shared_task functions in {module}.",
            obj=obj,
            id="celery.E001",
        )
    return Error(
        f"{where} names the task {name!r}, whose module {module!r} is in no installed app: "
        "the worker never imports it.",
        hint="Add its app to INSTALLED_APPS, or correct the task's dotted path.",
        obj=obj,
        id="celery.E002",
    )


@register(TAG)
def schedules_and_routes_name_registered_tasks(app_configs, **kwargs):
    from scheduling.declarations import declared_schedules

    tasks = project_tasks()
    errors = []
    for schedule in declared_schedules():
        if schedule.task not in tasks:
            where = f"The periodic task {schedule.name!r} (a schedules.py)"
            errors.append(unknown_task(schedule.task, tasks, where, "SCHEDULES"))
    for name in routes():
        if "*" not in name and name not in tasks:
            errors.append(unknown_task(name, tasks, "CELERY_TASK_ROUTES", "CELERY_TASK_ROUTES"))
    return errors


@register(TAG, Tags.database)
def stored_schedules_name_registered_tasks(app_configs, databases=None, **kwargs):
    """Periodic tasks in the database, as edited in the admin: checked when the database
    is (`check --database default`, and migrate)."""
    from django_celery_beat.models import PeriodicTask

    if not databases or "default" not in databases:
        return []
    tasks = project_tasks()
    rows = PeriodicTask.objects.filter(enabled=True).exclude(task__startswith="celery.")
    try:
        return [
            unknown_task(row.task, tasks, f"The periodic task {row.name!r} (database)", row)
            for row in rows
            if row.task not in tasks
        ]
    except DatabaseError:  # before the first migrate: no table yet
        return []


def routes():
    conf = current_app.conf.task_routes or {}
    return conf if isinstance(conf, dict) else {}


def declared_queues():
    return {queue.name for queue in current_app.conf.task_queues or ()}


@register(TAG)
def routes_lead_to_declared_queues_with_workers(app_configs, **kwargs):
    declared = declared_queues()
    errors = []
    for name, route in routes().items():
        queue = route.get("queue") if isinstance(route, dict) else None
        if queue and queue not in declared:
            errors.append(
                Error(
                    f"CELERY_TASK_ROUTES sends {name!r} to the queue {queue!r}, which is not "
                    "declared: publishing it fails (CELERY_TASK_CREATE_MISSING_QUEUES is off).",
                    hint=f'Add task_queue("{queue}") to CELERY_TASK_QUEUES.',
                    obj="CELERY_TASK_ROUTES",
                    id="celery.E003",
                )
            )
    consumed = set()
    compose_files = [settings.BASE_DIR / name for name in COMPOSE_FILES]
    for path in compose_files:
        if path.is_file():
            for queues in WORKER_QUEUES.findall(path.read_text()):
                consumed.update(queues.split(","))
    if consumed:  # the compose files are there (not in a slimmed image)
        for queue in sorted(declared - consumed):
            errors.append(
                Warning(
                    f"The queue {queue!r} is declared but no worker service in "
                    f"{' or '.join(COMPOSE_FILES)} consumes it: its tasks wait forever.",
                    hint=f"Add a worker service with CELERY_WORKER_QUEUES: {queue}.",
                    obj="CELERY_TASK_QUEUES",
                    id="celery.W004",
                )
            )
    return errors


def limits(task):
    soft = task.soft_time_limit or current_app.conf.task_soft_time_limit
    hard = task.time_limit or current_app.conf.task_time_limit
    return soft, hard


@register(TAG)
def time_limits_are_consistent(app_configs, **kwargs):
    errors = []
    on_rabbitmq = broker_driver() == "amqp"
    consumer_timeout = settings.RABBITMQ_CONSUMER_TIMEOUT
    for name, task in sorted(project_tasks().items()):
        soft, hard = limits(task)
        if soft and hard and soft >= hard:
            errors.append(
                Error(
                    f"The task {name!r} has a soft time limit ({soft} s) not below its hard "
                    f"limit ({hard} s): it is killed before it can clean up.",
                    hint="Set soft_time_limit a little below time_limit.",
                    obj=name,
                    id="celery.E005",
                )
            )
        if on_rabbitmq and hard and task.acks_late and hard >= consumer_timeout:
            errors.append(
                Error(
                    f"The late-ack task {name!r} may run {hard} s, as long as RabbitMQ's "
                    f"consumer timeout ({consumer_timeout} s) or longer: RabbitMQ would "
                    "close the worker's channel and deliver the task again while it runs.",
                    hint="Lower its time_limit, or raise RABBITMQ_CONSUMER_TIMEOUT, which "
                    "sets each queue's x-consumer-timeout.",
                    obj=name,
                    id="celery.E006",
                )
            )
    return errors


def longest_wait(task):
    """How long a message of this task can stay unacknowledged by the Redis broker's
    reckoning: its longest retry countdown, and, late-acked, its whole run."""
    countdowns = [task.default_retry_delay or 0]
    if getattr(task, "retry_backoff", False):
        countdowns.append(task.retry_backoff_max or 0)
    if task.acks_late:
        countdowns.append(limits(task)[1] or 0)
    return max(countdowns)


@register(TAG)
def redis_visibility_timeout_outlasts_every_countdown(app_configs, **kwargs):
    if broker_driver() != "redis":
        return []
    options = current_app.conf.broker_transport_options or {}
    timeout = seconds(options.get("visibility_timeout", 3600))
    errors = []
    for name, task in sorted(project_tasks().items()):
        wait = longest_wait(task)
        if wait >= timeout:
            errors.append(
                Error(
                    f"The task {name!r} can wait {wait} s unacknowledged (a retry countdown "
                    f"or a late-ack run), as long as the Redis visibility timeout "
                    f"({timeout} s) or longer: Redis would hand it to a second worker.",
                    hint="Raise CELERY_VISIBILITY_TIMEOUT above it, or shorten the task's "
                    "countdowns and time limit.",
                    obj=name,
                    id="celery.E007",
                )
            )
    return errors


@register(TAG)
def only_json_is_accepted(app_configs, **kwargs):
    conf = current_app.conf
    errors = []
    for setting, value in (
        ("CELERY_ACCEPT_CONTENT", conf.accept_content),
        ("CELERY_RESULT_ACCEPT_CONTENT", conf.result_accept_content or conf.accept_content),
        ("CELERY_TASK_SERIALIZER", [conf.task_serializer]),
        ("CELERY_RESULT_SERIALIZER", [conf.result_serializer]),
    ):
        unsafe = sorted(set(value) - SAFE_SERIALIZERS)
        if unsafe:
            errors.append(
                Error(
                    f"{setting} allows {', '.join(unsafe)}: a message in pickle (or yaml) "
                    "runs code of the sender's choosing when a worker decodes it.",
                    hint=f"Set {setting} to JSON alone.",
                    obj=setting,
                    id="celery.E008",
                )
            )
    return errors


@register(TAG)
def late_acks_are_rejected_when_the_worker_is_lost(app_configs, **kwargs):
    return [
        Warning(
            f"The task {name!r} is acknowledged late, but task_reject_on_worker_lost is off: "
            "if its worker process is killed (out of memory, a deploy), the task is "
            "acknowledged and lost without a trace.",
            hint="Set CELERY_TASK_REJECT_ON_WORKER_LOST = True (or reject_on_worker_lost=True "
            "on the task), and make the task safe to run twice.",
            obj=name,
            id="celery.W009",
        )
        for name, task in sorted(project_tasks().items())
        if task.acks_late and not task.reject_on_worker_lost
    ]


@register(TAG, deploy=True)
def tasks_are_not_eager_in_production(app_configs, **kwargs):
    if not current_app.conf.task_always_eager:
        return []
    return [
        Error(
            "CELERY_TASK_ALWAYS_EAGER is on: every task runs inside the request that sends "
            "it, with no retry, time limit or worker.",
            hint="Turn it off outside unit tests.",
            obj="CELERY_TASK_ALWAYS_EAGER",
            id="celery.E010",
        )
    ]
