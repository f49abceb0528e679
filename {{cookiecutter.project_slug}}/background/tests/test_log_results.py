"""Celery's lines about a task name it and its run time, never its result or arguments."""

import logging

import pytest
from celery import shared_task

from background.log_results import HideTaskResults
from background.testing import wait_until


@shared_task
def returns_an_address(email):
    return {"email": email}


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_logs_the_success_without_the_value(celery_worker, caplog):
    caplog.set_level(logging.INFO, logger="celery.app.trace")

    result = returns_an_address.delay("someone@example.com")

    def success_line():
        lines = [r for r in caplog.records if r.name == "celery.app.trace"]
        return next((r for r in lines if result.id in r.getMessage()), None)

    line = wait_until(success_line)
    assert line.getMessage().startswith(
        f"Task {returns_an_address.name}[{result.id}] succeeded in "
    )
    assert "someone@example.com" not in line.getMessage()
    assert "someone@example.com" not in repr(line.data)


def test_a_failure_keeps_its_error_and_loses_the_arguments():
    context = {"id": "1", "name": "t", "description": "raised unexpected", "exc": "ValueError()"}
    record = logging.LogRecord(
        "celery.app.trace",
        logging.ERROR,
        __file__,
        1,
        "Task %(name)s[%(id)s] %(description)s: %(exc)s",
        ({**context, "args": "['someone@example.com']", "kwargs": "{}"},),
        None,
    )
    record.data = record.args

    assert HideTaskResults().filter(record)

    assert record.getMessage() == "Task t[1] raised unexpected: ValueError()"
    assert record.data == context
