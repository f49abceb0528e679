"""Put a task in the outbox, as part of the caller's database transaction (and a dead one
back in, from the admin).

    with transaction.atomic():
        invoice = Invoice.objects.create(...)
        enqueue(send_invoice, invoice.id)

The task is a row of the same transaction: it commits with the invoice or not at all,
and the relay (outbox/relay.py) publishes it once the broker answers. delay_on_commit()
would lose it if the broker were unreachable just after the commit. docs/outbox.md says
when to use delay(), delay_on_commit() or enqueue().
"""

import json

from celery import current_app
from celery.exceptions import QueueNotFound
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from .models import Intent

# The PostgreSQL channel on which enqueue() wakes the relay. A NOTIFY sent inside a
# transaction is delivered when it commits and dropped when it rolls back, like the
# intent itself, and identical ones in one transaction are delivered once.
# https://www.postgresql.org/docs/current/sql-notify.html
CHANNEL = "outbox_intent"

# Writes an intent and wakes the relays in one statement, so one round trip: it adds
# about 0.35 ms to a transaction, where Intent.objects.create() and a separate pg_notify
# added 0.6 ms (docs/outbox.md). Its columns are the model's (tests/test_enqueue.py).
INSERT_AND_NOTIFY = """
    WITH intent AS (
        INSERT INTO outbox_intent (
            id, task_name, args, kwargs, queue, status, attempts, next_attempt_at,
            last_error, created_at, sent_at
        )
        VALUES (%s, %s, %s::jsonb, %s::jsonb, %s, %s, 0, %s, '', %s, NULL)
        RETURNING id
    )
    SELECT pg_notify(%s, '') FROM intent
"""


def enqueue(task, *args, **kwargs):
    """Record, in the current transaction, that `task(*args, **kwargs)` must run.

    The same arguments as `task.delay_on_commit(*args, **kwargs)`. They are stored as
    JSON, so pass ids and plain values, as this project's tasks take anyway: a date or a
    Decimal raises TypeError here, in the caller, rather than surprise the task later.
    The queue is taken from the task's route now, so a route to an undeclared queue
    fails here too, as it would with delay().

    Returns the Intent; its id is the task id the task will run with.
    """
    if not connection.in_atomic_block:
        raise TransactionManagementError(
            "enqueue() belongs inside the transaction.atomic() block that writes the change "
            "the task follows: outside one, nothing ties the task to that change."
        )
    # The size check apply_async makes (background/base.py), made here in the caller too.
    if hasattr(task, "check_payload"):
        task.check_payload(args, kwargs)
    intent = Intent(
        task_name=task.name,
        args=list(args),
        kwargs=kwargs,
        queue=routed_queue(task.app, task.name, args, kwargs),
    )
    intent.created_at = intent.next_attempt_at
    row = [intent.id, intent.task_name, json.dumps(intent.args), json.dumps(intent.kwargs)]
    row += [intent.queue, intent.status, intent.next_attempt_at, intent.created_at]
    with connection.cursor() as cursor:
        cursor.execute(INSERT_AND_NOTIFY, [*row, CHANNEL])
    # The instance now stands for the saved row, as if loaded from the database.
    intent._state.adding, intent._state.db = False, connection.alias
    return intent


def requeue(intents):
    """Make dead intents pending again: no attempts counted, due now, routed afresh.

    For a person who has fixed what killed them (from the admin). The route is looked up
    again, so an intent whose queue was retired follows the task's new route. Returns
    (requeued, refused): refused holds (intent, reason) for intents still routed to a
    queue that does not exist, which stay dead.
    """
    requeued, refused = [], []
    with transaction.atomic():
        for intent in intents.select_for_update().filter(status=Intent.Status.DEAD):
            try:
                intent.queue = routed_queue(
                    current_app, intent.task_name, intent.args, intent.kwargs
                )
            except QueueNotFound as error:
                refused.append((intent, str(error)))
                continue
            intent.status = Intent.Status.PENDING
            intent.attempts = 0
            intent.next_attempt_at = timezone.now()
            intent.save(update_fields=["queue", "status", "attempts", "next_attempt_at"])
            requeued.append(intent)
        if requeued:
            wake_the_relay()
    return requeued, refused


def wake_the_relay():
    """Notify the relays, at the commit of the current transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, '')", [CHANNEL])


def routed_queue(app, task_name, args=(), kwargs=None):
    """The queue CELERY_TASK_ROUTES (or the task's own `queue`) sends this task to.

    Raises celery.exceptions.QueueNotFound for a queue missing from CELERY_TASK_QUEUES.
    """
    task = app.tasks.get(task_name)
    options = {"queue": task.queue} if getattr(task, "queue", None) else {}
    return app.amqp.router.route(options, task_name, args, kwargs, task)["queue"].name
