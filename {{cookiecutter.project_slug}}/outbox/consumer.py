"""Make a task's effect happen once per intent, however often its message arrives.

The relay can publish an intent twice: when it dies after the broker confirmed a
message but before it marked the intent sent, the intent is still pending and is
published again. Like every duplicate, it carries the same task id (the intent's id).

    @shared_task(acks_late=True)
    @once_per_intent
    def send_invoice(invoice_id): ...

The wrapped function runs inside a transaction that first records the task id as a
ProcessedIntent. A second delivery finds it recorded and returns None without running
the function; two deliveries running at the same moment meet at the primary key, where
PostgreSQL makes the second wait for the first and then refuses it. If the function
raises, the record is rolled back with everything else, so a retry runs it again.

What the function writes to the database happens exactly once. What it does outside
(an e-mail, an API call) happens at least once: should the process die after that call
but before the commit, the next delivery makes the call again. docs/outbox.md says more.
"""

import functools
import logging

from celery import current_task
from django.db import IntegrityError, transaction

from .models import ProcessedIntent

logger = logging.getLogger(__name__)


def once_per_intent(function):
    @functools.wraps(function)
    def run_once(*args, **kwargs):
        task_id = current_task.request.id if current_task else None
        if task_id is None:
            # Called as a plain function (a test, a shell), not from a message: there is
            # no delivery to tell apart from another.
            return function(*args, **kwargs)
        with transaction.atomic():
            try:
                # A savepoint: the IntegrityError rolls back this insert only.
                # https://docs.djangoproject.com/en/5.2/topics/db/transactions/#avoid-catching-exceptions-inside-atomic
                with transaction.atomic():
                    ProcessedIntent.objects.create(intent_id=task_id, task_name=current_task.name)
            except IntegrityError:
                logger.info("Intent %s was already processed: this delivery does nothing", task_id)
                return None
            return function(*args, **kwargs)

    return run_once
