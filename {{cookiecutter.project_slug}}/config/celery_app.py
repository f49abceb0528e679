"""The project's Celery application, configured from Django's settings.

Start a worker with `celery -A config worker`. Every setting is a CELERY_-prefixed
name in config/settings/base.py; tasks are found in each installed app's tasks.py.
https://docs.celeryq.dev/en/stable/django/first-steps-with-django.html
"""

import os

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun

from background.heartbeat import WorkerHeartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# Every task is a background.base.BaseTask: retries with backoff, outcome hooks, and
# (from Celery's DjangoTask, which it extends) delay_on_commit().
app = Celery("config", task_cls="background.base:BaseTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# A heartbeat file for the worker containers' healthcheck (background/heartbeat.py).
app.steps["worker"].add(WorkerHeartbeat)


@setup_logging.connect
def use_django_logging(**kwargs):
    """Keep Django's LOGGING in worker and beat processes instead of Celery's own setup.

    https://docs.celeryq.dev/en/stable/userguide/signals.html#setup-logging
    """
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(task, **kwargs):
    """Treat each task as Django treats a request: drop connections that broke (the
    database restarted) or outlived CONN_MAX_AGE, and keep the others for the next task.

    A task run eagerly (called in the caller's process, as in some tests) shares the
    caller's connection, which may be inside a transaction: leave it alone.
    """
    from django.db import close_old_connections

    if not task.request.is_eager:
        close_old_connections()
