"""The Celery app is wired as the project relies on."""

from celery.contrib.django.task import DjangoTask

from config.celery_app import app
from reports.tasks import summarise_signups


def test_tasks_use_celerys_django_task_class():
    # DjangoTask gives every task delay_on_commit(), which sends it only once the
    # surrounding database transaction has committed.
    assert issubclass(app.Task, DjangoTask)
    assert hasattr(summarise_signups, "delay_on_commit")


def test_only_json_is_accepted():
    assert app.conf.accept_content == ["json"]
    assert app.conf.result_accept_content == ["json"]


def test_tasks_are_autodiscovered():
    assert summarise_signups.name in app.tasks
